package features

import (
	"slices"
	"time"
)

// closeWindow computes the feature vector of win and updates the
// container's carried-forward state. Windows of one container must be
// closed in start order. The caller holds w.mu.
func (w *Windower) closeWindow(st *containerState, win *openWindow) Window {
	values := make([]float64, len(FeatureNames))
	values[IndexLogLines] = float64(win.logLines)
	values[IndexErrorLines] = float64(win.errorLines)

	// Messages are mined at close time, in window order, so that the image
	// id from a late inventory record is already known.
	key := st.imageID
	if key == "" {
		key = st.id
	}
	novel := 0
	lineCounts := make(map[uint64]int, len(win.messages)+len(win.shapes))
	for _, msg := range win.messages {
		id, _, isNew := w.templates.Match(key, msg)
		if isNew {
			novel++
		}
		lineCounts[id] += win.seen[msg]
	}
	for id, n := range win.shapes {
		if w.shapes.Observe(key, id) {
			novel++
		}
		lineCounts[id] += n
	}
	values[IndexNewShapes] = float64(novel)

	extra := make([]float64, len(ExtraFeatureNames))
	extra[IndexAuthFailures] = float64(win.authFailures)
	extra[IndexSourceAddresses] = float64(len(win.addresses))
	extra[IndexTemplateEntropy] = templateEntropy(lineCounts)
	m := st.computeMetricExtras(win.samples)
	extra[IndexMemorySlope] = m.memorySlope
	extra[IndexOOMKills] = m.oomKills
	extra[IndexPidsCurrent] = m.pids
	extra[IndexPidsGrowth] = m.pidsGrowth
	extra[IndexIOReadRate] = m.ioRead
	extra[IndexIOWriteRate] = m.ioWrite
	extra[IndexNetRxRate] = m.netRx
	extra[IndexNetTxRate] = m.netTx
	extra[IndexLogLinesPerSec] = float64(win.logLines) / (float64(w.size) / 1e9)
	if win.logLines > 0 {
		extra[IndexErrorRatio] = float64(win.errorLines) / float64(win.logLines)
		extra[IndexWarningRatio] = float64(win.warningLines) / float64(win.logLines)
	}
	w.contextFeatures(st, win.start+w.size, extra)

	cpu, throttled := st.cpuRates(win.start, win.start+w.size, win.samples, st.nextSample(win.start))
	values[IndexCPUCores] = cpu
	values[IndexCPUThrottledRatio] = throttled
	values[IndexMemoryWorkingSetBytes] = st.meanMemory(win.samples)

	return Window{
		ContainerID:   st.id,
		ContainerName: st.name,
		HostID:        st.hostID,
		ImageID:       st.imageID,
		ImageRef:      st.imageRef,
		Start:         time.Unix(0, win.start).UTC(),
		Size:          time.Duration(w.size),
		Values:        values,
		Extra:         extra,
		MetricSamples: len(win.samples),
		Partial:       st.maxEventNs < win.start+w.size,
	}
}

// cpuRates returns the CPU cores and the throttled ratio of a window. Each
// pair of consecutive samples gives a rate, and the window takes the rates
// of the pairs that overlap it, weighted by the overlap. The pairs run from
// the container's last sample before the window through next, the first
// sample after it (nil when none has arrived yet). So samples taken once a
// minute on the minute still measure the minute that follows each of them.
// A counter that decreases means the container restarted, so the
// new value counts from 0. When no pair overlaps the window the previous
// rates carry forward.
func (st *containerState) cpuRates(start, end int64, samples []sample, next *sample) (cores, throttledRatio float64) {
	slices.SortFunc(samples, func(a, b sample) int {
		switch {
		case a.timeNs < b.timeNs:
			return -1
		case a.timeNs > b.timeNs:
			return 1
		}
		return 0
	})
	series := make([]sample, 0, len(samples)+2)
	if st.lastSample != nil {
		series = append(series, *st.lastSample)
	}
	series = append(series, samples...)
	if next != nil {
		series = append(series, *next)
	}

	// usage and throttled are the CPU nanoseconds attributed to the window.
	// overlap is the wall nanoseconds they cover.
	var usage, throttled, overlap float64
	var prev *sample
	for i := range series {
		s := &series[i]
		if s.usage < 0 {
			// The hierarchy does not report CPU usage.
			continue
		}
		if prev != nil && s.timeNs > prev.timeNs {
			o := min(s.timeNs, end) - max(prev.timeNs, start)
			if o > 0 {
				share := float64(o) / float64(s.timeNs-prev.timeNs)
				usage += share * float64(counterDelta(prev.usage, s.usage))
				if s.throttled >= 0 && prev.throttled >= 0 {
					throttled += share * float64(counterDelta(prev.throttled, s.throttled))
				}
				overlap += float64(o)
			}
		}
		if prev == nil || s.timeNs > prev.timeNs {
			prev = s
		}
	}
	if n := len(samples); n > 0 && (st.lastSample == nil || samples[n-1].timeNs > st.lastSample.timeNs) {
		last := samples[n-1]
		st.lastSample = &last
	}

	if overlap <= 0 {
		return st.lastCPU, st.lastThrottled
	}
	cores = usage / overlap
	if usage > 0 {
		throttledRatio = throttled / usage
	}
	st.lastCPU = cores
	st.lastThrottled = throttledRatio
	return cores, throttledRatio
}

// nextSample returns the earliest sample of the container's open windows
// after start, or nil.
func (st *containerState) nextSample(start int64) *sample {
	var next *sample
	for s, win := range st.open {
		if s <= start {
			continue
		}
		for i := range win.samples {
			c := &win.samples[i]
			if c.usage >= 0 && (next == nil || c.timeNs < next.timeNs) {
				next = c
			}
		}
	}
	if next == nil {
		return nil
	}
	copied := *next
	return &copied
}

// counterDelta returns the increase of a cumulative counter from a to b,
// treating a decrease as a reset to 0 followed by growth to b.
func counterDelta(a, b int64) int64 {
	if b < a {
		return b
	}
	return b - a
}

// meanMemory returns the mean working set of the samples, or the previous
// window's value when no sample reports memory.
func (st *containerState) meanMemory(samples []sample) float64 {
	var sum float64
	n := 0
	for _, s := range samples {
		if s.memory < 0 {
			continue
		}
		sum += float64(s.memory)
		n++
	}
	if n == 0 {
		return st.lastMemory
	}
	st.lastMemory = sum / float64(n)
	return st.lastMemory
}
