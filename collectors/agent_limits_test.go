package collectors_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/collectors/produce"
	"github.com/harrierhq/harrier/collectors/spool"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/harrierhq/harrier/internal/record"
)

// TestAgentDropsOversizedLogRecord sends a 2 MiB log line between two
// small ones through the spool to a broker with Kafka's default
// message.max.bytes, and expects the small lines delivered and the large
// one dropped and counted instead of holding up the spool.
func TestAgentDropsOversizedLogRecord(t *testing.T) {
	brokers := kafkatest.StartTestBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const prefix = "harrier."
	if err := kafka.EnsureTopics(ctx, brokers, prefix, 3, record.Topics...); err != nil {
		t.Fatal(err)
	}
	producer, err := produce.New(produce.Config{Brokers: brokers, TopicPrefix: prefix, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	sp, err := spool.Open(spool.Config{Dir: t.TempDir()}, producer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	runCtx, stopSpool := context.WithCancel(ctx)
	spoolDone := make(chan error, 1)
	go func() { spoolDone <- sp.Run(runCtx) }()
	defer func() {
		stopSpool()
		if err := <-spoolDone; err != nil {
			t.Errorf("spool run: %v", err)
		}
	}()

	root := t.TempDir()
	writeDockerContainer(t, root, strings.Repeat("56", 32), jsonLine("before", 1), jsonLine(strings.Repeat("x", 2<<20), 2), jsonLine("after", 3))
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	agent := collectors.NewAgent(collectors.AgentConfig{HostID: "h", DockerRoot: root, Metrics: m.ForRole("collect")},
		sp, slog.New(slog.NewTextHandler(&logs, nil)))
	if err := agent.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(time.Minute)
	for sp.Stats().PendingMessages > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool not drained after a minute: %+v", sp.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var sent []kafka.Message
	for _, msg := range readTopic(t, ctx, brokers[0], prefix+record.TopicLogs) {
		sent = append(sent, kafka.Message{Topic: record.TopicLogs, Value: msg.Value})
	}
	if got := logMessages(t, sent); strings.Join(got, ",") != "before,after" {
		t.Errorf("delivered %d log messages %.40q, expected before,after", len(got), got)
	}
	if s := agent.Stats(); s.TooLarge != 1 || s.Logs != 2 {
		t.Errorf("stats = %+v, expected TooLarge 1 and Logs 2", s)
	}
	if got := testutil.ToFloat64(m.Dropped.WithLabelValues("collect", "too_large")); got != 1 {
		t.Errorf("dropped as too_large = %v, expected 1", got)
	}
	if st := sp.Stats(); st.DroppedTooLarge != 0 || st.SendErrors != 0 {
		t.Errorf("spool stats = %+v, expected no broker rejection", st)
	}
	line := logs.String()
	for _, want := range []string{"Record larger than the maximum record size dropped", "kind=log", "max_record_bytes=1000000", "source="} {
		if !strings.Contains(line, want) {
			t.Errorf("log has no %q:\n%s", want, line)
		}
	}
}

func TestAgentReportsInvalidScanOnce(t *testing.T) {
	dir := t.TempDir()
	writeFile := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeFile("broken.json", `{"SchemaVersion": 2, "Results": [`)
	writeFile("unknown.json", `{"tool": "none"}`)
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	agent := collectors.NewAgent(collectors.AgentConfig{HostID: "h", ScanDir: dir, Metrics: m.ForRole("collect")},
		&recordingEmitter{}, slog.New(slog.NewTextHandler(&logs, nil)))

	for pass := 0; pass < 3; pass++ {
		if err := agent.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if s := agent.Stats(); s.ParseErrors != 2 {
		t.Errorf("parse errors after 3 passes = %d, expected 2", s.ParseErrors)
	}
	if got := testutil.ToFloat64(m.Dropped.WithLabelValues("collect", "parse_error")); got != 2 {
		t.Errorf("dropped as parse_error after 3 passes = %v, expected 2", got)
	}
	if n := strings.Count(logs.String(), "Skipped invalid scan report"); n != 2 {
		t.Errorf("%d log lines about invalid reports, expected one per file:\n%s", n, logs.String())
	}
	for _, name := range []string{"broken.json", "unknown.json"} {
		if !strings.Contains(logs.String(), filepath.Join(dir, name)) {
			t.Errorf("log does not name %s:\n%s", name, logs.String())
		}
	}

	// A new version of a file that is still invalid is reported again.
	writeFile("broken.json", `{"SchemaVersion": 2, "Results": [{`)
	if err := agent.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := agent.Stats(); s.ParseErrors != 3 {
		t.Errorf("parse errors after a changed file = %d, expected 3", s.ParseErrors)
	}
}
