package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scanReports are the public sample reports: Trivy, Grype and Clair.
var scanReports = []string{
	"../../collectors/scan/testdata/alpine-310.json",
	"../../collectors/scan/testdata/debian-buster.json",
	"../../collectors/scan/testdata/npm.json",
	"../../collectors/scan/testdata/grype-image.json",
	"../../collectors/scan/testdata/clair-debian-buster.json",
	"../../collectors/scan/testdata/clair-alpine-310.json",
	"../../collectors/scan/testdata/anchore-api-debian-buster.json",
	"../../collectors/scan/testdata/anchore-cli-alpine-310.json",
}

// fileSeverityCounts reads a report as untyped JSON and counts its findings
// per severity, the way a reader of the file would.
func fileSeverityCounts(t *testing.T, path string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	add := func(sev any) {
		s, _ := sev.(string)
		switch s = strings.ToUpper(s); s {
		case "CRITICAL", "HIGH", "MEDIUM", "LOW":
		case "NEGLIGIBLE":
			s = "LOW"
		default:
			s = "UNKNOWN"
		}
		counts[s]++
	}
	switch {
	case doc["Results"] != nil:
		for _, r := range doc["Results"].([]any) {
			vulns, _ := r.(map[string]any)["Vulnerabilities"].([]any)
			for _, v := range vulns {
				add(v.(map[string]any)["Severity"])
			}
		}
	case doc["matches"] != nil:
		for _, m := range doc["matches"].([]any) {
			add(m.(map[string]any)["vulnerability"].(map[string]any)["severity"])
		}
	case doc["package_vulnerabilities"] != nil:
		vulns := doc["vulnerabilities"].(map[string]any)
		for _, ids := range doc["package_vulnerabilities"].(map[string]any) {
			for _, id := range ids.([]any) {
				add(vulns[id.(string)].(map[string]any)["normalized_severity"])
			}
		}
	case doc["imageDigest"] != nil:
		for _, v := range doc["vulnerabilities"].([]any) {
			add(v.(map[string]any)["severity"])
		}
	default:
		t.Fatalf("%s: unknown report layout", path)
	}
	return counts
}

func jsonLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var rows []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var row map[string]any
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		rows = append(rows, row)
	}
	return rows
}

func TestParseReportCountsMatchFiles(t *testing.T) {
	for _, path := range scanReports {
		t.Run(filepath.Base(path), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := mainWithArgs([]string{"parse", path}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit status %d, stderr %s", code, stderr.String())
			}

			got := map[string]int{}
			images := 0
			for _, row := range jsonLines(t, stdout.Bytes()) {
				switch row["table"] {
				case "vulnerabilities":
					got[row["severity"].(string)]++
				case "images":
					images++
				default:
					t.Errorf("row of table %v", row["table"])
				}
			}
			if images != 1 {
				t.Errorf("%d image rows, want 1", images)
			}

			want := fileSeverityCounts(t, path)
			total := 0
			for sev, n := range want {
				total += n
				if got[sev] != n {
					t.Errorf("severity %s: %d rows, the file has %d", sev, got[sev], n)
				}
			}
			gotTotal := 0
			for _, n := range got {
				gotTotal += n
			}
			if gotTotal != total {
				t.Errorf("%d vulnerability rows, the file has %d findings", gotTotal, total)
			}
		})
	}
}

