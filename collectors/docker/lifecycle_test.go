package docker_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/harrierhq/harrier/collectors/docker"
	"github.com/harrierhq/harrier/internal/record"
)

const lifecycleID = "3bd9d093368e3d0670f89c422f30ebc3f96bc629ce919c6b2b8a8f58eaf2125f"

// writeState writes the sample config.v2.json into root/<id>/ with the
// given State fields and RestartCount replaced, as the engine rewrites the
// file on every state change.
func writeState(t *testing.T, root string, state map[string]any, restartCount int) {
	t.Helper()
	b, err := os.ReadFile("testdata/lifecycle/config.v2.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	st := cfg["State"].(map[string]any)
	for k, v := range state {
		st[k] = v
	}
	cfg["RestartCount"] = restartCount
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, lifecycleID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.v2.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func observe(t *testing.T, tracker *docker.LifecycleTracker, root string) []record.Lifecycle {
	t.Helper()
	containers, invalid, err := docker.Discover(root, time.Now())
	if err != nil || len(invalid) != 0 {
		t.Fatalf("Discover: %v %v", err, invalid)
	}
	if len(containers) != 1 {
		t.Fatalf("%d containers, expected 1", len(containers))
	}
	return tracker.Observe(containers[0])
}

func eventNames(events []record.Lifecycle) []string {
	var names []string
	for _, e := range events {
		names = append(names, e.Event)
	}
	return names
}

func ns(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

func TestLifecycleBetweenPasses(t *testing.T) {
	root := t.TempDir()
	tracker := docker.NewLifecycleTracker()

	// Pass 1: the sample as written, running since 08:25.
	writeState(t, root, nil, 0)
	events := observe(t, tracker, root)
	if got := eventNames(events); len(got) != 2 || got[0] != "created" || got[1] != "started" {
		t.Fatalf("first pass events = %v, expected [created started]", got)
	}
	if events[0].TimeNs != ns("2026-11-30T08:24:58Z") || events[1].TimeNs != ns("2026-11-30T08:25:00Z") {
		t.Errorf("first pass times = %d, %d", events[0].TimeNs, events[1].TimeNs)
	}
	if events[0].ContainerName != "api" || events[0].ImageID == "" {
		t.Errorf("event without name or image: %+v", events[0])
	}

	// Pass 2: nothing changed.
	if events := observe(t, tracker, root); len(events) != 0 {
		t.Errorf("unchanged pass events = %v, expected none", eventNames(events))
	}

	// Pass 3: the kernel OOM-killed the process; Docker records exit 137.
	writeState(t, root, map[string]any{
		"Running": false, "Pid": 0, "ExitCode": 137, "OOMKilled": true,
		"FinishedAt": "2026-11-30T09:00:00.5Z",
	}, 0)
	events = observe(t, tracker, root)
	if got := eventNames(events); len(got) != 2 || got[0] != "exited" || got[1] != "oom_killed" {
		t.Fatalf("OOM pass events = %v, expected [exited oom_killed]", got)
	}
	if events[0].ExitCode != 137 {
		t.Errorf("exit code = %d, expected 137", events[0].ExitCode)
	}
	if events[0].TimeNs != ns("2026-11-30T09:00:00.5Z") {
		t.Errorf("exit time = %d", events[0].TimeNs)
	}

	// Pass 4: the restart policy started it again.
	writeState(t, root, map[string]any{
		"Running": true, "Pid": 4200, "ExitCode": 0, "OOMKilled": false,
		"StartedAt": "2026-11-30T09:00:01Z", "FinishedAt": "2026-11-30T09:00:00.5Z",
	}, 1)
	events = observe(t, tracker, root)
	if got := eventNames(events); len(got) != 2 || got[0] != "started" || got[1] != "restarted" {
		t.Fatalf("restart pass events = %v, expected [started restarted]", got)
	}
	if events[1].Detail != "config.v2.json RestartCount 0->1" {
		t.Errorf("restart detail = %q", events[1].Detail)
	}

	// Pass 5: it exited with 3 and restarted before the pass; Docker reset
	// ExitCode on the start, so the exit code is unknown.
	writeState(t, root, map[string]any{
		"Running": true, "Pid": 4300, "ExitCode": 0,
		"StartedAt": "2026-11-30T09:10:01Z", "FinishedAt": "2026-11-30T09:10:00Z",
	}, 2)
	events = observe(t, tracker, root)
	if got := eventNames(events); len(got) != 3 || got[0] != "exited" || got[1] != "started" || got[2] != "restarted" {
		t.Fatalf("missed exit pass events = %v, expected [exited started restarted]", got)
	}
	if events[0].ExitCode != -1 {
		t.Errorf("exit code of an unseen exit = %d, expected -1", events[0].ExitCode)
	}

	// Pass 6: stopped by the operator with exit code 0.
	writeState(t, root, map[string]any{
		"Running": false, "Pid": 0, "ExitCode": 0,
		"StartedAt": "2026-11-30T09:10:01Z", "FinishedAt": "2026-11-30T09:20:00Z",
	}, 2)
	events = observe(t, tracker, root)
	if got := eventNames(events); len(got) != 1 || got[0] != "exited" || events[0].ExitCode != 0 {
		t.Fatalf("stop pass events = %+v, expected one exited with code 0", events)
	}
}

func TestLifecycleFirstPassOfStoppedContainer(t *testing.T) {
	root := t.TempDir()
	writeState(t, root, map[string]any{
		"Running": false, "Pid": 0, "ExitCode": 1,
		"FinishedAt": "2026-11-30T08:30:00Z",
	}, 3)
	events := observe(t, docker.NewLifecycleTracker(), root)
	got := eventNames(events)
	want := []string{"created", "started", "restarted", "exited"}
	if len(got) != len(want) {
		t.Fatalf("events = %v, expected %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %s, expected %s", i, got[i], want[i])
		}
	}
	if events[3].ExitCode != 1 {
		t.Errorf("exit code = %d, expected 1", events[3].ExitCode)
	}
}

func TestLifecycleRecordIDStable(t *testing.T) {
	root := t.TempDir()
	writeState(t, root, nil, 0)
	first := observe(t, docker.NewLifecycleTracker(), root)
	second := observe(t, docker.NewLifecycleTracker(), root)
	dir := filepath.Join(root, lifecycleID)
	for i := range first {
		a := docker.LifecycleRecord(first[i], dir)
		b := docker.LifecycleRecord(second[i], dir)
		if a.ID != b.ID {
			t.Errorf("event %s: record ids %s and %s differ across trackers", first[i].Event, a.ID, b.ID)
		}
		if a.Kind != record.KindLifecycle || a.Key != lifecycleID {
			t.Errorf("record kind %s key %s", a.Kind, a.Key)
		}
	}
}

func TestLifecycleDiffWithoutCommit(t *testing.T) {
	root := t.TempDir()
	writeState(t, root, nil, 0)
	containers, _, _ := docker.Discover(root, time.Now())
	tracker := docker.NewLifecycleTracker()
	if n := len(tracker.Diff(containers[0])); n != 2 {
		t.Fatalf("first diff = %d events, expected 2", n)
	}
	if n := len(tracker.Diff(containers[0])); n != 2 {
		t.Errorf("diff after no commit = %d events, expected the same 2 again", n)
	}
	tracker.Commit(containers[0])
	if n := len(tracker.Diff(containers[0])); n != 0 {
		t.Errorf("diff after commit = %d events, expected 0", n)
	}
}

func TestDiscoverKeepsContainerWithBrokenConfig(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, lifecycleID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.v2.json"), []byte(`{"ID":"`+lifecycleID+`","State":`), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, lifecycleID+"-json.log")
	if err := os.WriteFile(logPath, []byte(`{"log":"hi\n","stream":"stdout","time":"2026-11-30T10:00:00Z"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A folder with a broken config and no log is skipped as before.
	other := filepath.Join(root, "not-a-container")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "config.v2.json"), []byte(`{`), 0o644); err != nil {
		t.Fatal(err)
	}

	containers, invalid, err := docker.Discover(root, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(invalid) != 2 {
		t.Errorf("invalid = %v, expected 2 errors", invalid)
	}
	if len(containers) != 1 {
		t.Fatalf("%d containers, expected the broken one with a log", len(containers))
	}
	c := containers[0]
	if c.MetadataErr == nil {
		t.Error("MetadataErr is nil for a broken config")
	}
	if c.Info.ContainerID != lifecycleID || c.LogPath != logPath {
		t.Errorf("container id %q log %q", c.Info.ContainerID, c.LogPath)
	}
	if events := docker.NewLifecycleTracker().Observe(c); len(events) != 0 {
		t.Errorf("broken container yields events %v", eventNames(events))
	}
}

func FuzzParseConfigState(f *testing.F) {
	b, err := os.ReadFile("testdata/lifecycle/config.v2.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"ID":"x","Config":{},"State":{"FinishedAt":"bad"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, st, err := docker.ParseConfigState(b, nil)
		if err != nil {
			return
		}
		if c.ContainerID == "" {
			t.Error("container without id accepted")
		}
		if st.StartedNs != c.StartedNs {
			t.Errorf("StartedNs %d and %d differ", st.StartedNs, c.StartedNs)
		}
	})
}
