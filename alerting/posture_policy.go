package alerting

import (
	_ "embed"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Posture rule kinds.
const (
	// KindPosture is a posture policy: a check of a setting of each host,
	// container or running image. Its evaluation writes one posture result
	// per entity and raises no alert itself.
	KindPosture = "posture"
	// KindPostureFailure raises one alert per failing posture result whose
	// policy has one of params.severities and, when set, is in one of
	// params.groups.
	KindPostureFailure = "posture-failure"
)

// Posture entity kinds, as stored in posture_results.entity_kind.
const (
	PostureEntityHost      = "host"
	PostureEntityContainer = "container"
	PostureEntityImage     = "image"
)

// Posture checks that read the scan tables rather than one setting.
const (
	// PostureCheckFixableVulns fails a running image whose newest scan has
	// a vulnerability of params.severities with a published fix.
	PostureCheckFixableVulns = "image-fixable-vulnerabilities"
	// PostureCheckScanAge fails a running image that has no scan report or
	// whose newest report is older than params.max_days days.
	PostureCheckScanAge = "image-scan-age"
	// PostureCheckKernelVulns fails a host whose running kernel a scan
	// report lists with a fixable vulnerability of params.severities.
	PostureCheckKernelVulns = "host-kernel-vulnerabilities"
)

// postureGroups are the groups of the policy pack, as security teams file
// the settings.
var postureGroups = []string{"image", "network", "reachability", "firewall", "authentication", "runtime", "host"}

// PosturePolicy is the params of a KindPosture rule. A policy either
// checks one setting (Fact with exactly one condition) or runs one of the
// scan checks (Check).
type PosturePolicy struct {
	// Group is one of image, network, reachability, firewall,
	// authentication, runtime (container isolation from the host) or host.
	Group string
	// Benchmark names the CIS Docker Benchmark or CIS distribution
	// benchmark item the policy follows, or is empty.
	Benchmark string
	// Entity is PostureEntityHost, PostureEntityContainer or
	// PostureEntityImage. A setting's entity follows from its key prefix:
	// "container." settings belong to containers, the rest to hosts.
	Entity string
	// Fact is the setting's key, such as "sshd.permit_root_login".
	Fact string
	// Check is PostureCheckFixableVulns, PostureCheckScanAge or
	// PostureCheckKernelVulns for the scan checks, and empty for a setting
	// check.
	Check string

	// The conditions of a setting check; exactly one is set.
	//
	// PassValues passes when the setting has values and each is listed.
	PassValues []string
	// FailValues fails when one of the setting's values is listed.
	FailValues []string
	// RequireValues passes when the setting has every listed value, such
	// as the mount options noexec and nosuid.
	RequireValues []string
	// PassCIDRs passes when each value is an IP address inside one of the
	// prefixes.
	PassCIDRs []netip.Prefix
	// Min and Max pass when each value is a number at least Min, or at
	// most Max.
	Min, Max *float64
	// Empty passes when the setting has no values, or, when false, when it
	// has at least one.
	Empty *bool
	// AfterDays passes when the value, a date YYYY-MM-DD, is more than
	// that many days after the evaluation time.
	AfterDays *int
	// Missing is the result of an entity that does not report the
	// setting: "skip" (no result, the default), "pass" or "fail".
	Missing string

	// Severities are the vulnerability severities of a
	// PostureCheckFixableVulns or PostureCheckKernelVulns check.
	Severities []string
	// MaxDays is the maximum scan age of a PostureCheckScanAge check.
	MaxDays int
}

// Inputs returns what the policy reads: its setting key, or the tables of
// a scan check.
func (p PosturePolicy) Inputs() []string {
	switch p.Check {
	case PostureCheckFixableVulns:
		return []string{"container.image_id", "vulnerabilities"}
	case PostureCheckScanAge:
		return []string{"container.image_id", "images.scanned_at"}
	case PostureCheckKernelVulns:
		return []string{"kernel.release", "vulnerabilities"}
	}
	return []string{p.Fact}
}

// condition describes the check in words.
func (p PosturePolicy) condition() string {
	switch p.Check {
	case PostureCheckFixableVulns:
		return "running image without a fixable " + strings.Join(p.Severities, " or ") + " vulnerability"
	case PostureCheckScanAge:
		return fmt.Sprintf("running image scanned within %d days", p.MaxDays)
	case PostureCheckKernelVulns:
		return "running kernel without a fixable " + strings.Join(p.Severities, " or ") + " vulnerability"
	}
	switch {
	case p.PassValues != nil:
		return p.Fact + " in [" + strings.Join(p.PassValues, ", ") + "]"
	case p.FailValues != nil:
		return p.Fact + " not in [" + strings.Join(p.FailValues, ", ") + "]"
	case p.RequireValues != nil:
		return p.Fact + " contains [" + strings.Join(p.RequireValues, ", ") + "]"
	case p.PassCIDRs != nil:
		texts := make([]string, len(p.PassCIDRs))
		for i, c := range p.PassCIDRs {
			texts[i] = c.String()
		}
		return p.Fact + " inside [" + strings.Join(texts, ", ") + "]"
	case p.Min != nil:
		return fmt.Sprintf("%s >= %g", p.Fact, *p.Min)
	case p.Max != nil:
		return fmt.Sprintf("%s <= %g", p.Fact, *p.Max)
	case p.Empty != nil && *p.Empty:
		return p.Fact + " empty"
	case p.Empty != nil:
		return p.Fact + " not empty"
	case p.AfterDays != nil:
		return fmt.Sprintf("%s more than %d days ahead", p.Fact, *p.AfterDays)
	}
	return ""
}

// parsePosturePolicy parses the params of a KindPosture rule.
func (p *ruleParser) parsePosturePolicy(r *Rule, n *yaml.Node, f map[string]*yaml.Node, path string) {
	if f["query"] != nil {
		p.fail(f["query"], path+".query", "unknown field for kind %s: a posture policy checks a setting or runs a scan check", KindPosture)
	}
	if f["params"] == nil {
		p.fail(n, path+".params", "missing: kind %s needs params.group and params.fact or params.check", KindPosture)
		return
	}
	params, ok := p.fields(f["params"], path+".params", "group", "benchmark", "fact", "check",
		"pass_values", "fail_values", "require_values", "pass_cidrs", "min", "max", "empty", "after_days", "missing",
		"severities", "max_days")
	if !ok {
		return
	}
	parent := f["params"]
	field := func(name string) string { return path + ".params." + name }
	pp := &r.Posture

	group, ok := p.scalar(params["group"], field("group"))
	switch {
	case !ok:
		p.fail(parent, field("group"), "missing: expected one of %s", strings.Join(postureGroups, ", "))
	case !slices.Contains(postureGroups, group):
		p.fail(params["group"], field("group"), "invalid value %q: expected one of %s", group, strings.Join(postureGroups, ", "))
	}
	pp.Group = group
	pp.Benchmark, _ = p.scalar(params["benchmark"], field("benchmark"))

	fact, hasFact := p.scalar(params["fact"], field("fact"))
	check, hasCheck := p.scalar(params["check"], field("check"))
	switch {
	case hasFact && hasCheck:
		p.fail(params["check"], field("check"), "invalid: set either fact or check, not both")
		return
	case hasCheck:
		p.parsePostureCheck(pp, check, params, parent, field)
		return
	case !hasFact:
		p.fail(parent, field("fact"), "missing: set fact (a setting key such as sshd.permit_root_login) or check (%s or %s)", PostureCheckFixableVulns, PostureCheckScanAge)
		return
	case !postureFactKey(fact):
		p.fail(params["fact"], field("fact"), "invalid value %q: expected a dotted setting key such as sysctl.kernel.randomize_va_space", fact)
		return
	}
	pp.Fact = fact
	pp.Entity = PostureEntityHost
	if strings.HasPrefix(fact, "container.") {
		pp.Entity = PostureEntityContainer
	}
	for _, name := range []string{"severities", "max_days"} {
		if params[name] != nil {
			p.fail(params[name], field(name), "unknown field for a setting check: only the %s and %s checks take it", PostureCheckFixableVulns, PostureCheckScanAge)
		}
	}

	conditions := 0
	anyValue := func(v string) (string, string) { return v, "" }
	if params["pass_values"] != nil {
		pp.PassValues = p.listParam(params["pass_values"], parent, field("pass_values"), anyValue)
		conditions++
	}
	if params["fail_values"] != nil {
		pp.FailValues = p.listParam(params["fail_values"], parent, field("fail_values"), anyValue)
		conditions++
	}
	if params["require_values"] != nil {
		pp.RequireValues = p.listParam(params["require_values"], parent, field("require_values"), anyValue)
		conditions++
	}
	if params["pass_cidrs"] != nil {
		texts := p.listParam(params["pass_cidrs"], parent, field("pass_cidrs"), func(v string) (string, string) {
			prefix, err := netip.ParsePrefix(v)
			if err != nil {
				return "", "expected an address prefix such as 10.0.0.0/8 or fd00::/8"
			}
			return prefix.Masked().String(), ""
		})
		for _, t := range texts {
			pp.PassCIDRs = append(pp.PassCIDRs, netip.MustParsePrefix(t))
		}
		if pp.PassCIDRs == nil {
			pp.PassCIDRs = []netip.Prefix{}
		}
		conditions++
	}
	for _, bound := range []struct {
		name string
		dst  **float64
	}{{"min", &pp.Min}, {"max", &pp.Max}} {
		value, ok := p.scalar(params[bound.name], field(bound.name))
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			p.fail(params[bound.name], field(bound.name), "invalid value %q: expected a number", value)
			continue
		}
		*bound.dst = &v
		conditions++
	}
	if params["empty"] != nil {
		v := p.boolParam(params["empty"], field("empty"))
		pp.Empty = &v
		conditions++
	}
	if params["after_days"] != nil {
		if v, ok := p.intParam(params["after_days"], parent, field("after_days"), 0, maxPolicyDays, true); ok {
			pp.AfterDays = &v
		}
		conditions++
	}
	if conditions != 1 {
		p.fail(parent, field("fact"), "invalid: a setting check needs exactly one of pass_values, fail_values, require_values, pass_cidrs, min, max, empty or after_days, got %d", conditions)
	}

	pp.Missing = "skip"
	if missing, ok := p.scalar(params["missing"], field("missing")); ok {
		if !slices.Contains([]string{"skip", "pass", "fail"}, missing) {
			p.fail(params["missing"], field("missing"), "invalid value %q: expected skip, pass or fail", missing)
		}
		pp.Missing = missing
	}
}

