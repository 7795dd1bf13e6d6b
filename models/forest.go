// Package models scores feature windows with an isolation forest trained on
// earlier windows, explains anomalous windows in plain words, and runs the
// score role that turns Kafka records into features, scores and alerts.
package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mathext/prng"
	"gonum.org/v1/gonum/stat"
)

// Defaults of ForestConfig.
const (
	DefaultTrees         = 100
	DefaultSubsample     = 256
	DefaultContamination = 0.01
)

// eulerGamma is the Euler–Mascheroni constant, used to approximate the
// harmonic number H(i) as ln(i) + γ.
const eulerGamma = 0.5772156649015329

// ForestConfig configures Fit.
type ForestConfig struct {
	// Trees is the number of isolation trees. Default 100.
	Trees int
	// Subsample is the number of training rows, drawn without replacement,
	// that each tree is grown on (ψ). Default 256; capped at the number of
	// rows.
	Subsample int
	// Seed makes the forest deterministic: the same rows, configuration and
	// seed give the same trees.
	Seed int64
	// Contamination is the expected share of anomalies in the training rows.
	// The threshold is the (1 − Contamination) quantile of the training
	// scores, so about that share of the training rows would be flagged.
	// Default 0.01; must be in [0, 0.5).
	Contamination float64
	// ExtendRange scores a point that lies outside a node's training range
	// as if it had been in the tree's sample (see pathLengthExtended), so
	// that points far beyond the training data score higher than the most
	// extreme training rows. Default false: the path length of Liu, Ting
	// and Zhou. A point scores the same either way when it lies inside the
	// range of every node it reaches, as every row of a tree's own sample
	// does. Training rows outside a tree's sample can score differently.
	ExtendRange bool
	// Hyperplanes grows an extended isolation forest (Hariri, Carrasco Kind
	// and Brunner, "Extended Isolation Forest", IEEE TKDE 2021): each node
	// splits on a random hyperplane instead of a single feature. Default
	// false. ExtendRange does not apply to it.
	Hyperplanes bool
	// HyperplaneFeatures is the number of features with a nonzero
	// coefficient in each hyperplane, chosen at random per node; the
	// extension level of Hariri et al. is HyperplaneFeatures − 1. Default 0
	// means every feature. Ignored unless Hyperplanes is set.
	HyperplaneFeatures int
}

// IsolationForest is the model of Liu, Ting and Zhou, "Isolation Forest"
// (ICDM 2008): random trees that split on a random feature at a random
// value between the feature's minimum and maximum. An anomaly is isolated
// in fewer splits, so its average path length is short.
//
// The trees are stored as flat arrays, one entry per node, with the two
// children of a node next to each other. A fitted forest is read-only, so
// Score and ScoreBatch are safe for concurrent use.
type IsolationForest struct {
	nodes []node
	// low and high are the range of the split feature over the rows that
	// reached an axis-parallel node. Only ExtendRange scoring reads them.
	low  []float64
	high []float64
	// normals holds the hyperplane normals of a Hyperplanes forest, dims
	// values per split node; node.feature indexes it.
	normals []float64
	// roots is the index of each tree's root node.
	roots []int32
	// complete is the scoring layout of an axis-parallel forest without
	// ExtendRange, or nil.
	complete *completeTrees

	dims        int
	subsample   int
	extendRange bool
	hyperplanes bool
	threshold   float64
	// training summarizes the scores of the training rows. It is zero in a
	// forest read by UnmarshalBinary.
	training ModelMetrics
}

// node is one tree node. For a split node, feature is the split feature
// (or the hyperplane index), split is the split value, and x goes to
// child when x[feature] < split and to child+1 otherwise. For a leaf,
// feature is -1 and value is the path length of the leaf: its depth plus
// c(size) for the rows the height limit left unsplit.
type node struct {
	value   float64
	feature int32
	child   int32
	size    int32
	depth   int32
}

// AveragePathLength returns c(n), the average path length of an
// unsuccessful search in a binary search tree of n nodes:
// 2H(n−1) − 2(n−1)/n, with c(2) = 1 and c(n) = 0 for n ≤ 1.
func AveragePathLength(n int) float64 {
	switch {
	case n <= 1:
		return 0
	case n == 2:
		return 1
	}
	m := float64(n - 1)
	return 2*(math.Log(m)+eulerGamma) - 2*m/float64(n)
}

