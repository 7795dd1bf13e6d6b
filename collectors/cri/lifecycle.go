package cri

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/harrierhq/harrier/collectors/internal/emit"
	"github.com/harrierhq/harrier/internal/record"

	"github.com/harrierhq/harrier/collectors/internal/atomicfile"
)

// LifecycleStateFile is the name of the file, in the agent's state
// directory, that keeps the container log folders a LifecycleTracker saw.
const LifecycleStateFile = "cri-lifecycle.json"

// lifecycleStateVersion is the version of the state file format.
const lifecycleStateVersion = 1

// containerState is the state a LifecycleTracker keeps of one container log
// folder, <root>/pods/<namespace>_<pod>_<uid>/<container>.
type containerState struct {
	// Dir is the container log folder.
	Dir         string `json:"dir"`
	ContainerID string `json:"container_id"`
	Name        string `json:"name"`
	Namespace   string `json:"namespace"`
	Pod         string `json:"pod"`
	// LogName is the newest log file, "<restart count>.log".
	LogName string `json:"log_name"`
	// Restarts is the restart count in LogName.
	Restarts int `json:"restarts"`
}

type lifecycleState struct {
	Version    int              `json:"version"`
	Containers []containerState `json:"containers"`
}

// LifecycleTracker derives container lifecycle events from the CRI log
// folders alone, because the agent reads no runtime API for CRI
// containers. It compares the folders of each pass with those of the last
// committed pass:
//
//   - a container folder seen for the first time yields created and
//     started, and restarted too when its newest log file is "<n>.log" with
//     n above 0;
//   - a newer "<n>.log" with a higher n in a known folder yields started and
//     restarted;
//   - a known folder that no longer exists, alone or with its pod folder,
//     yields exited with exit code -1, because the files hold no exit code.
//
// A record id is built from the container id, the event and the log file's
// path under <root>/pods, so a collector that reports the same event again
// writes the same id and storage keeps one row. With a state file, a
// restarted tracker resumes from the folders committed before. It sends
// no event twice, and it reports the folders removed while it was stopped.
// Without one, a new tracker treats every folder as seen for the first time and
// sends created and started again under the same ids.
//
// NOTE: a container that restarts more than once between two passes
// yields one restarted event, with both restart counts in Detail, and a
// folder that contains no "<n>.log" file is neither new nor removed.
type LifecycleTracker struct {
	stateFile string
	last      map[string]containerState
	next      map[string]containerState
}

// NewLifecycleTracker returns a tracker that keeps its state in
// <stateDir>/LifecycleStateFile and loads the state committed there
// before. An empty stateDir keeps the state in memory only.
func NewLifecycleTracker(stateDir string) (*LifecycleTracker, error) {
	t := &LifecycleTracker{last: make(map[string]containerState)}
	if stateDir == "" {
		return t, nil
	}
	t.stateFile = filepath.Join(stateDir, LifecycleStateFile)
	b, err := os.ReadFile(t.stateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read CRI lifecycle state %q: %w", t.stateFile, err)
	}
	var st lifecycleState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("invalid CRI lifecycle state file %q: %w; delete it to report every container as new", t.stateFile, err)
	}
	if st.Version != lifecycleStateVersion {
		return nil, fmt.Errorf("invalid CRI lifecycle state file %q: version=%d, expected %d; delete it to report every container as new", t.stateFile, st.Version, lifecycleStateVersion)
	}
	for _, c := range st.Containers {
		if c.Dir == "" || c.ContainerID == "" {
			return nil, fmt.Errorf("invalid CRI lifecycle state file %q: container dir=%q id=%q, expected both set; delete it to report every container as new", t.stateFile, c.Dir, c.ContainerID)
		}
		t.last[c.Dir] = c
	}
	return t, nil
}

