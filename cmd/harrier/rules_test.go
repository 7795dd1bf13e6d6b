package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/record"
)

// writeRecords writes the envelopes of payloads to a JSON-lines file.
func writeRecords(t *testing.T, records []struct {
	kind    record.Kind
	payload any
}) string {
	t.Helper()
	var b bytes.Buffer
	for i, r := range records {
		line, err := record.Encode(r.kind, record.NewID("rules-test", string(rune('a'+i))), "host-1", "test", time.Date(2026, 11, 30, 10, 59, 0, 0, time.UTC).UnixNano(), r.payload)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "records.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRulesTestPrintsFiringAlerts(t *testing.T) {
	const rootID = "aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000"
	const appID = "bbbb1111bbbb1111bbbb1111bbbb1111bbbb1111bbbb1111bbbb1111bbbb1111"
	started := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC).UnixNano()
	logAt := time.Date(2026, 11, 30, 10, 58, 0, 0, time.UTC).UnixNano()
	type rec = struct {
		kind    record.Kind
		payload any
	}
	records := []rec{
		{record.KindContainer, record.Container{TimeNs: started, ContainerID: rootID, Name: "root-app", Runtime: "docker",
			ImageRef: "nginx:1.27", ImageID: "sha256:" + strings.Repeat("ab", 32), User: "root", Running: true, StartedNs: started}},
		{record.KindContainer, record.Container{TimeNs: started, ContainerID: appID, Name: "app", Runtime: "docker",
			ImageRef: "nginx:1.27", ImageID: "sha256:" + strings.Repeat("ab", 32), User: "1000", Running: true, StartedNs: started}},
		{record.KindHost, record.Host{TimeNs: started, HostID: "host-1", Hostname: "node1", OSPretty: "Debian GNU/Linux 10", Kernel: "4.19.0-27-amd64", CPUCount: 2}},
	}
	for i := range 3 {
		records = append(records, rec{record.KindLog, record.Log{TimeNs: logAt + int64(i)*int64(time.Second), Runtime: "docker",
			ContainerID: appID, Stream: "stderr", Message: "fatal: Out of memory: Killed process " + string(rune('1'+i))}})
	}
	events := writeRecords(t, records)

	rules := filepath.Join(t.TempDir(), "rules.yaml")
	err := os.WriteFile(rules, []byte(`rules:
  - name: root
    severity: medium
    kind: container-root-or-privileged
  - name: kernel
    severity: medium
    kind: host-kernel-floor
    params: {min_version: "5.10"}
  - name: oom
    severity: high
    kind: log-match
    params: {pattern: "Out of memory", window: 5m, threshold: 3}
  - name: quiet
    severity: low
    kind: log-match
    params: {pattern: "segfault", window: 5m}
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}

	out, _ := runHarrier(t, "rules", "test", rules, "--events", events)
	for _, want := range []string{
		"Loaded 6 records (0 dead-lettered)",
		"ALERT medium  root  container root-app",
		"ALERT medium  kernel  host host-1",
		"Host node1 runs kernel 4.19.0-27-amd64, older than 5.10",
		"ALERT high  oom  container app",
		"logged 3 lines matching",
		"3 alerts would fire from 4 rules",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "quiet") {
		t.Errorf("output names the rule quiet, which matches nothing:\n%s", out)
	}
}

func TestRulesTestRejectsInvalidRule(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte("rules:\n  - name: age\n    severity: low\n    kind: image-age\n    params: {max_days: soon}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := mainWithArgs([]string{"rules", "test", rules, "--events", "unused.jsonl"}, &stdout, &stderr)
	if code == 0 {
		t.Fatal("exit code 0 for an invalid rules file")
	}
	want := rules + `:5: rules[0].params.max_days: invalid value "soon"`
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q, expected %q", stderr.String(), want)
	}
}

func TestRulesTestRejectsInvalidRecord(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte("rules:\n  - {name: root, severity: low, kind: container-root-or-privileged}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(t.TempDir(), "records.jsonl")
	if err := os.WriteFile(events, []byte("{not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := mainWithArgs([]string{"rules", "test", rules, "--events", events}, &stdout, &stderr); code == 0 {
		t.Fatal("exit code 0 for an invalid records file")
	}
	if !strings.Contains(stderr.String(), "invalid record on line 1") {
		t.Errorf("stderr %q, expected the line number", stderr.String())
	}
}

// The rows that `harrier parse` prints, scans included, load like the
// collected records.
func TestRulesTestReadsParseOutput(t *testing.T) {
	parsed, _ := runHarrier(t, "parse", filepath.Join(bundle, "docker"), filepath.Join(bundle, "scans"))
	events := filepath.Join(t.TempDir(), "parsed.jsonl")
	if err := os.WriteFile(events, []byte(parsed), 0o600); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	err := os.WriteFile(rules, []byte(`rules:
  - name: fixable-critical
    severity: critical
    kind: running-image-fixable-vuln
    params: {severities: [CRITICAL]}
  - name: registry
    severity: high
    kind: image-registry
    params: {allowed: [ghcr.io]}
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}

	out, _ := runHarrier(t, "rules", "test", rules, "--events", events)
	if !strings.Contains(out, "(0 dead-lettered)") {
		t.Errorf("records were dead-lettered:\n%s", out)
	}
	if !strings.Contains(out, "ALERT critical  fixable-critical  container web") {
		t.Errorf("no fixable-critical alert for web:\n%s", out)
	}
	if strings.Contains(out, "  registry  container api") {
		t.Errorf("registry alert for api, whose image comes from ghcr.io:\n%s", out)
	}
}

func FuzzRecordLine(f *testing.F) {
	var parsed, stderr bytes.Buffer
	if code := mainWithArgs([]string{"parse", filepath.Join(bundle, "docker"), filepath.Join(bundle, "scans")}, &parsed, &stderr); code != 0 {
		f.Fatalf("harrier parse exited %d: %s", code, stderr.String())
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(parsed.String(), "\n") {
		// One seed per table keeps the corpus small.
		table, _, _ := strings.Cut(line, ",")
		if line != "" && !seen[table] {
			seen[table] = true
			f.Add([]byte(line))
		}
	}
	envelope, err := record.Encode(record.KindHost, "id", "host-1", "test", 1, record.Host{HostID: "host-1", Kernel: "5.10.0"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(envelope)
	f.Fuzz(func(t *testing.T, line []byte) {
		scans := newScanRows()
		value, err := recordLine(line, scans)
		if err != nil || value == nil {
			return
		}
		if _, err := scans.envelopes(); err != nil {
			t.Fatalf("encode scans: %v", err)
		}
		if !bytes.HasPrefix(bytes.TrimSpace(value), []byte("{")) {
			t.Fatalf("recordLine returned %q, expected a JSON object", value)
		}
	})
}
