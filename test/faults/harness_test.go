// Package faults holds integration tests that break one component of the
// ingest path (normalizer, ClickHouse, broker) while records stream
// through it, and then check that every record is stored exactly once.
// They run the real binary, a real clickhouse-server and the embedded
// broker (or Apache Kafka when KAFKA_TEST_BROKERS is set).
package faults

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/broker"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/storage"
)

// recordsEnv sets how many records each fault test sends. The default is
// small enough for CI on two cores; set it to 1000000 for the full run.
const recordsEnv = "FAULT_TEST_RECORDS"

const defaultRecords = 100000

// harrierBin is the binary built once by TestMain.
var harrierBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "harrier-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	harrierBin = filepath.Join(dir, "harrier")
	build := exec.Command("go", "build", "-o", harrierBin, "github.com/harrierhq/harrier/cmd/harrier")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build harrier: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// recordCount returns the number of records a fault test sends.
func recordCount(t *testing.T) int {
	t.Helper()
	v := os.Getenv(recordsEnv)
	if v == "" {
		return defaultRecords
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 100 {
		t.Fatalf("invalid %s=%q: expected an integer of at least 100", recordsEnv, v)
	}
	return n
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// freePort returns a port on 127.0.0.1 that is free now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// clickHouse is a clickhouse-server the test can stop and start again on
// the same directory and ports.
type clickHouse struct {
	t                 *testing.T
	dir               string
	tcpPort, httpPort int
	server            *storage.LocalServer
}

func startClickHouse(t *testing.T) *clickHouse {
	t.Helper()
	c := &clickHouse{t: t, dir: t.TempDir(), tcpPort: freePort(t), httpPort: freePort(t)}
	c.start()
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *clickHouse) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.tcpPort)) }

func (c *clickHouse) start() {
	c.t.Helper()
	s, err := storage.StartLocalOnPorts(context.Background(), c.dir, c.tcpPort, c.httpPort, testLogger(c.t))
	if err != nil {
		c.t.Fatalf("start clickhouse-server: %v", err)
	}
	c.server = s
}

func (c *clickHouse) stop() {
	if c.server == nil {
		return
	}
	if err := c.server.Stop(); err != nil {
		c.t.Errorf("stop clickhouse-server: %v", err)
	}
	c.server = nil
}

// openStore connects to db on c and applies the migrations.
func openStore(t *testing.T, c *clickHouse, db string) *storage.Store {
	t.Helper()
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Config{Addr: c.addr(), Database: db})
	if err != nil {
		t.Fatalf("open clickhouse: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return store
}

// embeddedBroker is the embedded broker with a data directory, so that it
// keeps topics and committed offsets across a restart on the same port.
type embeddedBroker struct {
	t       *testing.T
	dataDir string
	port    int
	b       *broker.Broker
}

func startBroker(t *testing.T) *embeddedBroker {
	t.Helper()
	e := &embeddedBroker{t: t, dataDir: t.TempDir(), port: freePort(t)}
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

func (e *embeddedBroker) start() {
	e.t.Helper()
	b, err := broker.Start(broker.Config{Port: e.port, DataDir: e.dataDir, Partitions: 3}, nil)
	if err != nil {
		e.t.Fatalf("start broker: %v", err)
	}
	e.b = b
}

func (e *embeddedBroker) stop() {
	if e.b != nil {
		e.b.Close()
		e.b = nil
	}
}

func (e *embeddedBroker) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(e.port)) }

// normalizer is a `harrier normalize` subprocess.
type normalizer struct {
	t       *testing.T
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
}

// startNormalizer starts `harrier normalize` with its log appended to
// logPath. extraEnv is added to the environment.
func startNormalizer(t *testing.T, brokers, topicPrefix, clickhouseAddr, db, logPath string, extraEnv ...string) *normalizer {
	t.Helper()
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("open normalizer log: %v", err)
	}
	defer logFile.Close()
	cmd := exec.Command(harrierBin, "normalize",
		"--kafka", brokers, "--kafka.topic_prefix", topicPrefix,
		"--clickhouse", clickhouseAddr, "--clickhouse.database", db)
	cmd.Env = append(os.Environ(), extraEnv...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start harrier normalize: %v", err)
	}
	n := &normalizer{t: t, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() { n.signal(syscall.SIGTERM, 15*time.Second) })
	return n
}

func (n *normalizer) pid() int { return n.cmd.Process.Pid }

// signal sends sig to the normalizer and waits up to wait for it to exit,
// then kills it.
func (n *normalizer) signal(sig syscall.Signal, wait time.Duration) {
	select {
	case <-n.exited:
		return
	default:
	}
	_ = syscall.Kill(n.pid(), sig)
	select {
	case <-n.exited:
		return
	case <-time.After(wait):
	}
	n.t.Errorf("normalizer pid %d did not exit within %s of %s, killing it", n.pid(), wait, sig)
	_ = syscall.Kill(n.pid(), syscall.SIGKILL)
	<-n.exited
}

