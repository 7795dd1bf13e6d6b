package models

import (
	"math"
	"runtime"
	"sync"
)

// scoreBlock is the number of rows that ScoreBatch walks through one tree
// before moving to the next, so that the tree stays in the L1 cache.
const scoreBlock = 64

// minRowsPerWorker keeps ScoreBatch from starting goroutines for batches
// too small to gain from them.
const minRowsPerWorker = 256

// Score returns the anomaly score 2^(−E[h(x)]/c(ψ)) of x, in (0, 1]. A score
// near 1 is a clear anomaly and scores well below 0.5 are normal. Missing
// trailing features read as 0 and extra features are ignored.
func (f *IsolationForest) Score(x []float64) float64 {
	x = f.pad(x)
	if f.complete != nil {
		var sum [1]float64
		f.complete.addPathLengths([][]float64{x}, sum[:])
		return f.normalize(sum[0])
	}
	var total float64
	for _, root := range f.roots {
		total += f.pathLength(x, root)
	}
	return f.normalize(total)
}

// ScoreBatch writes the score of each row of X to out, which must be at
// least as long as X, using all cores (GOMAXPROCS). Each out[i] equals
// Score(X[i]).
func (f *IsolationForest) ScoreBatch(X [][]float64, out []float64) {
	out = out[:len(X)]
	workers := min(runtime.GOMAXPROCS(0), max(1, len(X)/minRowsPerWorker))
	if workers == 1 {
		f.scoreRange(X, out)
		return
	}
	chunk := (len(X) + workers - 1) / workers
	var wg sync.WaitGroup
	for start := 0; start < len(X); start += chunk {
		end := min(start+chunk, len(X))
		wg.Go(func() { f.scoreRange(X[start:end], out[start:end]) })
	}
	wg.Wait()
}

// scoreRange scores the rows of X one block at a time, tree by tree.
func (f *IsolationForest) scoreRange(X [][]float64, out []float64) {
	padded := make([][]float64, scoreBlock)
	for start := 0; start < len(X); start += scoreBlock {
		end := min(start+scoreBlock, len(X))
		rows := padded[:end-start]
		for i := range rows {
			rows[i] = f.pad(X[start+i])
		}
		sums := out[start:end]
		clear(sums)
		if f.complete != nil {
			f.complete.addPathLengths(rows, sums)
		} else {
			f.scoreRows(rows, sums)
		}
		for i := range sums {
			sums[i] = f.normalize(sums[i])
		}
	}
}

// scoreRows adds the path length of each row in every tree to sums,
// walking the linked nodes.
func (f *IsolationForest) scoreRows(rows [][]float64, sums []float64) {
	for _, root := range f.roots {
		for i, x := range rows {
			sums[i] += f.pathLength(x, root)
		}
	}
}

// pathLength returns h(x) in the tree at root.
func (f *IsolationForest) pathLength(x []float64, root int32) float64 {
	switch {
	case f.hyperplanes:
		return f.pathLengthHyperplane(x, root)
	case f.extendRange:
		return f.pathLengthExtended(x, root)
	}
	nodes := f.nodes
	n := root
	for {
		nd := &nodes[n]
		if nd.feature < 0 {
			return nd.value
		}
		next := nd.child
		if x[nd.feature] >= nd.value {
			next++
		}
		n = next
	}
}

func (f *IsolationForest) pathLengthHyperplane(x []float64, root int32) float64 {
	dims := f.dims
	n := root
	for {
		nd := &f.nodes[n]
		if nd.feature < 0 {
			return nd.value
		}
		i := int(nd.feature) * dims
		next := nd.child
		if dot(x, f.normals[i:i+dims]) >= nd.value {
			next++
		}
		n = next
	}
}

// pathLengthExtended returns the expected h(x) in one tree when a node
// whose rows all lie on one side of x on the split feature is handled as
// if x had been in the tree's sample. With x in the sample, the node's
// split would have been drawn over the range widened to reach x, and it
// would have cut x off alone with probability gap/(range+gap). Without
// this, every point beyond the training range would follow the most
// extreme training rows and score no higher than they do, however far out
// it lies. For x inside the range of every node it reaches, as every row
// of the tree's own sample is, h(x) is exactly that of Liu, Ting and Zhou.
func (f *IsolationForest) pathLengthExtended(x []float64, root int32) float64 {
	n := root
	depth := 0
	expected := 0.0
	// remaining is the probability that x has not been cut off yet.
	remaining := 1.0
	for f.nodes[n].feature >= 0 {
		nd := &f.nodes[n]
		v := x[nd.feature]
		low, high := f.low[n], f.high[n]
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
		n = nd.child
		if v >= nd.value {
			n++
		}
		depth++
	}
	return expected + remaining*f.nodes[n].value
}

// normalize turns the sum of the path lengths over all trees into the
// score 2^(−mean/c(ψ)).
func (f *IsolationForest) normalize(total float64) float64 {
	c := AveragePathLength(f.subsample)
	if c == 0 {
		return 0.5
	}
	mean := total / float64(len(f.roots))
	return math.Exp2(-mean / c)
}

func (f *IsolationForest) pad(x []float64) []float64 {
	if len(x) >= f.dims {
		return x
	}
	padded := make([]float64, f.dims)
	copy(padded, x)
	return padded
}
