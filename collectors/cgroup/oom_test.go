package cgroup_test

import (
	"testing"

	"github.com/harrierhq/harrier/collectors/cgroup"
	"github.com/harrierhq/harrier/internal/record"
)

func TestOOMTrackerDeltas(t *testing.T) {
	const path = "system.slice/docker-c4dd52f960e2.scope"
	sample := func(sec int64, kills int64) record.Metric {
		return record.Metric{TimeNs: sec * 1e9, ContainerID: "c4dd52f960e2", CgroupPath: path, OOMKills: kills}
	}
	tracker := cgroup.NewOOMTracker()
	steps := []struct {
		kills int64
		event bool
	}{
		{0, false}, // first sample: no previous counter
		{0, false},
		{2, true},
		{2, false},
		{1, true}, // counter reset: a new cgroup after a restart
		{-1, false},
	}
	for i, s := range steps {
		m := sample(int64(100+i), s.kills)
		event, ok := tracker.Diff(m)
		if ok != s.event {
			t.Errorf("step %d (oom_kill %d): event %v, expected %v", i, s.kills, ok, s.event)
		}
		if ok && (event.Event != record.EventOOMKilled || event.ContainerID != "c4dd52f960e2" || event.TimeNs != m.TimeNs) {
			t.Errorf("step %d: event %+v", i, event)
		}
		tracker.Commit(m)
	}

	host := record.Metric{TimeNs: 1e9, CgroupPath: "system.slice", OOMKills: 0}
	tracker.Commit(host)
	host.OOMKills = 5
	if _, ok := tracker.Diff(host); ok {
		t.Error("event for a cgroup of no container")
	}
}

func TestOOMTrackerDiffWithoutCommit(t *testing.T) {
	tracker := cgroup.NewOOMTracker()
	m := record.Metric{TimeNs: 1e9, ContainerID: "c1", CgroupPath: "p", OOMKills: 0}
	tracker.Commit(m)
	m.OOMKills, m.TimeNs = 1, 2e9
	if _, ok := tracker.Diff(m); !ok {
		t.Fatal("no event for a new kill")
	}
	if _, ok := tracker.Diff(m); !ok {
		t.Error("uncommitted event not returned again")
	}
	tracker.Forget(map[string]bool{})
	if _, ok := tracker.Diff(m); ok {
		t.Error("event after Forget, expected the first sample again")
	}
}
