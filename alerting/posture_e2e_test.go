package alerting

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage/storagetest"
)

// TestPostureViolationReachesAlert follows a posture violation through the
// whole pipeline. The collector reads the weak fixture host and writes to
// the embedded Kafka-protocol broker. The normalizer consumes the records
// and stores them in ClickHouse, where the alert role evaluates the posture
// policies and raises the alert.
func TestPostureViolationReachesAlert(t *testing.T) {
	brokers := kafkatest.StartTestBroker(t)
	store := storagetest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const prefix = "harrier.posture-e2e."
	topics := []string{record.TopicLogs, record.TopicMetrics, record.TopicScans, record.TopicInventory, record.TopicDeadLetters}
	if err := kafka.EnsureTopics(ctx, brokers, prefix, 3, topics...); err != nil {
		t.Fatal(err)
	}
	producer := kafka.NewProducer(brokers, prefix)
	defer producer.Close()
	agent := collectors.NewAgent(fixtureAgentConfig("weak"), producer, nil)
	if err := agent.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if agent.Stats().Postures != 3 {
		t.Fatalf("postures sent = %d, want the host and its two running containers", agent.Stats().Postures)
	}

	n := normalize.New(normalize.Config{Brokers: brokers, TopicPrefix: prefix, Group: "posture-e2e-normalize", MaxWait: 100 * time.Millisecond}, store, producer, nil)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("normalizer: %v", err)
		}
	}()

	// Wait until the posture of all three entities is stored.
	for {
		_, rows, err := store.Query(ctx, "SELECT uniqExact(entity_id) FROM posture_facts")
		if err != nil {
			t.Fatal(err)
		}
		if rows[0][0].(uint64) == 3 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("posture facts not stored: %v", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}

	var out bytes.Buffer
	a, err := New(Config{Clock: func() time.Time { return postureEvalTime }}, store, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.EvaluateRules(ctx); err != nil {
		t.Fatal(err)
	}
	_, rows, err := store.Query(ctx, "SELECT severity, host_id, summary, drivers FROM alerts WHERE name = 'daemon-tcp-without-tls'")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("alerts of daemon-tcp-without-tls = %v, want one", rows)
	}
	if rows[0][0] != "critical" || rows[0][1] != "c0ffee00c0ffee00c0ffee00c0ffee00" {
		t.Errorf("alert = %v, want critical on host c0ffee00…", rows[0])
	}
	drivers, _ := rows[0][3].([]string)
	if len(drivers) == 0 || !strings.Contains(drivers[0], "tcp://0.0.0.0:2375") {
		t.Errorf("drivers = %q, want the TCP socket as evidence", drivers)
	}
	if !strings.Contains(out.String(), "Host weak-1 fails posture policy daemon-tcp-without-tls") {
		t.Errorf("printed alerts lack the violation:\n%s", out.String())
	}
}
