package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRoleMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := m.ForRole("normalize")
	if got := testutil.ToFloat64(m.Up.WithLabelValues("normalize")); got != 1 {
		t.Errorf("up = %v, want 1", got)
	}

	r.In("harrier.logs", 10)
	r.In("harrier.logs", 5)
	r.Out("events", 12)
	r.DeadLettered("invalid_json", 2)
	r.Dropped("buffer_full", 1)
	r.Lag("harrier.logs", 3, 42)
	r.Batch(12, 0.25)
	r.Latency(1.5)

	checks := []struct {
		name string
		got  float64
		want float64
	}{
		{"records in", testutil.ToFloat64(m.RecordsIn.WithLabelValues("normalize", "harrier.logs")), 15},
		{"records out", testutil.ToFloat64(m.RecordsOut.WithLabelValues("normalize", "events")), 12},
		{"dead-lettered", testutil.ToFloat64(m.DeadLettered.WithLabelValues("normalize", "invalid_json")), 2},
		{"dropped", testutil.ToFloat64(m.Dropped.WithLabelValues("normalize", "buffer_full")), 1},
		{"lag", testutil.ToFloat64(m.ConsumerLag.WithLabelValues("normalize", "harrier.logs", "3")), 42},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.BatchSize); n != 1 {
		t.Errorf("batch size series = %d, want 1", n)
	}

	r.Stop()
	if got := testutil.ToFloat64(m.Up.WithLabelValues("normalize")); got != 0 {
		t.Errorf("up after Stop = %v, want 0", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestRegisterTwiceFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg); err == nil {
		t.Error("second registration on one registry: no error")
	}
}

func TestDefaultIsShared(t *testing.T) {
	if Default() != Default() {
		t.Error("Default returned two different sets")
	}
}

func TestNilRoleRecordsNothing(t *testing.T) {
	var r *Role
	r.In("logs", 1)
	r.Out("events", 1)
	r.DeadLettered("invalid_field", 1)
	r.Dropped("parse_error", 1)
	r.Lag("logs", 0, 5)
	r.Batch(1, 0.1)
	r.Latency(0.1)
	r.Stop()
}
