package kafka_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
)

// TestConsumeStagedOrder checks that ConsumeStaged runs stages one at a
// time in fetch order, retries a failing stage with the same batch, and
// prepares the next batch while a stage runs.
func TestConsumeStagedOrder(t *testing.T) {
	brokers := kafkatest.StartTestBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, brokers, "s.", 1, "logs"); err != nil {
		t.Fatal(err)
	}
	p := kafka.NewProducer(brokers, "s.")
	defer p.Close()
	const n = 2000
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Topic: "logs", Key: []byte("k"), Value: []byte(fmt.Sprint(i))}
	}
	if err := p.Write(ctx, msgs...); err != nil {
		t.Fatal(err)
	}

	var (
		mu       sync.Mutex
		stored   []string
		running  atomic.Int32
		inStage  atomic.Bool
		overlaps atomic.Int32
		failures = 1
	)
	cctx, ccancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- kafka.ConsumeStaged(cctx, kafka.ConsumerConfig{Brokers: brokers, TopicPrefix: "s.", Group: "staged", Topics: []string{"logs"}, MaxBatch: 100},
			func(ctx context.Context, batch []kafka.Message) (kafka.Stage, error) {
				if inStage.Load() {
					overlaps.Add(1)
				}
				values := make([]string, len(batch))
				for i, m := range batch {
					values[i] = string(m.Value)
				}
				return func(ctx context.Context) error {
					if running.Add(1) != 1 {
						t.Error("two stages ran at once")
					}
					defer running.Add(-1)
					inStage.Store(true)
					defer inStage.Store(false)
					time.Sleep(5 * time.Millisecond)

					mu.Lock()
					defer mu.Unlock()
					if failures > 0 {
						failures--
						return fmt.Errorf("storage down")
					}
					stored = append(stored, values...)
					if len(stored) == n {
						ccancel()
					}
					return nil
				}, nil
			})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatalf("timed out with %d of %d messages stored", len(stored), n)
	}

	if len(stored) != n {
		t.Fatalf("stored %d messages, want %d", len(stored), n)
	}
	for i, v := range stored {
		if v != fmt.Sprint(i) {
			t.Fatalf("message %d stored as %s: stages ran out of order", i, v)
		}
	}
	if overlaps.Load() == 0 {
		t.Error("no batch was prepared while a stage ran")
	}
}
