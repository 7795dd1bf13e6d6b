package collectors_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	kg "github.com/segmentio/kafka-go"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/internal/demodata"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
	"github.com/harrierhq/harrier/internal/record"
)

const demoDir = "../testdata/demo"

// readTopic returns every message of topic, reading each partition from the
// start to its last offset.
func readTopic(t *testing.T, ctx context.Context, broker, topic string) []kg.Message {
	t.Helper()
	conn, err := kg.DialContext(ctx, "tcp", broker)
	if err != nil {
		t.Fatalf("dial %s: %v", broker, err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatalf("read partitions of %s: %v", topic, err)
	}

	var msgs []kg.Message
	for _, p := range parts {
		leader, err := kg.DialLeader(ctx, "tcp", broker, topic, p.ID)
		if err != nil {
			t.Fatalf("dial leader of %s/%d: %v", topic, p.ID, err)
		}
		last, err := leader.ReadLastOffset()
		if err != nil {
			t.Fatalf("read last offset of %s/%d: %v", topic, p.ID, err)
		}
		for offset := int64(0); offset < last; {
			if _, err := leader.Seek(offset, kg.SeekAbsolute); err != nil {
				t.Fatalf("seek %s/%d to %d: %v", topic, p.ID, offset, err)
			}
			start := offset
			batch := leader.ReadBatch(1, 16<<20)
			for {
				m, err := batch.ReadMessage()
				if err != nil {
					break
				}
				msgs = append(msgs, m)
				offset = m.Offset + 1
			}
			batch.Close()
			if offset == start {
				t.Fatalf("read %s/%d: no message at offset %d of %d", topic, p.ID, offset, last)
			}
		}
		leader.Close()
	}
	return msgs
}

func TestAgentRunOnceDemoBundle(t *testing.T) {
	manifest, err := demodata.ReadManifest(demoDir)
	if err != nil {
		t.Fatal(err)
	}
	brokers := kafkatest.StartTestBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const prefix = "harrier."
	topics := []string{record.TopicLogs, record.TopicMetrics, record.TopicScans, record.TopicInventory}
	if err := kafka.EnsureTopics(ctx, brokers, prefix, 3, topics...); err != nil {
		t.Fatal(err)
	}
	producer := kafka.NewProducer(brokers, prefix)
	defer producer.Close()

	agent := collectors.NewAgent(collectors.AgentConfig{
		HostID:          "demo-host",
		DockerRoot:      filepath.Join(demoDir, "docker", "containers"),
		CRIRoot:         filepath.Join(demoDir, "cri"),
		CgroupReplayDir: filepath.Join(demoDir, "cgroup"),
		ScanDir:         filepath.Join(demoDir, "scans"),
	}, producer, nil)
	if err := agent.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	stats := agent.Stats()
	if stats.ParseErrors != 0 {
		t.Errorf("parse errors = %d, want 0", stats.ParseErrors)
	}
	if stats.Logs != int64(manifest.LogRecords) {
		t.Errorf("logs collected = %d, want %d", stats.Logs, manifest.LogRecords)
	}

	want := map[string]int{
		record.TopicLogs:      manifest.LogRecords,
		record.TopicMetrics:   manifest.MetricRecords,
		record.TopicScans:     manifest.ScanRecords,
		record.TopicInventory: manifest.ContainerRecords + int(stats.Lifecycle),
	}
	// Every demo Docker container is running, with a Created and a
	// StartedAt time, so each yields its created and started events. The
	// one CRI container has only 0.log, so it yields the same two.
	dockerDirs, err := os.ReadDir(filepath.Join(demoDir, "docker", "containers"))
	if err != nil {
		t.Fatal(err)
	}
	if wantLifecycle := int64(2*len(dockerDirs) + 2); stats.Lifecycle != wantLifecycle {
		t.Errorf("lifecycle events = %d, expected %d", stats.Lifecycle, wantLifecycle)
	}
	total := 0
	perContainer := map[string]int{}
	for _, topic := range topics {
		msgs := readTopic(t, ctx, brokers[0], prefix+topic)
		total += len(msgs)
		if len(msgs) != want[topic] {
			t.Errorf("topic %s has %d messages, want %d", topic, len(msgs), want[topic])
		}
		for _, m := range msgs {
			env, err := record.Decode(m.Value)
			if err != nil {
				t.Fatalf("topic %s: %v", topic, err)
			}
			if record.TopicFor(env.Kind) != topic {
				t.Errorf("kind %s on topic %s", env.Kind, topic)
			}
			if env.HostID != "demo-host" {
				t.Errorf("host id = %q, want demo-host", env.HostID)
			}
			if env.Kind == record.KindLog {
				var l record.Log
				if err := json.Unmarshal(env.Payload, &l); err != nil {
					t.Fatal(err)
				}
				if string(m.Key) != l.ContainerID {
					t.Errorf("log key = %q, want container id %q", m.Key, l.ContainerID)
				}
				perContainer[l.ContainerID]++
			}
		}
	}
	if stats.Produced != int64(total) {
		t.Errorf("produced = %d, want %d", stats.Produced, total)
	}
	for name, c := range manifest.Containers {
		if perContainer[c.ID] != c.LogRecords {
			t.Errorf("container %s has %d log records, want %d", name, perContainer[c.ID], c.LogRecords)
		}
	}
}

// recordingEmitter keeps the messages in memory. The tests below check the
// order and content of what the agent writes, which needs no broker.
type recordingEmitter struct {
	mu      sync.Mutex
	batches [][]kafka.Message
	fail    bool
}

func (e *recordingEmitter) Write(_ context.Context, msgs ...kafka.Message) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail {
		return fmt.Errorf("broker unavailable")
	}
	// The agent reuses the bytes of msgs after Write returns.
	batch := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		batch[i] = kafka.Message{Topic: m.Topic, Key: bytes.Clone(m.Key), Value: bytes.Clone(m.Value)}
	}
	e.batches = append(e.batches, batch)
	return nil
}

