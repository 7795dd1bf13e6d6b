package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
)

func TestAgentFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	if !strings.Contains(stderr.String(), "-collect.docker_root") {
		t.Errorf("--help does not list the collect keys:\n%s", stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"--collect.interval", "often"}, &stdout, &stderr); code != 2 {
		t.Errorf("invalid duration exited %d, want 2; stderr:\n%s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"extra"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `unexpected argument "extra"`) {
		t.Errorf("positional argument exited %d with %q, want 2", code, stderr.String())
	}
}

// TestAgentOnce runs the agent once over one json-file log against the
// embedded broker, with the spool on, and reads its closing stats line.
func TestAgentOnce(t *testing.T) {
	brokers := kafkatest.StartTestBroker(t)
	dir := t.TempDir()
	id := strings.Repeat("ab", 32)
	writeFile(t, filepath.Join(dir, "containers", id, "config.v2.json"),
		`{"ID":"`+id+`","Name":"/web","Config":{"Image":"nginx:1.27","Labels":{}},"State":{"Running":true}}`)
	writeFile(t, filepath.Join(dir, "containers", id, id+"-json.log"),
		`{"log":"GET / 200\n","stream":"stdout","time":"2026-11-30T10:00:00.000000001Z"}`+"\n"+
			`{"log":"GET /health 200\n","stream":"stdout","time":"2026-11-30T10:00:01.000000001Z"}`+"\n")

	var stdout, stderr bytes.Buffer
	code := run([]string{"--once", "--kafka", brokers[0], "--http.addr", "",
		"--collect.docker_root", filepath.Join(dir, "containers"),
		"--collect.state_dir", filepath.Join(dir, "state"),
		"--collect.cri_root", "", "--collect.cgroup_root", "", "--collect.host_root", "", "--collect.scan_dir", ""},
		&stdout, &stderr)
	if code != 0 {
		t.Fatalf("agent exited %d:\n%s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var stats struct {
		Logs       int64
		Produced   int64
		PeakRSSKiB int64 `json:"peak_rss_kib"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &stats); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	if stats.Logs != 2 || stats.Produced < 2 {
		t.Errorf("logs %d, produced %d; want 2 logs produced", stats.Logs, stats.Produced)
	}
	if stats.PeakRSSKiB <= 0 {
		t.Errorf("peak_rss_kib = %d, want the process's VmHWM", stats.PeakRSSKiB)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
