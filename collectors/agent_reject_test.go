package collectors_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/internal/record"
)

// TestAgentSendsRejectedInput checks that a malformed json-file line and an
// invalid scan report leave the host as reject records, with the path, the
// offset and the parser's reason, next to the valid records.
func TestAgentSendsRejectedInput(t *testing.T) {
	root := t.TempDir()
	id := strings.Repeat("c", 64)
	good := `{"log":"GET / 200\n","stream":"stdout","time":"2026-11-30T10:00:00.000000001Z"}`
	bad := `{"log":"no time field\n","stream":"stdout"}`
	logPath := writeDockerContainer(t, filepath.Join(root, "containers"), id, good, bad, good)
	scans := filepath.Join(root, "scans")
	if err := os.MkdirAll(scans, 0o755); err != nil {
		t.Fatal(err)
	}
	badScan := filepath.Join(scans, "broken.json")
	if err := os.WriteFile(badScan, []byte(`{"SchemaVersion": 2, "Results": [`), 0o644); err != nil {
		t.Fatal(err)
	}

	out := &recordingEmitter{}
	agent := collectors.NewAgent(collectors.AgentConfig{HostID: "h1", DockerRoot: filepath.Join(root, "containers"), ScanDir: scans}, out, nil)
	if err := agent.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}

	rejects := map[string]record.Reject{}
	logs := 0
	for _, m := range out.messages() {
		env, err := record.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		switch env.Kind {
		case record.KindLog:
			logs++
		case record.KindReject:
			if m.Topic != record.TopicInventory || string(m.Key) != "h1" {
				t.Errorf("reject on topic %s with key %q, want topic %s keyed by the host id", m.Topic, m.Key, record.TopicInventory)
			}
			var r record.Reject
			if err := json.Unmarshal(env.Payload, &r); err != nil {
				t.Fatal(err)
			}
			rejects[r.Path] = r
		}
	}
	if logs != 2 {
		t.Errorf("log records = %d, want the 2 valid lines", logs)
	}

	line, ok := rejects[logPath]
	if !ok {
		t.Fatalf("no reject for the log file; rejects: %v", rejects)
	}
	if line.Offset != int64(len(good)+1) {
		t.Errorf("rejected line offset = %d, want %d", line.Offset, len(good)+1)
	}
	if !strings.Contains(line.Reason, "missing json-file field time") {
		t.Errorf("rejected line reason = %q, want the missing field named", line.Reason)
	}
	if line.Raw != bad {
		t.Errorf("rejected line raw = %q, want %q", line.Raw, bad)
	}

	report, ok := rejects[badScan]
	if !ok {
		t.Fatalf("no reject for the scan report; rejects: %v", rejects)
	}
	if report.Offset != -1 || report.Reason == "" || !strings.HasPrefix(report.Raw, `{"SchemaVersion": 2`) {
		t.Errorf("scan reject = %+v, want offset -1, a reason and the file's start", report)
	}
}
