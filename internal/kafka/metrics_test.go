package kafka_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

func TestConsumeRecordsMetrics(t *testing.T) {
	brokers := kafkatest.StartTestBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const partitions = 3
	if err := kafka.EnsureTopics(ctx, brokers, "m.", partitions, "logs", "metrics"); err != nil {
		t.Fatal(err)
	}
	p := kafka.NewProducer(brokers, "m.")
	defer p.Close()
	sent := map[string]int{"logs": 300, "metrics": 40}
	var msgs []kafka.Message
	for topic, n := range sent {
		for i := range n {
			msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(fmt.Sprint(i % 11)), Value: []byte(fmt.Sprint(i))})
		}
	}
	if err := p.Write(ctx, msgs...); err != nil {
		t.Fatal(err)
	}

	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen, batches := 0, 0
	cctx, ccancel := context.WithCancel(ctx)
	cfg := kafka.ConsumerConfig{Brokers: brokers, TopicPrefix: "m.", Group: "g-metrics", Topics: []string{"logs", "metrics"},
		MaxBatch: 50, MaxWait: 50 * time.Millisecond, Role: m.ForRole("test")}
	err = kafka.Consume(cctx, cfg, func(ctx context.Context, batch []kafka.Message) error {
		mu.Lock()
		defer mu.Unlock()
		seen += len(batch)
		batches++
		if seen == len(msgs) {
			ccancel()
		}
		return nil
	})
	ccancel()
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	if seen != len(msgs) {
		t.Fatalf("handled %d messages, want %d", seen, len(msgs))
	}

	for topic, n := range sent {
		if got := testutil.ToFloat64(m.RecordsIn.WithLabelValues("test", topic)); got != float64(n) {
			t.Errorf("records in from %s = %v, want %d", topic, got, n)
		}
	}

	// Every message was produced before consuming began, so the last batch
	// of each partition reached the partition's end.
	if got := testutil.CollectAndCount(m.ConsumerLag); got != 2*partitions {
		t.Errorf("lag series = %d, want %d (one per topic and partition)", got, 2*partitions)
	}
	for topic := range sent {
		for partition := range partitions {
			if got := testutil.ToFloat64(m.ConsumerLag.WithLabelValues("test", topic, fmt.Sprint(partition))); got != 0 {
				t.Errorf("lag of %s/%d = %v, want 0", topic, partition, got)
			}
		}
	}

	size := histogram(t, m.BatchSize, "test")
	if size.GetSampleCount() != uint64(batches) {
		t.Errorf("batch size observations = %d, want %d batches", size.GetSampleCount(), batches)
	}
	if size.GetSampleSum() != float64(len(msgs)) {
		t.Errorf("batch size sum = %v, want %d records", size.GetSampleSum(), len(msgs))
	}
	if got := histogram(t, m.BatchDuration, "test").GetSampleCount(); got != uint64(batches) {
		t.Errorf("batch duration observations = %d, want %d batches", got, batches)
	}
}

func TestConsumeWithoutRole(t *testing.T) {
	brokers := kafkatest.StartTestBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := kafka.NewProducer(brokers, "n.")
	defer p.Close()
	if err := p.Write(ctx, kafka.Message{Topic: "logs", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	got := 0
	err := kafka.Consume(cctx, kafka.ConsumerConfig{Brokers: brokers, TopicPrefix: "n.", Group: "g-none", Topics: []string{"logs"}},
		func(ctx context.Context, batch []kafka.Message) error {
			got += len(batch)
			ccancel()
			return nil
		})
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	if got != 1 {
		t.Errorf("handled %d messages, want 1", got)
	}
}

func histogram(t *testing.T, vec *prometheus.HistogramVec, role string) *dto.Histogram {
	t.Helper()
	var out dto.Metric
	if err := vec.WithLabelValues(role).(prometheus.Histogram).Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetHistogram()
}