func (p *ruleParser) parsePostureCheck(pp *PosturePolicy, check string, params map[string]*yaml.Node, parent *yaml.Node, field func(string) string) {
	pp.Check = check
	pp.Entity = PostureEntityImage
	allowed := map[string][]string{
		PostureCheckFixableVulns: {"severities"},
		PostureCheckScanAge:      {"max_days"},
		PostureCheckKernelVulns:  {"severities"},
	}
	own, known := allowed[check]
	if !known {
		p.fail(params["check"], field("check"), "invalid value %q: expected %s, %s or %s", check, PostureCheckFixableVulns, PostureCheckScanAge, PostureCheckKernelVulns)
		return
	}
	if check == PostureCheckKernelVulns {
		pp.Entity = PostureEntityHost
	}
	for name, node := range params {
		if node == nil || slices.Contains(own, name) || slices.Contains([]string{"group", "benchmark", "check"}, name) {
			continue
		}
		p.fail(node, field(name), "unknown field for check %s: expected %s", check, strings.Join(own, ", "))
	}
	switch check {
	case PostureCheckFixableVulns, PostureCheckKernelVulns:
		pp.Severities = p.listParam(params["severities"], parent, field("severities"), func(v string) (string, string) {
			upper := strings.ToUpper(v)
			if !slices.Contains(vulnSeverities, upper) {
				return "", "expected one of " + strings.Join(vulnSeverities, ", ")
			}
			return upper, ""
		})
	case PostureCheckScanAge:
		pp.MaxDays, _ = p.intParam(params["max_days"], parent, field("max_days"), 1, maxPolicyDays, true)
	}
}