func (e *recordingEmitter) messages() []kafka.Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	var all []kafka.Message
	for _, b := range e.batches {
		all = append(all, b...)
	}
	return all
}

func TestAgentRunOnceOrderAndBatches(t *testing.T) {
	out := &recordingEmitter{}
	agent := collectors.NewAgent(collectors.AgentConfig{
		HostID:          "demo-host",
		DockerRoot:      filepath.Join(demoDir, "docker", "containers"),
		CRIRoot:         filepath.Join(demoDir, "cri"),
		CgroupReplayDir: filepath.Join(demoDir, "cgroup"),
		ScanDir:         filepath.Join(demoDir, "scans"),
	}, out, nil)
	if err := agent.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}

	for i, b := range out.batches {
		if len(b) > collectors.BatchSize {
			t.Errorf("batch %d has %d messages, want at most %d", i, len(b), collectors.BatchSize)
		}
	}

	// Inventory and scans come before logs and metrics.
	rank := map[string]int{record.TopicInventory: 0, record.TopicScans: 1, record.TopicLogs: 2, record.TopicMetrics: 3}
	last := 0
	for i, m := range out.messages() {
		r := rank[m.Topic]
		if r < last {
			t.Fatalf("message %d on %s after a message on a later topic", i, m.Topic)
		}
		last = r
	}
}

