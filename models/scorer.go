package models

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/harrierhq/harrier/features"
	"github.com/harrierhq/harrier/features/drain"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/storage"
)

// ModelName is the name of the fleet model in the scores table and in
// alerts.
const ModelName = "isolation-forest"

// Defaults of ScorerConfig.
const (
	DefaultScoreGroup         = "harrier-score"
	DefaultMinTrainingWindows = 30
)

// refitGrowth is the growth of the training set, as a share of the set the
// current forest was fitted on, that triggers a refit.
const refitGrowth = 0.25

// ScorerConfig configures a Scorer.
type ScorerConfig struct {
	// Brokers are the Kafka bootstrap addresses that Run consumes from.
	Brokers []string
	// TopicPrefix is prepended to the topic suffixes, for example "harrier.".
	TopicPrefix string
	// Group is the consumer group id. Default "harrier-score".
	Group string
	// Window is the tumbling window length. Default 1 minute.
	Window time.Duration
	// AllowedLateness is how late a record may arrive and still count in
	// its window. Default 30 seconds. A bounded replay whose topics arrive
	// one after another needs it as long as the replay.
	AllowedLateness time.Duration
	// MinTrainingWindows is the number of earlier training windows needed
	// before a window is scored. The earliest windows only train. Default 30.
	MinTrainingWindows int
	// Trees and Subsample configure the isolation forest (defaults 100 and
	// 256).
	Trees, Subsample int
	// Contamination sets the threshold as the (1 − Contamination) quantile
	// of the training scores. Default 0.01.
	Contamination float64
	// Seed makes the forest, and so the scores, reproducible.
	Seed int64
	// Templates is the log template miner behind the new_shapes feature:
	// the number of messages in a window that open a template never seen
	// before for the container's image. Give it the templates table as its
	// store so that it shares templates with the normalizer. Nil counts new
	// masked message shapes instead (features.Shapes).
	Templates *drain.Miner
	// Metrics receives the role's metrics. They are the consumer's records
	// in, lag and batches, records dropped as "invalid", "late" or
	// "replayed", rows out to the features and scores tables, and alerts
	// out to the alerts topic. The record latency is the time from a
	// window's end to the storing of its features. Nil records none.
	Metrics *metrics.Role
	// Baselines configures the per-workload models and the rolling
	// training history.
	Baselines BaselineConfig
}

// Emitter sends messages to Kafka. *kafka.Producer implements it.
type Emitter interface {
	Write(ctx context.Context, msgs ...kafka.Message) error
}

// ScorerStats counts the work of a Scorer.
type ScorerStats struct {
	// RecordsConsumed is the number of log, metric, container, scan and
	// host records added to windows, late ones included.
	RecordsConsumed int64
	// InvalidRecords is the number of messages that failed to decode. The
	// normalizer dead-letters them, so the scorer only skips them.
	InvalidRecords int64
	// LateRecords is the number of records dropped because their window had
	// closed.
	LateRecords int64
	// ReplayedRecords is the number of records dropped because their window
	// was stored before the scorer started, mostly records that Kafka
	// delivers again after a restart.
	ReplayedRecords int64
	// WindowsClosed is the number of closed windows.
	WindowsClosed int64
	// PartialWindows is the number of windows that Flush closed before
	// their end was reached. They are stored but neither scored nor used
	// for training.
	PartialWindows int64
	// WindowsScored is the number of windows the forest scored.
	WindowsScored int64
	// AnomalousWindows is the number of scored windows at or above the
	// threshold.
	AnomalousWindows int64
	// AlertsEmitted is the number of alert records written to Kafka.
	AlertsEmitted int64
	// Refits is the number of times the forest was fitted.
	Refits int64
	// TrainingWindows is the current size of the fleet training set.
	TrainingWindows int64
	// WorkloadModels is the number of workloads with a model of their own.
	WorkloadModels int64
	// FallbackWindows is the number of windows the fleet model scored
	// because their workload had no model of its own.
	FallbackWindows int64
	// RegistryErrors is the number of fitted models that could not be
	// saved to the registry.
	RegistryErrors int64
}

