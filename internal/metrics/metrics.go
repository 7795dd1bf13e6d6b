// Package metrics defines the Prometheus metrics every Harrier role
// exports on /metrics: records in and out, dead-lettered and dropped
// records, consumer lag, batch sizes and latencies, each labelled with
// the role. The roles serve promhttp's default registry, so Default is
// registered there.
package metrics

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Roles lists the role label values: one per pipeline role.
var Roles = []string{"broker", "collect", "normalize", "score", "alert"}

// Metrics is the set of metric vectors of all roles. Use ForRole to get one
// role's view.
type Metrics struct {
	// RecordsIn counts records a role read, by source topic (or "files"
	// for the collector).
	RecordsIn *prometheus.CounterVec
	// RecordsOut counts records a role wrote, by destination: a Kafka
	// topic or a ClickHouse table.
	RecordsOut *prometheus.CounterVec
	// DeadLettered counts records sent to a dead-letter topic or table,
	// by reason.
	DeadLettered *prometheus.CounterVec
	// Dropped counts records discarded without a dead letter, by reason
	// (for example "buffer_full" or "duplicate").
	Dropped *prometheus.CounterVec
	// ConsumerLag is the number of records between the consumer group's
	// position and the end of each partition, by topic and partition.
	ConsumerLag *prometheus.GaugeVec
	// BatchSize is the number of records per batch written to Kafka or
	// ClickHouse.
	BatchSize *prometheus.HistogramVec
	// BatchDuration is the time to process and write one batch, in
	// seconds.
	BatchDuration *prometheus.HistogramVec
	// RecordLatency is the time from a record's own timestamp (or its
	// collection) to the end of the role's processing, in seconds.
	RecordLatency *prometheus.HistogramVec
	// Up is 1 while a role runs. Its series exists from the role's start,
	// before any record arrives.
	Up *prometheus.GaugeVec
}

// New creates the metric vectors and registers them on reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		RecordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harrier_records_in_total", Help: "Records read by the role, by source topic.",
		}, []string{"role", "topic"}),
		RecordsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harrier_records_out_total", Help: "Records written by the role, by destination topic or table.",
		}, []string{"role", "destination"}),
		DeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harrier_records_dead_lettered_total", Help: "Records sent to a dead-letter topic or table, by reason.",
		}, []string{"role", "reason"}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "harrier_records_dropped_total", Help: "Records discarded without a dead letter, by reason.",
		}, []string{"role", "reason"}),
		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "harrier_consumer_lag_records", Help: "Records between the consumer group's position and the end of the partition.",
		}, []string{"role", "topic", "partition"}),
		BatchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "harrier_batch_size_records", Help: "Records per batch written to Kafka or ClickHouse.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9), // 1 to 65536
		}, []string{"role"}),
		BatchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "harrier_batch_duration_seconds", Help: "Time to process and write one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9), // 1 ms to 65 s
		}, []string{"role"}),
		RecordLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "harrier_record_latency_seconds", Help: "Time from a record's timestamp to the end of the role's processing.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 9), // 10 ms to 655 s
		}, []string{"role"}),
		Up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "harrier_role_up", Help: "1 while the role runs.",
		}, []string{"role"}),
	}
	for _, c := range []prometheus.Collector{m.RecordsIn, m.RecordsOut, m.DeadLettered, m.Dropped, m.ConsumerLag, m.BatchSize, m.BatchDuration, m.RecordLatency, m.Up} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

var (
	defaultOnce    sync.Once
	defaultMetrics *Metrics
)

// Default returns the metrics registered on prometheus.DefaultRegisterer,
// which /metrics of every role serves. It registers them on first use.
func Default() *Metrics {
	defaultOnce.Do(func() {
		m, err := New(prometheus.DefaultRegisterer)
		if err != nil {
			// Only a second registration of the same names fails, and
			// defaultOnce prevents that.
			panic("metrics: register default metrics: " + err.Error())
		}
		defaultMetrics = m
	})
	return defaultMetrics
}

// Role is one role's view of the metrics: every method fills in the role
// label. Every method of a nil *Role does nothing, so a component whose
// config has no Role records no metrics.
type Role struct {
	name string
	m    *Metrics
}

// ForRole returns role's view and sets harrier_role_up{role} to 1, so the
// role's series are scraped before any record arrives. The histograms of
// the role start at zero observations for the same reason.
func (m *Metrics) ForRole(role string) *Role {
	m.Up.WithLabelValues(role).Set(1)
	m.BatchSize.WithLabelValues(role)
	m.BatchDuration.WithLabelValues(role)
	m.RecordLatency.WithLabelValues(role)
	return &Role{name: role, m: m}
}

// Stop sets harrier_role_up{role} to 0.
func (r *Role) Stop() {
	if r == nil {
		return
	}
	r.m.Up.WithLabelValues(r.name).Set(0)
}

// In adds n to the records read from topic.
func (r *Role) In(topic string, n int) {
	if r == nil {
		return
	}
	r.m.RecordsIn.WithLabelValues(r.name, topic).Add(float64(n))
}

// Out adds n to the records written to destination, a topic or table.
func (r *Role) Out(destination string, n int) {
	if r == nil {
		return
	}
	r.m.RecordsOut.WithLabelValues(r.name, destination).Add(float64(n))
}

// DeadLettered adds n to the records dead-lettered for reason. Use a
// short, fixed reason (such as "invalid_json"), never the error text, so
// the number of series stays bounded.
func (r *Role) DeadLettered(reason string, n int) {
	if r == nil {
		return
	}
	r.m.DeadLettered.WithLabelValues(r.name, reason).Add(float64(n))
}

// Dropped adds n to the records dropped for reason, a short fixed value.
func (r *Role) Dropped(reason string, n int) {
	if r == nil {
		return
	}
	r.m.Dropped.WithLabelValues(r.name, reason).Add(float64(n))
}

// Lag sets the consumer lag of one partition, in records.
func (r *Role) Lag(topic string, partition int, records int64) {
	if r == nil {
		return
	}
	r.m.ConsumerLag.WithLabelValues(r.name, topic, strconv.Itoa(partition)).Set(float64(records))
}

// Batch records one batch: its size in records and its duration in
// seconds.
func (r *Role) Batch(records int, seconds float64) {
	if r == nil {
		return
	}
	r.m.BatchSize.WithLabelValues(r.name).Observe(float64(records))
	r.m.BatchDuration.WithLabelValues(r.name).Observe(seconds)
}

// Latency records the latency of one record, in seconds.
func (r *Role) Latency(seconds float64) {
	if r == nil {
		return
	}
	r.m.RecordLatency.WithLabelValues(r.name).Observe(seconds)
}
