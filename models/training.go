package models

import (
	"math"
	"time"

	"github.com/harrierhq/harrier/features"
)

// minContainerBaseline is the number of a container's own training windows
// needed before its explanations compare against its own baseline instead
// of its workload's or the fleet's. A workload model is also refitted once
// this many windows of a new image digest have arrived.
const minContainerBaseline = 10

// maxContainerRows caps the raw windows kept per container for its
// baseline; the oldest are dropped first.
const maxContainerRows = 1440

// historyLimit bounds a training set. A window leaves the set when it is
// more than MaxAge older than the newest window, or when more than
// MaxWindows newer windows have arrived.
type historyLimit struct {
	MaxWindows int
	MaxAge     time.Duration
}

// trainingSample is one window of a training set.
type trainingSample struct {
	start   time.Time
	end     time.Time
	imageID string
	scaled  []float64
	raw     []float64
}

// containerHistory is the raw rows of one container, for its baseline and
// for the relative half of its vectors.
type containerHistory struct {
	rows [][]float64
	last time.Time
}

// trainingSet is the rolling history one model is trained on, and the
// model fitted on it: the fleet's, or one workload's. Only the fleet set
// keeps per-container histories.
type trainingSet struct {
	// workload is the workload key, or "" for the fleet model.
	workload string
	limit    historyLimit
	samples  []trainingSample
	byID     map[string]*containerHistory

	forest        *IsolationForest
	info          ModelInfo
	fittedOn      int
	addedSinceFit int
	// fittedAt is the end of the newest training window at the last fit.
	// Scheduled retraining counts from it in event time.
	fittedAt time.Time
	// baselines is computed at each fit, by container id, for containers
	// with minContainerBaseline windows. overall covers every window.
	baselines map[string]Baseline
	overall   Baseline

	// imageID is the image digest the workload ran at the last fit.
	// newImageID is a different digest seen since, with newImageWindows
	// training windows so far.
	imageID         string
	newImageID      string
	newImageWindows int
}

func newTrainingSet(workload string, limit historyLimit) *trainingSet {
	t := &trainingSet{workload: workload, limit: limit}
	if workload == "" {
		t.byID = make(map[string]*containerHistory)
	}
	return t
}

func (t *trainingSet) len() int {
	return len(t.samples)
}

// add appends window w, whose forest row is scaled, and drops the windows
// that fall out of the history.
func (t *trainingSet) add(w features.Window, scaled []float64) {
	t.samples = append(t.samples, trainingSample{start: w.Start, end: w.End(), imageID: w.ImageID, scaled: scaled, raw: w.Values})
	t.addedSinceFit++
	t.trim(w.End())

	if t.byID != nil {
		h := t.byID[w.ContainerID]
		if h == nil {
			h = &containerHistory{}
			t.byID[w.ContainerID] = h
		}
		h.rows = append(h.rows, w.Values)
		if len(h.rows) > maxContainerRows {
			h.rows = h.rows[len(h.rows)-maxContainerRows:]
		}
		h.last = w.End()
	}

	if t.workload == "" || w.ImageID == "" {
		return
	}
	switch {
	case t.imageID == "":
		t.imageID = w.ImageID
	case w.ImageID == t.imageID:
	case w.ImageID == t.newImageID:
		t.newImageWindows++
	default:
		t.newImageID = w.ImageID
		t.newImageWindows = 1
	}
}

// trim drops the windows older than the limit allows, given the end of
// the newest window. The samples are in arrival order, which is close to
// event-time order, so the scan stops at the first window young enough.
func (t *trainingSet) trim(newest time.Time) {
	drop := 0
	if t.limit.MaxWindows > 0 && len(t.samples) > t.limit.MaxWindows {
		drop = len(t.samples) - t.limit.MaxWindows
	}
	if t.limit.MaxAge > 0 {
		oldest := newest.Add(-t.limit.MaxAge)
		for drop < len(t.samples) && t.samples[drop].end.Before(oldest) {
			drop++
		}
	}
	if drop == 0 {
		return
	}
	// Re-slicing alone would keep the dropped rows reachable until the
	// next append grows the array, so copy once the waste is large.
	t.samples = t.samples[drop:]
	if cap(t.samples) > 2*len(t.samples)+64 {
		t.samples = append([]trainingSample(nil), t.samples...)
	}
}