// postureFactKey reports whether s is a setting key: dot-separated words
// of letters, digits, '_', '-' and '/'.
func postureFactKey(s string) bool {
	if s == "" || len(s) > 200 || !strings.Contains(s, ".") {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '-', c == '/':
		default:
			return false
		}
	}
	return true
}

// parsePostureFailure parses the params of a KindPostureFailure rule.
func (p *ruleParser) parsePostureFailure(r *Rule, n *yaml.Node, f map[string]*yaml.Node, path string) {
	if f["query"] != nil {
		p.fail(f["query"], path+".query", "unknown field for kind %s: the rule builds its own query", KindPostureFailure)
	}
	if f["params"] == nil {
		p.fail(n, path+".params", "missing: kind %s needs params.severities", KindPostureFailure)
		return
	}
	params, ok := p.fields(f["params"], path+".params", "severities", "groups")
	if !ok {
		return
	}
	field := func(name string) string { return path + ".params." + name }
	r.Policy.PostureSeverities = p.listParam(params["severities"], f["params"], field("severities"), func(v string) (string, string) {
		if !slices.Contains(alertSeverities, v) {
			return "", "expected one of " + strings.Join(alertSeverities, ", ")
		}
		return v, ""
	})
	if params["groups"] != nil {
		r.Policy.PostureGroups = p.listParam(params["groups"], f["params"], field("groups"), func(v string) (string, string) {
			if !slices.Contains(postureGroups, v) {
				return "", "expected one of " + strings.Join(postureGroups, ", ")
			}
			return v, ""
		})
	}
}

// PosturePackName is the file name that errors in the embedded posture
// policy pack refer to.
const PosturePackName = "rules/posture.yaml"

//go:embed rules/posture.yaml
var posturePackYAML []byte

// PosturePack parses the embedded posture policy pack.
func PosturePack() ([]Rule, error) {
	return ParseRules(PosturePackName, posturePackYAML)
}

// AddPosturePack appends the posture policies of file, or of the embedded
// pack when file is empty, to rules. "none" adds nothing. A policy whose
// name a rule already has is an error.
func AddPosturePack(rules []Rule, file string) ([]Rule, error) {
	var pack []Rule
	var err error
	switch file {
	case "none":
		return rules, nil
	case "":
		pack, err = PosturePack()
	default:
		pack, err = LoadRules(file)
	}
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, r := range rules {
		names[r.Name] = true
	}
	for _, r := range pack {
		if names[r.Name] {
			return nil, fmt.Errorf("%s:%d: duplicate rule name %q: the rules file has a rule of that name", r.File, r.Line, r.Name)
		}
		rules = append(rules, r)
	}
	return rules, nil
}
