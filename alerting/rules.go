package alerting

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Rule kinds.
const (
	// KindSQL rules run their own SELECT. The result must have a
	// container_id column and may have a driver column, whose values become
	// the alert's drivers. Each distinct container_id raises one alert.
	KindSQL = "sql"
	// KindRunningImageFixableVuln is the built-in policy that raises one
	// alert per running container whose image has a vulnerability of one of
	// the rule's severities with a published fixed version.
	KindRunningImageFixableVuln = "running-image-fixable-vuln"
)

// ruleKinds lists every rule kind, for error messages.
var ruleKinds = []string{
	KindSQL, KindRunningImageFixableVuln,
	KindImageAge, KindImageRegistry, KindContainerRoot,
	KindHostOSEndOfLife, KindHostKernelFloor, KindHostUnexpectedPort,
	KindContainerPort, KindLogMatch,
	KindPosture, KindPostureFailure,
}

// DefaultRulesName is the file name that errors in the embedded default
// rules refer to.
const DefaultRulesName = "rules/default.yaml"

// maxRulesFileBytes caps the size of a rules file that LoadRules reads.
const maxRulesFileBytes = 1 << 20

//go:embed rules/default.yaml
var defaultRulesYAML []byte

// PolicyExamplesName is the file name that errors in the embedded policy
// examples refer to.
const PolicyExamplesName = "rules/policies.yaml"

//go:embed rules/policies.yaml
var policyExamplesYAML []byte

// PolicyExamples parses the embedded rules file with one rule of each
// policy kind.
func PolicyExamples() ([]Rule, error) {
	return ParseRules(PolicyExamplesName, policyExamplesYAML)
}

// alertSeverities lists the valid alert severities, most severe first.
var alertSeverities = []string{"critical", "high", "medium", "low", "info"}

// vulnSeverities lists the vulnerability severities of record.Vulnerability,
// most severe first.
var vulnSeverities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}

var ruleNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,99}$`)

// Rule is one policy rule, evaluated as SQL over ClickHouse.
type Rule struct {
	// Name identifies the rule in alerts and fingerprints: lower-case
	// letters, digits, '-', '_' and '.', at most 100 characters.
	Name string
	// Description explains what the rule detects and why it matters.
	Description string
	// Severity is the alert severity: critical, high, medium, low or info.
	Severity string
	// Kind is KindSQL or KindRunningImageFixableVuln.
	Kind string
	// Query is the SELECT of a KindSQL rule.
	Query string
	// VulnSeverities are the vulnerability severities that a
	// KindRunningImageFixableVuln rule matches, upper case.
	VulnSeverities []string
	// Policy holds the params of the policy kinds of policies.go.
	Policy PolicyParams
	// Posture holds the params of a KindPosture rule.
	Posture PosturePolicy
	// Version is a digest of the rule's definition, so that an alert
	// records which version of a rule raised it.
	Version string
	// File and Line locate the rule's definition.
	File string
	Line int
}

// RuleError is a problem in a rules file, located by file, line and field.
type RuleError struct {
	File string
	Line int
	// Field is the path of the field, such as "rules[2].severity".
	Field string
	// Message describes what is wrong with the field.
	Message string
}

// Error formats the problem as "file:line: field: message".
func (e *RuleError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Message)
}

// DefaultRules parses the rules file embedded in the binary.
func DefaultRules() ([]Rule, error) {
	return ParseRules(DefaultRulesName, defaultRulesYAML)
}

// LoadRules reads and validates the rules file at path.
func LoadRules(path string) ([]Rule, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open rules file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRulesFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read rules file %s: %w", path, err)
	}
	if len(data) > maxRulesFileBytes {
		return nil, fmt.Errorf("invalid rules file %s: larger than %d bytes", path, maxRulesFileBytes)
	}
	return ParseRules(path, data)
}

// ParseRules parses and validates a rules file. name is used in error
// messages. Every problem found is returned, each as a *RuleError, joined
// with errors.Join.
func ParseRules(name string, data []byte) ([]Rule, error) {
	p := &ruleParser{file: name}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("invalid rules file %s: %w", name, err)
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &RuleError{File: name, Line: 1, Field: "rules", Message: "missing: the file has no rules"}
	}
	rules := p.parseFile(root.Content[0])
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return rules, nil
}

type ruleParser struct {
	file string
	errs []error
}

func (p *ruleParser) fail(n *yaml.Node, field, format string, args ...any) {
	p.errs = append(p.errs, &RuleError{File: p.file, Line: n.Line, Field: field, Message: fmt.Sprintf(format, args...)})
}

// fields checks that n is a mapping whose keys are all in known and appear
// once, and returns the value node of each key.
func (p *ruleParser) fields(n *yaml.Node, path string, known ...string) (map[string]*yaml.Node, bool) {
	if n.Kind == yaml.AliasNode {
		p.fail(n, path, "invalid YAML alias: aliases and merge keys are not supported in rules files")
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, path, "invalid value: expected a mapping, got %s", describeNode(n))
		return nil, false
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		field := joinPath(path, key.Value)
		switch {
		case key.Kind != yaml.ScalarNode:
			p.fail(key, path, "invalid key: expected a field name, got %s", describeNode(key))
		case !slices.Contains(known, key.Value):
			p.fail(key, field, "unknown field: expected one of %s", strings.Join(known, ", "))
		case out[key.Value] != nil:
			p.fail(key, field, "duplicate field")
		default:
			out[key.Value] = value
		}
	}
	return out, true
}

// scalar returns the string value of a scalar node. A null value is
// reported as absent.
func (p *ruleParser) scalar(n *yaml.Node, field string) (string, bool) {
	if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		p.fail(n, field, "invalid value: expected a string, got %s", describeNode(n))
		return "", false
	}
	return n.Value, true
}

func (p *ruleParser) parseFile(doc *yaml.Node) []Rule {
	top, ok := p.fields(doc, "", "rules")
	if !ok {
		return nil
	}
	seq := top["rules"]
	if seq == nil {
		p.fail(doc, "rules", "missing: the file has no rules list")
		return nil
	}
	if seq.Kind != yaml.SequenceNode {
		p.fail(seq, "rules", "invalid value: expected a list of rules, got %s", describeNode(seq))
		return nil
	}
	if len(seq.Content) == 0 {
		p.fail(seq, "rules", "missing: the rules list is empty")
		return nil
	}

	var rules []Rule
	seen := make(map[string]int)
	for i, item := range seq.Content {
		path := fmt.Sprintf("rules[%d]", i)
		r, ok := p.parseRule(item, path)
		if !ok {
			continue
		}
		if line, dup := seen[r.Name]; dup {
			p.fail(item, path+".name", "duplicate rule name %q: first defined on line %d", r.Name, line)
			continue
		}
		seen[r.Name] = r.Line
		rules = append(rules, r)
	}
	return rules
}

func (p *ruleParser) parseRule(n *yaml.Node, path string) (Rule, bool) {
	f, ok := p.fields(n, path, "name", "description", "severity", "kind", "query", "params")
	if !ok {
		return Rule{}, false
	}
	before := len(p.errs)
	r := Rule{File: p.file, Line: n.Line}

	name, ok := p.scalar(f["name"], path+".name")
	switch {
	case !ok:
		p.fail(n, path+".name", "missing")
	case !ruleNamePattern.MatchString(name):
		p.fail(f["name"], path+".name", "invalid value %q: use 1 to 100 lower-case letters, digits, '-', '_' or '.', starting with a letter or digit", name)
	}
	r.Name = name

	r.Description, _ = p.scalar(f["description"], path+".description")

	severity, ok := p.scalar(f["severity"], path+".severity")
	switch {
	case !ok:
		p.fail(n, path+".severity", "missing: expected one of %s", strings.Join(alertSeverities, ", "))
	case !slices.Contains(alertSeverities, severity):
		p.fail(f["severity"], path+".severity", "invalid value %q: expected one of %s", severity, strings.Join(alertSeverities, ", "))
	}
	r.Severity = severity

	kind, ok := p.scalar(f["kind"], path+".kind")
	r.Kind = kind
	switch {
	case !ok:
		p.fail(n, path+".kind", "missing: expected one of %s", strings.Join(ruleKinds, ", "))
	case kind == KindSQL:
		p.parseSQLRule(&r, n, f, path)
	case kind == KindRunningImageFixableVuln:
		p.parseVulnRule(&r, n, f, path)
	case kind == KindPosture:
		p.parsePosturePolicy(&r, n, f, path)
	case kind == KindPostureFailure:
		p.parsePostureFailure(&r, n, f, path)
	case slices.Contains(ruleKinds, kind):
		p.parsePolicyRule(&r, n, f, path)
	default:
		p.fail(f["kind"], path+".kind", "invalid value %q: expected one of %s", kind, strings.Join(ruleKinds, ", "))
	}
	r.Version = ruleVersion(r)
	return r, len(p.errs) == before
}

func (p *ruleParser) parseSQLRule(r *Rule, n *yaml.Node, f map[string]*yaml.Node, path string) {
	if f["params"] != nil {
		p.fail(f["params"], path+".params", "unknown field for kind %s: a sql rule has no params", KindSQL)
	}
	query, ok := p.scalar(f["query"], path+".query")
	if !ok {
		p.fail(n, path+".query", "missing: a rule of kind %s needs a SELECT", KindSQL)
		return
	}
	query = strings.TrimRight(strings.TrimSpace(query), "; \t\n")
	if len(query) < 6 || !strings.EqualFold(query[:6], "SELECT") {
		p.fail(f["query"], path+".query", "invalid value %q: expected a SELECT statement", shortenText(query, 40))
		return
	}
	r.Query = query
}

func (p *ruleParser) parseVulnRule(r *Rule, n *yaml.Node, f map[string]*yaml.Node, path string) {
	if f["query"] != nil {
		p.fail(f["query"], path+".query", "unknown field for kind %s: the built-in policy builds its own query", KindRunningImageFixableVuln)
	}
	if f["params"] == nil {
		p.fail(n, path+".params", "missing: kind %s needs params.severities", KindRunningImageFixableVuln)
		return
	}
	params, ok := p.fields(f["params"], path+".params", "severities")
	if !ok {
		return
	}
	field := path + ".params.severities"
	seq := params["severities"]
	if seq == nil {
		p.fail(f["params"], field, "missing: expected a list such as [CRITICAL]")
		return
	}
	if seq.Kind != yaml.SequenceNode || len(seq.Content) == 0 {
		p.fail(seq, field, "invalid value: expected a non-empty list of %s", strings.Join(vulnSeverities, ", "))
		return
	}
	for i, item := range seq.Content {
		itemField := fmt.Sprintf("%s[%d]", field, i)
		value, ok := p.scalar(item, itemField)
		if !ok {
			p.fail(item, itemField, "invalid value: expected one of %s", strings.Join(vulnSeverities, ", "))
			continue
		}
		upper := strings.ToUpper(value)
		if !slices.Contains(vulnSeverities, upper) {
			p.fail(item, itemField, "invalid value %q: expected one of %s", value, strings.Join(vulnSeverities, ", "))
			continue
		}
		if slices.Contains(r.VulnSeverities, upper) {
			p.fail(item, itemField, "duplicate value %q", value)
			continue
		}
		r.VulnSeverities = append(r.VulnSeverities, upper)
	}
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", shortenText(n.Value, 40))
	}
	return "an empty document"
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// shortenText cuts s to at most n runes for error messages.
func shortenText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "..."
}
