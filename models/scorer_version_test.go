package models

import (
	"context"
	"regexp"
	"testing"

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
	a := forestVersion(1, 100, 256, 30)
	if a != forestVersion(1, 100, 256, 30) {
		t.Error("different versions for the same forest config")
	}
	for _, other := range []string{
		forestVersion(2, 100, 256, 30),
		forestVersion(1, 50, 256, 30),
		forestVersion(1, 100, 128, 30),
		forestVersion(1, 100, 256, 38),
	} {
		if other == a {
			t.Errorf("version %q shared by a different forest config", a)
		}
	}
}
