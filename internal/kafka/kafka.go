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

	"github.com/harrierhq/harrier/internal/metrics"
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
	// SetProcessSecurity has checked the mechanism, so this cannot fail.
	t, _ := processSecurity.transport()
	return newProducer(brokers, topicPrefix, t)
}

// NewSecureProducer is NewProducer with TLS and SASL set by sec. It fails
// only on an invalid SASL mechanism.
func NewSecureProducer(brokers []string, topicPrefix string, sec *Security) (*Producer, error) {
	t, err := sec.transport()
	if err != nil {
		return nil, err
	}
	return newProducer(brokers, topicPrefix, t), nil
}

func newProducer(brokers []string, topicPrefix string, transport kg.RoundTripper) *Producer {
	w := &kg.Writer{
		Transport: transport,
		Addr:      kg.TCP(brokers...),
		Balancer:  &kg.Hash{},
		// Write is called with whole batches, so a short timeout only bounds
		// the wait for a batch smaller than BatchSize.
		BatchSize: 1000,
		// Kafka's default message.max.bytes is 1 MiB per record batch, and
		// a larger batch fails with MESSAGE_TOO_LARGE on every retry.
		BatchBytes:             1 << 20,
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
	return EnsureTopicsSecure(ctx, brokers, processSecurity, prefix, partitions, suffixes...)
}

// EnsureTopicsSecure is EnsureTopics with TLS and SASL set by sec.
func EnsureTopicsSecure(ctx context.Context, brokers []string, sec *Security, prefix string, partitions int, suffixes ...string) error {
	if len(brokers) == 0 {
		return errors.New("ensure topics: no broker address configured")
	}
	transport, err := sec.transport()
	if err != nil {
		return err
	}
	client := &kg.Client{Addr: kg.TCP(brokers...), Timeout: 10 * time.Second, Transport: transport}
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
	// MaxBatchBytes caps the summed key and value bytes of one batch,
	// default 8 MiB. A batch ends at the first message that reaches the cap,
	// so one message larger than the cap still forms a batch of its own.
	MaxBatchBytes int
	// QueueCapacity is the number of messages the reader fetches ahead of
	// the handler, default 1000. While the handler retries a failing batch
	// the queue fills and fetching stops, so the consumer holds roughly at most
	// MaxBatchBytes plus QueueCapacity messages plus one fetch response of
	// FetchMaxBytes per partition.
	QueueCapacity int
	// FetchMaxBytes is the kafka-go reader's MaxBytes: the largest fetch
	// response per partition, default 4 MiB. Kafka brokers since 0.10.1
	// (KIP-74) still return a first record batch larger than this, so a
	// large message does not stall its partition.
	FetchMaxBytes int
	// MaxRetryBackoff caps the wait between two attempts of a failing
	// batch, default 10 s. It is also the longest a consumer stays paused
	// after storage has recovered.
	MaxRetryBackoff time.Duration
	// Security sets TLS and SASL for the connections; nil means plaintext
	// without authentication.
	Security *Security
	// CommitOffset chooses the offset committed for each partition of a
	// handled batch. It receives the topic suffix, the partition, and next,
	// the offset after the batch's last message from that partition. It
	// returns the offset to commit, which is capped to [0, next]. The group
	// resumes from the committed offset after a restart or a rebalance, so
	// a handler that keeps records in memory over several batches returns
	// the offset of the first record whose effect is not stored yet. Nil
	// commits next.
	CommitOffset func(topic string, partition int, next int64) int64
	// Role receives the consumer's metrics: records in per topic, lag per
	// partition, and the size and duration of each batch from fetch to
	// commit. Nil records no metrics.
	Role   *metrics.Role
	Logger *slog.Logger
}

// Defaults of the consumer's memory bounds in ConsumerConfig.
const (
	DefaultMaxBatchBytes   = 8 << 20
	DefaultQueueCapacity   = 1000
	DefaultFetchMaxBytes   = 4 << 20
	DefaultMaxRetryBackoff = 10 * time.Second
)

// Consume reads the topics as a member of the consumer group, calls h with
// batches and commits the batch's offsets only after h returns nil. When h
// fails, Consume retries the same batch with exponential backoff and jitter
// (capped at MaxRetryBackoff), so a storage outage pauses consumption instead of losing
// data. It blocks until ctx is done and then returns nil.
func Consume(ctx context.Context, cfg ConsumerConfig, h Handler) error {
	return ConsumeStaged(ctx, cfg, func(_ context.Context, batch []Message) (Stage, error) {
		return func(ctx context.Context) error { return h(ctx, batch) }, nil
	})
}

// Stage stores what a Preparer built from one batch. It returns nil only
// after everything derived from the batch is stored, and a non-nil error
// makes ConsumeStaged call it again.
type Stage func(ctx context.Context) error

// Preparer is the first step of a handler split in two: it builds what
// the batch stores, such as rows, and returns the Stage that stores them.
// A non-nil error makes ConsumeStaged prepare the same batch again.
type Preparer func(ctx context.Context, batch []Message) (Stage, error)

// ConsumeStaged is Consume with the handler split in two steps, so that
// the next batch is fetched and prepared while the previous one is stored.
// Stages run one at a time in fetch order, and each batch's offsets are
// committed after its Stage returned nil and before the next Stage starts.
// The consumer then holds up to two batches, one prepared and one being
// stored.
func ConsumeStaged(ctx context.Context, cfg ConsumerConfig, prepare Preparer) error {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 200 * time.Millisecond
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if cfg.QueueCapacity <= 0 {
		cfg.QueueCapacity = DefaultQueueCapacity
	}
	if cfg.FetchMaxBytes <= 0 {
		cfg.FetchMaxBytes = DefaultFetchMaxBytes
	}
	if cfg.MaxRetryBackoff <= 0 {
		cfg.MaxRetryBackoff = DefaultMaxRetryBackoff
	}
	if cfg.Security == nil {
		cfg.Security = processSecurity
	}
	dialer, err := cfg.Security.dialer()
	if err != nil {
		return err
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
		MaxBytes:          cfg.FetchMaxBytes,
		MaxWait:           100 * time.Millisecond,
		QueueCapacity:     cfg.QueueCapacity,
		Dialer:            dialer,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		JoinGroupBackoff:  500 * time.Millisecond,
		ReadBackoffMin:    20 * time.Millisecond,
		ReadBackoffMax:    200 * time.Millisecond,
	})
	defer r.Close()
	if cfg.Security != nil {
		logger.Info("Consumer started", "topics", topics, "tls", cfg.Security.TLS != nil, "sasl", cfg.Security.SASL)
	} else {
		logger.Info("Consumer started", "topics", topics)
	}
	defer logger.Info("Consumer stopped")

	// stored receives the outcome of the batch being stored: false when
	// ctx ended first. It is nil while no batch is being stored.
	var stored chan bool
	defer func() {
		if stored != nil {
			<-stored
		}
	}()
	for {
		raw, err := fetchBatch(ctx, r, cfg.MaxBatch, cfg.MaxBatchBytes, cfg.MaxWait)
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
		fetched := time.Now()
		batch := make([]Message, len(raw))
		for i, m := range raw {
			batch[i] = Message{Topic: strings.TrimPrefix(m.Topic, cfg.TopicPrefix), Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value}
		}
		recordFetch(cfg.Role, batch)
		var stage Stage
		prepared := retry(ctx, logger, "Batch preparation failed, retrying the same batch", batch, cfg.MaxRetryBackoff, func(ctx context.Context) error {
			var err error
			stage, err = prepare(ctx, batch)
			return err
		})
		if !prepared {
			return nil
		}

		if stored != nil && !<-stored {
			stored = nil
			return nil
		}
		stored = make(chan bool, 1)
		go func(done chan<- bool) {
			done <- storeAndCommit(ctx, cfg, logger, r, raw, batch, stage, fetched)
		}(stored)
	}
}

