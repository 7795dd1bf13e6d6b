package spool

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	kg "github.com/segmentio/kafka-go"

	"github.com/harrierhq/harrier/collectors/produce"
	"github.com/harrierhq/harrier/internal/broker"
	"github.com/harrierhq/harrier/internal/kafka"
)

const testPrefix = "spooltest."

// message returns message seq of container key, with the sequence number
// as its value.
func message(key string, seq int) kafka.Message {
	return kafka.Message{Topic: "logs", Key: []byte(key), Value: []byte(key + ":" + strconv.Itoa(seq))}
}

// readAll returns the values of every message on topic, per key, in
// partition order.
func readAll(t *testing.T, addr, topic string) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := kg.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatalf("read partitions of %s: %v", topic, err)
	}
	byKey := map[string][]string{}
	for _, p := range parts {
		leader, err := kg.DialLeader(ctx, "tcp", addr, topic, p.ID)
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
				byKey[string(m.Key)] = append(byKey[string(m.Key)], string(m.Value))
				offset = m.Offset + 1
			}
			batch.Close()
			if offset == start {
				t.Fatalf("read %s/%d: no message at offset %d of %d", topic, p.ID, offset, last)
			}
		}
		leader.Close()
	}
	return byKey
}

// dedup keeps the first copy of each value, as storage keeps the first
// record of each id.
func dedup(values []string) []string {
	seen := map[string]bool{}
	var unique []string
	for _, v := range values {
		if !seen[v] {
			seen[v] = true
			unique = append(unique, v)
		}
	}
	return unique
}

