package docker

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/harrierhq/harrier/collectors/internal/emit"
	"github.com/harrierhq/harrier/internal/record"
)

// LifecycleTracker derives container lifecycle events from the State of
// config.v2.json, comparing each pass with the state the previous pass read.
//
// The first time it finds a container it returns the events its current
// state proves: created, started, restarted when RestartCount is above 0,
// and exited (with oom_killed) when the container is stopped. Later passes
// return the events between the two states. An event's record id is built
// from the container id, the event and the runtime's timestamp, so a new
// collector that reports the same event again writes the same id and
// storage keeps one row.
//
// NOTE: a container that restarts more than once between two passes yields
// one restarted event, with the RestartCount change in Detail. An exit
// that is followed by a restart before the next pass has exit code -1,
// because Docker resets State.ExitCode when the container starts again.
type LifecycleTracker struct {
	last map[string]State
}

// NewLifecycleTracker returns a tracker that has seen no container.
func NewLifecycleTracker() *LifecycleTracker {
	return &LifecycleTracker{last: make(map[string]State)}
}

// Observe returns the lifecycle events of c since the previous call for
// the same container, and remembers c's state. A container with
// MetadataErr set yields none.
func (t *LifecycleTracker) Observe(c Container) []record.Lifecycle {
	events := t.Diff(c)
	t.Commit(c)
	return events
}

// Commit remembers c's state as seen, so that the next Diff of the same
// container starts from it. Callers that write the events of Diff commit
// after the write succeeds, so a failed write yields the events again.
func (t *LifecycleTracker) Commit(c Container) {
	if c.MetadataErr == nil {
		t.last[c.Info.ContainerID] = c.State
	}
}

// Diff returns the lifecycle events of c since the state last committed
// for the same container, without changing the tracker. A container with
// MetadataErr set yields none.
func (t *LifecycleTracker) Diff(c Container) []record.Lifecycle {
	if c.MetadataErr != nil {
		return nil
	}
	id := c.Info.ContainerID
	cur := c.State
	prev, seen := t.last[id]

	event := func(kind string, timeNs int64, exitCode int, detail string) record.Lifecycle {
		return record.Lifecycle{
			TimeNs: timeNs, ContainerID: id, ContainerName: c.Info.Name, ImageID: c.Info.ImageID,
			Event: kind, ExitCode: exitCode, Detail: detail,
		}
	}
	var out []record.Lifecycle

	if !seen {
		if cur.CreatedNs > 0 {
			out = append(out, event(record.EventCreated, cur.CreatedNs, 0, "config.v2.json Created"))
		}
		if cur.StartedNs > 0 {
			out = append(out, event(record.EventStarted, cur.StartedNs, 0, "config.v2.json State.StartedAt"))
			if cur.RestartCount > 0 {
				detail := fmt.Sprintf("config.v2.json RestartCount %d", cur.RestartCount)
				out = append(out, event(record.EventRestarted, cur.StartedNs, 0, detail))
			}
		}
		if stopped(cur) {
			out = append(out, exitEvents(event, cur, cur.ExitCode, "config.v2.json State.FinishedAt")...)
		}
		return out
	}

	// An exit comes before the start that may follow it.
	if cur.FinishedNs > 0 && cur.FinishedNs != prev.FinishedNs {
		if stopped(cur) {
			out = append(out, exitEvents(event, cur, cur.ExitCode, "config.v2.json State.FinishedAt")...)
		} else {
			out = append(out, exitEvents(event, cur, -1, "config.v2.json State.FinishedAt, exit code not read: the container started again before the next pass")...)
		}
	}
	if cur.StartedNs > 0 && cur.StartedNs != prev.StartedNs {
		out = append(out, event(record.EventStarted, cur.StartedNs, 0, "config.v2.json State.StartedAt"))
		if cur.RestartCount > prev.RestartCount {
			detail := fmt.Sprintf("config.v2.json RestartCount %d->%d", prev.RestartCount, cur.RestartCount)
			out = append(out, event(record.EventRestarted, cur.StartedNs, 0, detail))
		}
	}
	return out
}

// Forget drops the state of the containers not in live, so that the
// tracker's memory follows the containers present on the host.
func (t *LifecycleTracker) Forget(live map[string]bool) {
	for id := range t.last {
		if !live[id] {
			delete(t.last, id)
		}
	}
}

// stopped reports whether st is a container that ran and is stopped now:
// not running, and finished after its last start.
func stopped(st State) bool {
	return !st.Running && st.FinishedNs > 0 && st.FinishedNs >= st.StartedNs
}

func exitEvents(event func(string, int64, int, string) record.Lifecycle, st State, exitCode int, detail string) []record.Lifecycle {
	out := []record.Lifecycle{event(record.EventExited, st.FinishedNs, exitCode, detail)}
	if st.OOMKilled && exitCode != -1 {
		out = append(out, event(record.EventOOMKilled, st.FinishedNs, exitCode, "config.v2.json State.OOMKilled"))
	}
	return out
}

// LifecycleRecord wraps l, an event of the container in dir, in an
// inventory record keyed by the container id. The record id depends only
// on the container, the event and its time.
func LifecycleRecord(l record.Lifecycle, dir string) emit.Record {
	return emit.Record{
		Kind:    record.KindLifecycle,
		Key:     l.ContainerID,
		ID:      record.NewID("lifecycle", l.ContainerID, l.Event, strconv.FormatInt(l.TimeNs, 10)),
		Source:  "docker:" + filepath.Join(dir, "config.v2.json"),
		Payload: l,
	}
}
