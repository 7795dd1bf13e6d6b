package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/internal/scenario"
)

// The smallest fleet through the whole pipeline: its own embedded broker
// and clickhouse-server, 3 hours of 8 containers replayed in 10-minute
// steps. The policy rules must find the incidents they are written for.
// The model's results are not asserted, because the order in which the
// partitions reach the scorer changes its training set slightly.
func TestEvalScenariosSmallFleet(t *testing.T) {
	out, _ := runHarrier(t, "eval", "--log.level", "warn", "scenarios",
		"--seed", "2", "--containers", "8", "--hours", "3", "--step", "10m", "--json")

	lines := strings.Split(strings.TrimSpace(out), "\n")
	var score scenario.Score
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &score); err != nil {
		t.Fatalf("last line is not the JSON score: %v\n%s", err, out)
	}
	for _, key := range []string{`"recall":`, `"precision":`, `"median_ttd_s":`, `"false_per_100_container_days":`, `"by_kind":`} {
		if !strings.Contains(lines[len(lines)-1], key) {
			t.Errorf("JSON line lacks %s: %s", key, lines[len(lines)-1])
		}
	}
	for _, kind := range scenario.Kinds {
		k, ok := score.ByKind[kind]
		if !ok || k.Incidents == 0 {
			t.Errorf("no incident of kind %s scored", kind)
		}
	}
	ruleKinds := []string{
		scenario.KindBruteForce, scenario.KindExploitStrings, scenario.KindForkBomb, scenario.KindMemoryLeakOOM,
		scenario.KindVulnRollout, scenario.KindNewPort, scenario.KindPrivilegedSock,
	}
	for _, kind := range ruleKinds {
		if k := score.ByKind[kind]; k.Detected != k.Incidents {
			t.Errorf("%s: detected %d of %d incidents\n%s", kind, k.Detected, k.Incidents, out)
		}
	}
}