// storeAndCommit runs stage until it succeeds and then commits the batch's
// offsets. It returns false when ctx ended before the batch was stored.
func storeAndCommit(ctx context.Context, cfg ConsumerConfig, logger *slog.Logger, r *kg.Reader, raw []kg.Message, batch []Message, stage Stage, fetched time.Time) bool {
	if !retry(ctx, logger, "Batch handler failed, retrying the same batch", batch, cfg.MaxRetryBackoff, stage) {
		return false
	}
	recordLag(cfg.Role, raw, cfg.TopicPrefix)
	// The batch is stored, so its offsets are committed even when ctx
	// was cancelled meanwhile: a clean stop then redelivers nothing.
	commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	err := commitWithRetry(commitCtx, logger, r, commitPoints(raw, cfg.TopicPrefix, cfg.CommitOffset))
	cancel()
	cfg.Role.Batch(len(batch), time.Since(fetched).Seconds())
	if err != nil && ctx.Err() == nil {
		// The rows are stored, so a lost commit only means the broker
		// redelivers the batch later (after a rebalance or a restart)
		// and storage drops the repeated rows by record id.
		first := raw[0]
		logger.Warn("Offset commit failed, continuing; the batch may be delivered again", "err", err,
			"messages", len(raw), "topic", first.Topic, "partition", first.Partition, "offset", first.Offset)
	}
	return ctx.Err() == nil
}

