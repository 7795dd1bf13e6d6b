package cgroup

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/harrierhq/harrier/collectors/internal/emit"
	"github.com/harrierhq/harrier/internal/record"
)

// OOMTracker turns the oom_kill counter of memory.events (v2) or
// memory.oom_control (v1) into oom_killed lifecycle events: one event per
// sample in which a container's counter grew.
type OOMTracker struct {
	last map[string]int64
}

// NewOOMTracker returns a tracker that has seen no sample.
func NewOOMTracker() *OOMTracker {
	return &OOMTracker{last: make(map[string]int64)}
}

// Diff returns the oom_killed event of m, or false when m belongs to no
// container, has no oom_kill counter, is the first sample of its cgroup,
// or shows no new kill. A counter below the previous one means that the
// cgroup was created again, as on a container restart, so every kill it
// counts is new. Diff does not change the tracker; Commit does.
func (t *OOMTracker) Diff(m record.Metric) (record.Lifecycle, bool) {
	if m.ContainerID == "" || m.OOMKills < 0 {
		return record.Lifecycle{}, false
	}
	prev, seen := t.last[m.CgroupPath]
	if !seen {
		return record.Lifecycle{}, false
	}
	kills := m.OOMKills - prev
	if m.OOMKills < prev {
		kills = m.OOMKills
	}
	if kills <= 0 {
		return record.Lifecycle{}, false
	}
	return record.Lifecycle{
		TimeNs:      m.TimeNs,
		ContainerID: m.ContainerID,
		Event:       record.EventOOMKilled,
		Detail:      fmt.Sprintf("cgroup %s oom_kill %d->%d", m.CgroupPath, prev, m.OOMKills),
	}, true
}

// Commit remembers m's oom_kill counter as seen.
func (t *OOMTracker) Commit(m record.Metric) {
	if m.ContainerID == "" || m.OOMKills < 0 {
		return
	}
	t.last[m.CgroupPath] = m.OOMKills
}

// Forget drops the counters of the cgroups not in live, cgroup paths
// relative to the mount.
func (t *OOMTracker) Forget(live map[string]bool) {
	for path := range t.last {
		if !live[path] {
			delete(t.last, path)
		}
	}
}

// OOMRecord wraps l, an oom_killed event derived from the cgroup at path
// under the mount root, in an inventory record keyed by the container id.
// The record id depends on the container, the cgroup and the sample time.
func OOMRecord(l record.Lifecycle, root, path string) emit.Record {
	return emit.Record{
		Kind:    record.KindLifecycle,
		Key:     l.ContainerID,
		ID:      record.NewID("lifecycle", l.ContainerID, l.Event, path, strconv.FormatInt(l.TimeNs, 10)),
		Source:  "cgroup:" + filepath.Join(root, path),
		Payload: l,
	}
}
