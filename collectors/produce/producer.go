// Package produce writes the collector's messages to Kafka in compressed
// batches, keyed so that one container's records stay in one partition and
// in order.
package produce

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	kg "github.com/segmentio/kafka-go"

	"github.com/harrierhq/harrier/internal/kafka"
)

// Defaults of Config.
const (
	DefaultCompression = "lz4"
	DefaultBatchSize   = 1000
	DefaultBatchBytes  = 1 << 20
	DefaultLinger      = 5 * time.Millisecond
	DefaultMaxAttempts = 3
)

// Config configures a Producer.
type Config struct {
	// Brokers are the bootstrap addresses, host:port. Required.
	Brokers []string
	// TopicPrefix is prepended to each message's topic suffix, such as
	// "harrier.".
	TopicPrefix string
	// Compression is the record batch codec: none, gzip, snappy, lz4 or
	// zstd, default lz4. The broker must support the codec.
	Compression string
	// BatchSize caps the messages of one produce request per partition,
	// default 1000. BatchBytes caps its bytes, default 1 MiB, and must
	// stay below the broker's message.max.bytes.
	BatchSize  int
	BatchBytes int64
	// Linger is how long a partition batch waits to fill before it is
	// sent, default 5 ms. Write passes whole batches, so it bounds only the
	// wait of a partition that got few messages.
	Linger time.Duration
	// MaxAttempts is the number of tries of a produce request before Write
	// fails, default 3. A spool in front retries a failed Write, so a small
	// number lets it notice an outage quickly.
	MaxAttempts int
	// Transport carries TLS and SASL settings. Nil means plaintext without
	// authentication.
	Transport kg.RoundTripper
}

// ParseCompression returns the kafka-go codec named name. Zero means none.
func ParseCompression(name string) (kg.Compression, error) {
	switch name {
	case "", "none":
		return 0, nil
	case "gzip":
		return kg.Gzip, nil
	case "snappy":
		return kg.Snappy, nil
	case "lz4":
		return kg.Lz4, nil
	case "zstd":
		return kg.Zstd, nil
	}
	return 0, fmt.Errorf("invalid compression %q: use none, gzip, snappy, lz4 or zstd", name)
}

// Producer writes messages in compressed batches. The partition of a
// message is the hash of its key, the container id for logs and metrics,
// so the records of one container keep their order. It is safe for
// concurrent use.
type Producer struct {
	w      *kg.Writer
	prefix string
	// messages pools the kafka-go message slices of Write, which kafka-go
	// copies into its own batches before WriteMessages returns.
	messages sync.Pool
	// topics caches prefix+suffix for each topic suffix.
	topics sync.Map
}

// topic returns the full name of the topic with suffix.
func (p *Producer) topic(suffix string) string {
	if name, ok := p.topics.Load(suffix); ok {
		return name.(string)
	}
	name := p.prefix + suffix
	p.topics.Store(suffix, name)
	return name
}

// New returns a producer for cfg. It fails on a missing broker address or
// an unknown codec.
func New(cfg Config) (*Producer, error) {
	if len(cfg.Brokers) == 0 {
		return nil, fmt.Errorf("missing Kafka broker address: set at least one host:port")
	}
	if cfg.Compression == "" {
		cfg.Compression = DefaultCompression
	}
	codec, err := ParseCompression(cfg.Compression)
	if err != nil {
		return nil, err
	}
	if codec == kg.Lz4 {
		useSmallBlockLz4()
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.BatchBytes <= 0 {
		cfg.BatchBytes = DefaultBatchBytes
	}
	if cfg.Linger <= 0 {
		cfg.Linger = DefaultLinger
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	w := &kg.Writer{
		Addr:                   kg.TCP(cfg.Brokers...),
		Transport:              cfg.Transport,
		Balancer:               &kg.Hash{},
		Compression:            codec,
		BatchSize:              cfg.BatchSize,
		BatchBytes:             cfg.BatchBytes,
		BatchTimeout:           cfg.Linger,
		RequiredAcks:           kg.RequireAll,
		AllowAutoTopicCreation: true,
		MaxAttempts:            cfg.MaxAttempts,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        time.Second,
	}
	return &Producer{w: w, prefix: cfg.TopicPrefix}, nil
}

// Write sends msgs and returns once the broker has acknowledged all of them.
// On an error some messages may have been written, so a retry can repeat
// them; storage removes repeats by record id.
func (p *Producer) Write(ctx context.Context, msgs ...kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	buf, _ := p.messages.Get().(*[]kg.Message)
	if buf == nil {
		buf = new([]kg.Message)
	}
	defer func() {
		clear(*buf)
		p.messages.Put(buf)
	}()
	out := slices.Grow((*buf)[:0], len(msgs))[:len(msgs)]
	*buf = out
	for i, m := range msgs {
		if m.Topic == "" {
			return fmt.Errorf("write message %d: missing topic", i)
		}
		out[i] = kg.Message{Topic: p.topic(m.Topic), Key: m.Key, Value: m.Value}
	}
	if err := p.w.WriteMessages(ctx, out...); err != nil {
		return fmt.Errorf("write %d messages to %s: %w", len(msgs), p.w.Addr.String(), err)
	}
	return nil
}

// Stats returns the kafka-go writer's counters since the last call,
// including the bytes written after compression.
func (p *Producer) Stats() kg.WriterStats { return p.w.Stats() }

// Close flushes pending messages and closes the connections.
func (p *Producer) Close() error { return p.w.Close() }
