package collectors_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/collectors/cri"
	"github.com/harrierhq/harrier/internal/record"
)

// writeCRILog writes <root>/pods/<podDir>/<container>/<name> with one CRI
// log line stamped at ts.
func writeCRILog(t *testing.T, root, podDir, container, name string, ts time.Time) {
	t.Helper()
	dir := filepath.Join(root, "pods", podDir, container)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	line := ts.UTC().Format(time.RFC3339Nano) + " stdout F up\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
}

type criEvent struct {
	id string
	l  record.Lifecycle
}

// runCRIPass runs one pass of agent and returns the lifecycle events it sent.
func runCRIPass(t *testing.T, agent *collectors.Agent, out *recordingEmitter) []criEvent {
	t.Helper()
	before := len(out.messages())
	if err := agent.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var events []criEvent
	for _, env := range kindMessages(t, out.messages()[before:], record.KindLifecycle) {
		var l record.Lifecycle
		if err := json.Unmarshal(env.Payload, &l); err != nil {
			t.Fatal(err)
		}
		events = append(events, criEvent{id: env.ID, l: l})
	}
	return events
}

func eventNames(events []criEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, fmt.Sprintf("%s:%s/%d", e.l.ContainerName, e.l.Event, e.l.ExitCode))
	}
	return out
}

func TestAgentCRILifecycleFromFolders(t *testing.T) {
	root := t.TempDir()
	state := t.TempDir()
	cfg := collectors.AgentConfig{HostID: "h1", CRIRoot: root, StateDir: state}
	webPod := "shop_web-7d9f_1b2c3d4e-0000-4000-8000-000000000001"
	jobPod := "batch_job-x1_1b2c3d4e-0000-4000-8000-000000000002"
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

	writeCRILog(t, root, webPod, "web", "0.log", start)
	writeCRILog(t, root, webPod, "sidecar", "0.log", start.Add(time.Second))
	writeCRILog(t, root, jobPod, "job", "2.log", start.Add(2*time.Second))

	out := &recordingEmitter{}
	agent := collectors.NewAgent(cfg, out, nil)

	// Pass 1: every folder is new. The job's newest file is 2.log, so it
	// has restarted before.
	first := runCRIPass(t, agent, out)
	want := []string{
		"job:created/0", "job:started/0", "job:restarted/0",
		"sidecar:created/0", "sidecar:started/0",
		"web:created/0", "web:started/0",
	}
	if got := eventNames(first); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("first pass events = %v, expected %v", got, want)
	}
	for _, e := range first {
		if e.l.ContainerName == "web" && e.l.TimeNs != start.UnixNano() {
			t.Errorf("web %s time = %d, expected the first log line's %d", e.l.Event, e.l.TimeNs, start.UnixNano())
		}
		if e.l.ContainerName == "web" && e.l.ContainerID != cri.DerivedID("shop", "web-7d9f", "web") {
			t.Errorf("web %s container id = %q, expected the id derived from the folder names", e.l.Event, e.l.ContainerID)
		}
	}

	// Pass 2: nothing changed, so nothing is sent.
	if got := runCRIPass(t, agent, out); len(got) != 0 {
		t.Fatalf("unchanged pass events = %v, expected none", eventNames(got))
	}

	// Pass 3: web restarts (1.log next to 0.log), sidecar's folder is
	// removed, and the whole job pod folder is removed.
	restart := start.Add(time.Minute)
	writeCRILog(t, root, webPod, "web", "1.log", restart)
	if err := os.RemoveAll(filepath.Join(root, "pods", webPod, "sidecar")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "pods", jobPod)); err != nil {
		t.Fatal(err)
	}
	third := runCRIPass(t, agent, out)
	want = []string{"web:started/0", "web:restarted/0", "job:exited/-1", "sidecar:exited/-1"}
	if got := eventNames(third); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("third pass events = %v, expected %v", got, want)
	}
	for _, e := range third {
		if e.l.Event == record.EventExited && !strings.Contains(e.l.Detail, "derived from files") {
			t.Errorf("%s exited detail = %q, expected it to say the event is derived from files", e.l.ContainerName, e.l.Detail)
		}
		if e.l.Event == record.EventRestarted && e.l.Detail != "CRI log file name: restart count 0->1" {
			t.Errorf("web restarted detail = %q", e.l.Detail)
		}
		if e.l.ContainerName == "web" && e.l.TimeNs != restart.UnixNano() {
			t.Errorf("web %s time = %d, expected 1.log's first line %d", e.l.Event, e.l.TimeNs, restart.UnixNano())
		}
	}

	// Record ids are distinct across every event sent.
	ids := map[string]bool{}
	for _, e := range append(first, third...) {
		if ids[e.id] {
			t.Errorf("record id %s sent twice", e.id)
		}
		ids[e.id] = true
	}

	// A new agent with the same state directory sends nothing for the
	// folders it already reported, and reports what changed while it was
	// stopped.
	restarted := collectors.NewAgent(cfg, out, nil)
	if got := runCRIPass(t, restarted, out); len(got) != 0 {
		t.Fatalf("restarted agent events = %v, expected none", eventNames(got))
	}
	if err := os.RemoveAll(filepath.Join(root, "pods", webPod)); err != nil {
		t.Fatal(err)
	}
	stopped := collectors.NewAgent(cfg, out, nil)
	gone := runCRIPass(t, stopped, out)
	if got := eventNames(gone); fmt.Sprint(got) != "[web:exited/-1]" {
		t.Fatalf("events after the web pod was removed = %v, expected [web:exited/-1]", got)
	}
	if s := stopped.Stats(); s.Lifecycle != 1 {
		t.Errorf("stats lifecycle = %d, expected 1", s.Lifecycle)
	}
}

func TestAgentCRILifecycleIDsWithoutState(t *testing.T) {
	root := t.TempDir()
	writeCRILog(t, root, "shop_web-7d9f_1b2c3d4e-0000-4000-8000-000000000001", "web", "0.log", time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	cfg := collectors.AgentConfig{HostID: "h1", CRIRoot: root}

	// Without a state directory a new agent reports the container again,
	// under the same record ids, so storage keeps one row per event.
	out := &recordingEmitter{}
	first := runCRIPass(t, collectors.NewAgent(cfg, out, nil), out)
	again := runCRIPass(t, collectors.NewAgent(cfg, out, nil), out)
	if len(first) != 2 || len(again) != 2 {
		t.Fatalf("events = %v then %v, expected created and started twice", eventNames(first), eventNames(again))
	}
	for i := range first {
		if first[i].id != again[i].id {
			t.Errorf("%s record id = %s then %s, expected the same", first[i].l.Event, first[i].id, again[i].id)
		}
		if first[i].l != again[i].l {
			t.Errorf("%s event = %+v then %+v, expected the same", first[i].l.Event, first[i].l, again[i].l)
		}
	}
}

func TestAgentCRILifecycleInvalidState(t *testing.T) {
	state := t.TempDir()
	if err := os.WriteFile(filepath.Join(state, cri.LifecycleStateFile), []byte(`{"version":`), 0o644); err != nil {
		t.Fatal(err)
	}
	agent := collectors.NewAgent(collectors.AgentConfig{HostID: "h1", CRIRoot: t.TempDir(), StateDir: state}, &recordingEmitter{}, nil)
	err := agent.RunOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), cri.LifecycleStateFile) {
		t.Fatalf("error = %v, expected one naming %s", err, cri.LifecycleStateFile)
	}
}
