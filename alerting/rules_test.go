package alerting

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultRulesLoad(t *testing.T) {
	rules, err := DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 || rules[0].Name != "critical-fixable-vulnerability-running" {
		t.Fatalf("rules = %+v, want critical-fixable-vulnerability-running first", rules)
	}
	r := rules[0]
	if r.Kind != KindRunningImageFixableVuln {
		t.Errorf("kind = %q", r.Kind)
	}
	if strings.Join(r.VulnSeverities, ",") != "CRITICAL" {
		t.Errorf("severities = %v, want [CRITICAL]", r.VulnSeverities)
	}
	if r.File != DefaultRulesName || r.Line != 4 {
		t.Errorf("location = %s:%d, want %s:4", r.File, r.Line, DefaultRulesName)
	}
}

func TestLoadRulesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	content := `rules:
  - name: fixable-high
    severity: high
    kind: running-image-fixable-vuln
    params:
      severities: [critical, High]
`
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	rules, err := LoadRules(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 {
		t.Fatalf("got %d rules, want 1", len(rules))
	}
	if got := strings.Join(rules[0].VulnSeverities, ","); got != "CRITICAL,HIGH" {
		t.Errorf("severities = %s, want CRITICAL,HIGH", got)
	}
}

func TestLoadRulesMissingFile(t *testing.T) {
	_, err := LoadRules(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want a not-exist error", err)
	}
}

