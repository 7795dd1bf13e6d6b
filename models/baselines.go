package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/harrierhq/harrier/features"
	"github.com/harrierhq/harrier/internal/record"
)

// Defaults of BaselineConfig.
const (
	// DefaultMinWorkloadWindows is one day of one-minute windows, so that
	// a workload's own model has seen its daily cycle. Workload models fitted
	// on the first hour flagged the morning rise of every container in
	// harrier eval scenarios (85 false alerts in 15 container-days against
	// 15 with this default).
	DefaultMinWorkloadWindows     = 1440
	DefaultHistory                = 7 * 24 * time.Hour
	DefaultFleetHistoryWindows    = 50000
	DefaultWorkloadHistoryWindows = 10080
	DefaultRetrainInterval        = time.Hour
)

// Values of the baseline column of the scores table.
const (
	baselineWorkload = "workload"
	baselineFleet    = "fleet"
)

// BaselineConfig configures the per-workload models of a Scorer. Each
// workload (see WorkloadKey) gets its own isolation forest once it has
// MinWorkloadWindows training windows. Until then the fleet model, trained
// on the windows of every container, scores its windows, and their alerts
// state that.
type BaselineConfig struct {
	// WorkloadLabels are the container labels that name a workload, first
	// match wins. Nil means DefaultWorkloadLabels, and an empty non-nil list
	// uses no labels.
	WorkloadLabels []string
	// MinWorkloadWindows is the number of a workload's training windows
	// needed before its own model scores it. Default 60.
	MinWorkloadWindows int
	// History is the maximum age of a training window, in event time,
	// relative to the newest window of the same training set. Default 7
	// days. Workloads without a window for this long are forgotten.
	History time.Duration
	// FleetHistoryWindows and WorkloadHistoryWindows cap the windows kept
	// for the fleet model and for each workload model. The oldest are
	// dropped first. Defaults 50,000 and 10,080 (7 days of one-minute
	// windows).
	FleetHistoryWindows    int
	WorkloadHistoryWindows int
	// RetrainInterval is the event time after which a model is fitted again
	// on its current history. Default 1 hour. Models are also fitted when
	// their history grew by a quarter since the last fit and, for a
	// workload, after 10 windows of a new image digest.
	RetrainInterval time.Duration
	// Registry receives every fitted model. Nil keeps models in memory
	// only.
	Registry *Registry
}

func (c BaselineConfig) withDefaults() BaselineConfig {
	if c.WorkloadLabels == nil {
		c.WorkloadLabels = DefaultWorkloadLabels
	}
	if c.MinWorkloadWindows <= 0 {
		c.MinWorkloadWindows = DefaultMinWorkloadWindows
	}
	if c.History <= 0 {
		c.History = DefaultHistory
	}
	if c.FleetHistoryWindows <= 0 {
		c.FleetHistoryWindows = DefaultFleetHistoryWindows
	}
	if c.WorkloadHistoryWindows <= 0 {
		c.WorkloadHistoryWindows = DefaultWorkloadHistoryWindows
	}
	if c.RetrainInterval <= 0 {
		c.RetrainInterval = DefaultRetrainInterval
	}
	return c
}

// noteContainer records the inventory of a container record, which decides
// the workload of the container's windows. The caller holds s.mu.
func (s *Scorer) noteContainer(env record.Envelope) {
	if env.Kind != record.KindContainer {
		return
	}
	var c record.Container
	// The windower has already decoded this payload without error.
	if err := json.Unmarshal(env.Payload, &c); err != nil || c.ContainerID == "" {
		return
	}
	info := containerInfoFrom(c)
	info.noted = time.Unix(0, c.TimeNs)
	s.containers[c.ContainerID] = info
}

// WorkloadInventoryQuery reads the inventory that decides each container's
// workload, for a scorer that starts after the inventory records were
// consumed: the collector sends a container's record only when it changes.
const WorkloadInventoryQuery = `SELECT container_id, namespace, pod, labels, image_ref, image_id, toInt64(seen_at)
FROM containers FINAL`

