package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// incidentAlerts checks that alerts are exactly those of the sshd windows
// from minute first to minute last, one per window.
func checkIncidentAlerts(t *testing.T, alerts []record.Alert, sshdID string, start time.Time, first, last int) {
	t.Helper()
	got := map[int]bool{}
	for _, a := range alerts {
		minute := int(time.Unix(0, a.TimeNs).Sub(start)/time.Minute) - 1
		if a.ContainerID != sshdID {
			t.Errorf("alert for container %s at minute %d: %s", a.ContainerID, minute, a.Summary)
			continue
		}
		if got[minute] {
			t.Errorf("two alerts for sshd minute %d", minute)
		}
		got[minute] = true
	}
	for m := range got {
		if m < first || m > last {
			t.Errorf("alert for sshd minute %d, outside the incident minutes %d to %d", m, first, last)
		}
	}
	for m := first; m <= last; m++ {
		if !got[m] {
			t.Errorf("no alert for sshd minute %d", m)
		}
	}
}

func TestScorerSyntheticIncident(t *testing.T) {
	store := storagetest.New(t)
	ctx := context.Background()
	out := &memoryEmitter{}
	s := NewScorer(ScorerConfig{Seed: 1}, store, out, nil)

	feed(t, s, fleetMessages(t, 60, 3), 500)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	st := s.Stats()
	if st.WindowsClosed != 300 {
		t.Errorf("WindowsClosed = %d, want 300", st.WindowsClosed)
	}
	// The last minute of each container ends without a record at its end,
	// so Flush closes it as partial and it is not scored.
	if st.PartialWindows != 5 {
		t.Errorf("PartialWindows = %d, want 5", st.PartialWindows)
	}
	if want := int64(300 - DefaultMinTrainingWindows - 5); st.WindowsScored != want {
		t.Errorf("WindowsScored = %d, want %d", st.WindowsScored, want)
	}
	if st.LateRecords != 0 {
		t.Errorf("LateRecords = %d, want 0", st.LateRecords)
	}
	if st.AlertsEmitted != 5 {
		t.Errorf("AlertsEmitted = %d, want 5", st.AlertsEmitted)
	}
	if st.InvalidRecords != 0 {
		t.Errorf("InvalidRecords = %d, want 0", st.InvalidRecords)
	}

	alerts := out.alerts(t)
	sshd := fleet[2]
	checkIncidentAlerts(t, alerts, sshd.id, fleetStart, incidentFirst, incidentLast)
	for _, a := range alerts {
		if a.Source != "model" || a.Name != ModelName || a.Severity != "high" {
			t.Errorf("alert source, name, severity = %q %q %q", a.Source, a.Name, a.Severity)
		}
		if !strings.HasPrefix(a.Summary, "Container sshd behaves unlike its baseline: ") {
			t.Errorf("summary = %q", a.Summary)
		}
		// Within the first hour sshd's workload has no model of its own, so
		// the fleet model scores it and the last driver names the fleet model.
		note := "scored by the fleet model: workload image=sshd is new, with 45 of the 1440 training windows its own model needs"
		if !strings.HasSuffix(a.Summary, " ("+note+")") {
			t.Errorf("summary = %q, want the fleet-model note at its end", a.Summary)
		}
		if len(a.Drivers) < 2 || len(a.Drivers) > MaxDrivers+1 {
			t.Errorf("drivers = %q, want 1 to %d features and the note", a.Drivers, MaxDrivers)
		} else if last := a.Drivers[len(a.Drivers)-1]; last != note {
			t.Errorf("last driver = %q, want %q", last, note)
		}
		if a.Score < a.Threshold {
			t.Errorf("score %.3f below threshold %.3f", a.Score, a.Threshold)
		}
		if a.Fingerprint != record.NewID(ModelName, sshd.id) {
			t.Errorf("fingerprint = %q", a.Fingerprint)
		}
		if a.ImageID != sshd.image || a.HostID != "host-1" {
			t.Errorf("image, host = %q %q", a.ImageID, a.HostID)
		}
		if _, _, err := store.Query(ctx, a.Query); err != nil {
			t.Errorf("alert query failed: %v", err)
		}
	}
	if len(alerts) > 0 {
		joined := strings.Join(alerts[len(alerts)-1].Drivers, "; ")
		for _, want := range []string{"cpu cores", "log lines"} {
			if !strings.Contains(joined, want) {
				t.Errorf("drivers %q do not mention %s", joined, want)
			}
		}
	}
	for _, msg := range out.msgs {
		if msg.Topic != record.TopicAlerts || string(msg.Key) != sshd.id {
			t.Errorf("alert message topic, key = %q %q", msg.Topic, msg.Key)
		}
	}

	_, rows, err := store.Query(ctx, "SELECT count(), uniqExact(container_id), sum(log_lines) FROM features")
	if err != nil {
		t.Fatal(err)
	}
	if got := rows[0][0].(uint64); got != 300 {
		t.Errorf("features rows = %d, want 300", got)
	}
	if got := rows[0][1].(uint64); got != 5 {
		t.Errorf("features containers = %d, want 5", got)
	}

	_, rows, err = store.Query(ctx, "SELECT count(), sum(anomalous), min(threshold) > 0 FROM scores WHERE model = ?", ModelName)
	if err != nil {
		t.Fatal(err)
	}
	if got := rows[0][0].(uint64); got != 265 {
		t.Errorf("scores rows = %d, want 265", got)
	}
	if got := rows[0][1].(uint64); got != 5 {
		t.Errorf("anomalous scores = %d, want 5", got)
	}

	_, rows, err = store.Query(ctx,
		"SELECT window_start, cpu_cores, error_lines, window_s FROM features WHERE container_id = ? AND window_start = ?",
		sshd.id, fleetStart.Add(46*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("features rows for sshd minute 46 = %d, want 1", len(rows))
	}
	if cores := rows[0][1].(float64); cores < 1.5 || cores > 2.1 {
		t.Errorf("sshd minute 46 cpu_cores = %.2f, want about 1.8", cores)
	}
	if errs := rows[0][2].(float64); errs < 250 {
		t.Errorf("sshd minute 46 error_lines = %.0f, want about 300", errs)
	}
	if size := rows[0][3].(uint32); size != 60 {
		t.Errorf("window_s = %d, want 60", size)
	}

	_, rows, err = store.Query(ctx, "SELECT explanation FROM scores WHERE container_id = ? AND anomalous = 1", sshd.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r[0].(string) == "" {
			t.Error("anomalous score without explanation")
		}
	}
}

// The synthetic fleet draws log counts from Poisson distributions, so the
// seeds vary the noise around the incident. Seeds 1 to 40 all pass; the
// test runs five of them to stay fast.
func TestScorerSyntheticSeeds(t *testing.T) {
	for _, seed := range []uint64{1, 2, 5, 6, 7} {
		out := &memoryEmitter{}
		// No store: this test checks the decisions only.
		s := NewScorer(ScorerConfig{Seed: int64(seed)}, nil, out, nil)
		feed(t, s, fleetMessages(t, 60, seed), 1000)
		if err := s.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			checkIncidentAlerts(t, out.alerts(t), fleet[2].id, fleetStart, incidentFirst, incidentLast)
		})
	}
}

