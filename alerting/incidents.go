package alerting

import (
	"bytes"
	_ "embed"
)

// IncidentRulesName is the file name that errors in the embedded incident
// rules refer to.
const IncidentRulesName = "rules/incidents.yaml"

//go:embed rules/incidents.yaml
var incidentRulesYAML []byte

// IncidentRules parses the embedded rules for exploit payloads, failed
// login bursts, fork bombs, out-of-memory kills, new published ports and
// privileged containers with a runtime socket.
func IncidentRules() ([]Rule, error) {
	return ParseRules(IncidentRulesName, incidentRulesYAML)
}

// DefaultAndIncidentRulesYAML returns one rules file with the default
// rules followed by the incident rules, for Config.RulesFile.
func DefaultAndIncidentRulesYAML() []byte {
	// Both files are a "rules:" line followed by the list, so the list of
	// the second continues the list of the first.
	_, list, _ := bytes.Cut(incidentRulesYAML, []byte("\nrules:\n"))
	out := append(bytes.TrimRight(bytes.Clone(defaultRulesYAML), "\n"), '\n', '\n')
	return append(out, list...)
}
