package models

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/features"
	"github.com/harrierhq/harrier/features/drain"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/storage"
	"github.com/harrierhq/harrier/storage/storagetest"
)

// streamRun is one scorer deployment over its own topics and database.
type streamRun struct {
	t       *testing.T
	brokers []string
	prefix  string
	store   *storage.Store
	out     *kafka.Producer

	scorer *Scorer
	cancel context.CancelFunc
	done   chan error
	// base is the number of records the current scorer has to consume on
	// top of those produced since it started: the records Kafka delivers
	// again after a restart.
	base     int64
	produced int64
}

func newStreamRun(t *testing.T, brokers []string, prefix string) *streamRun {
	t.Helper()
	ctx := context.Background()
	if err := kafka.EnsureTopics(ctx, brokers, prefix, 3, ScoreTopics...); err != nil {
		t.Fatal(err)
	}
	r := &streamRun{t: t, brokers: brokers, prefix: prefix, store: storagetest.New(t)}
	r.out = kafka.NewProducer(brokers, prefix)
	t.Cleanup(func() { r.out.Close() })
	return r
}

// start starts a scorer as a new process would: a template miner loaded
// from the templates table, and Run resuming from the features table.
func (r *streamRun) start() {
	r.t.Helper()
	miner, err := drain.NewMiner(context.Background(), drain.Config{}, drain.NewClickHouseStore(r.store), nil)
	if err != nil {
		r.t.Fatal(err)
	}
	r.scorer = NewScorer(ScorerConfig{
		Brokers: r.brokers, TopicPrefix: r.prefix, Seed: 1, Templates: miner, MinTrainingWindows: 10,
	}, r.store, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.scorer.Run(ctx) }()

	// The stream goes on once the records delivered again are consumed,
	// as it does for every minute.
	r.produce(nil)
}

// stop stops the scorer and returns how many records Kafka will deliver
// again to the next one.
func (r *streamRun) stop() int64 {
	r.t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		r.t.Fatalf("Run: %v", err)
	}
	lag, err := kafka.GroupLag(context.Background(), r.brokers, r.prefix, DefaultScoreGroup, ScoreTopics...)
	if err != nil {
		r.t.Fatal(err)
	}
	if held := r.scorer.HeldBack(); held != lag {
		r.t.Errorf("HeldBack = %d after the stop, want the group's lag %d", held, lag)
	}
	r.base, r.produced = lag, 0
	return lag
}