// writeDockerContainer creates a container directory with a json-file log
// holding lines and returns the log path.
func writeDockerContainer(t *testing.T, root, id string, lines ...string) string {
	t.Helper()
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`{"ID":%q,"Name":"/app","Image":"sha256:abc","Config":{"Image":"app:1","Labels":{}},"State":{"Running":true,"StartedAt":"2026-11-30T09:00:00Z"}}`, id)
	if err := os.WriteFile(filepath.Join(dir, "config.v2.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, id+"-json.log")
	appendLines(t, path, lines...)
	return path
}

func appendLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

func jsonLine(msg string, second int) string {
	return fmt.Sprintf(`{"log":%q,"stream":"stdout","time":"2026-11-30T10:00:%02d.000000001Z"}`, msg+"\n", second)
}

func logMessages(t *testing.T, msgs []kafka.Message) []string {
	t.Helper()
	var out []string
	for _, m := range msgs {
		if m.Topic != record.TopicLogs {
			continue
		}
		env, err := record.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		var l record.Log
		if err := json.Unmarshal(env.Payload, &l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l.Message)
	}
	return out
}

func TestAgentRestartResumesFromCheckpoint(t *testing.T) {
	root := t.TempDir()
	state := t.TempDir()
	id := strings.Repeat("ab", 32)
	path := writeDockerContainer(t, root, id, jsonLine("one", 1), jsonLine("two", 2))
	cfg := collectors.AgentConfig{HostID: "h", DockerRoot: root, StateDir: state}

	first := &recordingEmitter{}
	if err := collectors.NewAgent(cfg, first, nil).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := logMessages(t, first.messages()); strings.Join(got, ",") != "one,two" {
		t.Fatalf("first run sent %q, want one,two", got)
	}

	// A split line whose end is not written yet stays pending.
	appendLines(t, path, jsonLine("three", 3), `{"log":"fo","stream":"stdout","time":"2026-11-30T10:00:04.000000001Z"}`)
	second := &recordingEmitter{}
	if err := collectors.NewAgent(cfg, second, nil).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := logMessages(t, second.messages()); strings.Join(got, ",") != "three" {
		t.Fatalf("second run sent %q, want three", got)
	}

	appendLines(t, path, `{"log":"ur\n","stream":"stdout","time":"2026-11-30T10:00:04.000000002Z"}`, jsonLine("five", 5))
	third := &recordingEmitter{}
	if err := collectors.NewAgent(cfg, third, nil).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := logMessages(t, third.messages()); strings.Join(got, ",") != "four,five" {
		t.Fatalf("third run sent %q, want four,five", got)
	}
}

func TestAgentFailedWriteCommitsNothing(t *testing.T) {
	root := t.TempDir()
	state := t.TempDir()
	id := strings.Repeat("cd", 32)
	writeDockerContainer(t, root, id, jsonLine("one", 1))
	cfg := collectors.AgentConfig{HostID: "h", DockerRoot: root, StateDir: state}

	failing := &recordingEmitter{fail: true}
	if err := collectors.NewAgent(cfg, failing, nil).RunOnce(context.Background()); err == nil {
		t.Fatal("RunOnce with a failing emitter returned nil")
	}

	ok := &recordingEmitter{}
	if err := collectors.NewAgent(cfg, ok, nil).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := logMessages(t, ok.messages()); strings.Join(got, ",") != "one" {
		t.Fatalf("run after a failed write sent %q, want one", got)
	}
}

func TestAgentRunFollowsAndRotates(t *testing.T) {
	root := t.TempDir()
	id := strings.Repeat("ef", 32)
	path := writeDockerContainer(t, root, id, jsonLine("one", 1))
	out := &recordingEmitter{}
	agent := collectors.NewAgent(collectors.AgentConfig{HostID: "h", DockerRoot: root, Interval: 20 * time.Millisecond}, out, nil)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()

	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if strings.Join(logMessages(t, out.messages()), ",") == want {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("sent %q, want %q", logMessages(t, out.messages()), want)
	}
	waitFor("one")

	appendLines(t, path, jsonLine("two", 2))
	waitFor("one,two")

	// Rotation by rename: the driver renames the log to .1 after writing a
	// last line and starts a new file.
	appendLines(t, path, jsonLine("three", 3))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, jsonLine("four", 4))
	waitFor("one,two,three,four")

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := agent.Stats(); s.Logs != 4 || s.Containers != 1 {
		t.Errorf("stats = %+v, want 4 logs and 1 container", s)
	}
}

func TestAgentCountsBadLinesOncePerFile(t *testing.T) {
	root := t.TempDir()
	id := strings.Repeat("12", 32)
	writeDockerContainer(t, root, id, jsonLine("one", 1), "not json", `{"stream":"stdout"}`, jsonLine("two", 2))
	out := &recordingEmitter{}
	agent := collectors.NewAgent(collectors.AgentConfig{HostID: "h", DockerRoot: root}, out, nil)
	if err := agent.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := logMessages(t, out.messages()); strings.Join(got, ",") != "one,two" {
		t.Fatalf("sent %q, want one,two", got)
	}
	if s := agent.Stats(); s.ParseErrors != 2 {
		t.Errorf("parse errors = %d, want 2", s.ParseErrors)
	}
}

func TestAgentRunOnceThisHost(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		t.Skip("no cgroup mount on this machine")
	}
	out := &recordingEmitter{}
	agent := collectors.NewAgent(collectors.AgentConfig{HostRoot: "/", CgroupRoot: "/sys/fs/cgroup", MaxCgroups: 100}, out, nil)
	if err := agent.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := agent.Stats()
	if s.Hosts != 1 || s.Metrics == 0 || s.Metrics > 100 {
		t.Errorf("stats = %+v, want 1 host and 1 to 100 metrics", s)
	}
	msgs := out.messages()
	if len(msgs) == 0 || msgs[0].Topic != record.TopicInventory {
		t.Fatal("first message is not the host record")
	}
	env, err := record.Decode(msgs[0].Value)
	if err != nil {
		t.Fatal(err)
	}
	if env.Kind != record.KindHost || string(msgs[0].Key) != env.HostID {
		t.Errorf("first record kind %s key %q, want host keyed by %q", env.Kind, msgs[0].Key, env.HostID)
	}
}
