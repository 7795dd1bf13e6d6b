package agentrun

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	kg "github.com/segmentio/kafka-go"

	"github.com/harrierhq/harrier/collectors/spool"
	"github.com/harrierhq/harrier/internal/broker"
	"github.com/harrierhq/harrier/internal/config"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/harrierhq/harrier/internal/record"
)

// syncBuffer is a bytes.Buffer safe for the collector's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePort returns a port of 127.0.0.1 that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testConfig returns a collector config that reads only a scan folder
// holding one Trivy report and writes to addr.
func testConfig(t *testing.T, addr string, spoolOn bool) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Kafka.Brokers = []string{addr}
	cfg.Kafka.Partitions = 2
	cfg.HTTP.Addr = ""
	cfg.Collect.DockerRoot, cfg.Collect.CRIRoot, cfg.Collect.CgroupRoot, cfg.Collect.HostRoot = "", "", "", ""
	cfg.Collect.DockerSocket = ""
	cfg.Collect.Posture = false
	cfg.Collect.HostID = "h"
	cfg.Collect.Interval = 100 * time.Millisecond
	cfg.Collect.StateDir = t.TempDir()
	cfg.Collect.Spool = spoolOn
	cfg.Collect.ScanDir = t.TempDir()
	report, err := os.ReadFile("../scan/testdata/alpine-310.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.Collect.ScanDir, "alpine.json"), report, 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestRunFailsWithoutKafkaOrSpool(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg := testConfig(t, addr, false)
	err := Run(context.Background(), cfg, Options{Stdout: io.Discard, Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "no Kafka broker reachable") {
		t.Fatalf("Run = %v, expected the unreachable broker error", err)
	}
}

// TestRunSpoolsWhileKafkaDown starts the collector while no broker listens,
// then starts one, and expects the topics created with the configured
// partition count and the spooled scan record delivered.
func TestRunSpoolsWhileKafkaDown(t *testing.T) {
	saved := topicRetryInterval
	topicRetryInterval = 100 * time.Millisecond
	defer func() { topicRetryInterval = saved }()

	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cfg := testConfig(t, addr, true)
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(runCtx, cfg, Options{Stdout: io.Discard, Logger: logger}) }()

	waitFor(t, "warning about the unreachable broker", func() bool {
		return strings.Contains(logs.String(), "Kafka not reachable at start, spooling records")
	})
	waitFor(t, "scan record spooled", func() bool {
		return strings.Contains(logs.String(), "Kafka write failed, keeping messages in the spool")
	})
	select {
	case err := <-done:
		t.Fatalf("Run returned %v while Kafka was down, expected it to keep running", err)
	default:
	}

	b, err := broker.Start(broker.Config{Port: port, Partitions: 3}, nil)
	if err != nil {
		t.Fatalf("start broker on port %d: %v", port, err)
	}
	defer b.Close()

	// Reading the topic's metadata before the collector created it would
	// let the broker create it with its own partition count.
	waitFor(t, "topics created", func() bool {
		return strings.Contains(logs.String(), "Kafka topics created, sending the spooled records")
	})
	topic := cfg.Kafka.TopicPrefix + record.TopicScans
	waitFor(t, "scan record delivered", func() bool { return lastOffset(t, addr, topic) > 0 })
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, expected nil after the context ended", err)
	}

	conn, err := kg.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != cfg.Kafka.Partitions {
		t.Errorf("topic %s has %d partitions, expected the configured %d", topic, len(parts), cfg.Kafka.Partitions)
	}
}

// lastOffset returns the sum of the last offsets of topic's partitions, or
// 0 when the topic does not exist yet.
func lastOffset(t *testing.T, addr, topic string) int64 {
	t.Helper()
	conn, err := kg.Dial("tcp", addr)
	if err != nil {
		return 0
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return 0
	}
	var total int64
	for _, p := range parts {
		leader, err := kg.DialLeader(context.Background(), "tcp", addr, topic, p.ID)
		if err != nil {
			return 0
		}
		last, err := leader.ReadLastOffset()
		leader.Close()
		if err != nil {
			return 0
		}
		total += last
	}
	return total
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOutputExportsSpoolDrops fills a drop-newest spool while the topics
// are not created yet and expects the drops in the collector's
// harrier_records_dropped_total.
func TestOutputExportsSpoolDrops(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg := testConfig(t, addr, true)
	cfg.Collect.SpoolPolicy = "drop-newest"
	cfg.Collect.SpoolMaxBytes = 64 << 10
	dropped := metrics.Default().Dropped.WithLabelValues("collect", spool.DropReasonNewest)
	before := testutil.ToFloat64(dropped)

	out, err := newOutput(cfg, slog.New(slog.DiscardHandler), &topicGate{})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	value := bytes.Repeat([]byte("x"), 1024)
	for i := 0; i < 200; i++ {
		msg := kafka.Message{Topic: record.TopicLogs, Key: []byte("k"), Value: value}
		if err := out.Emitter().Write(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}

	want := float64(out.spool.Stats().DroppedNewest)
	if want == 0 {
		t.Fatal("spool dropped nothing, expected drops once 64 KiB are spooled")
	}
	if got := testutil.ToFloat64(dropped) - before; got != want {
		t.Errorf("harrier_records_dropped_total{reason=%q} grew by %v, expected the spool's %v", spool.DropReasonNewest, got, want)
	}
}
