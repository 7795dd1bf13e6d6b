package kafka_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
)

func TestProduceConsumeCommitAfterHandler(t *testing.T) {
	brokers := kafkatest.StartTestBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, brokers, "t.", 3, "logs"); err != nil {
		t.Fatal(err)
	}
	p := kafka.NewProducer(brokers, "t.")
	defer p.Close()
	const n = 500
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Topic: "logs", Key: []byte(fmt.Sprint(i % 7)), Value: []byte(fmt.Sprint(i))}
	}
	if err := p.Write(ctx, msgs...); err != nil {
		t.Fatal(err)
	}

	// The first handler call fails once: the same batch must come back, and
	// every message must be seen at least once.
	var mu sync.Mutex
	seen := map[string]int{}
	failed := false
	cctx, ccancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- kafka.Consume(cctx, kafka.ConsumerConfig{Brokers: brokers, TopicPrefix: "t.", Group: "g1", Topics: []string{"logs"}, MaxBatch: 100},
			func(ctx context.Context, batch []kafka.Message) error {
				mu.Lock()
				defer mu.Unlock()
				if !failed {
					failed = true
					return fmt.Errorf("storage down")
				}
				for _, m := range batch {
					if m.Topic != "logs" {
						t.Errorf("topic = %q, want suffix %q", m.Topic, "logs")
					}
					seen[string(m.Value)]++
				}
				if len(seen) == n {
					ccancel()
				}
				return nil
			})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatalf("timed out with %d of %d messages", len(seen), n)
	}
	if len(seen) != n {
		t.Fatalf("saw %d distinct messages, want %d", len(seen), n)
	}

	// A second member of the same group after the commits gets nothing old.
	p.Write(ctx, kafka.Message{Topic: "logs", Key: []byte("k"), Value: []byte("new")})
	got := make(chan string, 10)
	c2ctx, c2cancel := context.WithCancel(ctx)
	defer c2cancel()
	go kafka.Consume(c2ctx, kafka.ConsumerConfig{Brokers: brokers, TopicPrefix: "t.", Group: "g1", Topics: []string{"logs"}},
		func(ctx context.Context, batch []kafka.Message) error {
			for _, m := range batch {
				got <- string(m.Value)
			}
			return nil
		})
	select {
	case v := <-got:
		if v != "new" {
			t.Fatalf("after commit, first message = %q, want %q", v, "new")
		}
	case <-ctx.Done():
		t.Fatal("timed out waiting for the message written after the commit")
	}
}

func TestGroupLag(t *testing.T) {
	brokers := kafkatest.StartTestBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, brokers, "lag.", 2, "a"); err != nil {
		t.Fatal(err)
	}
	p := kafka.NewProducer(brokers, "lag.")
	defer p.Close()
	for i := 0; i < 10; i++ {
		if err := p.Write(ctx, kafka.Message{Topic: "a", Key: []byte(fmt.Sprint(i)), Value: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	lag, err := kafka.GroupLag(ctx, brokers, "lag.", "nobody", "a")
	if err != nil {
		t.Fatal(err)
	}
	if lag != 10 {
		t.Fatalf("lag of a group that read nothing = %d, want 10", lag)
	}
	cctx, ccancel := context.WithCancel(ctx)
	seen := 0
	go kafka.Consume(cctx, kafka.ConsumerConfig{Brokers: brokers, TopicPrefix: "lag.", Group: "reader", Topics: []string{"a"}},
		func(ctx context.Context, batch []kafka.Message) error {
			seen += len(batch)
			return nil
		})
	defer ccancel()
	for {
		lag, err = kafka.GroupLag(ctx, brokers, "lag.", "reader", "a")
		if err != nil {
			t.Fatal(err)
		}
		if lag == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("lag still %d", lag)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestConsumeCommitOffsetHoldsBack(t *testing.T) {
	brokers := kafkatest.StartTestBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, brokers, "hold.", 1, "logs"); err != nil {
		t.Fatal(err)
	}
	p := kafka.NewProducer(brokers, "hold.")
	defer p.Close()
	const n = 10
	for i := range n {
		if err := p.Write(ctx, kafka.Message{Topic: "logs", Key: []byte("k"), Value: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}

	// The hook holds the commit at offset 4, as a handler does whose
	// records from offset 4 on are not stored yet.
	var mu sync.Mutex
	var hookCalls []string
	seen := 0
	cctx, ccancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- kafka.Consume(cctx, kafka.ConsumerConfig{
			Brokers: brokers, TopicPrefix: "hold.", Group: "g", Topics: []string{"logs"},
			CommitOffset: func(topic string, partition int, next int64) int64 {
				mu.Lock()
				defer mu.Unlock()
				hookCalls = append(hookCalls, fmt.Sprintf("%s/%d next %d", topic, partition, next))
				return min(next, 4)
			},
		}, func(ctx context.Context, batch []kafka.Message) error {
			mu.Lock()
			defer mu.Unlock()
			seen += len(batch)
			if seen == n {
				ccancel()
			}
			return nil
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatalf("timed out with %d of %d messages", seen, n)
	}
	mu.Lock()
	if len(hookCalls) == 0 || hookCalls[len(hookCalls)-1] != "logs/0 next 10" {
		t.Errorf("hook calls = %q, want the last to be %q", hookCalls, "logs/0 next 10")
	}
	mu.Unlock()

	lag, err := kafka.GroupLag(ctx, brokers, "hold.", "g", "logs")
	if err != nil {
		t.Fatal(err)
	}
	if lag != n-4 {
		t.Errorf("lag after a commit held at offset 4 = %d, want %d", lag, n-4)
	}

	// A new member of the group starts at the held offset.
	got := make(chan int64, n)
	c2ctx, c2cancel := context.WithCancel(ctx)
	defer c2cancel()
	go kafka.Consume(c2ctx, kafka.ConsumerConfig{Brokers: brokers, TopicPrefix: "hold.", Group: "g", Topics: []string{"logs"}},
		func(ctx context.Context, batch []kafka.Message) error {
			for _, m := range batch {
				got <- m.Offset
			}
			return nil
		})
	select {
	case off := <-got:
		if off != 4 {
			t.Fatalf("first offset after restart = %d, want 4", off)
		}
	case <-ctx.Done():
		t.Fatal("timed out waiting for the held-back messages")
	}
}
