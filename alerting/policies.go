package alerting

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Policy rule kinds. Each builds its own query from its params.
const (
	// KindImageAge raises one alert per running container whose image was
	// first seen more than params.max_days days ago.
	KindImageAge = "image-age"
	// KindImageRegistry raises one alert per running container whose image
	// reference names a registry outside params.allowed.
	KindImageRegistry = "image-registry"
	// KindContainerRoot raises one alert per running container that is
	// privileged or runs as root.
	KindContainerRoot = "container-root-or-privileged"
	// KindHostOSEndOfLife raises one alert per host whose operating system
	// reaches its end of life within params.within_days days (default 0).
	KindHostOSEndOfLife = "host-os-eol"
	// KindHostKernelFloor raises one alert per host whose kernel version is
	// older than params.min_version.
	KindHostKernelFloor = "host-kernel-floor"
	// KindHostUnexpectedPort raises one alert per host that listens on a
	// port outside params.allowed_ports.
	KindHostUnexpectedPort = "host-unexpected-port"
	// KindContainerPort raises one alert per running container that
	// publishes a host port outside params.allowed_ports, or, with
	// params.public_only, only for bindings on every interface (0.0.0.0 or
	// ::).
	KindContainerPort = "container-port"
	// KindLogMatch raises one alert per container that logged at least
	// params.threshold lines matching params.pattern or params.template_id
	// within params.window.
	KindLogMatch = "log-match"
)

// Limits of policy params.
const (
	maxPolicyDays      = 36500
	maxLogWindow       = 31 * 24 * time.Hour
	maxKernelComponent = 999999
)

// PolicyParams are the params of the policy kinds. Only the fields of the
// rule's kind are set.
type PolicyParams struct {
	// MaxDays is the image age in days above which a KindImageAge rule
	// fires.
	MaxDays int
	// Registries is the allow list of a KindImageRegistry rule, lower case,
	// such as "docker.io" or "registry.example.com:5000".
	Registries []string
	// WithinDays makes a KindHostOSEndOfLife rule fire that many days
	// before the end-of-life date. 0 fires from the date on.
	WithinDays int
	// MinKernel is the kernel floor of a KindHostKernelFloor rule as
	// written, such as "5.10", and KernelParts its major, minor and patch
	// numbers.
	MinKernel   string
	KernelParts [3]uint64
	// AllowedPorts is the allow list of a KindHostUnexpectedPort or
	// KindContainerPort rule: a port number such as "22" allows it for
	// every protocol, and "udp/53" for one protocol. A KindContainerPort
	// rule compares it with the host port of each binding.
	AllowedPorts []string
	// PublicOnly makes a KindContainerPort rule check only the bindings on
	// every interface (0.0.0.0 or ::). Default false checks every binding.
	PublicOnly bool
	// Pattern is the RE2 regular expression that a KindLogMatch rule runs
	// on each message with ClickHouse match(). Empty when TemplateID is set.
	//
	// NOTE: ClickHouse 18.16 ignores the (?i) flag when it searches for
	// the pattern's literal part first, so a pattern such as
	// "(?i)out of memory" does not match "Out of memory" there. Write
	// "[Oo]ut of memory" instead.
	Pattern string
	// TemplateID is the log template id that a KindLogMatch rule counts.
	// 0 when Pattern is set.
	TemplateID uint64
	// Window is the period before the evaluation time that a KindLogMatch
	// rule counts lines in.
	Window time.Duration
	// Threshold is the number of matching lines within Window at which a
	// KindLogMatch rule fires. Default 1.
	Threshold int
	// PostureSeverities are the policy severities whose failing posture
	// results a KindPostureFailure rule raises alerts for.
	PostureSeverities []string
	// PostureGroups limits a KindPostureFailure rule to the policies of
	// these groups. Empty means every group.
	PostureGroups []string
}

var registryPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$`)
var portPattern = regexp.MustCompile(`^((tcp|udp|tcp6|udp6)/)?[0-9]{1,5}$`)
var containerPortPattern = regexp.MustCompile(`^((tcp|udp|sctp)/)?[0-9]{1,5}$`)

// parsePolicyRule parses the params of the policy kinds.
func (p *ruleParser) parsePolicyRule(r *Rule, n *yaml.Node, f map[string]*yaml.Node, path string) {
	if f["query"] != nil {
		p.fail(f["query"], path+".query", "unknown field for kind %s: the policy builds its own query", r.Kind)
	}
	var known []string
	switch r.Kind {
	case KindImageAge:
		known = []string{"max_days"}
	case KindImageRegistry:
		known = []string{"allowed"}
	case KindContainerRoot:
	case KindHostOSEndOfLife:
		known = []string{"within_days"}
	case KindHostKernelFloor:
		known = []string{"min_version"}
	case KindHostUnexpectedPort:
		known = []string{"allowed_ports"}
	case KindContainerPort:
		known = []string{"allowed_ports", "public_only"}
	case KindLogMatch:
		known = []string{"pattern", "template_id", "window", "threshold"}
	}

	params := map[string]*yaml.Node{}
	paramsNode := f["params"]
	switch {
	case len(known) == 0 && paramsNode != nil:
		p.fail(paramsNode, path+".params", "unknown field for kind %s: the policy has no params", r.Kind)
		return
	case paramsNode != nil:
		var ok bool
		if params, ok = p.fields(paramsNode, path+".params", known...); !ok {
			return
		}
	}
	if paramsNode == nil {
		paramsNode = n
	}
	field := func(name string) string { return path + ".params." + name }

	switch r.Kind {
	case KindImageAge:
		r.Policy.MaxDays, _ = p.intParam(params["max_days"], paramsNode, field("max_days"), 1, maxPolicyDays, true)
	case KindImageRegistry:
		r.Policy.Registries = p.listParam(params["allowed"], paramsNode, field("allowed"), func(v string) (string, string) {
			v = strings.ToLower(v)
			if !registryPattern.MatchString(v) {
				return "", "expected a registry host such as docker.io or registry.example.com:5000"
			}
			return v, ""
		})
	case KindHostOSEndOfLife:
		r.Policy.WithinDays, _ = p.intParam(params["within_days"], paramsNode, field("within_days"), 0, maxPolicyDays, false)
	case KindHostKernelFloor:
		p.parseKernelFloor(r, params["min_version"], paramsNode, field("min_version"))
	case KindHostUnexpectedPort:
		r.Policy.AllowedPorts = p.listParam(params["allowed_ports"], paramsNode, field("allowed_ports"), allowedPortCheck(portPattern, "udp/53"))
	case KindContainerPort:
		r.Policy.AllowedPorts = p.listParam(params["allowed_ports"], paramsNode, field("allowed_ports"), allowedPortCheck(containerPortPattern, "tcp/443"))
		r.Policy.PublicOnly = p.boolParam(params["public_only"], field("public_only"))
	case KindLogMatch:
		p.parseLogMatch(r, params, paramsNode, path)
	}
}

// allowedPortCheck returns the check of an allowed_ports entry: a port, or
// a protocol and port matching pattern, such as the example.
func allowedPortCheck(pattern *regexp.Regexp, example string) func(string) (string, string) {
	return func(v string) (string, string) {
		v = strings.ToLower(v)
		if !pattern.MatchString(v) {
			return "", "expected a port such as 22 or a protocol and port such as " + example
		}
		_, port, _ := strings.Cut(v, "/")
		if port == "" {
			port = v
		}
		if n, _ := strconv.Atoi(port); n > 65535 {
			return "", "expected a port from 0 to 65535"
		}
		return v, ""
	}
}

// boolParam parses an optional boolean param. A missing param is false.
func (p *ruleParser) boolParam(n *yaml.Node, field string) bool {
	value, ok := p.scalar(n, field)
	if !ok {
		return false
	}
	v, err := strconv.ParseBool(value)
	if err != nil {
		p.fail(n, field, "invalid value %q: expected true or false", value)
		return false
	}
	return v
}

// intParam parses an integer param in [lo, hi]. A missing optional param
// returns 0.
func (p *ruleParser) intParam(n, parent *yaml.Node, field string, lo, hi int, required bool) (int, bool) {
	value, ok := p.scalar(n, field)
	if !ok {
		if required {
			p.fail(parent, field, "missing: expected an integer from %d to %d", lo, hi)
		}
		return 0, false
	}
	v, err := strconv.Atoi(value)
	if err != nil || v < lo || v > hi {
		p.fail(n, field, "invalid value %q: expected an integer from %d to %d", value, lo, hi)
		return 0, false
	}
	return v, true
}

// listParam parses a required non-empty list of strings, each passed
// through check, which returns the normalised value or a problem.
func (p *ruleParser) listParam(n, parent *yaml.Node, field string, check func(string) (string, string)) []string {
	if n == nil {
		p.fail(parent, field, "missing: expected a non-empty list")
		return nil
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.fail(n, field, "invalid value: expected a non-empty list, got %s", describeNode(n))
		return nil
	}
	var out []string
	for i, item := range n.Content {
		itemField := fmt.Sprintf("%s[%d]", field, i)
		value, ok := p.scalar(item, itemField)
		if !ok {
			p.fail(item, itemField, "missing value")
			continue
		}
		normalised, problem := check(value)
		switch {
		case problem != "":
			p.fail(item, itemField, "invalid value %q: %s", value, problem)
		case slices.Contains(out, normalised):
			p.fail(item, itemField, "duplicate value %q", value)
		default:
			out = append(out, normalised)
		}
	}
	return out
}

func (p *ruleParser) parseKernelFloor(r *Rule, n, parent *yaml.Node, field string) {
	value, ok := p.scalar(n, field)
	if !ok {
		p.fail(parent, field, "missing: expected a kernel version such as 5.10 or 5.10.0")
		return
	}
	parts := strings.Split(value, ".")
	if len(parts) > 3 {
		p.fail(n, field, "invalid value %q: expected one to three numbers separated by dots, such as 5.10", value)
		return
	}
	for i, part := range parts {
		v, err := strconv.ParseUint(part, 10, 64)
		if err != nil || v > maxKernelComponent {
			p.fail(n, field, "invalid value %q: expected one to three numbers from 0 to %d separated by dots, such as 5.10", value, maxKernelComponent)
			return
		}
		r.Policy.KernelParts[i] = v
	}
	r.Policy.MinKernel = value
}

func (p *ruleParser) parseLogMatch(r *Rule, params map[string]*yaml.Node, parent *yaml.Node, path string) {
	field := func(name string) string { return path + ".params." + name }

	pattern, hasPattern := p.scalar(params["pattern"], field("pattern"))
	templateText, hasTemplate := p.scalar(params["template_id"], field("template_id"))
	switch {
	case hasPattern && hasTemplate:
		p.fail(params["template_id"], field("template_id"), "invalid: set either pattern or template_id, not both")
	case !hasPattern && !hasTemplate:
		p.fail(parent, field("pattern"), "missing: set pattern (a regular expression) or template_id")
	case hasPattern:
		if pattern == "" {
			p.fail(params["pattern"], field("pattern"), "invalid value \"\": expected a non-empty regular expression")
			break
		}
		// ClickHouse match() uses RE2, whose syntax Go's regexp accepts.
		if _, err := regexp.Compile(pattern); err != nil {
			p.fail(params["pattern"], field("pattern"), "invalid regular expression %q: %v", pattern, err)
			break
		}
		r.Policy.Pattern = pattern
	default:
		id, err := strconv.ParseUint(templateText, 10, 64)
		if err != nil || id == 0 {
			p.fail(params["template_id"], field("template_id"), "invalid value %q: expected a template id, a positive integer as printed by harrier", templateText)
			break
		}
		r.Policy.TemplateID = id
	}

	windowText, ok := p.scalar(params["window"], field("window"))
	if !ok {
		p.fail(parent, field("window"), "missing: expected a duration such as 5m or 1h")
	} else if d, err := time.ParseDuration(windowText); err != nil || d < time.Second || d > maxLogWindow {
		p.fail(params["window"], field("window"), "invalid value %q: expected a duration from 1s to %s, such as 5m", windowText, maxLogWindow)
	} else {
		r.Policy.Window = d
	}

	r.Policy.Threshold = 1
	if threshold, ok := p.intParam(params["threshold"], parent, field("threshold"), 1, math.MaxInt32, false); ok {
		r.Policy.Threshold = threshold
	}
}

// ruleVersion returns the first 12 hex digits of a SHA-256 digest of the
// rule's definition. The description and location do not count, so only a
// change of what the rule matches changes the version.
func ruleVersion(r Rule) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%q\x00%+v", r.Kind, r.Severity, r.Query, r.VulnSeverities, r.Policy)))
	if r.Kind == KindPosture {
		sum = sha256.Sum256(fmt.Appendf(sum[:], "\x00%s\x00%s", r.Posture.condition(), r.Posture.Missing))
	}
	return hex.EncodeToString(sum[:6])
}