func checkDelivered(t *testing.T, got map[string][]string, keys []string, perKey int) {
	t.Helper()
	for _, key := range keys {
		values := dedup(got[key])
		if len(values) != perKey {
			t.Errorf("key %s: %d distinct messages delivered, expected %d", key, len(values), perKey)
			continue
		}
		for i, v := range values {
			if want := key + ":" + strconv.Itoa(i); v != want {
				t.Errorf("key %s: message %d is %q, expected %q", key, i, v, want)
				break
			}
		}
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newProducer(t *testing.T, addr string) *produce.Producer {
	t.Helper()
	p, err := produce.New(produce.Config{Brokers: []string{addr}, TopicPrefix: testPrefix, Compression: "lz4", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func startBroker(t *testing.T, port int, dataDir string) *broker.Broker {
	t.Helper()
	b, err := broker.Start(broker.Config{Port: port, DataDir: dataDir, Partitions: 3}, nil)
	if err != nil {
		t.Fatalf("start broker on port %d: %v", port, err)
	}
	return b
}

// runSpool starts s.Run and returns a function that stops it and waits.
func runSpool(t *testing.T, s *Spool) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("spool run: %v", err)
		}
	}
}

// TestSpoolBrokerOutage stops the broker mid-stream, keeps writing, restarts
// the broker on the same port with the same data directory, and expects
// every message delivered once after dedup and in order per key.
func TestSpoolBrokerOutage(t *testing.T) {
	dataDir := t.TempDir()
	b := startBroker(t, 0, dataDir)
	_, portText, _ := net.SplitHostPort(b.Addr())
	port, _ := strconv.Atoi(portText)
	addr := b.Addr()

	s, err := Open(Config{Dir: t.TempDir(), RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond}, newProducer(t, addr), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := runSpool(t, s)
	defer stop()

	keys := []string{"c1", "c2", "c3", "c4"}
	const before, during, after = 200, 1000, 300
	next := map[string]int{}
	write := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			var msgs []kafka.Message
			for _, k := range keys {
				msgs = append(msgs, message(k, next[k]))
				next[k]++
			}
			if err := s.Write(context.Background(), msgs...); err != nil {
				t.Fatalf("write during %d: %v", i, err)
			}
		}
	}

	write(before)
	waitFor(t, "messages before the outage sent", 30*time.Second, func() bool { return s.Stats().Sent >= before*int64(len(keys)) })

	b.Close()
	write(during)
	waitFor(t, "a failed send", 30*time.Second, func() bool { return s.Stats().SendErrors > 0 })
	if st := s.Stats(); st.PendingMessages == 0 {
		t.Errorf("pending messages during the outage = 0, expected the messages written meanwhile")
	}

	b = startBroker(t, port, dataDir)
	defer b.Close()
	if b.Addr() != addr {
		t.Fatalf("restarted broker at %s, expected %s", b.Addr(), addr)
	}
	write(after)
	total := int64((before + during + after) * len(keys))
	waitFor(t, "every message sent", 60*time.Second, func() bool { return s.Stats().Sent >= total })

	st := s.Stats()
	if st.PendingMessages != 0 {
		t.Errorf("pending messages = %d after the replay, expected 0", st.PendingMessages)
	}
	if st.DroppedOldest+st.DroppedNewest != 0 {
		t.Errorf("dropped %d oldest and %d newest, expected none", st.DroppedOldest, st.DroppedNewest)
	}
	checkDelivered(t, readAll(t, addr, testPrefix+"logs"), keys, before+during+after)
}

// TestSpoolReopenResends writes while nothing sends, closes the spool as a
// killed collector would leave it, and expects a new spool on the same
// directory to deliver everything in order.
func TestSpoolReopenResends(t *testing.T) {
	b := startBroker(t, 0, "")
	defer b.Close()
	dir := t.TempDir()

	s, err := Open(Config{Dir: dir, SegmentBytes: 4096}, newProducer(t, b.Addr()), nil)
	if err != nil {
		t.Fatal(err)
	}
	const perKey = 500
	for i := 0; i < perKey; i++ {
		if err := s.Write(context.Background(), message("a", i), message("b", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Send part of it, so the cursor sits inside the spool.
	s.cfg.MaxBatch = 100
	batch, err := s.nextBatch()
	if err != nil || batch == nil {
		t.Fatalf("first batch = %v, %v", batch, err)
	}
	if !s.send(context.Background(), batch) {
		t.Fatal("first batch not sent")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A frame cut short by a crash at the end of the newest segment.
	seqs, _ := listSegments(dir)
	last := segmentPath(dir, seqs[len(seqs)-1])
	f, err := os.OpenFile(last, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(appendFrame(nil, message("a", 999))[:9])
	f.Close()

	s, err = Open(Config{Dir: dir, SegmentBytes: 4096}, newProducer(t, b.Addr()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := s.Stats()
	if want := int64(2*perKey - 100); st.Recovered != want {
		t.Errorf("recovered = %d, expected %d", st.Recovered, want)
	}
	if st.Corrupt != 9 {
		t.Errorf("corrupt bytes = %d, expected the 9 bytes of the torn frame", st.Corrupt)
	}
	stop := runSpool(t, s)
	defer stop()
	waitFor(t, "recovered messages sent", 30*time.Second, func() bool { return s.Stats().PendingMessages == 0 })
	checkDelivered(t, readAll(t, b.Addr(), testPrefix+"logs"), []string{"a", "b"}, perKey)
}

// failingEmitter rejects every write, as an unreachable Kafka does.
type failingEmitter struct{}

func (failingEmitter) Write(context.Context, ...kafka.Message) error {
	return fmt.Errorf("dial tcp 127.0.0.1:1: connection refused")
}

func TestSpoolFullDropNewest(t *testing.T) {
	s, err := Open(Config{Dir: t.TempDir(), MaxBytes: 8 << 10, Policy: DropNewest}, failingEmitter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 1000
	for i := 0; i < n; i++ {
		if err := s.Write(context.Background(), message("k", i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	st := s.Stats()
	if st.DroppedNewest == 0 {
		t.Fatalf("dropped newest = 0, expected drops once 8 KiB are spooled")
	}
	if st.Spooled+st.DroppedNewest != n {
		t.Errorf("spooled %d + dropped %d = %d, expected %d", st.Spooled, st.DroppedNewest, st.Spooled+st.DroppedNewest, n)
	}
	if st.PendingBytes > 8<<10 {
		t.Errorf("pending bytes = %d, expected at most 8192", st.PendingBytes)
	}
	if st.PendingMessages != st.Spooled {
		t.Errorf("pending messages = %d, expected the %d spooled", st.PendingMessages, st.Spooled)
	}
}

func TestSpoolFullDropOldest(t *testing.T) {
	b := startBroker(t, 0, "")
	defer b.Close()
	s, err := Open(Config{Dir: t.TempDir(), MaxBytes: 8 << 10, Policy: DropOldest}, newProducer(t, b.Addr()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 1000
	for i := 0; i < n; i++ {
		if err := s.Write(context.Background(), message("k", i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	st := s.Stats()
	if st.DroppedOldest == 0 {
		t.Fatalf("dropped oldest = 0, expected drops once 8 KiB are spooled")
	}
	if st.PendingMessages+st.DroppedOldest != n {
		t.Errorf("pending %d + dropped %d, expected %d", st.PendingMessages, st.DroppedOldest, n)
	}
	if st.PendingBytes > 8<<10 {
		t.Errorf("pending bytes = %d, expected at most 8192", st.PendingBytes)
	}

	stop := runSpool(t, s)
	defer stop()
	waitFor(t, "kept messages sent", 30*time.Second, func() bool { return s.Stats().PendingMessages == 0 })
	got := readAll(t, b.Addr(), testPrefix+"logs")["k"]
	if int64(len(got)) != n-st.DroppedOldest {
		t.Fatalf("delivered %d, expected %d", len(got), n-st.DroppedOldest)
	}
	for i, v := range got {
		if want := "k:" + strconv.Itoa(int(st.DroppedOldest)+i); v != want {
			t.Fatalf("delivered message %d is %q, expected %q (the newest ones, in order)", i, v, want)
		}
	}
}

func TestSpoolFullBlocks(t *testing.T) {
	b := startBroker(t, 0, "")
	defer b.Close()
	s, err := Open(Config{Dir: t.TempDir(), MaxBytes: 8 << 10, Policy: Block}, newProducer(t, b.Addr()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	written := 0
	for ; written < 1000; written++ {
		if err := s.Write(ctx, message("k", written)); err != nil {
			break
		}
	}
	if written == 1000 {
		t.Fatal("every write returned nil, expected the full spool to block")
	}
	if st := s.Stats(); st.BlockedWrites != 1 {
		t.Errorf("blocked writes = %d, expected 1", st.BlockedWrites)
	}

	stop := runSpool(t, s)
	defer stop()
	for ; written < 1000; written++ {
		if err := s.Write(context.Background(), message("k", written)); err != nil {
			t.Fatalf("write %d with the sender running: %v", written, err)
		}
	}
	waitFor(t, "every message sent", 30*time.Second, func() bool { return s.Stats().PendingMessages == 0 })
	checkDelivered(t, readAll(t, b.Addr(), testPrefix+"logs"), []string{"k"}, 1000)
	if st := s.Stats(); st.DroppedNewest+st.DroppedOldest != 0 {
		t.Errorf("dropped %d, expected none under block", st.DroppedNewest+st.DroppedOldest)
	}
}

func TestSpoolRejectsBadConfig(t *testing.T) {
	if _, err := Open(Config{}, failingEmitter{}, nil); err == nil {
		t.Error("empty directory accepted")
	}
	if _, err := Open(Config{Dir: t.TempDir(), Policy: "drop-random"}, failingEmitter{}, nil); err == nil {
		t.Error("unknown policy accepted")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, cursorName), []byte("x y"), 0o600)
	if _, err := Open(Config{Dir: dir}, failingEmitter{}, nil); err == nil {
		t.Error("invalid cursor accepted")
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add(appendFrame(nil, message("0123456789abcdef", 1)))
	f.Add(appendFrame(nil, kafka.Message{Topic: "logs", Value: []byte(`{"v":1,"kind":"log"}`)}))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, n, err := decodeFrame(data, nil)
		if err != nil {
			return
		}
		if n > len(data) {
			t.Fatalf("frame size %d beyond input of %d bytes", n, len(data))
		}
		again := appendFrame(nil, m)
		if string(again) != string(data[:n]) {
			t.Fatalf("frame does not round-trip")
		}
	})
}
