// Package normalize consumes the collectors' records from Kafka, validates
// them, enriches logs and metrics with their container's image and name,
// and writes them into Harrier's ClickHouse tables. Records that fail
// validation go to the dead_letters table and the deadletters topic.
package normalize

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/storage"
)

// DefaultGroup is the consumer group used when Config.Group is empty.
const DefaultGroup = "harrier-normalize"

// Defaults of the size limits in Config.
const (
	DefaultMaxBatch        = 20000
	DefaultMaxRawBytes     = 64 << 10
	DefaultMaxMessageBytes = 1 << 20
)

// Topics lists the topic suffixes the normalizer consumes.
var Topics = []string{record.TopicLogs, record.TopicMetrics, record.TopicScans, record.TopicInventory}

// Config sets up a Normalizer.
type Config struct {
	// Brokers are the Kafka bootstrap addresses.
	Brokers []string
	// TopicPrefix is prepended to every topic suffix, for example "harrier.".
	TopicPrefix string
	// Group is the consumer group id. Default "harrier-normalize".
	Group string
	// MaxBatch caps the messages per batch, and so the rows of one insert
	// per table. Default 5000: ClickHouse handles fewer, larger inserts
	// better, and a batch of 5000 log records stays at a few MiB.
	MaxBatch int
	// MaxWait caps how long a batch waits to fill. Zero means the
	// consumer's default.
	MaxWait time.Duration
	// MaxRawBytes caps the raw record stored in dead_letters.raw; longer
	// records are cut. Default 65536. The deadletters topic gets the whole
	// record.
	MaxRawBytes int
	// MaxMessageBytes rejects a log record whose message is longer.
	// Default 1 MiB.
	MaxMessageBytes int
	// MaxBatchBytes, QueueCapacity and FetchMaxBytes bound the records
	// held in memory while ClickHouse is slow or down; see
	// kafka.ConsumerConfig. Zero uses the kafka package defaults.
	MaxBatchBytes int
	QueueCapacity int
	FetchMaxBytes int
	// Security sets TLS and SASL for the Kafka connections; nil means
	// plaintext.
	Security *kafka.Security
	// Templates, when set, gives each event row its log template: the
	// template_id and template columns. Messages are mined per image id,
	// or per container id when the image is unknown. Nil stores
	// template_id 0 and an empty template. *drain.Miner implements it.
	Templates TemplateMatcher
	// Metrics receives the role's metrics: the consumer's records in, lag
	// and batches, rows out per table and dead letters per reason. Nil
	// records none.
	Metrics *metrics.Role
}

// TemplateMatcher mines log templates. HandleBatch calls Flush before it
// returns nil, so the templates of a batch are stored before its offsets
// are committed.
type TemplateMatcher interface {
	// Match returns the id and the current text of the template of
	// message under key, and whether the message opened the template.
	Match(key, message string) (id uint64, template string, isNew bool)
	// Flush stores the templates created or changed since the last Flush.
	Flush(ctx context.Context) error
}

// DeadLetterWriter sends rejected records to the deadletters topic.
// *kafka.Producer implements it.
type DeadLetterWriter interface {
	Write(ctx context.Context, msgs ...kafka.Message) error
}

// Stats are the normalizer's counters since it was created.
type Stats struct {
	// Batches counts batches handled without error.
	Batches uint64
	// Consumed counts messages in those batches.
	Consumed uint64
	// Stored counts rows inserted, by table name (events, metrics,
	// containers, hosts, images, vulnerabilities, dead_letters).
	Stored map[string]uint64
	// DeadLettered counts rejected records.
	DeadLettered uint64
	// ContainerLookups counts queries of the containers table made for
	// enrichment.
	ContainerLookups uint64
}

// Normalizer turns batches of records into rows. HandleBatch may be called
// from one goroutine at a time.
type Normalizer struct {
	cfg    Config
	store  *storage.Store
	dlq    DeadLetterWriter
	logger *slog.Logger
	cache  *containerCache

	batches      atomic.Uint64
	consumed     atomic.Uint64
	deadLettered atomic.Uint64
	stored       map[string]*atomic.Uint64
}

