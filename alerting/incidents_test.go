package alerting

import "testing"

func TestIncidentRulesParse(t *testing.T) {
	incident, err := IncidentRules()
	if err != nil {
		t.Fatal(err)
	}
	defaults, err := DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	both, err := ParseRules("combined", DefaultAndIncidentRulesYAML())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(both), len(defaults)+len(incident); got != want {
		t.Errorf("combined rules: got %d, want %d", got, want)
	}
}
