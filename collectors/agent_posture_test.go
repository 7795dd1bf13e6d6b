package collectors_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
)

// postureEmitter counts the posture records an agent writes.
type postureEmitter struct{ postures int }

func (e *postureEmitter) Write(_ context.Context, msgs ...kafka.Message) error {
	for _, m := range msgs {
		env, err := record.Decode(m.Value)
		if err == nil && env.Kind == record.KindPosture {
			e.postures++
		}
	}
	return nil
}

// copyTree copies the folder src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAgentSendsPostureWhenItChanges(t *testing.T) {
	root := t.TempDir()
	copyTree(t, "posture/testdata/weak", root)
	out := &postureEmitter{}
	agent := collectors.NewAgent(collectors.AgentConfig{
		HostRoot:          root,
		DockerRoot:        filepath.Join(root, "var/lib/docker/containers"),
		Posture:           true,
		HostCheckInterval: time.Nanosecond,
	}, out, nil)
	ctx := context.Background()

	if err := agent.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if out.postures != 3 {
		t.Fatalf("first pass sent %d posture records, want the host and two running containers", out.postures)
	}
	if err := agent.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if out.postures != 3 {
		t.Errorf("an unchanged posture was sent again: %d records", out.postures)
	}

	sshd := filepath.Join(root, "etc/ssh/sshd_config")
	if err := os.WriteFile(sshd, []byte("PermitRootLogin no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := agent.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if out.postures != 6 {
		t.Errorf("after an sshd change %d posture records were sent, want the whole pass again (6)", out.postures)
	}
	if got := agent.Stats().Postures; got != 6 {
		t.Errorf("Stats().Postures = %d, want 6", got)
	}
}