// Diff returns the lifecycle records between the last committed folders and
// files, the log files of this pass, and keeps this pass's folders for
// Commit. now stamps the exited events, whose time the files do not hold.
func (t *LifecycleTracker) Diff(files []LogFile, now time.Time) []emit.Record {
	current := newestLogs(files)
	t.next = make(map[string]containerState, len(current))

	dirs := make([]string, 0, len(current))
	for dir := range current {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs)

	var out []emit.Record
	for _, dir := range dirs {
		f := current[dir]
		cur := f.state
		prev, seen := t.last[dir]
		t.next[dir] = cur

		event := func(kind string, timeNs int64, detail string) emit.Record {
			l := record.Lifecycle{
				TimeNs: timeNs, ContainerID: cur.ContainerID, ContainerName: cur.Name,
				Event: kind, Detail: detail,
			}
			return LifecycleRecord(l, dir, cur.LogName)
		}
		switch {
		case !seen:
			startNs := startTime(f.path)
			out = append(out,
				event(record.EventCreated, startNs, "CRI log folder "+dir+" appeared"),
				event(record.EventStarted, startNs, "CRI log file "+cur.LogName+" appeared"))
			if cur.Restarts > 0 {
				out = append(out, event(record.EventRestarted, startNs, fmt.Sprintf("CRI log file name: restart count %d", cur.Restarts)))
			}
		case cur.Restarts > prev.Restarts:
			startNs := startTime(f.path)
			out = append(out,
				event(record.EventStarted, startNs, "CRI log file "+cur.LogName+" appeared"),
				event(record.EventRestarted, startNs, fmt.Sprintf("CRI log file name: restart count %d->%d", prev.Restarts, cur.Restarts)))
		case cur.Restarts < prev.Restarts:
			// The newer file was removed before the older one. Keep the
			// higher count, so that its file reappearing is no restart.
			t.next[dir] = prev
		}
	}

	var removedDirs []string
	for dir := range t.last {
		if _, ok := current[dir]; !ok {
			removedDirs = append(removedDirs, dir)
		}
	}
	sort.Strings(removedDirs)
	for _, dir := range removedDirs {
		prev := t.last[dir]
		// Only a folder that is missing proves an exit. A folder that could
		// not be read or contains no log file now is kept as it was.
		if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.next[dir] = prev
			continue
		}
		l := record.Lifecycle{
			TimeNs: now.UnixNano(), ContainerID: prev.ContainerID, ContainerName: prev.Name,
			Event: record.EventExited, ExitCode: -1,
			Detail: "derived from files: CRI log folder " + dir + " removed, exit code unknown",
		}
		out = append(out, LifecycleRecord(l, dir, prev.LogName))
	}
	return out
}

// Commit makes the folders of the last Diff the state that the next Diff
// compares with, and writes them to the state file. Callers commit after
// the events of Diff are written, so a failed write yields them again.
func (t *LifecycleTracker) Commit() error {
	if t.next == nil {
		return nil
	}
	t.last, t.next = t.next, nil
	if t.stateFile == "" {
		return nil
	}
	st := lifecycleState{Version: lifecycleStateVersion, Containers: make([]containerState, 0, len(t.last))}
	for _, c := range t.last {
		st.Containers = append(st.Containers, c)
	}
	sort.Slice(st.Containers, func(i, j int) bool { return st.Containers[i].Dir < st.Containers[j].Dir })
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode CRI lifecycle state: %w", err)
	}
	return atomicfile.Write(t.stateFile, "CRI lifecycle state", b)
}

// LifecycleRecord wraps l, an event of the container log folder dir, in an
// inventory record keyed by the container id. The record id depends only
// on the container, the event and the log file's name, so that it is the
// same when a restarted collector derives the event again.
func LifecycleRecord(l record.Lifecycle, dir, logName string) emit.Record {
	file := filepath.Join(filepath.Base(filepath.Dir(dir)), filepath.Base(dir), logName)
	return emit.Record{
		Kind:    record.KindLifecycle,
		Key:     l.ContainerID,
		ID:      record.NewID("cri-lifecycle", l.ContainerID, l.Event, file),
		Source:  "cri:" + dir,
		Payload: l,
	}
}

type newestLog struct {
	path  string
	state containerState
}

// newestLogs returns, per container log folder, the log file with the
// highest restart count.
func newestLogs(files []LogFile) map[string]newestLog {
	out := make(map[string]newestLog)
	for _, f := range files {
		name := filepath.Base(f.Path)
		n, err := strconv.Atoi(strings.TrimSuffix(name, ".log"))
		if err != nil {
			continue
		}
		dir := filepath.Dir(f.Path)
		if cur, ok := out[dir]; ok && cur.state.Restarts >= n {
			continue
		}
		out[dir] = newestLog{path: f.Path, state: containerState{
			Dir: dir, ContainerID: f.Target.ContainerID, Name: f.Target.ContainerName,
			Namespace: f.Target.Namespace, Pod: f.Target.Pod, LogName: name, Restarts: n,
		}}
	}
	return out
}

// startTime returns the time of the first line of the log file at path,
// which the runtime wrote when the container first wrote output, or the
// file's modification time when the first line is missing or invalid.
//
// NOTE: after kubelet rotated the file, its first line is later than the
// container's start, and a container that wrote nothing yet gets the
// modification time, which is close to the time it was created.
func startTime(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 4096).ReadSlice('\n')
	if err == nil {
		if l, err := ParseLine(line[:len(line)-1]); err == nil {
			return l.Time.UnixNano()
		}
	}
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	return st.ModTime().UnixNano()
}
