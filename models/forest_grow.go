package models

import (
	"math"
	"math/rand/v2"
)

// grower holds the state of Fit while it grows trees.
type grower struct {
	f             *IsolationForest
	X             [][]float64
	rng           *rand.Rand
	heightLimit   int
	planeFeatures int
	// lows and highs are scratch space for the per-feature range of a node.
	lows, highs []float64
}

// grow fills node n with the subtree over the rows X[rows].
func (g *grower) grow(n int32, rows []int, depth int) {
	if depth >= g.heightLimit || len(rows) <= 1 {
		g.setLeaf(n, len(rows), depth)
		return
	}

	// Choose among the features that still vary in this node, so that a
	// constant feature never wastes a level. scikit-learn's IsolationForest
	// does the same by redrawing a constant feature.
	var varying []int
	for d := range g.f.dims {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, r := range rows {
			v := g.X[r][d]
			lo = min(lo, v)
			hi = max(hi, v)
		}
		g.lows[d], g.highs[d] = lo, hi
		if hi > lo {
			varying = append(varying, d)
		}
	}
	if len(varying) == 0 {
		g.setLeaf(n, len(rows), depth)
		return
	}

	var leftRows, rightRows []int
	if g.f.hyperplanes {
		leftRows, rightRows = g.splitHyperplane(n, rows, varying)
	} else {
		leftRows, rightRows = g.splitAxis(n, rows, varying)
	}

	child := g.f.addNode()
	g.f.addNode()
	g.f.nodes[n].child = child
	g.f.nodes[n].size = int32(len(rows))
	g.f.nodes[n].depth = int32(depth)
	g.grow(child, leftRows, depth+1)
	g.grow(child+1, rightRows, depth+1)
}

// splitAxis makes n split on a random varying feature at a value drawn
// uniformly from the feature's range in the node.
func (g *grower) splitAxis(n int32, rows []int, varying []int) (leftRows, rightRows []int) {
	d := varying[g.rng.IntN(len(varying))]
	lo, hi := g.lows[d], g.highs[d]
	split := lo + g.rng.Float64()*(hi-lo)
	if split <= lo {
		// Keep the minimum on the left so that neither side is empty.
		split = hi
	}
	for _, r := range rows {
		if g.X[r][d] < split {
			leftRows = append(leftRows, r)
		} else {
			rightRows = append(rightRows, r)
		}
	}
	g.f.nodes[n].feature = int32(d)
	g.f.nodes[n].value = split
	g.f.low[n] = lo
	g.f.high[n] = hi
	return leftRows, rightRows
}

// splitHyperplane makes n split on the hyperplane through a point drawn
// uniformly from the node's bounding box, with a normal whose nonzero
// coefficients are standard normal. Rows with x·normal < point·normal go
// left. Either side may be empty, as in Hariri et al.
func (g *grower) splitHyperplane(n int32, rows []int, varying []int) (leftRows, rightRows []int) {
	dims := g.f.dims
	normal := make([]float64, dims)
	k := min(g.planeFeatures, len(varying))
	if k == len(varying) {
		for _, d := range varying {
			normal[d] = g.rng.NormFloat64()
		}
	} else {
		for _, i := range g.rng.Perm(len(varying))[:k] {
			normal[varying[i]] = g.rng.NormFloat64()
		}
	}
	var offset float64
	for d := range dims {
		if normal[d] == 0 {
			continue
		}
		point := g.lows[d] + g.rng.Float64()*(g.highs[d]-g.lows[d])
		offset += point * normal[d]
	}
	for _, r := range rows {
		if dot(g.X[r], normal) < offset {
			leftRows = append(leftRows, r)
		} else {
			rightRows = append(rightRows, r)
		}
	}
	g.f.nodes[n].feature = int32(len(g.f.normals) / dims)
	g.f.nodes[n].value = offset
	g.f.normals = append(g.f.normals, normal...)
	return leftRows, rightRows
}

// setLeaf makes n a leaf that size training rows reached at depth.
func (g *grower) setLeaf(n int32, size, depth int) {
	g.f.nodes[n] = node{
		value:   float64(depth) + AveragePathLength(size),
		feature: -1,
		size:    int32(size),
		depth:   int32(depth),
	}
}

func dot(a, b []float64) float64 {
	var s float64
	for i, v := range b {
		s += a[i] * v
	}
	return s
}