func TestParseRejectsAndKeepsGoodRecords(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(bad, []byte(`{"matches":[{"vulnerability":{}}],"source":{"target":"x"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "abc-json.log")
	lines := `{"log":"one\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}` + "\n" +
		`{"log":` + "\n" +
		`{"log":"two\n","stream":"stdout","time":"2024-01-01T00:00:01Z"}` + "\n"
	if err := os.WriteFile(log, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	code := mainWithArgs([]string{"parse", scanReports[0], bad, log}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}

	tables := map[string]int{}
	for _, row := range jsonLines(t, stdout.Bytes()) {
		tables[row["table"].(string)]++
	}
	if tables["images"] != 1 || tables["vulnerabilities"] != 4 || tables["events"] != 2 {
		t.Errorf("rows per table = %v, want 1 image, 4 vulnerabilities and 2 events", tables)
	}

	var rejections []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.HasPrefix(line, "{") {
			rejections = append(rejections, jsonLines(t, []byte(line))...)
		}
	}
	if len(rejections) != 2 {
		t.Fatalf("%d rejections, want 2: %s", len(rejections), stderr.String())
	}
	if r := rejections[0]; r["source"] != bad || !strings.Contains(r["reason"].(string), "matches[0].vulnerability.id") {
		t.Errorf("first rejection = %v", r)
	}
	if r := rejections[1]; r["source"] != log+":64" || r["reason"] == "" {
		t.Errorf("second rejection = %v", r)
	}
}

func TestParseDemoBundleTables(t *testing.T) {
	var stdout, stderr bytes.Buffer
	mainWithArgs([]string{"parse", "../../testdata/demo/docker", "../../testdata/demo/cri", "../../testdata/demo/scans"}, &stdout, &stderr)
	if stderr.Len() > 0 {
		t.Errorf("stderr: %s", stderr.String())
	}
	tables := map[string]int{}
	for _, row := range jsonLines(t, stdout.Bytes()) {
		tables[row["table"].(string)]++
		if row["record_id"] == "" || row["source"] == "" {
			t.Errorf("row without record id or source: %v", row)
		}
	}
	for _, table := range []string{"containers", "events", "images", "vulnerabilities"} {
		if tables[table] == 0 {
			t.Errorf("no rows of table %s: %v", table, tables)
		}
	}
}

func TestParseReturnsOnCancel(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "app-json.log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("cannot create a FIFO here: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	env := &cmdEnv{args: []string{fifo}, stdout: &stdout, stderr: &stderr}
	done := make(chan error, 1)
	go func() { done <- runParse(ctx, env, "docker") }()

	// A non-blocking open for writing succeeds once the parser has opened
	// the FIFO for reading. The writer then writes nothing, so the parser
	// stays blocked in read until the writer is closed at the end.
	var writer *os.File
	for attempt := 0; writer == nil; attempt++ {
		w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		switch {
		case err == nil:
			writer = w
		case attempt == 1000:
			t.Fatalf("the parser never opened the FIFO: %v", err)
		default:
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Cleanup(func() { writer.Close() })
	cancel()

	err := <-done
	if err == nil {
		t.Fatal("runParse returned no error after the cancellation")
	}
	if !strings.Contains(err.Error(), "stopped before reading every path") {
		t.Errorf("error = %v, want one saying the parse stopped", err)
	}
}

func TestOutputGateDropsWritesAfterClose(t *testing.T) {
	var out bytes.Buffer
	gate := &outputGate{}
	w := gate.writer(&out)
	if _, err := w.Write([]byte("before\n")); err != nil {
		t.Fatal(err)
	}
	gate.close()
	if _, err := w.Write([]byte("after\n")); err == nil {
		t.Error("write after close returned no error")
	}
	if out.String() != "before\n" {
		t.Errorf("output = %q, want only the write before close", out.String())
	}
}

func TestParseRejectsUnstorableTimes(t *testing.T) {
	dir := t.TempDir()
	dockerLog := filepath.Join(dir, "abc-json.log")
	dockerLines := `{"log":"kept\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}` + "\n" +
		`{"log":"far future\n","stream":"stdout","time":"2999-01-01T00:00:00Z"}` + "\n" +
		`{"log":"epoch\n","stream":"stdout","time":"1970-01-01T00:00:00Z"}` + "\n" +
		`{"log":"no time\n","stream":"stdout"}` + "\n"
	if err := os.WriteFile(dockerLog, []byte(dockerLines), 0o644); err != nil {
		t.Fatal(err)
	}
	criLog := filepath.Join(dir, "0.log")
	criLines := "2024-01-01T00:00:00Z stdout F kept\n" +
		"2999-01-01T00:00:00Z stdout F far future\n" +
		"1970-01-01T00:00:00Z stdout F epoch\n"
	if err := os.WriteFile(criLog, []byte(criLines), 0o644); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	code := mainWithArgs([]string{"parse", "--format", "docker", dockerLog}, &stdout, &stderr)
	code2 := mainWithArgs([]string{"parse", "--format", "cri", criLog}, &stdout, &stderr)
	if code != 1 || code2 != 1 {
		t.Errorf("exit statuses %d and %d, want 1 for both", code, code2)
	}
	rows := jsonLines(t, stdout.Bytes())
	if len(rows) != 2 {
		t.Errorf("%d rows, want the 2 lines with valid times: %s", len(rows), stdout.String())
	}

	var reasons []string
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.HasPrefix(line, "{") {
			for _, r := range jsonLines(t, []byte(line)) {
				reasons = append(reasons, r["reason"].(string))
			}
		}
	}
	want := []string{
		`invalid json-file field time="2999-01-01T00:00:00Z": must not be after`,
		`invalid json-file field time="1970-01-01T00:00:00Z": must be after`,
		"missing json-file field time",
		`invalid CRI log field time="2999-01-01T00:00:00Z": must not be after`,
		`invalid CRI log field time="1970-01-01T00:00:00Z": must be after`,
	}
	if len(reasons) != len(want) {
		t.Fatalf("%d rejections, want %d: %s", len(reasons), len(want), stderr.String())
	}
	for i, w := range want {
		if !strings.Contains(reasons[i], w) {
			t.Errorf("rejection %d = %q, want it to contain %q", i, reasons[i], w)
		}
	}
	if !strings.Contains(stderr.String(), "rejected 3 inputs;") {
		t.Errorf("stderr lacks the count of rejected inputs: %s", stderr.String())
	}
}

func TestParseCountsOneRejectionInSingular(t *testing.T) {
	log := filepath.Join(t.TempDir(), "abc-json.log")
	if err := os.WriteFile(log, []byte(`{"log":"no time\n","stream":"stdout"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := mainWithArgs([]string{"parse", log}, &stdout, &stderr); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "rejected 1 input;") {
		t.Errorf("stderr lacks %q: %s", "rejected 1 input;", stderr.String())
	}
}