// Fit grows an isolation forest on the rows of X, which must all have the
// same number of features, and sets its threshold from the training scores.
func Fit(X [][]float64, cfg ForestConfig) (*IsolationForest, error) {
	cfg, dims, err := checkFitInput(X, cfg)
	if err != nil {
		return nil, err
	}
	psi := min(cfg.Subsample, len(X))

	f := &IsolationForest{
		dims:        dims,
		subsample:   psi,
		extendRange: cfg.ExtendRange && !cfg.Hyperplanes,
		hyperplanes: cfg.Hyperplanes,
	}
	g := &grower{f: f, X: X, rng: rand.New(prng.NewXoshiro256plusplus(uint64(cfg.Seed)))}
	g.heightLimit = int(math.Ceil(math.Log2(float64(max(psi, 2)))))
	g.planeFeatures = cfg.HyperplaneFeatures
	if g.planeFeatures <= 0 || g.planeFeatures > dims {
		g.planeFeatures = dims
	}
	g.lows = make([]float64, dims)
	g.highs = make([]float64, dims)

	indexes := make([]int, len(X))
	for i := range indexes {
		indexes[i] = i
	}
	for range cfg.Trees {
		// Partial Fisher–Yates shuffle: the first psi indexes become a
		// sample without replacement.
		for i := range psi {
			j := i + g.rng.IntN(len(indexes)-i)
			indexes[i], indexes[j] = indexes[j], indexes[i]
		}
		sample := slices.Clone(indexes[:psi])
		root := f.addNode()
		f.roots = append(f.roots, root)
		g.grow(root, sample, 0)
	}
	if !f.extendRange && !f.hyperplanes {
		f.complete = buildComplete(f, g.heightLimit)
	}

	scores := make([]float64, len(X))
	f.ScoreBatch(X, scores)
	slices.Sort(scores)
	f.threshold = stat.Quantile(1-cfg.Contamination, stat.Empirical, scores, nil)
	f.training = summarizeScores(scores, f.threshold)
	return f, nil
}

// checkFitInput validates the training rows and the configuration and
// returns the configuration with defaults filled in and the row width.
func checkFitInput(X [][]float64, cfg ForestConfig) (ForestConfig, int, error) {
	if len(X) == 0 {
		return cfg, 0, fmt.Errorf("invalid training set: no rows")
	}

	dims := len(X[0])
	if dims == 0 {
		return cfg, 0, fmt.Errorf("invalid training set: row 0 has no features")
	}
	for i, row := range X {
		if len(row) != dims {
			return cfg, 0, fmt.Errorf("invalid training set: row %d has %d features, row 0 has %d", i, len(row), dims)
		}
		if floats.HasNaN(row) {
			return cfg, 0, fmt.Errorf("invalid training set: row %d contains NaN", i)
		}
	}

	if cfg.Trees < 0 {
		return cfg, 0, fmt.Errorf("invalid forest config trees=%d: must be positive", cfg.Trees)
	}
	if cfg.Subsample < 0 {
		return cfg, 0, fmt.Errorf("invalid forest config subsample=%d: must be positive", cfg.Subsample)
	}
	if cfg.Contamination < 0 || cfg.Contamination >= 0.5 {
		return cfg, 0, fmt.Errorf("invalid forest config contamination=%v: must be in [0, 0.5)", cfg.Contamination)
	}
	if cfg.HyperplaneFeatures < 0 {
		return cfg, 0, fmt.Errorf("invalid forest config hyperplane features=%d: must be 0 (all) or positive", cfg.HyperplaneFeatures)
	}

	if cfg.Trees == 0 {
		cfg.Trees = DefaultTrees
	}
	if cfg.Subsample == 0 {
		cfg.Subsample = DefaultSubsample
	}
	if cfg.Contamination == 0 {
		cfg.Contamination = DefaultContamination
	}
	return cfg, dims, nil
}

// addNode appends an unset node and returns its index.
func (f *IsolationForest) addNode() int32 {
	f.nodes = append(f.nodes, node{feature: -1})
	f.low = append(f.low, 0)
	f.high = append(f.high, 0)
	return int32(len(f.nodes) - 1)
}

// Threshold returns the (1 − contamination) quantile of the training
// scores. A score at or above it is anomalous.
func (f *IsolationForest) Threshold() float64 {
	return f.threshold
}

// summarizeScores returns the median, 99th percentile and maximum of the
// sorted training scores and the share at or above threshold.
func summarizeScores(sorted []float64, threshold float64) ModelMetrics {
	flagged := len(sorted) - sort.SearchFloat64s(sorted, threshold)
	return ModelMetrics{
		ScoreMedian:  stat.Quantile(0.5, stat.Empirical, sorted, nil),
		ScoreP99:     stat.Quantile(0.99, stat.Empirical, sorted, nil),
		ScoreMax:     sorted[len(sorted)-1],
		FlaggedShare: float64(flagged) / float64(len(sorted)),
	}
}

// Trees returns the number of trees.
func (f *IsolationForest) Trees() int {
	return len(f.roots)
}

// Nodes returns the number of nodes over all trees.
func (f *IsolationForest) Nodes() int {
	return len(f.nodes)
}

// Dims returns the number of features the forest was trained on.
func (f *IsolationForest) Dims() int {
	return f.dims
}
