package models

import (
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/harrierhq/harrier/features"
)

// batchPending copies the windows that closed since the last call into
// one Arrow record batch of features.BatchSchema and points their vectors
// at it. The features table and the models then read each window's
// vectors from the batch without copying them again. The batch comes from
// Go's allocator, whose memory the garbage collector frees, so the training
// sets may keep a window's vector after the batch is released.
func (s *Scorer) batchPending() {
	var fresh []*pendingWindow
	for _, p := range s.pending {
		if !p.batched {
			fresh = append(fresh, p)
		}
	}
	if len(fresh) == 0 {
		return
	}
	windows := make([]features.Window, len(fresh))
	for i, p := range fresh {
		windows[i] = p.window
	}
	rec := features.NewBatch(windows, memory.DefaultAllocator)
	batched, err := features.BatchWindows(rec)
	if err != nil {
		// NewBatch builds features.BatchSchema, which BatchWindows reads,
		// so this is a programming error. The windows keep their own
		// vectors.
		rec.Release()
		s.logger.Error("Reading the feature batch failed", "err", err, "windows", len(windows))
		return
	}
	for i, p := range fresh {
		p.window = batched[i]
		p.batched = true
	}
	s.batches = append(s.batches, rec)
}

// releaseBatches releases the batches once every pending window is done.
func (s *Scorer) releaseBatches() {
	for _, rec := range s.batches {
		rec.Release()
	}
	s.batches = s.batches[:0]
}