// produce writes msgs and waits until the scorer has added every record
// written so far to its windows. The consumer reads the topics in no fixed
// order, so each call holds half a minute of event time. Then no record is
// later than the allowed lateness. A window also closes only once the first
// cgroup sample after its end has arrived, which its CPU rate uses.
func (r *streamRun) produce(msgs []kafka.Message) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.out.Write(ctx, msgs...); err != nil {
		r.t.Fatal(err)
	}
	r.produced += int64(len(msgs))
	want := r.base + r.produced
	for {
		got := r.scorer.Stats().RecordsConsumed
		if got == want {
			return
		}
		if got > want {
			r.t.Fatalf("scorer consumed %d records, want %d: a record was delivered more often than expected", got, want)
		}
		if ctx.Err() != nil {
			r.t.Fatalf("timed out with %d of %d records consumed", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// finish stops the scorer, flushes the windows still open, and returns the
// stored features and the number of rows before duplicates collapse.
func (r *streamRun) finish() ([][]any, uint64) {
	r.t.Helper()
	r.stop()
	if err := r.scorer.Flush(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	if late := r.scorer.Stats().LateRecords; late != 0 {
		r.t.Errorf("%s: LateRecords = %d, want 0", r.prefix, late)
	}
	ctx := context.Background()
	columns := append([]string{"container_id", "host_id", "image_id", "window_ns", "window_s"}, features.FeatureNames...)
	columns = append(columns, features.ExtraFeatureNames...)
	_, rows, err := r.store.Query(ctx, "SELECT "+strings.Join(columns, ", ")+" FROM features FINAL ORDER BY container_id, window_ns")
	if err != nil {
		r.t.Fatal(err)
	}
	_, count, err := r.store.Query(ctx, "SELECT count() FROM features")
	if err != nil {
		r.t.Fatal(err)
	}
	return rows, count[0][0].(uint64)
}

// halfMinutes splits the fleet's messages into half minutes of event
// time. The inventory records go with the first.
func halfMinutes(t *testing.T, msgs []kafka.Message) [][]kafka.Message {
	var out [][]kafka.Message
	for _, m := range msgs {
		i := 0
		if ns := eventTime(t, m); ns > 0 {
			i = int((ns - fleetStart.UnixNano()) / int64(30*time.Second))
		}
		for len(out) <= i {
			out = append(out, nil)
		}
		out[i] = append(out[i], m)
	}
	return out
}

// contextMessages returns a scan report of the web container's image and a
// host record whose OS release is past its end of life.
func contextMessages(t *testing.T) []kafka.Message {
	t.Helper()
	scan, err := record.Encode(record.KindScan, "scan-web", "host-1", "trivy", fleetStart.UnixNano(), record.Scan{
		Scanner: "trivy", ImageRef: "web:latest", ImageID: "sha256:web", ScannedNs: fleetStart.UnixNano(),
		Vulnerabilities: []record.Vulnerability{
			{ID: "CVE-2019-18224", Package: "libidn2-0", Severity: "CRITICAL", FixedVersion: "2.0.5-1+deb10u1"},
			{ID: "CVE-2021-0001", Package: "zlib", Severity: "HIGH"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	host, err := record.Encode(record.KindHost, "host-1", "host-1", "host", fleetStart.UnixNano(), record.Host{
		TimeNs: fleetStart.UnixNano(), HostID: "host-1", OSID: "debian", OSVersion: "9", OSEOLDate: "2022-06-30",
	})
	if err != nil {
		t.Fatal(err)
	}
	return []kafka.Message{
		{Topic: record.TopicScans, Key: []byte("sha256:web"), Value: scan},
		{Topic: record.TopicInventory, Key: []byte("host-1"), Value: host},
	}
}

// TestScorerRestartMatchesUninterrupted stops the scorer in the middle of
// a stream, with windows open, starts a new one on the same consumer group
// and database, and expects the same features table as a scorer that ran
// through. It runs on the embedded broker and a real ClickHouse.
func TestScorerRestartMatchesUninterrupted(t *testing.T) {
	brokers := kafkatest.StartTestBroker(t)
	steps := halfMinutes(t, fleetMessages(t, 12, 3))
	// A scan of web's image and a record of the host come first. Kafka
	// does not deliver them again after a restart, so the windows after
	// it carry their features from the stored windows.
	steps[0] = append(contextMessages(t), steps[0]...)

	through := newStreamRun(t, brokers, "through.")
	through.start()
	for _, msgs := range steps {
		through.produce(msgs)
	}
	want, wantCount := through.finish()

	restarted := newStreamRun(t, brokers, "restarted.")
	restarted.start()
	for i, msgs := range steps {
		// Stops at 4:30 and 8:00 of event time: two windows of each
		// container are open at the first, one at the second.
		if i == 9 || i == 16 {
			replay := restarted.stop()
			if replay == 0 {
				t.Errorf("stop before step %d: all offsets committed, want the records of open windows held back", i)
			}
			restarted.start()
			// The samples before the open windows come again, and so do
			// records of other containers on the same partitions.
			if n := restarted.scorer.Stats().ReplayedRecords; n == 0 {
				t.Errorf("restart before step %d: ReplayedRecords = 0, want the records of stored windows skipped", i)
			}
		}
		restarted.produce(msgs)
	}
	got, gotCount := restarted.finish()

	checks := map[string]string{
		"web windows without the scan's critical finding":   "image_id = 'sha256:web' AND vulnerabilities_critical_fixable != 1",
		"web windows without the scan's high finding":       "image_id = 'sha256:web' AND vulnerabilities_high_unfixable != 1",
		"windows without the host's end of life":            "host_os_end_of_life != 1",
		"windows of other images with vulnerability counts": "image_id != 'sha256:web' AND vulnerabilities_critical_fixable != 0",
	}
	for name, where := range checks {
		_, rows, err := restarted.store.Query(context.Background(), "SELECT count() FROM features FINAL WHERE "+where)
		if err != nil {
			t.Fatal(err)
		}
		if n := rows[0][0].(uint64); n != 0 {
			t.Errorf("%s after restarts: %d, want 0", name, n)
		}
	}

	if len(want) == 0 {
		t.Fatal("the uninterrupted scorer stored no features")
	}
	if gotCount != uint64(len(got)) {
		t.Errorf("restarted scorer stored %d feature rows for %d windows, want each window once", gotCount, len(got))
	}
	if wantCount != uint64(len(want)) {
		t.Errorf("uninterrupted scorer stored %d feature rows for %d windows", wantCount, len(want))
	}
	if len(got) != len(want) {
		t.Fatalf("restarted scorer stored %d windows, want %d", len(got), len(want))
	}
	for i := range want {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Errorf("window %d after restarts:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}
