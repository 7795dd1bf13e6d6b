// Package models scores feature windows with an isolation forest trained on
// earlier windows, explains anomalous windows in plain words, and runs the
// score role that turns Kafka records into features, scores and alerts.
package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

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
}

// IsolationForest is the model of Liu, Ting and Zhou, "Isolation Forest"
// (ICDM 2008): random trees that split on a random feature at a random
// value between the feature's minimum and maximum. An anomaly is isolated
// in fewer splits, so its average path length is short.
//
// The trees are stored as flat arrays, one entry per node. A fitted forest
// is read-only, so Score is safe for concurrent use.
type IsolationForest struct {
	// feature is the split feature of a node, or -1 for a leaf.
	feature []int32
	// split is the split value: rows with x[feature] < split go left.
	split []float64
	// low and high are the range of the split feature over the rows that
	// reached a node.
	low  []float64
	high []float64
	// left and right are node indexes of the children.
	left  []int32
	right []int32
	// size is the number of training rows that reached a leaf.
	size []int32
	// roots is the index of each tree's root node.
	roots []int32

	dims      int
	subsample int
	threshold float64
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
	if len(X) == 0 {
		return nil, fmt.Errorf("invalid training set: no rows")
	}
	dims := len(X[0])
	if dims == 0 {
		return nil, fmt.Errorf("invalid training set: row 0 has no features")
	}
	for i, row := range X {
		if len(row) != dims {
			return nil, fmt.Errorf("invalid training set: row %d has %d features, row 0 has %d", i, len(row), dims)
		}
		if floats.HasNaN(row) {
			return nil, fmt.Errorf("invalid training set: row %d contains NaN", i)
		}
	}
	if cfg.Trees < 0 {
		return nil, fmt.Errorf("invalid forest config trees=%d: must be positive", cfg.Trees)
	}
	if cfg.Subsample < 0 {
		return nil, fmt.Errorf("invalid forest config subsample=%d: must be positive", cfg.Subsample)
	}
	if cfg.Contamination < 0 || cfg.Contamination >= 0.5 {
		return nil, fmt.Errorf("invalid forest config contamination=%v: must be in [0, 0.5)", cfg.Contamination)
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
	psi := min(cfg.Subsample, len(X))

	f := &IsolationForest{dims: dims, subsample: psi}
	rng := rand.New(prng.NewXoshiro256plusplus(uint64(cfg.Seed)))
	heightLimit := int(math.Ceil(math.Log2(float64(max(psi, 2)))))
	indexes := make([]int, len(X))
	for i := range indexes {
		indexes[i] = i
	}
	for range cfg.Trees {
		// Partial Fisher–Yates shuffle: the first psi indexes become a
		// sample without replacement.
		for i := range psi {
			j := i + rng.IntN(len(indexes)-i)
			indexes[i], indexes[j] = indexes[j], indexes[i]
		}
		sample := slices.Clone(indexes[:psi])
		f.roots = append(f.roots, f.grow(X, sample, 0, heightLimit, rng))
	}

	scores := make([]float64, len(X))
	for i, row := range X {
		scores[i] = f.Score(row)
	}
	slices.Sort(scores)
	f.threshold = stat.Quantile(1-cfg.Contamination, stat.Empirical, scores, nil)
	return f, nil
}

// grow builds the subtree over the rows X[rows] and returns its node index.
func (f *IsolationForest) grow(X [][]float64, rows []int, depth, heightLimit int, rng *rand.Rand) int32 {
	if depth >= heightLimit || len(rows) <= 1 {
		return f.leaf(len(rows))
	}

	// Choose among the features that still vary in this node, so that a
	// constant feature never wastes a level.
	var varying []int
	lows := make([]float64, f.dims)
	highs := make([]float64, f.dims)
	for d := range f.dims {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, r := range rows {
			lo = min(lo, X[r][d])
			hi = max(hi, X[r][d])
		}
		lows[d], highs[d] = lo, hi
		if hi > lo {
			varying = append(varying, d)
		}
	}
	if len(varying) == 0 {
		return f.leaf(len(rows))
	}
	d := varying[rng.IntN(len(varying))]
	split := lows[d] + rng.Float64()*(highs[d]-lows[d])
	if split <= lows[d] {
		// Keep the minimum on the left so that neither side is empty.
		split = highs[d]
	}

	var leftRows, rightRows []int
	for _, r := range rows {
		if X[r][d] < split {
			leftRows = append(leftRows, r)
		} else {
			rightRows = append(rightRows, r)
		}
	}

	node := int32(len(f.feature))
	f.feature = append(f.feature, int32(d))
	f.split = append(f.split, split)
	f.low = append(f.low, lows[d])
	f.high = append(f.high, highs[d])
	f.left = append(f.left, -1)
	f.right = append(f.right, -1)
	f.size = append(f.size, int32(len(rows)))

	l := f.grow(X, leftRows, depth+1, heightLimit, rng)
	r := f.grow(X, rightRows, depth+1, heightLimit, rng)
	f.left[node] = l
	f.right[node] = r
	return node
}

func (f *IsolationForest) leaf(size int) int32 {
	node := int32(len(f.feature))
	f.feature = append(f.feature, -1)
	f.split = append(f.split, 0)
	f.low = append(f.low, 0)
	f.high = append(f.high, 0)
	f.left = append(f.left, -1)
	f.right = append(f.right, -1)
	f.size = append(f.size, int32(size))
	return node
}

// pathLength returns the expected h(x) in one tree: the depth of the leaf x
// reaches, plus c(size) for the rows that the height limit left unsplit
// there.
//
// A node whose rows all lie on one side of x on the split feature is
// handled as if x had been in the tree's sample. With x in the sample, the
// node's split would have been drawn over the range widened to reach x,
// and it would have cut x off alone with probability gap/(range+gap).
// Without this, every point beyond the training range would follow the
// most extreme training rows and score no higher than they do, however
// far out it lies. For x inside every node's range, which includes every
// training row, h(x) is exactly that of Liu, Ting and Zhou.
func (f *IsolationForest) pathLength(x []float64, root int32) float64 {
	node := root
	depth := 0
	expected := 0.0
	// remaining is the probability that x has not been cut off yet.
	remaining := 1.0
	for f.feature[node] >= 0 {
		v := x[f.feature[node]]
		low, high := f.low[node], f.high[node]
		var gap float64
		switch {
		case v < low:
			gap = low - v
		case v > high:
			gap = v - high
		}
		if gap > 0 {
			p := gap / (high - low + gap)
			expected += remaining * p * float64(depth+1)
			remaining *= 1 - p
		}
		if v < f.split[node] {
			node = f.left[node]
		} else {
			node = f.right[node]
		}
		depth++
	}
	return expected + remaining*(float64(depth)+AveragePathLength(int(f.size[node])))
}

// Score returns the anomaly score 2^(−E[h(x)]/c(ψ)) of x, in (0, 1]. A score
// near 1 is a clear anomaly and scores well below 0.5 are normal. Missing
// trailing features read as 0 and extra features are ignored.
func (f *IsolationForest) Score(x []float64) float64 {
	if len(x) < f.dims {
		padded := make([]float64, f.dims)
		copy(padded, x)
		x = padded
	}
	var total float64
	for _, root := range f.roots {
		total += f.pathLength(x, root)
	}
	mean := total / float64(len(f.roots))
	c := AveragePathLength(f.subsample)
	if c == 0 {
		return 0.5
	}
	return math.Pow(2, -mean/c)
}

// Threshold returns the (1 − contamination) quantile of the training
// scores. A score at or above it is anomalous.
func (f *IsolationForest) Threshold() float64 {
	return f.threshold
}

// Trees returns the number of trees.
func (f *IsolationForest) Trees() int {
	return len(f.roots)
}

// Nodes returns the number of nodes over all trees.
func (f *IsolationForest) Nodes() int {
	return len(f.feature)
}
