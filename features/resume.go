package features

import (
	"time"
)

// Position is the place of a record in Kafka.
type Position struct {
	// Topic is the topic as the consumer names it. For internal/kafka that
	// is the suffix without the configured prefix.
	Topic     string
	Partition int
	Offset    int64
}

type partitionKey struct {
	topic     string
	partition int
}

// notePosition keeps the smallest offset of the window's records per
// partition.
func (win *openWindow) notePosition(pos Position) {
	if win.first == nil {
		win.first = make(map[partitionKey]int64, 2)
	}
	k := partitionKey{pos.Topic, pos.Partition}
	if off, ok := win.first[k]; !ok || pos.Offset < off {
		win.first[k] = pos.Offset
	}
}

// replays reports whether event time t falls in a window that was stored
// before a restart.
func (st *containerState) replays(t, size int64) bool {
	start := t - t%size
	return start+size <= st.resumedThrough
}

// CommitOffset returns the offset that a consumer may commit for a
// partition from which it has added every record before next. It is next,
// or less when a record at a smaller offset of that partition still counts
// in an open window. A container with open windows also holds back the
// offset of its last cgroup sample before them, because the CPU, pids and
// I/O features of its next window start from that sample. After a restart
// the consumer group resumes at the committed offset, and Resume makes the
// Windower skip the records of windows that were stored.
//
// NOTE: a container whose records stop keeps its windows open until Flush,
// so it holds back the commits of its partitions, and a restart then reads
// those partitions again from that point.
func (w *Windower) CommitOffset(topic string, partition int, next int64) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()

	k := partitionKey{topic, partition}
	for _, st := range w.containers {
		if len(st.open) == 0 {
			continue
		}
		if s := st.lastSample; s != nil && s.positioned && s.pos.Topic == topic && s.pos.Partition == partition {
			next = min(next, s.pos.Offset)
		}
		for _, win := range st.open {
			if off, ok := win.first[k]; ok {
				next = min(next, off)
			}
		}
	}
	return next
}

// ResumePoint is the newest window of a container that was stored before
// a restart.
type ResumePoint struct {
	ContainerID   string
	ContainerName string
	HostID        string
	ImageID       string
	ImageRef      string
	// End is the exclusive end of the window.
	End time.Time
	// Values and Extra are the window's features, in the order of
	// FeatureNames and ExtraFeatureNames. The features that carry forward
	// into a window without cgroup samples start from them. Either may be
	// shorter, and a missing feature reads 0.
	Values []float64
	Extra  []float64
}

// Resume restores the containers of points, so that a Windower that reads
// Kafka again from the offsets committed under CommitOffset counts every
// record once. A record whose window ends at or before a container's End
// is then dropped and counted in WindowStats.Replayed, except that a cgroup
// sample still becomes the container's last sample. Call Resume before the
// first record is added.
//
// NOTE: masked shapes (WindowConfig.Shapes) live in memory only, so
// without a template miner the new_shapes feature counts again after a
// restart the shapes that an earlier run has seen. Resume runs once at the
// start, so a partition that a rebalance moves to a running Windower is
// read from its committed offset without the windows stored meanwhile.
func (w *Windower) Resume(points []ResumePoint) {
	w.mu.Lock()
	defer w.mu.Unlock()

	for _, p := range points {
		if p.ContainerID == "" {
			continue
		}
		st := w.container(p.ContainerID)
		end := p.End.UnixNano()
		if end <= st.resumedThrough {
			continue
		}
		st.resumedThrough = end
		st.closedThrough = max(st.closedThrough, end)
		setIfEmpty(&st.name, p.ContainerName)
		setIfEmpty(&st.hostID, p.HostID)
		setIfEmpty(&st.imageID, p.ImageID)
		setIfEmpty(&st.imageRef, p.ImageRef)

		st.lastCPU = valueAt(p.Values, IndexCPUCores)
		st.lastThrottled = valueAt(p.Values, IndexCPUThrottledRatio)
		st.lastMemory = valueAt(p.Values, IndexMemoryWorkingSetBytes)
		st.lastPids = valueAt(p.Extra, IndexPidsCurrent)
		st.lastIORead = valueAt(p.Extra, IndexIOReadRate)
		st.lastIOWrite = valueAt(p.Extra, IndexIOWriteRate)
		st.lastNetRx = valueAt(p.Extra, IndexNetRxRate)
		st.lastNetTx = valueAt(p.Extra, IndexNetTxRate)
		for i := range st.restoredVulns {
			st.restoredVulns[i] = valueAt(p.Extra, IndexVulnFirst+i)
		}
		st.restoredEOL = valueAt(p.Extra, IndexHostOSEndOfLife)
	}
}

func setIfEmpty(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

func valueAt(values []float64, i int) float64 {
	if i < len(values) {
		return values[i]
	}
	return 0
}
