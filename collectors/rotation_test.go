package collectors_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
	"github.com/harrierhq/harrier/internal/record"
)

// rotatingLog writes a container's json-file log and rotates it the way
// the json-file driver does (rename) or the way logrotate's copytruncate
// does (copy, then truncate in place). Rotated files are kept as
// <path>.1 (newest), <path>.2 and so on, and none is deleted.
type rotatingLog struct {
	container int
	path      string
	file      *os.File
	rotated   int
}

func openRotatingLog(path string, container int) (*rotatingLog, error) {
	l := &rotatingLog{container: container, path: path}
	return l, l.reopen()
}

func (l *rotatingLog) reopen() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	l.file = f
	return nil
}

// write appends line seq. Each line has its own time, so that two lines
// never share a record id.
func (l *rotatingLog) write(seq int) error {
	ts := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC).Add(time.Duration(seq)*time.Millisecond + time.Duration(l.container))
	msg := fmt.Sprintf("container %d line %06d %s\n", l.container, seq, strings.Repeat("x", seq%97))
	line := fmt.Sprintf(`{"log":%q,"stream":"stdout","time":%q}`+"\n", msg, ts.Format(time.RFC3339Nano))
	_, err := l.file.WriteString(line)
	return err
}

// shift renames <path>.n to <path>.n+1, oldest first.
func (l *rotatingLog) shift() error {
	for n := l.rotated; n >= 1; n-- {
		if err := os.Rename(fmt.Sprintf("%s.%d", l.path, n), fmt.Sprintf("%s.%d", l.path, n+1)); err != nil {
			return err
		}
	}
	l.rotated++
	return nil
}

func (l *rotatingLog) rotateByRename() error {
	if err := l.shift(); err != nil {
		return err
	}
	if err := l.file.Close(); err != nil {
		return err
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return err
	}
	return l.reopen()
}

func (l *rotatingLog) rotateByCopyTruncate() error {
	if err := l.shift(); err != nil {
		return err
	}
	src, err := os.Open(l.path)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(l.path + ".1")
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	return l.file.Truncate(0)
}

// collectorProcess runs the collector agent binary, harrier-agent, as a child process.
type collectorProcess struct {
	t    *testing.T
	bin  string
	args []string
	log  string
	cmd  *exec.Cmd
}

func (p *collectorProcess) start() {
	p.t.Helper()
	out, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		p.t.Fatalf("start %s: %v", p.bin, err)
	}
	out.Close()
	p.cmd = cmd
}

func (p *collectorProcess) stop(sig syscall.Signal) {
	p.t.Helper()
	if p.cmd == nil {
		return
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal collector pid %d: %v", p.cmd.Process.Pid, err)
	}
	p.cmd.Wait()
	p.cmd = nil
}

// deliveredLine is one log record read back from the logs topic.
type deliveredLine struct {
	id      string
	message string
}

func readDeliveredLines(t *testing.T, ctx context.Context, broker string) map[string][]deliveredLine {
	t.Helper()
	byContainer := map[string][]deliveredLine{}
	for _, m := range readTopic(t, ctx, broker, "harrier."+record.TopicLogs) {
		env, err := record.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		var l record.Log
		if err := json.Unmarshal(env.Payload, &l); err != nil {
			t.Fatal(err)
		}
		byContainer[l.ContainerID] = append(byContainer[l.ContainerID], deliveredLine{id: env.ID, message: l.Message})
	}
	return byContainer
}

// dedup keeps the first record of each id, as storage does.
func dedup(lines []deliveredLine) []deliveredLine {
	seen := map[string]bool{}
	var unique []deliveredLine
	for _, l := range lines {
		if !seen[l.id] {
			seen[l.id] = true
			unique = append(unique, l)
		}
	}
	return unique
}