// Scorer is the score role. It windows the logs, metrics and inventory
// topics into per-container feature vectors and stores each closed window
// in the features table. It scores the window with its workload's isolation
// forest, or the fleet's while the workload has none, trained on earlier
// windows, and stores the score in the scores table. For an anomalous
// window it sends an alert record.
//
// Offsets are committed only up to the first record of a window still
// open, and a restarted scorer skips the records of windows already in the
// features table, so a restart counts every record once. A restarted
// scorer also reloads its training history from the features table.
type Scorer struct {
	cfg      ScorerConfig
	store    *storage.Store
	out      Emitter
	logger   *slog.Logger
	windower *features.Windower
	now      func() time.Time

	mu      sync.Mutex
	pending []*pendingWindow
	train   *trainingSet
	stats   ScorerStats
	// modelVersion identifies the current fleet forest, see forestVersion.
	// It is empty before the first fit.
	modelVersion string
	// workloads holds the training set and model of each workload, and
	// containers the inventory that decides a container's workload.
	workloads  map[string]*trainingSet
	containers map[string]containerInfo
	// batches are the Arrow record batches that hold the vectors of the
	// pending windows, released once the windows are done.
	batches []arrow.RecordBatch
	// commits tracks the offsets CommitOffset holds back.
	commits commitTracker
}

// pendingWindow is a closed window on its way to storage and Kafka. Each
// step is marked done, so that a batch retried after a storage error does
// not repeat a step whose effects are already in place.
type pendingWindow struct {
	// window's Values and Extra are slices of a batch in Scorer.batches.
	window  features.Window
	batched bool

	featuresStored bool
	decided        bool
	scored         bool
	scoresStored   bool
	alertSent      bool

	score     float64
	threshold float64
	anomalous bool
	drivers   []Driver
	// modelVersion identifies the forest that scored the window.
	modelVersion string
	// workload is the window's workload key, and fallback is set when the
	// fleet model scored it because the workload has no model of its own.
	workload string
	fallback bool
	// fallbackNote is the plain-words reason why the fleet model scored the
	// window, for the alert.
	fallbackNote string
}

// NewScorer returns a Scorer with cfg's defaults filled in. A nil store
// skips the features and scores tables; a nil out drops alerts.
func NewScorer(cfg ScorerConfig, store *storage.Store, out Emitter, logger *slog.Logger) *Scorer {
	if cfg.Group == "" {
		cfg.Group = DefaultScoreGroup
	}
	if cfg.Window <= 0 {
		cfg.Window = features.DefaultWindowSize
	}
	if cfg.AllowedLateness == 0 {
		cfg.AllowedLateness = features.DefaultAllowedLateness
	}
	if cfg.MinTrainingWindows <= 0 {
		cfg.MinTrainingWindows = DefaultMinTrainingWindows
	}
	if cfg.Trees <= 0 {
		cfg.Trees = DefaultTrees
	}
	if cfg.Subsample <= 0 {
		cfg.Subsample = DefaultSubsample
	}
	if cfg.Contamination <= 0 {
		cfg.Contamination = DefaultContamination
	}
	cfg.Baselines = cfg.Baselines.withDefaults()
	if logger == nil {
		logger = slog.Default()
	}
	return &Scorer{
		cfg:        cfg,
		store:      store,
		out:        out,
		logger:     logger.With("component", "scorer"),
		windower:   features.NewWindower(features.WindowConfig{Size: cfg.Window, AllowedLateness: cfg.AllowedLateness, Templates: cfg.Templates}),
		now:        time.Now,
		train:      newTrainingSet("", historyLimit{MaxWindows: cfg.Baselines.FleetHistoryWindows, MaxAge: cfg.Baselines.History}),
		workloads:  make(map[string]*trainingSet),
		containers: make(map[string]containerInfo),
	}
}

// Run consumes the logs, metrics and inventory topics as a member of the
// consumer group until ctx is done.
func (s *Scorer) Run(ctx context.Context) error {
	s.logger.Info("Scorer started", "group", s.cfg.Group, "window", s.cfg.Window,
		"allowed_lateness", s.cfg.AllowedLateness, "min_training_windows", s.cfg.MinTrainingWindows)
	if err := s.resume(ctx); err != nil {
		return fmt.Errorf("score role: %w", err)
	}
	if err := s.loadInventory(ctx); err != nil {
		return fmt.Errorf("score role: %w", err)
	}
	if err := s.loadHistory(ctx); err != nil {
		return fmt.Errorf("score role: %w", err)
	}
	err := kafka.Consume(ctx, kafka.ConsumerConfig{
		Brokers:     s.cfg.Brokers,
		TopicPrefix: s.cfg.TopicPrefix,
		Group:       s.cfg.Group,
		Topics:      ScoreTopics,
		Role:        s.cfg.Metrics,
		Logger:      s.logger,
		// Records of open windows stay uncommitted, so a restart reads
		// them again.
		CommitOffset: s.CommitOffset,
	}, s.HandleBatch)
	st := s.Stats()
	s.logger.Info("Scorer stopped", "records", st.RecordsConsumed, "windows_closed", st.WindowsClosed,
		"windows_scored", st.WindowsScored, "late_records", st.LateRecords, "alerts", st.AlertsEmitted)
	if err != nil {
		return fmt.Errorf("score role: %w", err)
	}
	return nil
}

