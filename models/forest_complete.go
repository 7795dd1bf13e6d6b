package models

import "math"

// maxCompleteHeight is the largest height limit for which the trees are
// also stored as complete binary trees; 2^height nodes per tree.
const maxCompleteHeight = 14

// completeTrees is an axis-parallel forest laid out for scoring. Every
// tree is a complete binary tree of the forest's height limit, stored
// breadth first. The children of slot i are 2i+1 and 2i+2, so every walk
// takes exactly height steps with no test for a leaf. A leaf that
// the height limit did not force becomes a chain of pass-through slots
// whose split is +Inf, so the walk goes left to a bottom slot that holds
// the leaf's path length.
type completeTrees struct {
	height int
	// internal is 2^height − 1, the number of split slots per tree.
	internal int
	feature  []int32
	split    []float64
	// leaf holds 2^height path lengths per tree.
	leaf []float64
}

// buildComplete lays the trees of f out as completeTrees, or returns nil
// when the height limit is above maxCompleteHeight.
func buildComplete(f *IsolationForest, height int) *completeTrees {
	if height > maxCompleteHeight || height < 1 {
		return nil
	}
	internal := 1<<height - 1
	c := &completeTrees{
		height:   height,
		internal: internal,
		feature:  make([]int32, len(f.roots)*internal),
		split:    make([]float64, len(f.roots)*internal),
		leaf:     make([]float64, len(f.roots)*(internal+1)),
	}
	for t, root := range f.roots {
		c.fill(f, t, root, 0, 0)
	}
	return c
}

// fill copies the subtree of node n into slot i of tree t at depth.
func (c *completeTrees) fill(f *IsolationForest, t int, n int32, i, depth int) {
	if depth == c.height {
		c.leaf[t*(c.internal+1)+i-c.internal] = f.nodes[n].value
		return
	}
	slot := t*c.internal + i
	nd := f.nodes[n]
	if nd.feature < 0 {
		c.feature[slot] = 0
		c.split[slot] = math.Inf(1)
		c.fill(f, t, n, 2*i+1, depth+1)
		c.fill(f, t, n, 2*i+2, depth+1)
		return
	}
	c.feature[slot] = nd.feature
	c.split[slot] = nd.value
	c.fill(f, t, nd.child, 2*i+1, depth+1)
	c.fill(f, t, nd.child+1, 2*i+2, depth+1)
}

// addPathLengths adds the path length of each row in every tree to sums.
// Four rows walk each tree side by side, so that their independent loads
// overlap.
func (c *completeTrees) addPathLengths(rows [][]float64, sums []float64) {
	internal := c.internal
	for t := 0; t*internal < len(c.feature); t++ {
		feature := c.feature[t*internal : (t+1)*internal]
		split := c.split[t*internal : (t+1)*internal]
		leaf := c.leaf[t*(internal+1) : (t+1)*(internal+1)]
		r := 0
		for ; r+4 <= len(rows); r += 4 {
			xa, xb, xc, xd := rows[r], rows[r+1], rows[r+2], rows[r+3]
			a, b, cc, d := 0, 0, 0, 0
			for range c.height {
				a = descend(a, xa[feature[a]], split[a])
				b = descend(b, xb[feature[b]], split[b])
				cc = descend(cc, xc[feature[cc]], split[cc])
				d = descend(d, xd[feature[d]], split[d])
			}
			sums[r] += leaf[a-internal]
			sums[r+1] += leaf[b-internal]
			sums[r+2] += leaf[cc-internal]
			sums[r+3] += leaf[d-internal]
		}
		for ; r < len(rows); r++ {
			x := rows[r]
			i := 0
			for range c.height {
				i = descend(i, x[feature[i]], split[i])
			}
			sums[r] += leaf[i-internal]
		}
	}
}

// descend returns the child of slot i that x goes to: 2i+1 when x < split,
// 2i+2 otherwise. It reads the sign bit of x − split instead of branching,
// because the comparison is random by construction and a branch would be
// mispredicted half the time. Adding 0 turns −0 into +0, so x == split
// goes right. x − split is never 0 for x ≠ split, as IEEE 754 subnormals
// make subtraction exact near 0. A NaN x, or x = +Inf at a pass-through
// slot, goes left or right by the sign of the NaN.
func descend(i int, x, split float64) int {
	diff := x - split + 0
	return 2*i + 2 - int(math.Float64bits(diff)>>63)
}