// running fails the test when the normalizer has exited.
func (n *normalizer) running() bool {
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// logTail returns the last lines of the normalizer's log.
func logTail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// encodeLog returns the envelope of log record i. Records spread over 64
// containers, so every partition gets records, and their ids are unique.
func encodeLog(t *testing.T, runID string, i, messageBytes int) kafka.Message {
	container := fmt.Sprintf("%064x", i%64)
	base := time.Date(2024, 4, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	msg := fmt.Sprintf("GET /api/items/%d 200 %dms", i, i%97)
	if len(msg) < messageBytes {
		msg += " " + strings.Repeat("x", messageBytes-len(msg)-1)
	}
	id := fmt.Sprintf("%s-%d", runID, i)
	v, err := record.Encode(record.KindLog, id, "host-faults", "faults:"+id, base, record.Log{
		TimeNs: base + int64(i)*int64(time.Millisecond), Runtime: "docker", ContainerID: container, Stream: "stdout", Message: msg,
	})
	if err != nil {
		t.Fatalf("encode record %d: %v", i, err)
	}
	return kafka.Message{Topic: record.TopicLogs, Key: []byte(container), Value: v}
}

// produce sends records [from, to) in chunks and retries a failed chunk
// until ctx is done, as a collector does. A retried chunk can reach the
// broker twice; storage drops those repeats by record id.
func produce(ctx context.Context, t *testing.T, p *kafka.Producer, runID string, from, to, messageBytes int) error {
	const chunk = 2000
	for start := from; start < to; start += chunk {
		end := min(start+chunk, to)
		msgs := make([]kafka.Message, 0, end-start)
		for i := start; i < end; i++ {
			msgs = append(msgs, encodeLog(t, runID, i, messageBytes))
		}
		for attempt := 1; ; attempt++ {
			err := p.Write(ctx, msgs...)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("produce records %d to %d: %w", start, end, err)
			}
			t.Logf("produce records %d to %d, attempt %d failed, retrying: %v", start, end, attempt, err)
			time.Sleep(500 * time.Millisecond)
		}
	}
	return nil
}

// queryUint returns the single UInt64 that query returns, or an error.
func queryUint(ctx context.Context, store *storage.Store, query string) (uint64, error) {
	_, rows, err := store.Query(ctx, query)
	if err != nil {
		return 0, err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return 0, fmt.Errorf("query %q returned %d rows, expected 1", query, len(rows))
	}
	switch v := rows[0][0].(type) {
	case uint64:
		return v, nil
	case *uint64:
		return *v, nil
	}
	return 0, fmt.Errorf("query %q returned %T, expected uint64", query, rows[0][0])
}

// storedRecords returns uniqExact(record_id) of the run's events, or an
// error while ClickHouse is down.
func storedRecords(ctx context.Context, store *storage.Store) (uint64, error) {
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return queryUint(qctx, store, "SELECT uniqExact(record_id) FROM events")
}

// waitStored polls until at least want distinct records are stored, the
// normalizer exits or timeout passes, and returns the last count.
func waitStored(t *testing.T, store *storage.Store, n *normalizer, want uint64, timeout time.Duration) uint64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var got uint64
	for time.Now().Before(deadline) {
		c, err := storedRecords(context.Background(), store)
		if err == nil {
			got = c
			if got >= want {
				return got
			}
		}
		if n != nil && !n.running() {
			t.Fatalf("normalizer exited with %d of %d records stored; log:\n%s", got, want, logTail(n.logPath, 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return got
}

// checkExactlyOnce checks that each of the want records is stored and
// counted once, and that none was dead-lettered.
func checkExactlyOnce(t *testing.T, store *storage.Store, want int) {
	t.Helper()
	ctx := context.Background()
	unique, err := queryUint(ctx, store, "SELECT uniqExact(record_id) FROM events")
	if err != nil {
		t.Fatal(err)
	}
	if unique != uint64(want) {
		t.Errorf("uniqExact(record_id) = %d, want %d (records lost: %d)", unique, want, int64(want)-int64(unique))
	}
	final, err := queryUint(ctx, store, "SELECT count() FROM events FINAL")
	if err != nil {
		t.Fatal(err)
	}
	if final != uint64(want) {
		t.Errorf("count() FINAL = %d, want %d (records counted twice: %d)", final, want, int64(final)-int64(want))
	}
	raw, err := queryUint(ctx, store, "SELECT count() FROM events")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rows before merge: %d, so %d repeated deliveries collapsed by ReplacingMergeTree", raw, int64(raw)-int64(want))
	dead, err := queryUint(ctx, store, "SELECT count() FROM dead_letters")
	if err != nil {
		t.Fatal(err)
	}
	if dead != 0 {
		t.Errorf("dead_letters has %d rows, want 0", dead)
	}
}

// processRSS returns the resident set size of pid in bytes, read from
// /proc/<pid>/status.
func processRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("VmRSS:")) {
			continue
		}
		fields := strings.Fields(string(line[len("VmRSS:"):]))
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse VmRSS line %q: %w", line, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmRSS line in /proc status")
}
