package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/config"
	"github.com/harrierhq/harrier/models"
)

// saveTestModels fits two small forests and saves them to a registry in a
// temporary folder: a fleet model and one of workload image=web.
func saveTestModels(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	r, err := models.OpenRegistry(dir, 5)
	if err != nil {
		t.Fatal(err)
	}
	X := make([][]float64, 100)
	for i := range X {
		X[i] = []float64{float64(i % 10), float64(i % 7)}
	}
	forest, err := models.Fit(X, models.ForestConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2024, 10, 10, 12, 0, 0, 0, time.UTC)
	for i, workload := range []string{"image=web", models.FleetWorkload} {
		info := models.ModelInfo{
			Version: "iforest-00000000000" + string(rune('1'+i)), Workload: workload, Reason: "first fit",
			CreatedAt: from.Add(2 * time.Hour), TrainingFrom: from, TrainingTo: from.Add(time.Hour), TrainingWindows: 100,
			Features: []string{"a", "b"}, Threshold: forest.Threshold(),
		}
		if err := r.Save(info, forest); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestModelsListTable(t *testing.T) {
	dir := saveTestModels(t)
	var stdout, stderr bytes.Buffer
	env := &cmdEnv{cfg: &config.Config{}, stdout: &stdout, stderr: &stderr}
	if err := modelsList([]string{"--dir", dir}, env); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want a header and 2 models:\n%s", len(lines), stdout.String())
	}
	if !strings.HasPrefix(lines[1], "iforest-000000000002  fleet ") {
		t.Errorf("first model line = %q, want the fleet model", lines[1])
	}
	if !strings.Contains(lines[2], "2024-10-10T12:00:00Z to 2024-10-10T13:00:00Z") {
		t.Errorf("line %q lacks the training range", lines[2])
	}
}

func TestModelsListJSONFiltersWorkload(t *testing.T) {
	dir := saveTestModels(t)
	var stdout, stderr bytes.Buffer
	env := &cmdEnv{cfg: &config.Config{Models: config.Models{Dir: dir}}, stdout: &stdout, stderr: &stderr}
	if err := modelsList([]string{"--workload", "image=web", "--json"}, env); err != nil {
		t.Fatal(err)
	}
	var info models.ModelInfo
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil {
		t.Fatalf("output %q: %v", stdout.String(), err)
	}
	if info.Workload != "image=web" || info.TrainingWindows != 100 {
		t.Errorf("workload, windows = %q %d", info.Workload, info.TrainingWindows)
	}
}

func TestModelsListNeedsFolder(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := modelsList(nil, &cmdEnv{cfg: &config.Config{}, stdout: &stdout, stderr: &stderr})
	if err == nil || !strings.Contains(err.Error(), "models.dir") {
		t.Errorf("error = %v, want one naming models.dir", err)
	}
}