// HandleBatch adds the records of batch to their windows, then stores,
// scores and alerts on every window that closed. It returns an error only
// when storage or Kafka fail. The windows are then kept and retried on the
// next call. A record redelivered with the same id is not counted twice
// while its window is open.
func (s *Scorer) HandleBatch(ctx context.Context, batch []kafka.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	invalid := 0
	before := s.windower.Stats()
	for _, m := range batch {
		env, err := record.Decode(m.Value)
		if err != nil {
			invalid++
			continue
		}
		switch env.Kind {
		case record.KindLog, record.KindMetric, record.KindContainer, record.KindScan, record.KindHost:
		default:
			continue
		}
		closed, err := s.windower.AddEnvelopeAt(env, features.Position{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset})
		if err != nil {
			invalid++
			continue
		}
		s.stats.RecordsConsumed++
		s.noteContainer(env)
		s.enqueue(closed)
	}
	if invalid > 0 {
		s.stats.InvalidRecords += int64(invalid)
		s.cfg.Metrics.Dropped("invalid", invalid)
		s.logger.Warn("Skipped invalid records", "count", invalid, "batch", len(batch))
	}
	after := s.windower.Stats()
	if late := after.Late - before.Late; late > 0 {
		s.cfg.Metrics.Dropped("late", int(late))
	}
	if replayed := after.Replayed - before.Replayed; replayed > 0 {
		s.cfg.Metrics.Dropped("replayed", int(replayed))
	}
	return s.process(ctx)
}

// Flush closes every open window, as at the end of a bounded replay, and
// stores, scores and alerts on them.
func (s *Scorer) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.enqueue(s.windower.Flush())
	return s.process(ctx)
}

// Stats returns a copy of the counters.
func (s *Scorer) Stats() ScorerStats {
	s.mu.Lock()
	defer s.mu.Unlock()

	st := s.stats
	st.LateRecords = s.windower.Stats().Late
	st.ReplayedRecords = s.windower.Stats().Replayed
	st.TrainingWindows = int64(s.train.len())
	for _, t := range s.workloads {
		if t.forest != nil {
			st.WorkloadModels++
		}
	}
	return st
}

func (s *Scorer) enqueue(windows []features.Window) {
	for _, w := range windows {
		s.pending = append(s.pending, &pendingWindow{window: w})
		s.stats.WindowsClosed++
	}
}

// process takes the pending windows through their steps in order: store
// features, decide (score or train), store scores, send alerts. The caller
// holds s.mu.
func (s *Scorer) process(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	s.batchPending()
	if err := s.storeFeatures(ctx); err != nil {
		return err
	}
	if err := s.saveTemplates(ctx); err != nil {
		return err
	}
	for _, p := range s.pending {
		if !p.decided {
			s.decide(p)
		}
	}
	if err := s.storeScores(ctx); err != nil {
		return err
	}
	if err := s.sendAlerts(ctx); err != nil {
		return err
	}
	s.pending = s.pending[:0]
	s.releaseBatches()
	return nil
}

// decide scores a window once enough earlier windows train the fleet
// forest, with its workload's model when the workload has one and with the
// fleet's otherwise. It adds the window to the training sets unless it is
// anomalous.
func (s *Scorer) decide(p *pendingWindow) {
	p.decided = true
	if p.window.Partial {
		// A partial window's counts cover only part of its length, so it
		// would look like a sudden drop.
		s.stats.PartialWindows++
		return
	}
	scaled := s.train.vector(p.window)
	p.workload = s.workloadOf(p.window)
	workload := s.workloadSet(p.workload)
	if s.train.len() < s.cfg.MinTrainingWindows {
		s.addTraining(p.window, scaled, workload)
		return
	}
	model := s.chooseModel(p, workload)
	if model == nil {
		s.addTraining(p.window, scaled, workload)
		return
	}

	p.scored = true
	if p.fallback {
		s.stats.FallbackWindows++
	}
	p.modelVersion = model.info.Version
	p.score = model.forest.Score(scaled)
	p.threshold = model.forest.Threshold()
	// Scores of 0.5 and below mean that no window is isolated early, for
	// example when every training row is the same.
	if p.score >= p.threshold && p.score > 0.5 {
		p.drivers = s.baselineFor(p.window, workload).Explain(p.window.Values)
		p.anomalous = slices.ContainsFunc(p.drivers, Driver.Significant)
	}
	s.stats.WindowsScored++
	if !p.anomalous {
		p.drivers = nil
		s.addTraining(p.window, scaled, workload)
		return
	}
	s.stats.AnomalousWindows++
}

