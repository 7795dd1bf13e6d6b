package models

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestScorerAlertsCarryModelVersion(t *testing.T) {
	store := storagetest.New(t)
	out := &memoryEmitter{}
	s := NewScorer(ScorerConfig{Seed: 1}, store, out, nil)
	feed(t, s, fleetMessages(t, 60, 3), 500)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	alerts := out.alerts(t)
	if len(alerts) == 0 {
		t.Fatal("no alerts, expected the incident's alerts")
	}
	pattern := regexp.MustCompile(`^iforest-[0-9a-f]{12}$`)
	for _, a := range alerts {
		if !pattern.MatchString(a.ModelVersion) {
			t.Errorf("alert at %d: model version %q, expected iforest- and 12 hex digits", a.TimeNs, a.ModelVersion)
		}
	}
	if s.modelVersion == "" {
		t.Error("scorer model version empty after fitting")
	}
}

func TestForestVersionStable(t *testing.T) {
	from := time.Date(2024, 10, 10, 12, 0, 0, 0, time.UTC)
	base := ModelInfo{Workload: FleetWorkload, Seed: 1, Trees: 100, Subsample: 256, Contamination: 0.01,
		TrainingWindows: 30, TrainingFrom: from, TrainingTo: from.Add(time.Hour)}
	a := forestVersion(base)
	if a != forestVersion(base) {
		t.Error("different versions for the same model")
	}
	changes := map[string]func(*ModelInfo){
		"workload":    func(m *ModelInfo) { m.Workload = "image=sshd" },
		"seed":        func(m *ModelInfo) { m.Seed = 2 },
		"trees":       func(m *ModelInfo) { m.Trees = 50 },
		"subsample":   func(m *ModelInfo) { m.Subsample = 128 },
		"windows":     func(m *ModelInfo) { m.TrainingWindows = 38 },
		"range start": func(m *ModelInfo) { m.TrainingFrom = from.Add(time.Minute) },
		"range end":   func(m *ModelInfo) { m.TrainingTo = from.Add(2 * time.Hour) },
	}
	for name, change := range changes {
		other := base
		change(&other)
		if v := forestVersion(other); v == a {
			t.Errorf("version %q shared by a model with a different %s", a, name)
		}
	}
}
