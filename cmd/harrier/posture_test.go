package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/alerting"
	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage"
	"github.com/harrierhq/harrier/storage/storagetest"
)

const postureFixtures = "../../collectors/posture/testdata"

// weakFailureCount is the number of failing results of the weak fixture
// host; alerting/posture_test.go lists them.
const weakFailureCount = 46

func runHarrierOK(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := mainWithArgs(args, &stdout, &stderr); code != 0 {
		t.Fatalf("harrier %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
	}
	return stdout.String(), stderr.String()
}

func decodePostureRows(t *testing.T, out string) []postureRow {
	t.Helper()
	var rows []postureRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("output is not a JSON array of results: %v\n%s", err, out)
	}
	return rows
}

func TestPostureRootFixtures(t *testing.T) {
	at := "--at=2026-12-01T00:00:00Z"
	weak := filepath.Join(postureFixtures, "weak")
	out, _ := runHarrierOK(t, "posture", "--root", weak, "--scans", filepath.Join(weak, "var/lib/harrier/scans"), at, "--json", "--failed")
	if rows := decodePostureRows(t, out); len(rows) != weakFailureCount {
		t.Errorf("weak host: %d failures, want %d", len(rows), weakFailureCount)
	}

	hardened := filepath.Join(postureFixtures, "hardened")
	out, _ = runHarrierOK(t, "posture", "--root", hardened, "--scans", filepath.Join(hardened, "var/lib/harrier/scans"), at)
	if !strings.HasPrefix(out, "Host hardened-1 (8f3c2a1e5b7d4c6e9a0b1c2d3e4f5a6b): 0 fail, 0 excepted, 42 pass\n") {
		t.Errorf("hardened host table starts with %q", strings.SplitN(out, "\n", 2)[0])
	}
	if strings.Contains(out, "FAIL ") {
		t.Errorf("hardened host has failures:\n%s", out)
	}
}

// captureWriter keeps the messages an agent writes.
type captureWriter struct{ msgs []kafka.Message }

func (c *captureWriter) Write(_ context.Context, msgs ...kafka.Message) error {
	c.msgs = append(c.msgs, msgs...)
	return nil
}

func loadPostureFixture(t *testing.T, ctx context.Context, store *storage.Store, host string) {
	t.Helper()
	root := filepath.Join(postureFixtures, host)
	out := &captureWriter{}
	agent := collectors.NewAgent(collectors.AgentConfig{
		HostRoot:   root,
		DockerRoot: filepath.Join(root, "var/lib/docker/containers"),
		ScanDir:    filepath.Join(root, "var/lib/harrier/scans"),
		Posture:    true,
	}, out, nil)
	if err := agent.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := normalize.New(normalize.Config{}, store, nil, nil).HandleBatch(ctx, out.msgs); err != nil {
		t.Fatal(err)
	}
}

func TestPostureAndInventoryFromClickHouse(t *testing.T) {
	store := storagetest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	loadPostureFixture(t, ctx, store, "hardened")
	loadPostureFixture(t, ctx, store, "weak")
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	a, err := alerting.New(alerting.Config{Clock: func() time.Time { return at }}, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.EvaluateRules(ctx); err != nil {
		t.Fatal(err)
	}
	conn := []string{"--clickhouse", store.Addr(), "--clickhouse.database", store.Database()}

	out, _ := runHarrierOK(t, append([]string{"posture", "--host", "weak-1", "--json", "--failed"}, conn...)...)
	rows := decodePostureRows(t, out)
	if len(rows) != weakFailureCount {
		t.Errorf("weak-1: %d failures, want %d", len(rows), weakFailureCount)
	}
	for _, r := range rows {
		if r.HostID != "c0ffee00c0ffee00c0ffee00c0ffee00" || r.FirstSeen != "2026-12-01T00:00:00Z" || r.LastSeen != "2026-12-01T00:00:00Z" {
			t.Errorf("row %+v: want host c0ffee00… first and last seen at the evaluation", r)
			break
		}
	}
	out, _ = runHarrierOK(t, append([]string{"posture", "--host", "8f3c2a1e5b7d4c6e9a0b1c2d3e4f5a6b"}, conn...)...)
	if !strings.HasPrefix(out, "Host hardened-1 (8f3c2a1e5b7d4c6e9a0b1c2d3e4f5a6b): 0 fail, 0 excepted, 42 pass\n") {
		t.Errorf("hardened host: %q", strings.SplitN(out, "\n", 2)[0])
	}
	var stdout, stderr bytes.Buffer
	if code := mainWithArgs(append([]string{"posture", "--host", "nosuchhost"}, conn...), &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), `no posture results for host "nosuchhost"`) {
		t.Errorf("unknown host: exit %d, %s", code, stderr.String())
	}

	out, _ = runHarrierOK(t, append([]string{"inventory", "--format", "csv", "hosts"}, conn...)...)
	if !strings.Contains(out, "hardened-1") || !strings.Contains(out, "weak-1") {
		t.Errorf("inventory hosts lacks a fixture host:\n%s", out)
	}
	out, _ = runHarrierOK(t, append([]string{"inventory", "--format", "csv", "images"}, conn...)...)
	for _, ref := range []string{"ghcr.io/example/api:2.4.1", "203.0.113.7:5000/legacy/app:1.0", "ghcr.io/aquasecurity/trivy-test-images:debian-buster"} {
		if !strings.Contains(out, ref) {
			t.Errorf("inventory images lacks %s:\n%s", ref, out)
		}
	}
	if !strings.Contains(out, "1970-01-01T00:00:00Z") {
		t.Errorf("inventory images shows no image without a scan:\n%s", out)
	}
	out, _ = runHarrierOK(t, append([]string{"inventory", "--format", "csv", "policies"}, conn...)...)
	if !strings.Contains(out, "host-ssh-root-login,authentication,high,1,") || !strings.Contains(out, "2026-12-01T00:00:00Z") {
		t.Errorf("inventory policies lacks host-ssh-root-login with its last evaluation:\n%s", out)
	}
	out, _ = runHarrierOK(t, append([]string{"inventory"}, conn...)...)
	for _, title := range []string{"hosts (2)", "images (3)", "containers (4)", "policies ("} {
		if !strings.Contains(out, title) {
			t.Errorf("inventory lacks %q:\n%s", title, out)
		}
	}
}
