package models

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"math"
)

// forestFormat is the version of the encoding that MarshalBinary writes.
// UnmarshalBinary rejects any other.
const forestFormat = 1

// Limits that UnmarshalBinary enforces. The subsample limit is the largest
// value models.subsample accepts.
const (
	maxDecodedDims      = 1 << 16
	maxDecodedSubsample = 1 << 20
)

// encodedForest is the gob form of an IsolationForest: the node arrays
// column by column. The complete layout is rebuilt on decoding.
type encodedForest struct {
	Format      int
	Value       []float64
	Feature     []int32
	Child       []int32
	Size        []int32
	Depth       []int32
	Low, High   []float64
	Normals     []float64
	Roots       []int32
	Dims        int
	Subsample   int
	ExtendRange bool
	Hyperplanes bool
	Threshold   float64
}

// MarshalBinary encodes the fitted forest with encoding/gob.
func (f *IsolationForest) MarshalBinary() ([]byte, error) {
	e := encodedForest{
		Format:      forestFormat,
		Value:       make([]float64, len(f.nodes)),
		Feature:     make([]int32, len(f.nodes)),
		Child:       make([]int32, len(f.nodes)),
		Size:        make([]int32, len(f.nodes)),
		Depth:       make([]int32, len(f.nodes)),
		Low:         f.low,
		High:        f.high,
		Normals:     f.normals,
		Roots:       f.roots,
		Dims:        f.dims,
		Subsample:   f.subsample,
		ExtendRange: f.extendRange,
		Hyperplanes: f.hyperplanes,
		Threshold:   f.threshold,
	}
	for i, n := range f.nodes {
		e.Value[i], e.Feature[i], e.Child[i], e.Size[i], e.Depth[i] = n.value, n.feature, n.child, n.size, n.depth
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(e); err != nil {
		return nil, fmt.Errorf("encode isolation forest: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalBinary decodes a forest written by MarshalBinary. It checks that
// every child, root and feature index lies inside the arrays, so a damaged
// file fails here rather than in Score.
func (f *IsolationForest) UnmarshalBinary(data []byte) error {
	var e encodedForest
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&e); err != nil {
		return fmt.Errorf("decode isolation forest: %w", err)
	}
	if e.Format != forestFormat {
		return fmt.Errorf("invalid isolation forest format %d: this build reads format %d", e.Format, forestFormat)
	}
	n := len(e.Value)
	if len(e.Feature) != n || len(e.Child) != n || len(e.Size) != n || len(e.Depth) != n || len(e.Low) != n || len(e.High) != n {
		return fmt.Errorf("invalid isolation forest: node arrays of different lengths (%d values)", n)
	}
	// The limits keep a damaged file from making Score allocate without
	// bound: it pads rows to Dims, and the complete layout takes
	// 2^⌈log₂ Subsample⌉ slots per tree.
	if e.Dims < 1 || e.Dims > maxDecodedDims || e.Subsample < 1 || e.Subsample > maxDecodedSubsample || len(e.Roots) == 0 {
		return fmt.Errorf("invalid isolation forest: dims=%d subsample=%d trees=%d", e.Dims, e.Subsample, len(e.Roots))
	}
	for i, r := range e.Roots {
		// Fit appends each tree's nodes after its root, so roots increase.
		if r < 0 || int(r) >= n || i > 0 && r <= e.Roots[i-1] {
			return fmt.Errorf("invalid isolation forest: root %d of tree %d out of order or outside %d nodes", r, i, n)
		}
	}
	splits := e.Dims
	if e.Hyperplanes {
		splits = len(e.Normals) / e.Dims
	}
	nodes := make([]node, n)
	for i := range nodes {
		nd := node{value: e.Value[i], feature: e.Feature[i], child: e.Child[i], size: e.Size[i], depth: e.Depth[i]}
		if nd.feature >= 0 {
			if int(nd.feature) >= splits {
				return fmt.Errorf("invalid isolation forest: node %d splits on %d of %d", i, nd.feature, splits)
			}
			// A child index at or before its parent would make a walk loop.
			if nd.child <= int32(i) || int(nd.child)+1 >= n {
				return fmt.Errorf("invalid isolation forest: node %d has child %d of %d nodes", i, nd.child, n)
			}
		}
		nodes[i] = nd
	}

	*f = IsolationForest{
		nodes:       nodes,
		low:         e.Low,
		high:        e.High,
		normals:     e.Normals,
		roots:       e.Roots,
		dims:        e.Dims,
		subsample:   e.Subsample,
		extendRange: e.ExtendRange,
		hyperplanes: e.Hyperplanes,
		threshold:   e.Threshold,
	}
	if !f.extendRange && !f.hyperplanes {
		f.complete = buildComplete(f, int(math.Ceil(math.Log2(float64(max(f.subsample, 2))))))
	}
	return nil
}