// TestCollectorRotationAndKill writes json-file logs at a steady rate and
// rotates them by rename and by copytruncate. It kills the collector with
// SIGKILL seven times mid-stream, once with rotations while it is down.
// Every line must arrive in order per container, and once after dedup by
// record id.
func TestCollectorRotationAndKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the harrier-agent binary and runs for about 15 s")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "harrier-agent")
	build := exec.Command("go", "build", "-o", bin, "github.com/harrierhq/harrier/cmd/harrier-agent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	brokers := kafkatest.StartTestBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, brokers, "harrier.", 3, record.TopicLogs, record.TopicInventory); err != nil {
		t.Fatal(err)
	}

	const containers = 4
	const linesPerContainer = 3000
	root := filepath.Join(tmp, "containers")
	logs := make([]*rotatingLog, containers)
	ids := make([]string, containers)
	for i := range logs {
		ids[i] = fmt.Sprintf("%064x", i+1)
		path := writeDockerContainer(t, root, ids[i])
		l, err := openRotatingLog(path, i)
		if err != nil {
			t.Fatal(err)
		}
		defer l.file.Close()
		logs[i] = l
	}

	collector := &collectorProcess{
		t:   t,
		bin: bin,
		log: filepath.Join(tmp, "collector.log"),
		args: []string{"--kafka", brokers[0],
			"--collect.state_dir", filepath.Join(tmp, "state"),
			"--collect.docker_root", root,
			"--collect.cri_root", "", "--collect.cgroup_root", "", "--collect.host_root", "",
			"--collect.host_id", "rotation-test",
			"--collect.interval", "100ms"},
	}
	collector.start()
	defer collector.stop(syscall.SIGKILL)

	// One line per container every 2 ms, about 2,000 lines/s in all. Each
	// container rotates every 400 lines, alternating rename and
	// copytruncate, at staggered points.
	renames, truncates, kills := 0, 0, 0
	ticker := time.NewTicker(2 * time.Millisecond)
	for seq := 0; seq < linesPerContainer; seq++ {
		<-ticker.C
		for i, l := range logs {
			if err := l.write(seq); err != nil {
				t.Fatal(err)
			}
			step := seq + 1 + 97*i
			if step%400 != 0 {
				continue
			}
			if (step/400)%2 == 0 {
				renames++
				err := l.rotateByRename()
				if err != nil {
					t.Fatal(err)
				}
			} else {
				truncates++
				if err := l.rotateByCopyTruncate(); err != nil {
					t.Fatal(err)
				}
			}
		}
		switch seq {
		case 1000:
			// Down for 1 s, so that every container rotates at least
			// once while no collector runs.
			kills++
			collector.stop(syscall.SIGKILL)
		case 1500:
			collector.start()
		case 500, 1750, 2000, 2250, 2500, 2750:
			kills++
			collector.stop(syscall.SIGKILL)
			collector.start()
		}
	}
	ticker.Stop()
	t.Logf("wrote %d lines per container, %d rotations by rename, %d by copytruncate, %d kills", linesPerContainer, renames, truncates, kills)

	var delivered map[string][]deliveredLine
	deadline := time.Now().Add(time.Minute)
	for {
		delivered = readDeliveredLines(t, ctx, brokers[0])
		complete := true
		for _, id := range ids {
			if len(dedup(delivered[id])) < linesPerContainer {
				complete = false
			}
		}
		if complete || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	collector.stop(syscall.SIGTERM)
	delivered = readDeliveredLines(t, ctx, brokers[0])

	raw, duplicates := 0, 0
	for i, id := range ids {
		lines := delivered[id]
		unique := dedup(lines)
		raw += len(lines)
		duplicates += len(lines) - len(unique)

		if len(unique) != linesPerContainer {
			t.Errorf("container %d: %d unique lines delivered, want %d", i, len(unique), linesPerContainer)
		}
		for seq, l := range unique {
			want := fmt.Sprintf("container %d line %06d ", i, seq)
			if !strings.HasPrefix(l.message, want) {
				t.Errorf("container %d: unique line %d is %.40q, want it to start with %q", i, seq, l.message, want)
				break
			}
		}
		byID := map[string]string{}
		for _, l := range lines {
			if prev, ok := byID[l.id]; ok && prev != l.message {
				t.Errorf("container %d: record id %s carries %.40q and %.40q", i, l.id, prev, l.message)
			}
			byID[l.id] = l.message
		}
	}
	t.Logf("delivered %d records for %d lines, %d of them duplicates before dedup by id", raw, containers*linesPerContainer, duplicates)
	if t.Failed() {
		out, _ := os.ReadFile(collector.log)
		t.Logf("collector output:\n%s", out)
	}
}
