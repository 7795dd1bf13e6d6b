package collectors_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
)

// discardEmitter counts messages and drops them, so that a benchmark
// measures the collector alone.
type discardEmitter struct{ n int }

func (e *discardEmitter) Write(_ context.Context, msgs ...kafka.Message) error {
	e.n += len(msgs)
	return nil
}

// writeBenchLogs creates files json-file logs of lines lines each under
// root, shaped like a web service's access log.
func writeBenchLogs(b *testing.B, root string, files, lines int) {
	b.Helper()
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for i := range files {
		id := fmt.Sprintf("%064x", i+1)
		var sb strings.Builder
		for n := range lines {
			ts := base.Add(time.Duration(n) * time.Millisecond).Format(time.RFC3339Nano)
			msg := fmt.Sprintf("level=info ts=%s caller=handler.go:%d msg=\"request served\" method=GET path=/api/v1/items/%d status=200 duration_ms=%d\n", ts, 40+n%60, n, n%250)
			fmt.Fprintf(&sb, `{"log":%q,"stream":"stdout","time":%q}`+"\n", msg, ts)
		}
		path := filepath.Join(root, id, id+"-json.log")
		writeDockerContainerB(b, root, id)
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

func writeDockerContainerB(b *testing.B, root, id string) {
	b.Helper()
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	config := fmt.Sprintf(`{"ID":%q,"Name":"/app","Image":"sha256:abc","Config":{"Image":"app:1","Labels":{}},"State":{"Running":true,"StartedAt":"2026-11-30T09:00:00Z"}}`, id)
	if err := os.WriteFile(filepath.Join(dir, "config.v2.json"), []byte(config), 0o644); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAgentDockerLogs measures RunOnce over 100 json-file logs of
// 1,000 lines each, without Kafka. It reports lines/s.
func BenchmarkAgentDockerLogs(b *testing.B) {
	root := b.TempDir()
	const files, lines = 100, 1000
	writeBenchLogs(b, root, files, lines)
	b.ResetTimer()
	for b.Loop() {
		out := &discardEmitter{}
		agent := collectors.NewAgent(collectors.AgentConfig{HostID: "bench", DockerRoot: root}, out, nil)
		if err := agent.RunOnce(context.Background()); err != nil {
			b.Fatal(err)
		}
		if got := agent.Stats().Logs; got != files*lines {
			b.Fatalf("logs = %d, want %d", got, files*lines)
		}
	}
	b.ReportMetric(float64(files*lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkAgentDockerLogsKafka is BenchmarkAgentDockerLogs writing to the
// embedded broker, which runs in the same process.
func BenchmarkAgentDockerLogsKafka(b *testing.B) {
	root := b.TempDir()
	const files, lines = 100, 1000
	writeBenchLogs(b, root, files, lines)
	brokers := kafkatest.StartTestBroker(b)
	producer := kafka.NewProducer(brokers, "bench.")
	defer producer.Close()
	b.ResetTimer()
	for b.Loop() {
		agent := collectors.NewAgent(collectors.AgentConfig{HostID: "bench", DockerRoot: root}, producer, nil)
		if err := agent.RunOnce(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(files*lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
