package features

import (
	"math"
	"slices"
)

// metricExtras holds the cgroup-derived features of ExtraFeatureNames.
type metricExtras struct {
	memorySlope float64
	oomKills    float64
	pids        float64
	pidsGrowth  float64
	ioRead      float64
	ioWrite     float64
	netRx       float64
	netTx       float64
}

// computeMetricExtras computes the cgroup features of ExtraFeatureNames
// from the window's samples and the container's last sample before the
// window. It must run before cpuRates, which moves st.lastSample to the
// window's last sample. A field the hierarchy does not report (-1) is
// skipped. When the window has no usable pair of samples, pids_current and
// the I/O and network rates carry the previous window's values forward, and the slope,
// OOM kills and pids growth are 0.
func (st *containerState) computeMetricExtras(samples []sample) metricExtras {
	series := make([]sample, 0, len(samples)+1)
	if st.lastSample != nil {
		series = append(series, *st.lastSample)
	}
	sorted := slices.Clone(samples)
	slices.SortFunc(sorted, func(a, b sample) int {
		switch {
		case a.timeNs < b.timeNs:
			return -1
		case a.timeNs > b.timeNs:
			return 1
		}
		return 0
	})
	for _, s := range sorted {
		if len(series) > 0 && s.timeNs <= series[len(series)-1].timeNs {
			continue
		}
		series = append(series, s)
	}

	var out metricExtras
	out.memorySlope = memorySlope(sorted)

	var oom, ioRead, ioWrite, netRx, netTx float64
	var ioSpanNs, netSpanNs int64
	for i := 1; i < len(series); i++ {
		prev, cur := series[i-1], series[i]
		if prev.oomKills >= 0 && cur.oomKills >= 0 {
			oom += float64(counterDelta(prev.oomKills, cur.oomKills))
		}
		if prev.ioRead >= 0 && cur.ioRead >= 0 && prev.ioWrite >= 0 && cur.ioWrite >= 0 {
			ioRead += float64(counterDelta(prev.ioRead, cur.ioRead))
			ioWrite += float64(counterDelta(prev.ioWrite, cur.ioWrite))
			ioSpanNs += cur.timeNs - prev.timeNs
		}
		if prev.netRx >= 0 && cur.netRx >= 0 && prev.netTx >= 0 && cur.netTx >= 0 {
			netRx += float64(counterDelta(prev.netRx, cur.netRx))
			netTx += float64(counterDelta(prev.netTx, cur.netTx))
			netSpanNs += cur.timeNs - prev.timeNs
		}
	}
	out.oomKills = oom
	if ioSpanNs > 0 {
		st.lastIORead = ioRead / (float64(ioSpanNs) / 1e9)
		st.lastIOWrite = ioWrite / (float64(ioSpanNs) / 1e9)
	}
	out.ioRead = st.lastIORead
	out.ioWrite = st.lastIOWrite
	if netSpanNs > 0 {
		st.lastNetRx = netRx / (float64(netSpanNs) / 1e9)
		st.lastNetTx = netTx / (float64(netSpanNs) / 1e9)
	}
	out.netRx = st.lastNetRx
	out.netTx = st.lastNetTx

	first, last := -1, -1
	for i, s := range series {
		if s.pids < 0 {
			continue
		}
		if first < 0 {
			first = i
		}
		last = i
	}
	if last >= 0 && series[last].timeNs >= firstTime(sorted) {
		st.lastPids = float64(series[last].pids)
		out.pidsGrowth = float64(series[last].pids - series[first].pids)
	}
	out.pids = st.lastPids
	return out
}

// firstTime returns the time of the first sample, or the largest int64 when
// there is none, so that no earlier sample counts as inside the window.
func firstTime(sorted []sample) int64 {
	if len(sorted) == 0 {
		return math.MaxInt64
	}
	return sorted[0].timeNs
}

// memorySlope returns the least-squares slope of the working set over time
// in bytes per second, or 0 with fewer than two samples at distinct times.
func memorySlope(sorted []sample) float64 {
	var n, sumT, sumM float64
	for _, s := range sorted {
		if s.memory < 0 {
			continue
		}
		n++
		sumT += float64(s.timeNs) / 1e9
		sumM += float64(s.memory)
	}
	if n < 2 {
		return 0
	}
	meanT, meanM := sumT/n, sumM/n
	var cov, varT float64
	for _, s := range sorted {
		if s.memory < 0 {
			continue
		}
		dt := float64(s.timeNs)/1e9 - meanT
		cov += dt * (float64(s.memory) - meanM)
		varT += dt * dt
	}
	if varT == 0 {
		return 0
	}
	return cov / varT
}

// templateEntropy returns the Shannon entropy, in bits, of the distribution
// of a window's log lines over their templates, or 0 for an empty window.
func templateEntropy(counts map[uint64]int) float64 {
	total := 0
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	var h float64
	for _, c := range counts {
		if c == 0 {
			continue
		}
		p := float64(c) / float64(total)
		h -= p * math.Log2(p)
	}
	return h
}