// commitPoints returns the messages whose commit stores the offsets to
// commit: raw itself without choose, otherwise one message per partition
// whose offset is one less than the offset choose returns.
func commitPoints(raw []kg.Message, prefix string, choose func(topic string, partition int, next int64) int64) []kg.Message {
	if choose == nil {
		return raw
	}
	type partition struct {
		topic string
		id    int
	}
	next := map[partition]int64{}
	var order []partition
	for _, m := range raw {
		p := partition{m.Topic, m.Partition}
		if _, ok := next[p]; !ok {
			order = append(order, p)
		}
		next[p] = max(next[p], m.Offset+1)
	}
	out := make([]kg.Message, 0, len(order))
	for _, p := range order {
		offset := min(max(choose(strings.TrimPrefix(p.topic, prefix), p.id, next[p]), 0), next[p])
		// kafka-go commits a message's offset plus one.
		out = append(out, kg.Message{Topic: p.topic, Partition: p.id, Offset: offset - 1})
	}
	return out
}

// recordFetch adds the batch's messages to the records read, per topic.
func recordFetch(role *metrics.Role, batch []Message) {
	if role == nil {
		return
	}
	perTopic := map[string]int{}
	for _, m := range batch {
		perTopic[m.Topic]++
	}
	for topic, n := range perTopic {
		role.In(topic, n)
	}
}

// recordLag sets the lag of each partition in the batch from its last
// message: the partition's high-water mark, as the broker reported it with
// the fetch, minus the offset after that message. The gauge keeps that
// value until the next batch from the partition.
func recordLag(role *metrics.Role, raw []kg.Message, prefix string) {
	if role == nil {
		return
	}
	type partition struct {
		topic string
		id    int
	}
	last := map[partition]kg.Message{}
	for _, m := range raw {
		last[partition{m.Topic, m.Partition}] = m
	}
	for p, m := range last {
		role.Lag(strings.TrimPrefix(p.topic, prefix), p.id, max(m.HighWaterMark-m.Offset-1, 0))
	}
}

// fetchBatch blocks for the first message, then collects more until max
// messages, maxBytes of keys and values, or until wait has passed.
func fetchBatch(ctx context.Context, r *kg.Reader, max, maxBytes int, wait time.Duration) ([]kg.Message, error) {
	first, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	batch := []kg.Message{first}
	size := len(first.Key) + len(first.Value)
	fillCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for len(batch) < max && size < maxBytes {
		m, err := r.FetchMessage(fillCtx)
		if err != nil {
			break
		}
		batch = append(batch, m)
		size += len(m.Key) + len(m.Value)
	}
	return batch, nil
}

// retry runs step until it returns nil, with exponential backoff and
// jitter capped at maxBackoff, logging msg and the batch's first offset
// at each failure. It returns false when ctx ended first.
func retry(ctx context.Context, logger *slog.Logger, msg string, batch []Message, maxBackoff time.Duration, step func(ctx context.Context) error) bool {
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := step(ctx)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		first := batch[0]
		logger.Warn(msg, "err", err, "attempt", attempt,
			"messages", len(batch), "topic", first.Topic, "partition", first.Partition, "offset", first.Offset, "backoff", backoff)
		if !sleep(ctx, jitter(backoff)) {
			return false
		}
		backoff = min(backoff*2, maxBackoff)
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
