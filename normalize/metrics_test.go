package normalize_test

import (
	"context"
	"slices"
	"testing"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage/storagetest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestHandleBatchMetrics(t *testing.T) {
	store := storagetest.New(t)
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	n := normalize.New(normalize.Config{Metrics: m.ForRole("normalize")}, store, &recordingWriter{}, testLogger())

	bad, _ := badMessages(t)
	if err := n.HandleBatch(context.Background(), append(slices.Clone(sampleMessages(t)), bad...)); err != nil {
		t.Fatalf("HandleBatch: %v", err)
	}

	rows := map[string]float64{
		"events": 3, "metrics": 1, "containers": 1, "hosts": 1, "images": 1, "vulnerabilities": 2, "dead_letters": float64(len(bad)),
	}
	for table, want := range rows {
		if got := testutil.ToFloat64(m.RecordsOut.WithLabelValues("normalize", table)); got != want {
			t.Errorf("records out to %s = %v, want %v", table, got, want)
		}
	}

	// The bad messages are one envelope that is not JSON, one of an
	// unknown kind, one of an unknown version, and three with a missing
	// or out-of-range payload field.
	reasons := map[string]float64{normalize.RejectInvalidEnvelope: 3, normalize.RejectInvalidField: 3}
	for reason, want := range reasons {
		if got := testutil.ToFloat64(m.DeadLettered.WithLabelValues("normalize", reason)); got != want {
			t.Errorf("dead-lettered with reason %s = %v, want %v", reason, got, want)
		}
	}
	if got := testutil.CollectAndCount(m.DeadLettered); got != len(reasons) {
		t.Errorf("dead-letter series = %d, want %d (one per fixed reason)", got, len(reasons))
	}
}

func TestHandleBatchWrongTopicReason(t *testing.T) {
	store := storagetest.New(t)
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	n := normalize.New(normalize.Config{Metrics: m.ForRole("normalize")}, store, nil, testLogger())

	msgs := sampleMessages(t)
	var moved []kafka.Message
	for _, msg := range msgs {
		if msg.Topic == record.TopicLogs {
			msg.Topic = record.TopicMetrics
			moved = append(moved, msg)
		}
	}
	if len(moved) == 0 {
		t.Fatal("the sample messages contain no log record")
	}
	if err := n.HandleBatch(context.Background(), moved); err != nil {
		t.Fatalf("HandleBatch: %v", err)
	}
	if got := testutil.ToFloat64(m.DeadLettered.WithLabelValues("normalize", normalize.RejectWrongTopic)); got != float64(len(moved)) {
		t.Errorf("dead-lettered with reason %s = %v, want %d", normalize.RejectWrongTopic, got, len(moved))
	}
}
