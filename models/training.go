package models

import (
	"math"

	"github.com/harrierhq/harrier/features"
)

// minContainerBaseline is the number of a container's own training windows
// needed before its explanations compare against its own baseline instead
// of the fleet's.
const minContainerBaseline = 10

// maxContainerRows caps the raw windows kept per container for its
// baseline; the oldest are dropped first.
const maxContainerRows = 1440

// trainingSet holds the windows the fleet forest is trained on: log-scaled
// rows for the forest, and raw rows per container for explanations.
type trainingSet struct {
	scaled [][]float64
	raw    [][]float64
	byID   map[string][][]float64

	forest   *IsolationForest
	fittedOn int
	// baselines is computed at each fit, by container id; fleet is used for
	// containers with too few windows of their own.
	baselines map[string]Baseline
	fleet     Baseline
}

func newTrainingSet() *trainingSet {
	return &trainingSet{byID: make(map[string][][]float64)}
}

func (t *trainingSet) len() int {
	return len(t.scaled)
}

// NOTE: the training set grows without bound while the role runs, by about
// 200 bytes per window, and each refit scores every training row. A long
// run needs a sliding or reservoir sample.
func (t *trainingSet) add(w features.Window, scaled []float64) {
	t.scaled = append(t.scaled, scaled)
	t.raw = append(t.raw, w.Values)
	rows := append(t.byID[w.ContainerID], w.Values)
	if len(rows) > maxContainerRows {
		rows = rows[len(rows)-maxContainerRows:]
	}
	t.byID[w.ContainerID] = rows
}

// needsFit reports whether there is no forest yet or the training set grew
// by at least growth (a share) since the last fit.
func (t *trainingSet) needsFit(growth float64) bool {
	if t.forest == nil {
		return true
	}
	return float64(len(t.scaled)) >= float64(t.fittedOn)*(1+growth)
}

func (t *trainingSet) fit(cfg ForestConfig) error {
	forest, err := Fit(t.scaled, cfg)
	if err != nil {
		return err
	}
	fleet, err := NewBaseline(features.FeatureNames, t.raw)
	if err != nil {
		return err
	}
	baselines := make(map[string]Baseline, len(t.byID))
	for id, rows := range t.byID {
		if len(rows) < minContainerBaseline {
			continue
		}
		b, err := NewBaseline(features.FeatureNames, rows)
		if err != nil {
			return err
		}
		baselines[id] = b
	}
	t.forest = forest
	t.fittedOn = len(t.scaled)
	t.fleet = fleet
	t.baselines = baselines
	return nil
}

// baseline returns the container's own baseline when it has enough
// training windows, or the fleet's.
func (t *trainingSet) baseline(containerID string) Baseline {
	if b, ok := t.baselines[containerID]; ok {
		return b
	}
	return t.fleet
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
	rows := t.byID[w.ContainerID]
	if len(rows) < minContainerBaseline {
		return out
	}
	column := make([]float64, len(rows))
	for i := range n {
		for j, row := range rows {
			column[j] = row[i]
		}
		out[n+i] = out[i] - logScale(median(column))
	}
	return out
}

// logScale returns log1p(v), with negative values, which no feature should
// have, clamped to 0.
func logScale(v float64) float64 {
	return math.Log1p(math.Max(v, 0))
}