// New returns a Normalizer that writes into store and sends rejected
// records to dlq. A nil dlq keeps dead letters in the table only.
func New(cfg Config, store *storage.Store, dlq DeadLetterWriter, logger *slog.Logger) *Normalizer {
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.MaxRawBytes <= 0 {
		cfg.MaxRawBytes = DefaultMaxRawBytes
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if logger == nil {
		logger = slog.Default()
	}
	n := &Normalizer{
		cfg:    cfg,
		store:  store,
		dlq:    dlq,
		logger: logger.With("component", "normalize"),
		cache:  newContainerCache(),
		stored: make(map[string]*atomic.Uint64, len(tableOrder)),
	}
	for _, t := range tableOrder {
		n.stored[t] = new(atomic.Uint64)
	}
	return n
}

// Run consumes the logs, metrics, scans and inventory topics until ctx is
// done. Offsets are committed only after HandleBatch stored a batch.
func (n *Normalizer) Run(ctx context.Context) error {
	n.logger.Info("Normalizer started", "group", n.cfg.Group, "topics", Topics)
	err := kafka.ConsumeStaged(ctx, kafka.ConsumerConfig{
		Brokers:       n.cfg.Brokers,
		TopicPrefix:   n.cfg.TopicPrefix,
		Group:         n.cfg.Group,
		Topics:        Topics,
		MaxBatch:      n.cfg.MaxBatch,
		MaxWait:       n.cfg.MaxWait,
		MaxBatchBytes: n.cfg.MaxBatchBytes,
		QueueCapacity: n.cfg.QueueCapacity,
		FetchMaxBytes: n.cfg.FetchMaxBytes,
		Security:      n.cfg.Security,
		Role:          n.cfg.Metrics,
		Logger:        n.logger,
	}, n.Prepare)
	s := n.Stats()
	n.logger.Info("Normalizer stopped", "consumed", s.Consumed, "dead_lettered", s.DeadLettered)
	return err
}

// Stats returns a snapshot of the counters.
func (n *Normalizer) Stats() Stats {
	s := Stats{
		Batches:          n.batches.Load(),
		Consumed:         n.consumed.Load(),
		DeadLettered:     n.deadLettered.Load(),
		ContainerLookups: n.cache.lookups(),
		Stored:           make(map[string]uint64, len(n.stored)),
	}
	for t, c := range n.stored {
		s.Stored[t] = c.Load()
	}
	return s
}

// deadLetter is one rejected message and the reason.
type deadLetter struct {
	msg    kafka.Message
	reason string
	// kind is the fixed reason of the metrics label, such as
	// "invalid_envelope".
	kind string
	id   string
}

// HandleBatch validates the batch, stores its rows (one insert per table,
// dead letters included) and sends rejected records to the deadletters
// topic. It returns nil only after all of that succeeded, so that the
// consumer commits the batch's offsets only then. On error the whole batch
// can be handled again: storage drops the repeated rows by record_id.
func (n *Normalizer) HandleBatch(ctx context.Context, batch []kafka.Message) error {
	store, err := n.Prepare(ctx, batch)
	if err != nil {
		return err
	}
	return store(ctx)
}

// Prepare validates the batch and builds its rows, and returns the step
// that stores them, which HandleBatch describes. Run prepares the next
// batch while the previous one is stored. Prepare fails only when the
// container lookup in ClickHouse fails.
func (n *Normalizer) Prepare(ctx context.Context, batch []kafka.Message) (kafka.Stage, error) {
	var good []parsed
	var dead []deadLetter
	for _, msg := range batch {
		p, err := decodeRecord(msg.Topic, msg.Value, n.cfg.MaxMessageBytes)
		if err != nil {
			dead = append(dead, deadLetter{msg: msg, reason: err.Error(), kind: rejectionKind(err), id: p.env.ID})
			continue
		}
		good = append(good, p)
	}

	rows, err := n.buildRows(ctx, good)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	for _, d := range dead {
		rows[TableDeadLetters] = append(rows[TableDeadLetters], []any{
			d.msg.Topic, int32(d.msg.Partition), d.msg.Offset, d.reason, capBytes(d.msg.Value, n.cfg.MaxRawBytes), now, d.id,
		})
	}
	return func(ctx context.Context) error { return n.storeBatch(ctx, batch, rows, dead) }, nil
}

// storeBatch inserts the rows of a prepared batch, saves new templates and
// sends the dead letters, and counts the batch once all of that succeeded.
func (n *Normalizer) storeBatch(ctx context.Context, batch []kafka.Message, rows map[string][][]any, dead []deadLetter) error {

	// The templates are stored while the rows are inserted, because each
	// store is a ClickHouse round trip. Both finish before HandleBatch
	// returns, so the offsets are still committed only after both.
	flushed := make(chan error, 1)
	if n.cfg.Templates != nil && len(rows[TableEvents]) > 0 {
		go func() { flushed <- n.cfg.Templates.Flush(ctx) }()
	} else {
		flushed <- nil
	}
	insertErr := n.insertRows(ctx, rows)
	if err := <-flushed; err != nil {
		return fmt.Errorf("store templates of a batch of %d messages: %w", len(batch), err)
	}
	if insertErr != nil {
		return fmt.Errorf("store batch of %d messages: %w", len(batch), insertErr)
	}
	if err := n.sendDeadLetters(ctx, dead); err != nil {
		return err
	}

	for table, r := range rows {
		n.stored[table].Add(uint64(len(r)))
		n.cfg.Metrics.Out(table, len(r))
	}
	for _, d := range dead {
		n.cfg.Metrics.DeadLettered(d.kind, 1)
	}
	n.batches.Add(1)
	n.consumed.Add(uint64(len(batch)))
	n.deadLettered.Add(uint64(len(dead)))
	if len(dead) > 0 {
		first := dead[0]
		n.logger.Warn("Dead-lettered invalid records", "count", len(dead), "batch", len(batch),
			"first_topic", first.msg.Topic, "first_partition", first.msg.Partition,
			"first_offset", first.msg.Offset, "first_reason", first.reason)
	}
	return nil
}

// insertRows inserts the inventory tables first, in tableOrder, and then
// the events, container_events, metrics and dead_letters tables in
// parallel, so that their ClickHouse round trips overlap. Every insert is
// finished when it returns.
func (n *Normalizer) insertRows(ctx context.Context, rows map[string][][]any) error {
	var parallel []string
	for _, table := range tableOrder {
		if len(rows[table]) == 0 {
			continue
		}
		switch table {
		case TableEvents, TableContainerEvents, TableMetrics, TableDeadLetters:
			parallel = append(parallel, table)
			continue
		}
		if err := n.store.Insert(ctx, table, tableColumns[table], rows[table]); err != nil {
			return err
		}
	}

	errs := make([]error, len(parallel))
	var wg sync.WaitGroup
	for i, table := range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.store.Insert(ctx, table, tableColumns[table], rows[table])
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// buildRows turns valid records into rows per table. Container records are
// cached first, so that logs and metrics of the same batch see them.
func (n *Normalizer) buildRows(ctx context.Context, good []parsed) (map[string][][]any, error) {
	rows := make(map[string][][]any, len(tableOrder))
	for _, p := range good {
		if c := p.container; c != nil {
			n.cache.put(c.ContainerID, containerInfo{imageID: c.ImageID, imageRef: c.ImageRef, name: c.Name, hostID: p.env.HostID})
		}
	}

	ids := make(map[string]bool)
	for _, p := range good {
		switch {
		case p.log != nil:
			ids[p.log.ContainerID] = true
		case p.metric != nil && p.metric.ContainerID != "":
			ids[p.metric.ContainerID] = true
		case p.lifecycle != nil && (p.lifecycle.ImageID == "" || p.lifecycle.ContainerName == ""):
			ids[p.lifecycle.ContainerID] = true
		}
	}
	containers, err := n.cache.resolve(ctx, n.store, ids)
	if err != nil {
		return nil, err
	}

	for _, p := range good {
		env := p.env
		switch {
		case p.log != nil:
			rows[TableEvents] = append(rows[TableEvents], eventRow(env, p.log, containers[p.log.ContainerID], n.cfg.Templates))
		case p.metric != nil:
			rows[TableMetrics] = append(rows[TableMetrics], metricRow(env, p.metric, containers[p.metric.ContainerID]))
		case p.scan != nil:
			rows[TableImages] = append(rows[TableImages], imageRow(env, p.scan))
			rows[TableVulnerabilities] = append(rows[TableVulnerabilities], vulnerabilityRows(env, p.scan)...)
			rows[TableFindings] = append(rows[TableFindings], findingRows(env, p.scan)...)
		case p.host != nil:
			rows[TableHosts] = append(rows[TableHosts], hostRow(env, p.host))
		case p.container != nil:
			rows[TableContainers] = append(rows[TableContainers], containerRow(env, p.container))
		case p.lifecycle != nil:
			rows[TableContainerEvents] = append(rows[TableContainerEvents], lifecycleRow(env, p.lifecycle, containers[p.lifecycle.ContainerID]))
		case p.posture != nil:
			rows[TablePostureFacts] = append(rows[TablePostureFacts], postureRows(env, p.posture)...)
		case p.reject != nil:
			rows[TableDeadLetters] = append(rows[TableDeadLetters], rejectRow(env, p.reject, n.cfg.MaxRawBytes))
		}
	}
	return rows, nil
}

// sendDeadLetters writes each rejected record, whole, to the deadletters
// topic, keyed by the reason.
func (n *Normalizer) sendDeadLetters(ctx context.Context, dead []deadLetter) error {
	if len(dead) == 0 || n.dlq == nil {
		return nil
	}
	msgs := make([]kafka.Message, len(dead))
	for i, d := range dead {
		msgs[i] = kafka.Message{Topic: record.TopicDeadLetters, Key: []byte(d.reason), Value: d.msg.Value}
	}
	if err := n.dlq.Write(ctx, msgs...); err != nil {
		return fmt.Errorf("write %d records to topic %s: %w", len(msgs), record.TopicDeadLetters, err)
	}
	return nil
}

// rejectRow returns the dead_letters row of input the collector rejected.
// Its topic is "collector:" and the file path, and its partition -1, so
// that it never shares a key with a rejected Kafka message, and its offset
// is the line's offset in the file (-1 for a whole file).
func rejectRow(env record.Envelope, r *record.Reject, maxRaw int) []any {
	reason := "rejected by the collector on host " + env.HostID + ": " + r.Reason
	return []any{"collector:" + r.Path, int32(-1), r.Offset, reason, capBytes([]byte(r.Raw), maxRaw), time.Now().UTC(), env.ID}
}

// capBytes returns b as a string of at most max bytes.
func capBytes(b []byte, max int) string {
	if len(b) > max {
		b = b[:max]
	}
	return string(b)
}
