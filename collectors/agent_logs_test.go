package collectors_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/collectors/multiline"
)

func TestAgentRedactsSecrets(t *testing.T) {
	root := t.TempDir()
	writeDockerContainer(t, root, strings.Repeat("cd", 32),
		jsonLine("GET /login?user=bob&password=hunter2 200", 1),
		jsonLine("using AKIAIOSFODNN7EXAMPLE", 2),
		jsonLine("plain line", 3))

	for _, disabled := range []bool{false, true} {
		out := &recordingEmitter{}
		agent := collectors.NewAgent(collectors.AgentConfig{HostID: "h", DockerRoot: root, DisableRedaction: disabled}, out, nil)
		if err := agent.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := logMessages(t, out.messages())
		want := []string{"GET /login?user=bob&password=[REDACTED] 200", "using [REDACTED]", "plain line"}
		wantRedacted := int64(2)
		if disabled {
			want = []string{"GET /login?user=bob&password=hunter2 200", "using AKIAIOSFODNN7EXAMPLE", "plain line"}
			wantRedacted = 0
		}
		if !slices.Equal(got, want) {
			t.Errorf("DisableRedaction=%v: messages = %q, want %q", disabled, got, want)
		}
		if n := agent.Stats().Redacted; n != wantRedacted {
			t.Errorf("DisableRedaction=%v: Redacted = %d, want %d", disabled, n, wantRedacted)
		}
	}
}

func TestAgentGroupsMultiline(t *testing.T) {
	root := t.TempDir()
	writeDockerContainer(t, root, strings.Repeat("ef", 32),
		jsonLine("ERROR request failed", 1),
		jsonLine("java.lang.IllegalStateException: boom", 2),
		jsonLine("\tat com.example.A.b(A.java:1)", 3),
		jsonLine("INFO next", 4))
	out := &recordingEmitter{}
	agent := collectors.NewAgent(collectors.AgentConfig{HostID: "h", DockerRoot: root, Multiline: &multiline.Config{}}, out, nil)
	if err := agent.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := logMessages(t, out.messages())
	want := []string{"ERROR request failed\njava.lang.IllegalStateException: boom\n\tat com.example.A.b(A.java:1)", "INFO next"}
	if !slices.Equal(got, want) {
		t.Errorf("messages = %q, want %q", got, want)
	}
}

func TestAgentRejectsInvalidMultilinePattern(t *testing.T) {
	agent := collectors.NewAgent(collectors.AgentConfig{HostID: "h", Multiline: &multiline.Config{StartPattern: "[a-"}}, &recordingEmitter{}, nil)
	if err := agent.RunOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "[a-") {
		t.Fatalf("RunOnce error = %v, want one naming the pattern", err)
	}
}