func TestScorerSkipsInvalidRecords(t *testing.T) {
	s := NewScorer(ScorerConfig{}, nil, nil, nil)
	scan, err := record.Encode(record.KindScan, "scan-1", "h", "trivy", 1, record.Scan{Scanner: "trivy", ImageID: "sha256:a"})
	if err != nil {
		t.Fatal(err)
	}
	badLog, err := record.Encode(record.KindLog, "log-1", "h", "x", 1, record.Log{TimeNs: 0, ContainerID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	batch := []kafka.Message{
		{Topic: record.TopicLogs, Value: []byte("{not json")},
		{Topic: record.TopicLogs, Value: badLog},
		{Topic: record.TopicScans, Value: scan},
	}
	if err := s.HandleBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.InvalidRecords != 2 {
		t.Errorf("InvalidRecords = %d, want 2", st.InvalidRecords)
	}
	// The scan sets the vulnerability counts of its image.
	if st.RecordsConsumed != 1 {
		t.Errorf("RecordsConsumed = %d, want 1", st.RecordsConsumed)
	}
}

// failingEmitter fails its first writes, as a broker outage would.
type failingEmitter struct {
	memoryEmitter
	failures int
}

func (e *failingEmitter) Write(ctx context.Context, msgs ...kafka.Message) error {
	if e.failures > 0 {
		e.failures--
		return errors.New("broker unavailable")
	}
	return e.memoryEmitter.Write(ctx, msgs...)
}

func TestScorerRetriesAlertsOnce(t *testing.T) {
	out := &failingEmitter{failures: 1}
	s := NewScorer(ScorerConfig{Seed: 1}, nil, out, nil)
	msgs := fleetMessages(t, 60, 3)

	var failed bool
	for i := 0; i < len(msgs); i += 500 {
		batch := msgs[i:min(i+500, len(msgs))]
		err := s.HandleBatch(context.Background(), batch)
		if err != nil {
			failed = true
			// Consume retries the same batch.
			if err := s.HandleBatch(context.Background(), batch); err != nil {
				t.Fatalf("retry: %v", err)
			}
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Fatal("no batch failed, so the retry path did not run")
	}
	st := s.Stats()
	if st.WindowsScored != 265 {
		t.Errorf("WindowsScored = %d, want 265", st.WindowsScored)
	}
	checkIncidentAlerts(t, out.alerts(t), fleet[2].id, fleetStart, incidentFirst, incidentLast)
}

func TestWindowQueryOnClickHouse(t *testing.T) {
	store := storagetest.New(t)
	ctx := context.Background()
	id := `c'1\x` // a hostile id checks the quoting
	start := time.Date(2024, 10, 10, 12, 45, 0, 0, time.UTC)
	insertEvent := func(at time.Time, msg string) {
		t.Helper()
		err := store.Insert(ctx, "events", []string{"time", "time_ns", "record_id", "container_id", "message"},
			[][]any{{at, at.UnixNano(), msg, id, msg}})
		if err != nil {
			t.Fatal(err)
		}
	}
	insertEvent(start.Add(-time.Second), "before")
	insertEvent(start.Add(10*time.Second), "inside")
	insertEvent(start.Add(time.Minute), "after")
	err := store.Insert(ctx, "metrics", []string{"time", "time_ns", "record_id", "container_id", "cpu_usage_ns", "memory_working_set_bytes"},
		[][]any{{start.Add(20 * time.Second), start.Add(20 * time.Second).UnixNano(), "m1", id, int64(5e9), int64(1 << 20)}})
	if err != nil {
		t.Fatal(err)
	}

	cols, rows, err := store.Query(ctx, WindowQuery(id, start, start.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cols, ",") != "time_ns,kind,detail" {
		t.Errorf("columns = %v", cols)
	}
	if len(rows) != 2 {
		t.Fatalf("rows = %v, want the inside event and the metric", rows)
	}
	if rows[0][1] != "log" || rows[0][2] != "inside" {
		t.Errorf("row 0 = %v, want the inside event", rows[0])
	}
	if rows[1][1] != "metric" || !strings.Contains(rows[1][2].(string), "cpu_usage_ns=5000000000") {
		t.Errorf("row 1 = %v, want the metric", rows[1])
	}
}

func TestQuoteString(t *testing.T) {
	for in, want := range map[string]string{
		"abc":    `'abc'`,
		"it's":   `'it\'s'`,
		`a\b`:    `'a\\b'`,
		`\'; --`: `'\\\'; --'`,
		"":       `''`,
	} {
		if got := QuoteString(in); got != want {
			t.Errorf("QuoteString(%q) = %s, want %s", in, got, want)
		}
	}
}

var _ Emitter = (*kafka.Producer)(nil)