func (s *Scorer) storeFeatures(ctx context.Context) error {
	var rows [][]any
	var stored []*pendingWindow
	computed := s.now().UTC()
	for _, p := range s.pending {
		if p.featuresStored {
			continue
		}
		w := p.window
		v := w.Values
		rows = append(rows, []any{
			w.ContainerID, w.HostID, w.ImageID, w.Start, w.Start.UnixNano(), uint32(w.Size / time.Second),
			v[features.IndexCPUCores], v[features.IndexCPUThrottledRatio], v[features.IndexMemoryWorkingSetBytes],
			v[features.IndexLogLines], v[features.IndexErrorLines], v[features.IndexNewShapes], computed,
		})
		row := rows[len(rows)-1]
		for i := range features.ExtraFeatureNames {
			var x float64
			if i < len(w.Extra) {
				x = w.Extra[i]
			}
			row = append(row, x)
		}
		rows[len(rows)-1] = row
		stored = append(stored, p)
	}
	if s.store != nil && len(rows) > 0 {
		if err := s.store.Insert(ctx, "features", featureColumns, rows); err != nil {
			return fmt.Errorf("store %d feature windows: %w", len(rows), err)
		}
	}
	for _, p := range stored {
		p.featuresStored = true
		s.cfg.Metrics.Latency(computed.Sub(p.window.Start.Add(p.window.Size)).Seconds())
	}
	if s.store != nil {
		s.cfg.Metrics.Out("features", len(rows))
	}
	return nil
}

// featureColumns names the columns of a features row: the window, the
// model features, computed_at, then features.ExtraFeatureNames.
var featureColumns = append([]string{
	"container_id", "host_id", "image_id", "window_start", "window_ns", "window_s",
	"cpu_cores", "cpu_throttled_ratio", "memory_working_set_bytes",
	"log_lines", "error_lines", "new_shapes", "computed_at",
}, features.ExtraFeatureNames...)

var scoreColumns = []string{
	"container_id", "host_id", "image_id", "window_start", "model",
	"score", "threshold", "anomalous", "explanation", "scored_at",
	"model_version", "workload", "baseline",
}

func (s *Scorer) storeScores(ctx context.Context) error {
	var rows [][]any
	var stored []*pendingWindow
	scoredAt := s.now().UTC()
	for _, p := range s.pending {
		if !p.scored || p.scoresStored {
			continue
		}
		w := p.window
		var anomalous uint8
		if p.anomalous {
			anomalous = 1
		}
		rows = append(rows, []any{
			w.ContainerID, w.HostID, w.ImageID, w.Start, ModelName,
			p.score, p.threshold, anomalous, strings.Join(driverTexts(p.drivers), "; "), scoredAt,
			p.modelVersion, p.workload, p.baselineKind(),
		})
		stored = append(stored, p)
	}
	if s.store != nil && len(rows) > 0 {
		if err := s.store.Insert(ctx, "scores", scoreColumns, rows); err != nil {
			return fmt.Errorf("store %d scores: %w", len(rows), err)
		}
	}
	for _, p := range stored {
		p.scoresStored = true
	}
	if s.store != nil {
		s.cfg.Metrics.Out("scores", len(rows))
	}
	return nil
}

func (s *Scorer) sendAlerts(ctx context.Context) error {
	var msgs []kafka.Message
	var sent []*pendingWindow
	for _, p := range s.pending {
		if !p.anomalous || p.alertSent {
			continue
		}
		msg, err := alertMessage(p, s.now())
		if err != nil {
			return err
		}
		msgs = append(msgs, msg)
		sent = append(sent, p)
	}
	if len(msgs) == 0 {
		return nil
	}
	if s.out != nil {
		if err := s.out.Write(ctx, msgs...); err != nil {
			return fmt.Errorf("send %d alerts: %w", len(msgs), err)
		}
		s.stats.AlertsEmitted += int64(len(msgs))
		s.cfg.Metrics.Out(record.TopicAlerts, len(msgs))
	}
	for _, p := range sent {
		p.alertSent = true
		s.logger.Info("Anomalous window", "container_id", p.window.ContainerID, "container_name", p.window.ContainerName,
			"window_start", p.window.Start, "score", p.score, "threshold", p.threshold)
	}
	return nil
}

func driverTexts(drivers []Driver) []string {
	texts := make([]string, len(drivers))
	for i, d := range drivers {
		texts[i] = d.Text
	}
	return texts
}
