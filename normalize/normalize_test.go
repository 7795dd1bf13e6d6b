package normalize_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

const (
	hostID      = "4c4c4544004e3510804cb4c04f564d32"
	containerID = "9f2d1c5b7a3e4f60818293a4b5c6d7e8f9a0b1c2d3e4f5061728394a5b6c7d8e"
	imageID     = "sha256:c2c03a296d2329a4f3ab72a7bf38b78a8a80108204d326b0139d6af700e152d1"
)

// recordingWriter keeps the messages the normalizer sends to the
// deadletters topic. It replaces the Kafka producer in tests that call
// HandleBatch directly, and TestRunThroughKafka uses the real producer.
type recordingWriter struct {
	mu   sync.Mutex
	msgs []kafka.Message
}

func (w *recordingWriter) Write(_ context.Context, msgs ...kafka.Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msgs...)
	return nil
}

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// sampleMessages reads testdata/envelopes.jsonl as Kafka messages on the
// topic of each record's kind, with increasing offsets.
func sampleMessages(t testing.TB) []kafka.Message {
	t.Helper()
	f, err := os.Open("testdata/envelopes.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var msgs []kafka.Message
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := slices.Clone(sc.Bytes())
		env, err := record.Decode(line)
		if err != nil {
			t.Fatalf("testdata envelope %d: %v", len(msgs), err)
		}
		msgs = append(msgs, kafka.Message{Topic: record.TopicFor(env.Kind), Offset: int64(len(msgs)), Value: line})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return msgs
}

func encode(t testing.TB, kind record.Kind, id string, payload any) []byte {
	t.Helper()
	b, err := record.Encode(kind, id, hostID, "test", 1554141513700000000, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// badMessages returns one message for each way a record can be invalid,
// with the text the dead-letter reason must contain.
func badMessages(t testing.TB) ([]kafka.Message, []string) {
	t.Helper()
	negativeTime := encode(t, record.KindLog, "bad-time", record.Log{TimeNs: -5, ContainerID: containerID, Stream: "stdout", Message: "x"})
	missingContainer := encode(t, record.KindLog, "bad-missing", record.Log{TimeNs: 1554141513598656444, Stream: "stdout", Message: "x"})
	version99 := strings.Replace(string(encode(t, record.KindLog, "bad-version", record.Log{TimeNs: 1, ContainerID: "c", Stream: "stdout"})), `"v":1`, `"v":99`, 1)
	unknownKind := `{"v":1,"kind":"trace","id":"bad-kind","host_id":"h","payload":{}}`
	badSeverity := encode(t, record.KindScan, "bad-severity", record.Scan{Scanner: "trivy", ImageID: imageID, ScannedNs: 1554141000000000000,
		Vulnerabilities: []record.Vulnerability{{ID: "CVE-1", Package: "bash", Severity: "SEVERE"}}})

	msgs := []kafka.Message{
		{Topic: record.TopicLogs, Partition: 1, Offset: 100, Value: []byte(`{"v":1,"kind":"log",`)},
		{Topic: record.TopicLogs, Partition: 1, Offset: 101, Value: []byte(unknownKind)},
		{Topic: record.TopicLogs, Partition: 1, Offset: 102, Value: []byte(version99)},
		{Topic: record.TopicLogs, Partition: 1, Offset: 103, Value: missingContainer},
		{Topic: record.TopicLogs, Partition: 1, Offset: 104, Value: negativeTime},
		{Topic: record.TopicScans, Partition: 0, Offset: 105, Value: badSeverity},
	}
	reasons := []string{
		"invalid envelope JSON",
		`invalid envelope field kind="trace"`,
		"invalid envelope field v=99",
		"missing log field container_id",
		"invalid log field time_ns=-5: must be positive",
		`invalid scan field vulnerabilities[0].severity="SEVERE"`,
	}
	return msgs, reasons
}

func queryCount(t testing.TB, store *storage.Store, query string) uint64 {
	t.Helper()
	_, rows, err := store.Query(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	return rows[0][0].(uint64)
}

func TestHandleBatchStoresAndDeadLetters(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	dlq := &recordingWriter{}
	n := normalize.New(normalize.Config{}, store, dlq, testLogger())

	good := sampleMessages(t)
	bad, reasons := badMessages(t)
	batch := append(slices.Clone(good), bad...)
	if err := n.HandleBatch(ctx, batch); err != nil {
		t.Fatalf("HandleBatch: %v", err)
	}

	counts := map[string]uint64{
		"events": 3, "metrics": 1, "containers": 1, "hosts": 1, "images": 1, "vulnerabilities": 2, "dead_letters": uint64(len(bad)),
	}
	for table, want := range counts {
		if got := queryCount(t, store, "SELECT count() FROM "+table+" FINAL"); got != want {
			t.Errorf("%s has %d rows, want %d", table, got, want)
		}
	}

	_, rows, err := store.Query(ctx, "SELECT topic, partition, offset, reason, raw FROM dead_letters FINAL ORDER BY offset")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(bad) {
		t.Fatalf("got %d dead letters, want %d", len(rows), len(bad))
	}
	for i, row := range rows {
		if row[0] != bad[i].Topic || row[1] != int32(bad[i].Partition) || row[2] != bad[i].Offset {
			t.Errorf("dead letter %d at %v/%v/%v, want %s/%d/%d", i, row[0], row[1], row[2], bad[i].Topic, bad[i].Partition, bad[i].Offset)
		}
		if reason := row[3].(string); !strings.Contains(reason, reasons[i]) {
			t.Errorf("dead letter %d reason %q does not contain %q", i, reason, reasons[i])
		}
		if row[4] != string(bad[i].Value) {
			t.Errorf("dead letter %d raw = %q, want %q", i, row[4], bad[i].Value)
		}
	}

	if len(dlq.msgs) != len(bad) {
		t.Fatalf("sent %d messages to the deadletters topic, want %d", len(dlq.msgs), len(bad))
	}
	for i, m := range dlq.msgs {
		if m.Topic != record.TopicDeadLetters {
			t.Errorf("dead letter %d sent to topic %q", i, m.Topic)
		}
		if string(m.Value) != string(bad[i].Value) {
			t.Errorf("dead letter %d value = %q, want the raw record", i, m.Value)
		}
		if !strings.Contains(string(m.Key), reasons[i]) {
			t.Errorf("dead letter %d key %q does not contain %q", i, m.Key, reasons[i])
		}
	}

	s := n.Stats()
	if s.Consumed != uint64(len(batch)) {
		t.Errorf("Stats.Consumed = %d, want %d", s.Consumed, len(batch))
	}
	if s.DeadLettered != uint64(len(bad)) {
		t.Errorf("Stats.DeadLettered = %d, want %d", s.DeadLettered, len(bad))
	}
	for table, want := range counts {
		if s.Stored[table] != want {
			t.Errorf("Stats.Stored[%s] = %d, want %d", table, s.Stored[table], want)
		}
	}
}

func TestHandleBatchRowValues(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	n := normalize.New(normalize.Config{}, store, nil, testLogger())
	if err := n.HandleBatch(ctx, sampleMessages(t)); err != nil {
		t.Fatal(err)
	}

	_, rows, err := store.Query(ctx, `SELECT time, time_ns, host_id, image_id, container_name, stream, level, message, template_id, template
		FROM events FINAL ORDER BY time_ns LIMIT 1`)
	if err != nil {
		t.Fatal(err)
	}
	e := rows[0]
	if want := time.Unix(1554141513, 0).UTC(); !e[0].(time.Time).Equal(want) {
		t.Errorf("events.time = %v, want %v", e[0], want)
	}
	if e[1] != int64(1554141513598656444) {
		t.Errorf("events.time_ns = %v", e[1])
	}
	if e[2] != hostID {
		t.Errorf("events.host_id = %v, want the envelope host_id", e[2])
	}
	if e[3] != imageID {
		t.Errorf("events.image_id = %v, want %s", e[3], imageID)
	}
	if e[4] != "web" {
		t.Errorf("events.container_name = %v, want web", e[4])
	}
	if e[5] != "stdout" {
		t.Errorf("events.stream = %v, want stdout", e[5])
	}
	if e[6] != "info" {
		t.Errorf("events.level = %v, want info", e[6])
	}
	if e[7] != "[2019-04-05T14:54:23.584269761] Container 1 is logging on stdout" {
		t.Errorf("events.message = %q", e[7])
	}
	if e[8] != uint64(0) || e[9] != "" {
		t.Errorf("template_id, template = %v, %q, want 0 and empty", e[8], e[9])
	}

	_, rows, err = store.Query(ctx, "SELECT image_id, container_name, memory_limit_bytes, pids_current FROM metrics FINAL")
	if err != nil {
		t.Fatal(err)
	}
	if m := rows[0]; m[0] != imageID || m[1] != "web" || m[2] != int64(-1) || m[3] != int64(12) {
		t.Errorf("metrics row = %v", m)
	}

	_, rows, err = store.Query(ctx, "SELECT labels, running, privileged, host_id FROM containers FINAL")
	if err != nil {
		t.Fatal(err)
	}
	if c := rows[0]; c[0] != `{"app":"web"}` || c[1] != uint8(1) || c[2] != uint8(0) || c[3] != hostID {
		t.Errorf("containers row = %v", c)
	}

	_, rows, err = store.Query(ctx, "SELECT container_id, vuln_id, fixed_version FROM running_vulnerable_containers")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0][1] != "CVE-2019-18224" {
		t.Errorf("running_vulnerable_containers = %v, want the fixable CVE-2019-18224 only", rows)
	}
}

func TestHandleBatchRedeliveryCountsOnce(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	n := normalize.New(normalize.Config{}, store, &recordingWriter{}, testLogger())
	bad, _ := badMessages(t)
	batch := append(sampleMessages(t), bad...)

	for i := range 2 {
		if err := n.HandleBatch(ctx, batch); err != nil {
			t.Fatalf("HandleBatch delivery %d: %v", i+1, err)
		}
	}

	if got := queryCount(t, store, "SELECT count() FROM events"); got != 6 {
		t.Errorf("events without FINAL = %d rows, want 6 (both deliveries, before a merge)", got)
	}
	for table, want := range map[string]uint64{"events": 3, "metrics": 1, "containers": 1, "vulnerabilities": 2, "dead_letters": uint64(len(bad))} {
		if got := queryCount(t, store, "SELECT count() FROM "+table+" FINAL"); got != want {
			t.Errorf("%s FINAL = %d rows, want %d", table, got, want)
		}
	}
	if got := queryCount(t, store, "SELECT uniqExact(record_id) FROM events"); got != 3 {
		t.Errorf("uniqExact(record_id) of events = %d, want 3", got)
	}
}

func TestEnrichmentFromContainersTable(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	var containerMsg, logMsg kafka.Message
	for _, m := range sampleMessages(t) {
		env, _ := record.Decode(m.Value)
		switch env.Kind {
		case record.KindContainer:
			containerMsg = m
		case record.KindLog:
			logMsg = m
		}
	}

	// The first normalizer stores the container record.
	first := normalize.New(normalize.Config{}, store, nil, testLogger())
	if err := first.HandleBatch(ctx, []kafka.Message{containerMsg}); err != nil {
		t.Fatal(err)
	}

	// A restarted normalizer has an empty cache and reads the table once.
	second := normalize.New(normalize.Config{}, store, nil, testLogger())
	if err := second.HandleBatch(ctx, []kafka.Message{logMsg}); err != nil {
		t.Fatal(err)
	}
	if err := second.HandleBatch(ctx, []kafka.Message{logMsg}); err != nil {
		t.Fatal(err)
	}
	if got := second.Stats().ContainerLookups; got != 1 {
		t.Errorf("ContainerLookups = %d, want 1 (later batches use the cache)", got)
	}

	_, rows, err := store.Query(ctx, "SELECT image_id, container_name FROM events FINAL")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0][0] != imageID {
		t.Errorf("events = %v, want image_id %s from the containers table", rows, imageID)
	}
}

func TestEnrichmentUnknownContainer(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	n := normalize.New(normalize.Config{}, store, nil, testLogger())
	msg := kafka.Message{Topic: record.TopicLogs, Value: encode(t, record.KindLog, "orphan",
		record.Log{TimeNs: 1554141513598656444, ContainerID: "unknown", Stream: "stderr", Message: "panic: boom"})}
	for range 2 {
		if err := n.HandleBatch(ctx, []kafka.Message{msg}); err != nil {
			t.Fatal(err)
		}
	}
	if got := n.Stats().ContainerLookups; got != 1 {
		t.Errorf("ContainerLookups = %d, want 1 (a miss is remembered)", got)
	}
	_, rows, err := store.Query(ctx, "SELECT image_id, level FROM events FINAL")
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != "" || rows[0][1] != "error" {
		t.Errorf("event image_id, level = %q, %q, want empty and error", rows[0][0], rows[0][1])
	}
}

func TestDeadLetterRawCapped(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	dlq := &recordingWriter{}
	n := normalize.New(normalize.Config{MaxRawBytes: 16}, store, dlq, testLogger())
	raw := []byte(strings.Repeat("x", 100))
	if err := n.HandleBatch(ctx, []kafka.Message{{Topic: record.TopicLogs, Value: raw}}); err != nil {
		t.Fatal(err)
	}
	_, rows, err := store.Query(ctx, "SELECT raw FROM dead_letters")
	if err != nil {
		t.Fatal(err)
	}
	if got := rows[0][0].(string); got != string(raw[:16]) {
		t.Errorf("dead_letters.raw = %q, want the first 16 bytes", got)
	}
	if len(dlq.msgs[0].Value) != 100 {
		t.Errorf("deadletters topic value has %d bytes, want the whole 100", len(dlq.msgs[0].Value))
	}
}

func TestLogMessageTooLarge(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	n := normalize.New(normalize.Config{MaxMessageBytes: 10}, store, nil, testLogger())
	msg := kafka.Message{Topic: record.TopicLogs, Value: encode(t, record.KindLog, "big",
		record.Log{TimeNs: 1554141513598656444, ContainerID: containerID, Stream: "stdout", Message: strings.Repeat("y", 11)})}
	if err := n.HandleBatch(ctx, []kafka.Message{msg}); err != nil {
		t.Fatal(err)
	}
	_, rows, err := store.Query(ctx, "SELECT reason FROM dead_letters")
	if err != nil {
		t.Fatal(err)
	}
	if want := "invalid log field message: 11 bytes is larger than the 10 byte limit"; rows[0][0] != want {
		t.Errorf("reason = %q, want %q", rows[0][0], want)
	}
}

func TestHandleBatchInsertFailure(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	n := normalize.New(normalize.Config{}, store, nil, testLogger())
	if err := store.Exec(ctx, "DROP TABLE events"); err != nil {
		t.Fatal(err)
	}
	err := n.HandleBatch(ctx, sampleMessages(t))
	if err == nil || !strings.Contains(err.Error(), "events") {
		t.Fatalf("HandleBatch error = %v, want an insert error naming events", err)
	}
	if s := n.Stats(); s.Consumed != 0 || s.Batches != 0 {
		t.Errorf("Stats after a failed batch = %+v, want nothing counted", s)
	}
}

func TestRunThroughKafka(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	store := storagetest.New(t)
	brokers := kafkatest.StartTestBroker(t)
	const prefix = "harrier."
	if err := kafka.EnsureTopics(ctx, brokers, prefix, 3, append(normalize.Topics, record.TopicDeadLetters)...); err != nil {
		t.Fatal(err)
	}

	producer := kafka.NewProducer(brokers, prefix)
	defer producer.Close()
	bad, _ := badMessages(t)
	var msgs []kafka.Message
	for _, m := range append(sampleMessages(t), bad...) {
		msgs = append(msgs, kafka.Message{Topic: m.Topic, Key: []byte(containerID), Value: m.Value})
	}
	if err := producer.Write(ctx, msgs...); err != nil {
		t.Fatal(err)
	}

	n := normalize.New(normalize.Config{Brokers: brokers, TopicPrefix: prefix, MaxWait: 50 * time.Millisecond}, store, producer, testLogger())
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()

	deadline := time.Now().Add(45 * time.Second)
	for n.Stats().Consumed < uint64(len(msgs)) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := n.Stats().Consumed; got != uint64(len(msgs)) {
		t.Fatalf("consumed %d messages, want %d", got, len(msgs))
	}
	if got := queryCount(t, store, "SELECT count() FROM events FINAL"); got != 3 {
		t.Errorf("events = %d rows, want 3", got)
	}
	if got := queryCount(t, store, "SELECT count() FROM dead_letters FINAL"); got != uint64(len(bad)) {
		t.Errorf("dead_letters = %d rows, want %d", got, len(bad))
	}

	// The deadletters topic received the rejected records.
	var dead []kafka.Message
	var mu sync.Mutex
	readCtx, readCancel := context.WithTimeout(ctx, 20*time.Second)
	defer readCancel()
	go kafka.Consume(readCtx, kafka.ConsumerConfig{Brokers: brokers, TopicPrefix: prefix, Group: "test-deadletters",
		Topics: []string{record.TopicDeadLetters}, MaxWait: 50 * time.Millisecond}, func(_ context.Context, b []kafka.Message) error {
		mu.Lock()
		defer mu.Unlock()
		dead = append(dead, b...)
		if len(dead) >= len(bad) {
			readCancel()
		}
		return nil
	})
	<-readCtx.Done()
	mu.Lock()
	defer mu.Unlock()
	if len(dead) != len(bad) {
		t.Errorf("deadletters topic has %d messages, want %d", len(dead), len(bad))
	}
}

func TestDeriveLevelApacheSample(t *testing.T) {
	f, err := os.Open("testdata/apache_60.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	checked := 0
	for sc.Scan() {
		line := sc.Text()
		want := ""
		switch {
		case strings.Contains(line, "[error]"):
			want = "error"
		case strings.Contains(line, "[notice]"):
			want = "info"
		default:
			continue
		}
		checked++
		if got := normalize.DeriveLevel(line); got != want {
			t.Errorf("DeriveLevel(%q) = %q, want %q", line, got, want)
		}
	}
	if checked != 60 {
		t.Errorf("checked %d lines, want 60", checked)
	}
}

func TestDeriveLevel(t *testing.T) {
	cases := []struct{ message, want string }{
		{`level=info msg="retrying after error"`, "info"},
		{`{"level":"warn","msg":"disk almost full"}`, "warn"},
		{`{"severity":"ERROR","message":"x"}`, "error"},
		{"E0102 15:04:05.000000    1 reflector.go:138] watch failed", "error"},
		{"W0102 15:04:05.000000    1 client.go:10] slow", "warn"},
		{"I0102 15:04:05.000000    1 server.go:10] serving", "info"},
		{"2024-01-02T03:04:05Z DEBUG cache miss", "debug"},
		{"[WARN] deprecated flag --foo", "warn"},
		{"panic: runtime error: index out of range", "error"},
		{"Traceback (most recent call last):", "error"},
		{"connection refused", "error"},
		{"this option is deprecated", "warn"},
		{"alert sent to pager", "info"},
		{"GET /healthz 200", "info"},
		{"", "info"},
	}
	for _, c := range cases {
		if got := normalize.DeriveLevel(c.message); got != c.want {
			t.Errorf("DeriveLevel(%q) = %q, want %q", c.message, got, c.want)
		}
	}
}

func TestEnvelopesTestdataDecode(t *testing.T) {
	for _, m := range sampleMessages(t) {
		var v map[string]any
		if err := json.Unmarshal(m.Value, &v); err != nil {
			t.Errorf("offset %d: %v", m.Offset, err)
		}
	}
}
