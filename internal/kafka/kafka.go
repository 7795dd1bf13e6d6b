// Package kafka wraps kafka-go with the two operations every Harrier role
// needs: a batching producer and a consumer-group loop that commits offsets
// only after its handler has stored what it derived from a batch.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	kg "github.com/segmentio/kafka-go"
)

// Message is one Kafka message. Topic is the suffix without the configured
// prefix, such as record.TopicLogs.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
}

// Producer writes messages in batches. It is safe for concurrent use.
type Producer struct {
	w      *kg.Writer
	prefix string
}

// NewProducer returns a producer for the given bootstrap brokers. Topics are
// created on first use when the broker allows it; EnsureTopics creates them
// explicitly.
func NewProducer(brokers []string, topicPrefix string) *Producer {
	w := &kg.Writer{
		Addr:     kg.TCP(brokers...),
		Balancer: &kg.Hash{},
		// Write is called with whole batches, so a short timeout only bounds
		// the wait for a batch smaller than BatchSize.
		BatchSize:              1000,
		BatchBytes:             16 << 20,
		BatchTimeout:           5 * time.Millisecond,
		RequiredAcks:           kg.RequireAll,
		AllowAutoTopicCreation: true,
		MaxAttempts:            10,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        2 * time.Second,
	}
	return &Producer{w: w, prefix: topicPrefix}
}

// Write sends msgs and returns once the broker has acknowledged all of them.
func (p *Producer) Write(ctx context.Context, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	out := make([]kg.Message, len(msgs))
	for i, m := range msgs {
		if m.Topic == "" {
			return fmt.Errorf("write message %d: missing topic", i)
		}
		out[i] = kg.Message{Topic: p.prefix + m.Topic, Key: m.Key, Value: m.Value}
	}
	if err := p.w.WriteMessages(ctx, out...); err != nil {
		return fmt.Errorf("write %d messages to %s: %w", len(msgs), p.w.Addr.String(), err)
	}
	return nil
}

// Close flushes pending messages and closes the connections.
func (p *Producer) Close() error { return p.w.Close() }

// EnsureTopics creates the topics (prefix plus suffix) that do not exist yet,
// with the given partition count and replication factor 1.
func EnsureTopics(ctx context.Context, brokers []string, prefix string, partitions int, suffixes ...string) error {
	if len(brokers) == 0 {
		return errors.New("ensure topics: no broker address configured")
	}
	client := &kg.Client{Addr: kg.TCP(brokers...), Timeout: 10 * time.Second}
	req := &kg.CreateTopicsRequest{}
	for _, s := range suffixes {
		req.Topics = append(req.Topics, kg.TopicConfig{Topic: prefix + s, NumPartitions: partitions, ReplicationFactor: 1})
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics on %s: %w", strings.Join(brokers, ","), err)
	}
	for topic, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kg.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", topic, terr)
		}
	}
	return nil
}

// Ping checks that a broker accepts connections, within ctx.
func Ping(ctx context.Context, brokers []string) error {
	var last error
	for _, b := range brokers {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", b)
		if err == nil {
			conn.Close()
			return nil
		}
		last = err
	}
	return fmt.Errorf("no Kafka broker reachable at %s: %w", strings.Join(brokers, ","), last)
}

// Handler processes one batch. It returns nil only after everything it
// derived from the batch is stored; a non-nil error makes Consume retry the
// same batch.
type Handler func(ctx context.Context, batch []Message) error

// ConsumerConfig sets up a consumer-group loop.
type ConsumerConfig struct {
	Brokers     []string
	TopicPrefix string
	// Group is the consumer group id. Processes in one group share the
	// partitions, so a group scales up to the partition count.
	Group string
	// Topics lists topic suffixes.
	Topics []string
	// MaxBatch caps the messages per handler call, default 1000.
	MaxBatch int
	// MaxWait caps how long a batch waits to fill once its first message
	// arrived, default 200 ms.
	MaxWait time.Duration
	Logger  *slog.Logger
}

// Consume reads the topics as a member of the consumer group, calls h with
// batches and commits the batch's offsets only after h returns nil. When h
// fails, Consume retries the same batch with exponential backoff and jitter
// (capped at 30 s), so a storage outage pauses consumption instead of losing
// data. It blocks until ctx is done and then returns nil.
func Consume(ctx context.Context, cfg ConsumerConfig, h Handler) error {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 200 * time.Millisecond
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "consumer", "group", cfg.Group)
	topics := make([]string, len(cfg.Topics))
	for i, t := range cfg.Topics {
		topics[i] = cfg.TopicPrefix + t
	}
	r := kg.NewReader(kg.ReaderConfig{
		Brokers:           cfg.Brokers,
		GroupID:           cfg.Group,
		GroupTopics:       topics,
		StartOffset:       kg.FirstOffset,
		MinBytes:          1,
		MaxBytes:          16 << 20,
		MaxWait:           100 * time.Millisecond,
		QueueCapacity:     cfg.MaxBatch,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  500 * time.Millisecond,
		ReadBackoffMin:    20 * time.Millisecond,
		ReadBackoffMax:    200 * time.Millisecond,
	})
	defer r.Close()
	logger.Info("Consumer started", "topics", topics)
	defer logger.Info("Consumer stopped")

	for {
		raw, err := fetchBatch(ctx, r, cfg.MaxBatch, cfg.MaxWait)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			logger.Warn("Fetch failed, retrying", "err", err)
			if !sleep(ctx, time.Second) {
				return nil
			}
			continue
		}
		batch := make([]Message, len(raw))
		for i, m := range raw {
			batch[i] = Message{Topic: strings.TrimPrefix(m.Topic, cfg.TopicPrefix), Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value}
		}
		if !handleWithRetry(ctx, logger, h, batch) {
			return nil
		}
		// The batch is stored, so its offsets are committed even when ctx
		// was cancelled meanwhile: a clean stop then redelivers nothing.
		commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = commitWithRetry(commitCtx, logger, r, raw)
		cancel()
		if err != nil || ctx.Err() != nil {
			return nil
		}
	}
}

// fetchBatch blocks for the first message, then collects more until max
// messages or until wait has passed.
func fetchBatch(ctx context.Context, r *kg.Reader, max int, wait time.Duration) ([]kg.Message, error) {
	first, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	batch := []kg.Message{first}
	fillCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for len(batch) < max {
		m, err := r.FetchMessage(fillCtx)
		if err != nil {
			break
		}
		batch = append(batch, m)
	}
	return batch, nil
}

func handleWithRetry(ctx context.Context, logger *slog.Logger, h Handler, batch []Message) bool {
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := h(ctx, batch)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		first := batch[0]
		logger.Warn("Batch handler failed, retrying the same batch", "err", err, "attempt", attempt,
			"messages", len(batch), "topic", first.Topic, "partition", first.Partition, "offset", first.Offset, "backoff", backoff)
		if !sleep(ctx, jitter(backoff)) {
			return false
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func commitWithRetry(ctx context.Context, logger *slog.Logger, r *kg.Reader, msgs []kg.Message) error {
	backoff := 200 * time.Millisecond
	for {
		err := r.CommitMessages(ctx, msgs...)
		if err == nil || ctx.Err() != nil {
			return err
		}
		logger.Warn("Offset commit failed, retrying", "err", err, "messages", len(msgs))
		if !sleep(ctx, jitter(backoff)) {
			return ctx.Err()
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// jitter returns d scaled by a random factor in [0.5, 1.5).
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.5 + rand.Float64()))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
