package models

import (
	"context"
	"testing"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/storage/storagetest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

func TestScorerMetrics(t *testing.T) {
	store := storagetest.New(t)
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s := NewScorer(ScorerConfig{Seed: 1, Metrics: m.ForRole("score")}, store, &memoryEmitter{}, nil)

	invalid := []kafka.Message{{Topic: record.TopicLogs, Value: []byte("{not json")}}
	if err := s.HandleBatch(context.Background(), invalid); err != nil {
		t.Fatal(err)
	}
	feed(t, s, fleetMessages(t, 60, 3), 500)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()

	if got := testutil.ToFloat64(m.Dropped.WithLabelValues("score", "invalid")); got != 1 {
		t.Errorf("dropped as invalid = %v, want 1", got)
	}
	outs := map[string]int64{"features": st.WindowsClosed, "scores": st.WindowsScored, record.TopicAlerts: st.AlertsEmitted}
	for destination, want := range outs {
		if want == 0 {
			t.Fatalf("the synthetic fleet produced no %s", destination)
		}
		if got := testutil.ToFloat64(m.RecordsOut.WithLabelValues("score", destination)); got != float64(want) {
			t.Errorf("records out to %s = %v, want %d", destination, got, want)
		}
	}

	var latency dto.Metric
	if err := m.RecordLatency.WithLabelValues("score").(prometheus.Histogram).Write(&latency); err != nil {
		t.Fatal(err)
	}
	if got := latency.GetHistogram().GetSampleCount(); got != uint64(st.WindowsClosed) {
		t.Errorf("window latency observations = %d, want %d closed windows", got, st.WindowsClosed)
	}
}