// loadInventory fills the container inventory from the containers table.
// A container whose record arrives from Kafka later gets that record's
// inventory instead.
func (s *Scorer) loadInventory(ctx context.Context) error {
	if s.store == nil {
		return nil
	}
	rows, err := s.store.Conn().Query(ctx, WorkloadInventoryQuery)
	if err != nil {
		return fmt.Errorf("load container inventory: %w", err)
	}
	defer rows.Close()

	loaded := make(map[string]containerInfo)
	invalidLabels := 0
	for rows.Next() {
		var c record.Container
		var labels string
		var seen int64
		if err := rows.Scan(&c.ContainerID, &c.Namespace, &c.Pod, &labels, &c.ImageRef, &c.ImageID, &seen); err != nil {
			return fmt.Errorf("load container inventory: %w", err)
		}
		if err := json.Unmarshal([]byte(labels), &c.Labels); err != nil {
			invalidLabels++
			c.Labels = nil
		}
		info := containerInfoFrom(c)
		info.noted = time.Unix(seen, 0)
		loaded[c.ContainerID] = info
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load container inventory: %w", err)
	}
	if invalidLabels > 0 {
		s.logger.Warn("Ignored invalid container labels in the containers table", "containers", invalidLabels)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for id, info := range loaded {
		if _, ok := s.containers[id]; !ok {
			s.containers[id] = info
		}
	}
	s.logger.Info("Loaded container inventory for workload models", "containers", len(loaded))
	return nil
}

// workloadOf returns the workload key of the window's container, from its
// inventory record or, without one, from the window's image.
func (s *Scorer) workloadOf(w features.Window) string {
	info := s.containers[w.ContainerID]
	imageRef := info.imageRef
	if imageRef == "" {
		imageRef = w.ImageRef
	}
	imageID := info.imageID
	if imageID == "" {
		imageID = w.ImageID
	}
	return WorkloadKey(info.namespace, info.pod, info.labels, imageRef, imageID, s.cfg.Baselines.WorkloadLabels)
}

// workloadSet returns the training set of a workload, created on first
// use, or nil for the empty key.
func (s *Scorer) workloadSet(key string) *trainingSet {
	if key == "" {
		return nil
	}
	t := s.workloads[key]
	if t == nil {
		t = newTrainingSet(key, historyLimit{MaxWindows: s.cfg.Baselines.WorkloadHistoryWindows, MaxAge: s.cfg.Baselines.History})
		s.workloads[key] = t
	}
	return t
}

// addTraining adds window w, whose forest row is scaled, to the fleet's
// and its workload's training sets.
func (s *Scorer) addTraining(w features.Window, scaled []float64, workload *trainingSet) {
	// A pending window's values may live in an Arrow batch that is released
	// once the window is done, and the training sets outlive it.
	w.Values = slices.Clone(w.Values)
	s.train.add(w, scaled)
	if workload != nil {
		workload.add(w, scaled)
	}
}

// chooseModel returns the model that scores window p, fitted or refitted
// as needed: the workload's own once it has MinWorkloadWindows training
// windows, else the fleet's. It returns nil when no model could be fitted.
// It sets p's fallback fields when the fleet model is chosen.
func (s *Scorer) chooseModel(p *pendingWindow, workload *trainingSet) *trainingSet {
	end := p.window.End()
	minWindows := s.cfg.Baselines.MinWorkloadWindows
	if workload != nil && workload.len() >= minWindows {
		if reason := workload.fitReason(end, refitGrowth, s.cfg.Baselines.RetrainInterval); reason != "" {
			s.fitModel(workload, reason)
		}
		if workload.forest != nil {
			return workload
		}
	}
	if reason := s.train.fitReason(end, refitGrowth, s.cfg.Baselines.RetrainInterval); reason != "" {
		s.fitModel(s.train, reason)
	}
	if s.train.forest == nil {
		return nil
	}

	p.fallback = true
	switch {
	case workload == nil:
		p.fallbackNote = "scored by the fleet model: the container has no workload label, pod or image to train a model of its own"
	case workload.forest != nil:
		// The history shrank below the minimum, for example after a long
		// pause of the workload.
		p.fallbackNote = fmt.Sprintf("scored by the fleet model: workload %s has %d of the %d recent training windows its own model needs",
			workload.workload, workload.len(), minWindows)
	default:
		p.fallbackNote = fmt.Sprintf("scored by the fleet model: workload %s is new, with %d of the %d training windows its own model needs",
			workload.workload, workload.len(), minWindows)
	}
	return s.train
}

// fitModel fits t on its history, gives the forest a version and saves it
// to the registry. On failure it keeps t's previous forest, if any.
func (s *Scorer) fitModel(t *trainingSet, reason string) {
	name := t.workload
	if name == "" {
		name = FleetWorkload
	}
	cfg := ForestConfig{Trees: s.cfg.Trees, Subsample: s.cfg.Subsample, Seed: s.cfg.Seed, Contamination: s.cfg.Contamination, ExtendRange: true}
	started := time.Now()
	if err := t.fit(cfg); err != nil {
		// Fit fails on malformed rows or an invalid Contamination.
		s.logger.Error("Fitting the isolation forest failed", "err", err, "workload", name, "training_windows", t.len())
		return
	}
	elapsed := time.Since(started)

	first, last := t.samples[0].start, t.samples[len(t.samples)-1].end
	info := ModelInfo{
		Workload:        name,
		Algorithm:       ModelName,
		CreatedAt:       s.now().UTC(),
		Reason:          reason,
		TrainingFrom:    first.UTC(),
		TrainingTo:      last.UTC(),
		TrainingWindows: t.len(),
		ImageIDs:        t.imageIDs(),
		Features:        vectorNames(),
		Trees:           s.cfg.Trees,
		Subsample:       s.cfg.Subsample,
		Seed:            s.cfg.Seed,
		Contamination:   s.cfg.Contamination,
		ExtendRange:     cfg.ExtendRange,
		Threshold:       t.forest.Threshold(),
		Metrics:         t.forest.training,
	}
	info.Metrics.FitSeconds = elapsed.Seconds()
	info.Version = forestVersion(info)
	t.info = info
	s.stats.Refits++
	if t == s.train {
		s.modelVersion = info.Version
		s.forgetIdle(last)
	}
	// A fleet of many workloads refits a model a minute or more, so only
	// the fleet model's fits are logged at info level.
	level := slog.LevelDebug
	if t == s.train {
		level = slog.LevelInfo
	}
	s.logger.Log(context.Background(), level, "Fitted the isolation forest", "workload", name, "reason", reason,
		"training_windows", t.len(), "threshold", info.Threshold, "model_version", info.Version)

	if r := s.cfg.Baselines.Registry; r != nil {
		if err := r.Save(info, t.forest); err != nil {
			s.stats.RegistryErrors++
			s.logger.Error("Saving the model failed", "err", err, "model_version", info.Version, "dir", r.Dir())
		}
	}
}

// forgetIdle drops the workloads and container inventory not seen within
// the history before newest, so that memory follows the live fleet.
func (s *Scorer) forgetIdle(newest time.Time) {
	oldest := newest.Add(-s.cfg.Baselines.History)
	for key, t := range s.workloads {
		if t.len() == 0 || t.samples[t.len()-1].end.Before(oldest) {
			delete(s.workloads, key)
		}
	}
	for id, info := range s.containers {
		if _, training := s.train.byID[id]; !training && info.noted.Before(oldest) {
			delete(s.containers, id)
		}
	}
}

// baselineFor returns the baseline that explanations compare window w
// with: the container's own, else its workload's, else the fleet's.
func (s *Scorer) baselineFor(w features.Window, workload *trainingSet) Baseline {
	if b, ok := s.train.baseline(w.ContainerID); ok {
		return b
	}
	if workload != nil && workload.forest != nil && workload.fittedOn >= minContainerBaseline {
		return workload.overall
	}
	return s.train.overall
}

// imageIDs returns the distinct image digests of the training windows, in
// order of first appearance.
func (t *trainingSet) imageIDs() []string {
	var ids []string
	for _, s := range t.samples {
		if s.imageID != "" && !slices.Contains(ids, s.imageID) {
			ids = append(ids, s.imageID)
		}
	}
	return ids
}

// baselineKind returns the baseline column of the window's score row.
func (p *pendingWindow) baselineKind() string {
	if p.fallback {
		return baselineFleet
	}
	return baselineWorkload
}

// forestVersion returns the version of a fitted model: "iforest-" and 12
// hex digits of a SHA-256 digest of its workload, forest configuration,
// number of training windows and training range. Two fits share a version
// only when all of these match.
func forestVersion(info ModelInfo) string {
	key := fmt.Sprintf("workload=%s seed=%d trees=%d subsample=%d contamination=%g windows=%d from=%d to=%d",
		info.Workload, info.Seed, info.Trees, info.Subsample, info.Contamination, info.TrainingWindows,
		info.TrainingFrom.UnixNano(), info.TrainingTo.UnixNano())
	sum := sha256.Sum256([]byte(key))
	return "iforest-" + hex.EncodeToString(sum[:6])
}
