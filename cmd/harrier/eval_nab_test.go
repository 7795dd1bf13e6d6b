package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeNABCorpus writes one 400-row series with a level shift at row 300
// and an anomaly window around it.
func writeNABCorpus(t *testing.T) (dataDir, labels string) {
	t.Helper()
	dir := t.TempDir()
	dataDir = filepath.Join(dir, "data")
	if err := os.MkdirAll(filepath.Join(dataDir, "synthetic"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2014, 1, 1, 0, 0, 0, 0, time.UTC)
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	for i := range 400 {
		v := float64(i % 4)
		if i >= 300 {
			v += 40
		}
		fmt.Fprintf(&b, "%s,%g\n", start.Add(time.Duration(i)*5*time.Minute).Format("2006-01-02 15:04:05"), v)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "synthetic", "shift.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	from := start.Add(280 * 5 * time.Minute).Format("2006-01-02 15:04:05.000000")
	to := start.Add(319 * 5 * time.Minute).Format("2006-01-02 15:04:05.000000")
	labels = filepath.Join(dir, "windows.json")
	windows := fmt.Sprintf(`{"synthetic/shift.csv": [[%q, %q]]}`, from, to)
	if err := os.WriteFile(labels, []byte(windows), 0o644); err != nil {
		t.Fatal(err)
	}
	return dataDir, labels
}

func TestEvalNABJSON(t *testing.T) {
	dataDir, labels := writeNABCorpus(t)
	out := filepath.Join(t.TempDir(), "results")
	var stdout, stderr bytes.Buffer
	err := runEvalNAB(context.Background(), &cmdEnv{stdout: &stdout, stderr: &stderr},
		[]string{"--data", dataDir, "--labels", labels, "--out", out, "--json"})
	if err != nil {
		t.Fatalf("%v; stderr: %s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var result map[string]float64
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &result); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	if result["nab_standard"] < 50 {
		t.Errorf("nab_standard = %v on a clean level shift, want at least 50", result["nab_standard"])
	}
	if _, err := os.Stat(filepath.Join(out, "synthetic", "harrier_shift.csv")); err != nil {
		t.Errorf("result file: %v", err)
	}
}

func TestEvalNABRequiresFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runEvalNAB(context.Background(), &cmdEnv{stdout: &stdout, stderr: &stderr}, []string{"--data", "x"})
	if err == nil || !strings.Contains(err.Error(), "missing flag") {
		t.Errorf("error %v, want a missing flag error", err)
	}
}
