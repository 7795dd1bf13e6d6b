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
)

// writeOutlierCSV writes a small set: a 2-D grid of inliers and four far
// outliers.
func writeOutlierCSV(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("f0,f1,label\n")
	for i := range 30 {
		for j := range 30 {
			fmt.Fprintf(&b, "%d,%d,0\n", i, j)
		}
	}
	for _, o := range [][2]int{{200, 200}, {-150, 10}, {10, -170}, {180, -160}} {
		fmt.Fprintf(&b, "%d,%d,1\n", o[0], o[1])
	}
	path := filepath.Join(t.TempDir(), "grid.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEvalOutliersJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := &cmdEnv{stdout: &stdout, stderr: &stderr}
	err := runEvalOutliers(context.Background(), env, []string{writeOutlierCSV(t), "--json", "--runs", "2", "--reference", ""})
	if err != nil {
		t.Fatalf("%v; stderr: %s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var result map[string]float64
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &result); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	if result["auc"] < 0.99 {
		t.Errorf("auc = %v, want at least 0.99", result["auc"])
	}
	if result["ap"] < 0.9 {
		t.Errorf("ap = %v, want at least 0.9", result["ap"])
	}
	if result["us_per_row"] <= 0 {
		t.Errorf("us_per_row = %v, want > 0", result["us_per_row"])
	}
	for _, variant := range []string{"Liu et al.", "range-extended", "extended isolation forest"} {
		if !strings.Contains(stdout.String(), variant) {
			t.Errorf("output has no line for %q:\n%s", variant, stdout.String())
		}
	}
}

func TestEvalOutliersRejectsBadArguments(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no file", nil, "want exactly one CSV file"},
		{"missing file", []string{filepath.Join(t.TempDir(), "none.csv")}, "open outlier set"},
		{"zero runs", []string{"x.csv", "--runs", "0"}, "invalid --runs 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runEvalOutliers(context.Background(), &cmdEnv{stdout: &stdout, stderr: &stderr}, tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestEvalDispatchesRegisteredEvaluations(t *testing.T) {
	if _, ok := evaluations["outliers"]; !ok {
		t.Error("evaluation outliers is not registered")
	}
}