// pruneContainers removes the containers whose newest training window is
// older than the history allows.
func (t *trainingSet) pruneContainers(newest time.Time) {
	if t.limit.MaxAge <= 0 {
		return
	}
	oldest := newest.Add(-t.limit.MaxAge)
	for id, h := range t.byID {
		if h.last.Before(oldest) {
			delete(t.byID, id)
		}
	}
}

// Reasons for fitting a model, as stored in ModelInfo.Reason.
const (
	reasonFirst     = "first fit"
	reasonGrowth    = "training set grew"
	reasonScheduled = "scheduled"
	reasonImage     = "image digest changed"
)

// fitReason returns why the model should be fitted before it scores a
// window that ends at now, or "" when the current forest stays. A fit is
// due when there is no forest yet, when the set grew by growth (a share of
// the rows of the last fit), when interval has passed in event time since
// the last fit, or when minContainerBaseline windows of a new image digest
// arrived.
func (t *trainingSet) fitReason(now time.Time, growth float64, interval time.Duration) string {
	switch {
	case t.forest == nil:
		return reasonFirst
	case t.newImageID != "" && t.newImageWindows >= minContainerBaseline:
		return reasonImage
	case float64(t.addedSinceFit) >= float64(t.fittedOn)*growth:
		return reasonGrowth
	case interval > 0 && !now.Before(t.fittedAt.Add(interval)):
		return reasonScheduled
	}
	return ""
}

// fit grows a new forest on the current history and computes the
// baselines of the explanations.
func (t *trainingSet) fit(cfg ForestConfig) error {
	scaled := make([][]float64, len(t.samples))
	raw := make([][]float64, len(t.samples))
	for i, s := range t.samples {
		scaled[i] = s.scaled
		raw[i] = s.raw
	}
	forest, err := Fit(scaled, cfg)
	if err != nil {
		return err
	}
	overall, err := NewBaseline(features.FeatureNames, raw)
	if err != nil {
		return err
	}
	newest := t.samples[len(t.samples)-1].end
	t.pruneContainers(newest)
	baselines := make(map[string]Baseline, len(t.byID))
	for id, h := range t.byID {
		if len(h.rows) < minContainerBaseline {
			continue
		}
		b, err := NewBaseline(features.FeatureNames, h.rows)
		if err != nil {
			return err
		}
		baselines[id] = b
	}

	t.forest = forest
	t.fittedOn = len(t.samples)
	t.addedSinceFit = 0
	t.fittedAt = newest
	t.overall = overall
	t.baselines = baselines
	if t.newImageID != "" && t.newImageWindows >= minContainerBaseline {
		t.imageID = t.newImageID
		t.newImageID = ""
		t.newImageWindows = 0
	}
	return nil
}

// baseline returns the container's own baseline when it has enough
// training windows, and false otherwise.
func (t *trainingSet) baseline(containerID string) (Baseline, bool) {
	b, ok := t.baselines[containerID]
	return b, ok
}

// vector returns the row the forest sees for window w: the log1p of each
// feature, so that counts and bytes spanning orders of magnitude split as
// evenly as rates, followed by the difference between that and the log1p
// of the container's own training median. The absolute half places a
// window in the fleet; the relative half shows a container leaving its own
// baseline, such as an idle sshd that starts using as much CPU as a busy
// worker. The relative half is 0 until the container has
// minContainerBaseline training windows.
func (t *trainingSet) vector(w features.Window) []float64 {
	n := len(w.Values)
	out := make([]float64, 2*n)
	for i, v := range w.Values {
		out[i] = logScale(v)
	}
	h := t.byID[w.ContainerID]
	if h == nil || len(h.rows) < minContainerBaseline {
		return out
	}
	column := make([]float64, len(h.rows))
	for i := range n {
		for j, row := range h.rows {
			column[j] = row[i]
		}
		out[n+i] = out[i] - logScale(median(column))
	}
	return out
}

// vectorNames returns the names of the columns of vector.
func vectorNames() []string {
	names := make([]string, 0, 2*len(features.FeatureNames))
	for _, n := range features.FeatureNames {
		names = append(names, "log1p("+n+")")
	}
	for _, n := range features.FeatureNames {
		names = append(names, "log1p("+n+") - log1p(container median)")
	}
	return names
}

// logScale returns log1p(v), with negative values, which no feature should
// have, clamped to 0.
func logScale(v float64) float64 {
	return math.Log1p(math.Max(v, 0))
}
