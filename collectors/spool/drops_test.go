package spool

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kg "github.com/segmentio/kafka-go"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
)

// dropCounter records the calls of Config.OnDrop.
type dropCounter struct {
	mu       sync.Mutex
	byReason map[string]int
}

func (c *dropCounter) add(reason string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byReason == nil {
		c.byReason = map[string]int{}
	}
	c.byReason[reason] += n
}

func (c *dropCounter) get(reason string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byReason[reason]
}

// syncBuffer is a bytes.Buffer safe for the spool's goroutines.
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

// createTopic creates topic with a max.message.bytes of maxBytes, as a
// broker with a smaller limit than the collector's records has.
func createTopic(t *testing.T, addr, topic string, maxBytes int) {
	t.Helper()
	client := &kg.Client{Addr: kg.TCP(addr), Timeout: 10 * time.Second}
	resp, err := client.CreateTopics(context.Background(), &kg.CreateTopicsRequest{Topics: []kg.TopicConfig{{
		Topic: topic, NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: []kg.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: fmt.Sprint(maxBytes)}},
	}}})
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if err := resp.Errors[topic]; err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

func TestSpoolDropsMessageBrokerRejects(t *testing.T) {
	addr := kafkatest.StartTestBroker(t)[0]
	createTopic(t, addr, testPrefix+"logs", 4096)

	var drops dropCounter
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	s, err := Open(Config{Dir: t.TempDir(), OnDrop: drops.add}, newProducer(t, addr), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Random bytes do not compress, so the batch stays above 4096 bytes.
	big := make([]byte, 16<<10)
	rand.Read(big)
	for i := 0; i < 5; i++ {
		if err := s.Write(context.Background(), message("a", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Write(context.Background(), kafka.Message{Topic: "logs", Key: []byte("a"), Value: big}); err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 10; i++ {
		if err := s.Write(context.Background(), message("a", i)); err != nil {
			t.Fatal(err)
		}
	}

	stop := runSpool(t, s)
	waitFor(t, "spool drained", 30*time.Second, func() bool { return s.Stats().PendingMessages == 0 })
	stop()

	st := s.Stats()
	if st.DroppedTooLarge != 1 {
		t.Errorf("dropped too large = %d, expected 1", st.DroppedTooLarge)
	}
	if st.Sent < 10 {
		t.Errorf("sent = %d, expected at least the 10 small messages", st.Sent)
	}
	if got := drops.get(DropReasonTooLarge); got != 1 {
		t.Errorf("OnDrop(%q) total = %d, expected 1", DropReasonTooLarge, got)
	}
	checkDelivered(t, readAll(t, addr, testPrefix+"logs"), []string{"a"}, 10)
	if !strings.Contains(logs.String(), "Message rejected by Kafka as too large, dropped") {
		t.Errorf("log has no line about the dropped message:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "bytes=16384") {
		t.Errorf("log does not give the size of the dropped message:\n%s", logs.String())
	}
}

func TestSpoolReportsDropTotals(t *testing.T) {
	addr := kafkatest.StartTestBroker(t)[0]
	var down atomic.Bool
	down.Store(true)
	out := &gateEmitter{down: &down, next: newProducer(t, addr)}

	var drops dropCounter
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	s, err := Open(Config{Dir: t.TempDir(), MaxBytes: 8 << 10, Policy: DropNewest, RetryMax: 50 * time.Millisecond, OnDrop: drops.add}, out, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.dropLogInterval = 200 * time.Millisecond
	stop := runSpool(t, s)
	defer stop()

	const n = 1000
	for i := 0; i < n; i++ {
		if err := s.Write(context.Background(), message("k", i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	dropped := s.Stats().DroppedNewest
	if dropped == 0 {
		t.Fatal("dropped newest = 0, expected drops once 8 KiB are spooled")
	}
	if got := drops.get(DropReasonNewest); int64(got) != dropped {
		t.Errorf("OnDrop(%q) total = %d, expected %d", DropReasonNewest, got, dropped)
	}

	total := fmt.Sprintf("dropped_newest_total=%d", dropped)
	waitFor(t, "log line with the final drop total", 10*time.Second, func() bool {
		return strings.Contains(logs.String(), "Spool messages dropped since the last report") && strings.Contains(logs.String(), total)
	})

	down.Store(false)
	waitFor(t, "spool drained", 30*time.Second, func() bool { return s.Stats().PendingMessages == 0 })
	waitFor(t, "log line about the drained spool", 10*time.Second, func() bool {
		return strings.Contains(logs.String(), "Spool drained after dropping messages")
	})
	if !strings.Contains(logs.String(), fmt.Sprintf("dropped=%d", dropped)) {
		t.Errorf("log does not give the %d drops since the spool was last empty:\n%s", dropped, logs.String())
	}
}

// gateEmitter fails every write while down is set, as an unreachable Kafka
// does, and passes writes to next otherwise.
type gateEmitter struct {
	down *atomic.Bool
	next Emitter
}

func (g *gateEmitter) Write(ctx context.Context, msgs ...kafka.Message) error {
	if g.down.Load() {
		return fmt.Errorf("dial tcp 127.0.0.1:1: connection refused")
	}
	return g.next.Write(ctx, msgs...)
}

// TestSpoolDropsMessageAboveBatchBytes spools a message above the
// producer's 1 MiB BatchBytes, which kafka-go rejects before sending, as a
// spool written by an older collector may hold.
func TestSpoolDropsMessageAboveBatchBytes(t *testing.T) {
	addr := kafkatest.StartTestBroker(t)[0]
	var drops dropCounter
	s, err := Open(Config{Dir: t.TempDir(), OnDrop: drops.add}, newProducer(t, addr), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	big := kafka.Message{Topic: "logs", Key: []byte("a"), Value: bytes.Repeat([]byte("x"), 2<<20)}
	msgs := []kafka.Message{message("a", 0), big, message("a", 1)}
	if err := s.Write(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	stop := runSpool(t, s)
	waitFor(t, "spool drained", 30*time.Second, func() bool { return s.Stats().PendingMessages == 0 })
	stop()

	if st := s.Stats(); st.DroppedTooLarge != 1 {
		t.Errorf("dropped too large = %d, expected 1", st.DroppedTooLarge)
	}
	if got := drops.get(DropReasonTooLarge); got != 1 {
		t.Errorf("OnDrop(%q) total = %d, expected 1", DropReasonTooLarge, got)
	}
	checkDelivered(t, readAll(t, addr, testPrefix+"logs"), []string{"a"}, 2)
}