func TestParseRulesErrors(t *testing.T) {
	const head = "rules:\n  - name: r1\n    severity: high\n"
	cases := []struct {
		name  string
		yaml  string
		line  int
		field string
		msg   string
	}{
		{"empty file", "", 1, "rules", "missing"},
		{"unknown top-level field", "rule:\n  - name: x\n", 1, "rule", "unknown field"},
		{"rules not a list", "rules: yes\n", 1, "rules", "expected a list"},
		{"empty rules", "rules: []\n", 1, "rules", "empty"},
		{"rule not a mapping", "rules:\n  - just-a-name\n", 2, "rules[0]", "expected a mapping"},
		{"unknown rule field", head + "    kind: sql\n    query: SELECT 1\n    sevrity: low\n", 6, "rules[0].sevrity", "unknown field"},
		{"duplicate field", head + "    kind: sql\n    kind: sql\n    query: SELECT 1\n", 5, "rules[0].kind", "duplicate field"},
		{"missing name", "rules:\n  - severity: high\n    kind: sql\n    query: SELECT 1\n", 2, "rules[0].name", "missing"},
		{"invalid name", "rules:\n  - name: Bad Name\n    severity: high\n    kind: sql\n    query: SELECT 1\n", 2, "rules[0].name", `invalid value "Bad Name"`},
		{"name not a string", "rules:\n  - name: [a]\n    severity: high\n    kind: sql\n    query: SELECT 1\n", 2, "rules[0].name", "expected a string"},
		{"missing severity", "rules:\n  - name: r1\n    kind: sql\n    query: SELECT 1\n", 2, "rules[0].severity", "missing"},
		{"invalid severity", "rules:\n  - name: r1\n    severity: urgent\n    kind: sql\n    query: SELECT 1\n", 3, "rules[0].severity", `invalid value "urgent"`},
		{"missing kind", head, 2, "rules[0].kind", "missing"},
		{"invalid kind", head + "    kind: regex\n", 4, "rules[0].kind", `invalid value "regex"`},
		{"sql without query", head + "    kind: sql\n", 2, "rules[0].query", "missing"},
		{"sql not a select", head + "    kind: sql\n    query: DROP TABLE alerts\n", 5, "rules[0].query", "expected a SELECT"},
		{"sql with params", head + "    kind: sql\n    query: SELECT 1\n    params:\n      severities: [HIGH]\n", 7, "rules[0].params", "no params"},
		{"policy without params", head + "    kind: running-image-fixable-vuln\n", 2, "rules[0].params", "missing"},
		{"policy with query", head + "    kind: running-image-fixable-vuln\n    query: SELECT 1\n    params:\n      severities: [HIGH]\n", 5, "rules[0].query", "unknown field"},
		{"unknown param", head + "    kind: running-image-fixable-vuln\n    params:\n      severity: [HIGH]\n", 6, "rules[0].params.severity", "unknown field"},
		{"severities not a list", head + "    kind: running-image-fixable-vuln\n    params:\n      severities: HIGH\n", 6, "rules[0].params.severities", "non-empty list"},
		{"empty severities", head + "    kind: running-image-fixable-vuln\n    params:\n      severities: []\n", 6, "rules[0].params.severities", "non-empty list"},
		{"invalid vuln severity", head + "    kind: running-image-fixable-vuln\n    params:\n      severities:\n        - CRITICAL\n        - SEVERE\n", 8, "rules[0].params.severities[1]", `invalid value "SEVERE"`},
		{"duplicate vuln severity", head + "    kind: running-image-fixable-vuln\n    params:\n      severities: [HIGH, high]\n", 6, "rules[0].params.severities[1]", "duplicate value"},
		{"duplicate rule name", head + "    kind: sql\n    query: SELECT 1\n  - name: r1\n    severity: low\n    kind: sql\n    query: SELECT 2\n", 6, "rules[1].name", "duplicate rule name"},
		{"alias", "defaults: &d\n  severity: high\nrules:\n  - *d\n", 1, "defaults", "unknown field"},
		{"alias rule", "rules:\n  - &r\n    name: r1\n    severity: high\n    kind: sql\n    query: SELECT 1\n  - *r\n", 7, "rules[1]", "aliases"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRules("policy.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatal("ParseRules returned no error")
			}
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v (%T), want a *RuleError", err, err)
			}
			if re.File != "policy.yaml" {
				t.Errorf("file = %q, want policy.yaml", re.File)
			}
			if re.Line != c.line {
				t.Errorf("line = %d, want %d (%v)", re.Line, c.line, err)
			}
			if re.Field != c.field {
				t.Errorf("field = %q, want %q (%v)", re.Field, c.field, err)
			}
			if !strings.Contains(re.Message, c.msg) {
				t.Errorf("message = %q, want it to contain %q", re.Message, c.msg)
			}
			if !strings.HasPrefix(err.Error(), "policy.yaml:") {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

func TestParseRulesReportsEveryError(t *testing.T) {
	yaml := "rules:\n  - name: a\n    severity: urgent\n    kind: sql\n    query: SELECT 1\n  - name: b\n    severity: high\n    kind: nope\n"
	_, err := ParseRules("policy.yaml", []byte(yaml))
	if err == nil {
		t.Fatal("ParseRules returned no error")
	}
	for _, want := range []string{"policy.yaml:3: rules[0].severity", "policy.yaml:8: rules[1].kind"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestParseRulesSyntaxError(t *testing.T) {
	_, err := ParseRules("policy.yaml", []byte("rules:\n  - name: [unclosed\n"))
	if err == nil || !strings.Contains(err.Error(), "policy.yaml") || !strings.Contains(err.Error(), "line") {
		t.Errorf("err = %v, want a YAML syntax error naming the file and line", err)
	}
}

func FuzzLoadRules(f *testing.F) {
	f.Add(defaultRulesYAML)
	f.Add(policyExamplesYAML)
	f.Add(posturePackYAML)
	for _, name := range []string{"testdata/invalid.yaml", "testdata/custom.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("rules:\n  - &r\n    name: r1\n  - *r\n"))
	f.Add([]byte("rules:\n  - name: r\n    severity: high\n    kind: running-image-fixable-vuln\n    params: {severities: [critical]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseRules("fuzz.yaml", data)
		if err != nil {
			return
		}
		if len(rules) == 0 {
			t.Fatal("ParseRules returned no rules and no error")
		}
		for _, r := range rules {
			if r.Name == "" || r.Severity == "" || r.Kind == "" {
				t.Fatalf("accepted an incomplete rule: %+v", r)
			}
			if r.Kind == KindSQL && r.Query == "" {
				t.Fatalf("accepted a sql rule without a query: %+v", r)
			}
			if r.Kind == KindRunningImageFixableVuln && len(r.VulnSeverities) == 0 {
				t.Fatalf("accepted a policy rule without severities: %+v", r)
			}
			if r.Kind == KindImageAge && r.Policy.MaxDays <= 0 {
				t.Fatalf("accepted an image-age rule without max_days: %+v", r)
			}
			if r.Kind == KindLogMatch && (r.Policy.Window <= 0 || (r.Policy.Pattern == "") == (r.Policy.TemplateID == 0)) {
				t.Fatalf("accepted a log-match rule without a window or with other than one of pattern and template_id: %+v", r)
			}
			if r.Kind == KindHostUnexpectedPort && len(r.Policy.AllowedPorts) == 0 {
				t.Fatalf("accepted a host-unexpected-port rule without ports: %+v", r)
			}
			if r.Kind == KindPosture && (r.Posture.Group == "" || (r.Posture.Fact == "") == (r.Posture.Check == "") || (r.Posture.Fact != "" && r.Posture.condition() == "")) {
				t.Fatalf("accepted a posture policy without a group or without exactly one of fact and check: %+v", r)
			}
			if r.Kind == KindPostureFailure && len(r.Policy.PostureSeverities) == 0 {
				t.Fatalf("accepted a posture-failure rule without severities: %+v", r)
			}
			isPosture := r.Kind == KindPosture || r.Kind == KindPostureFailure
			if policyQuery(r, queriesSampleTime) == "" && r.Kind != KindSQL && r.Kind != KindRunningImageFixableVuln && !isPosture {
				t.Fatalf("accepted a rule of kind %q without a query", r.Kind)
			}
		}
	})
}
