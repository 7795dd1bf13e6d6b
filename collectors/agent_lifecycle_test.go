package collectors_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
)

func kindMessages(t *testing.T, msgs []kafka.Message, kind record.Kind) []record.Envelope {
	t.Helper()
	var out []record.Envelope
	for _, m := range msgs {
		env, err := record.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if env.Kind == kind {
			if m.Topic != record.TopicFor(kind) {
				t.Errorf("%s record on topic %s", kind, m.Topic)
			}
			out = append(out, env)
		}
	}
	return out
}

func TestAgentSendsHostFactsOnChange(t *testing.T) {
	root := t.TempDir()
	writeHostFile(t, root, "etc/os-release", "ID=ubuntu\nVERSION_ID=\"22.04\"\n")
	writeHostFile(t, root, "etc/machine-id", "4c4c4544004b4d10805ab2c04f563232\n")
	writeHostFile(t, root, "proc/uptime", "1000.5 10.0\n")

	out := &recordingEmitter{}
	agent := collectors.NewAgent(collectors.AgentConfig{HostRoot: root, HostCheckInterval: time.Nanosecond}, out, nil)
	ctx := context.Background()
	if err := agent.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// Unchanged facts and a higher uptime are not sent again.
	writeHostFile(t, root, "proc/uptime", "1060.5 10.0\n")
	if err := agent.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(kindMessages(t, out.messages(), record.KindHost)); n != 1 {
		t.Fatalf("host records after an unchanged pass = %d, expected 1", n)
	}

	// Docker was installed: the runtime is a new fact.
	writeHostFile(t, root, "run/docker.sock", "")
	if err := agent.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	hosts := kindMessages(t, out.messages(), record.KindHost)
	if len(hosts) != 2 {
		t.Fatalf("host records after a change = %d, expected 2", len(hosts))
	}
	var h record.Host
	if err := json.Unmarshal(hosts[1].Payload, &h); err != nil {
		t.Fatal(err)
	}
	if h.Runtime != "docker" || h.OSEOLDate != "2027-04-30" {
		t.Errorf("host runtime %q eol %q, expected docker and 2027-04-30", h.Runtime, h.OSEOLDate)
	}

	// A lower uptime means a reboot, which is sent.
	writeHostFile(t, root, "proc/uptime", "30.0 1.0\n")
	if err := agent.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(kindMessages(t, out.messages(), record.KindHost)); n != 3 {
		t.Errorf("host records after a reboot = %d, expected 3", n)
	}
}

func writeHostFile(t *testing.T, root, name, content string) {
	t.Helper()
	path := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAgentLifecycleAcrossPasses(t *testing.T) {
	root := t.TempDir()
	id := "57f54174c514b468b40ede30d09f2efc4f1cf9c2881c29fdf303eeeeb18ec4a6"
	writeDockerContainer(t, root, id, jsonLine("up", 1))
	configPath := filepath.Join(root, id, "config.v2.json")
	writeConfig := func(state string, restarts int) {
		config := fmt.Sprintf(`{"ID":%q,"Name":"/app","Image":"sha256:abc","Created":"2026-11-30T08:59:58Z","RestartCount":%d,"Config":{"Image":"app:1","Labels":{}},"State":%s}`, id, restarts, state)
		if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(`{"Running":true,"ExitCode":0,"OOMKilled":false,"StartedAt":"2026-11-30T09:00:00Z","FinishedAt":"0001-01-01T00:00:00Z"}`, 0)

	out := &recordingEmitter{}
	agent := collectors.NewAgent(collectors.AgentConfig{HostID: "h1", DockerRoot: root}, out, nil)
	ctx := context.Background()
	if err := agent.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	writeConfig(`{"Running":false,"ExitCode":137,"OOMKilled":true,"StartedAt":"2026-11-30T09:00:00Z","FinishedAt":"2026-11-30T09:05:00Z"}`, 0)
	if err := agent.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	writeConfig(`{"Running":true,"ExitCode":0,"OOMKilled":false,"StartedAt":"2026-11-30T09:05:02Z","FinishedAt":"2026-11-30T09:05:00Z"}`, 1)
	if err := agent.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	var got []string
	for _, env := range kindMessages(t, out.messages(), record.KindLifecycle) {
		var l record.Lifecycle
		if err := json.Unmarshal(env.Payload, &l); err != nil {
			t.Fatal(err)
		}
		if l.ContainerID != id || l.ImageID != "sha256:abc" || l.ContainerName != "app" {
			t.Errorf("event %s: container %q image %q name %q", l.Event, l.ContainerID, l.ImageID, l.ContainerName)
		}
		got = append(got, fmt.Sprintf("%s/%d", l.Event, l.ExitCode))
	}
	want := []string{"created/0", "started/0", "exited/137", "oom_killed/137", "started/0", "restarted/0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events = %v, expected %v", got, want)
	}
	if s := agent.Stats(); s.Lifecycle != int64(len(want)) {
		t.Errorf("stats lifecycle = %d, expected %d", s.Lifecycle, len(want))
	}
}

func TestAgentTailsContainerWithBrokenConfig(t *testing.T) {
	root := t.TempDir()
	id := "c4dd52f960e2dbe7dcd38686acc678a5eb5a1fc9c0f35fbaaf3379284644b487"
	writeDockerContainer(t, root, id, jsonLine("first", 1), jsonLine("second", 2))
	if err := os.WriteFile(filepath.Join(root, id, "config.v2.json"), []byte(`{"ID":"`+id+`","Config":`), 0o644); err != nil {
		t.Fatal(err)
	}

	out := &recordingEmitter{}
	agent := collectors.NewAgent(collectors.AgentConfig{HostID: "h1", DockerRoot: root}, out, nil)
	if err := agent.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := out.messages()
	if got := logMessages(t, msgs); fmt.Sprint(got) != "[first second]" {
		t.Errorf("log messages = %v, expected [first second]", got)
	}
	for _, env := range kindMessages(t, msgs, record.KindLog) {
		var l record.Log
		if err := json.Unmarshal(env.Payload, &l); err != nil {
			t.Fatal(err)
		}
		if l.ContainerID != id {
			t.Errorf("log container id = %q, expected the folder name", l.ContainerID)
		}
	}
	if n := len(kindMessages(t, msgs, record.KindContainer)); n != 0 {
		t.Errorf("%d container records for unknown metadata, expected 0", n)
	}
	s := agent.Stats()
	if s.ParseErrors != 1 {
		t.Errorf("parse errors = %d, expected 1", s.ParseErrors)
	}
	if s.Logs != 2 {
		t.Errorf("logs = %d, expected 2", s.Logs)
	}
}
