package alerting

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// PostureOverrides are an operator's changes to the posture policies:
// policies turned off, severities changed, and exceptions that turn a
// failure into an excepted result until a date.
type PostureOverrides struct {
	// Policies maps a policy name to its changes.
	Policies map[string]PolicyOverride `yaml:"policies"`
	// Exceptions are checked in order, and the first that matches a
	// failure applies.
	Exceptions []PostureException `yaml:"exceptions"`
}

// PolicyOverride changes one policy.
type PolicyOverride struct {
	// Enabled false turns the policy off. Nil keeps it on.
	Enabled *bool `yaml:"enabled"`
	// Severity replaces the policy's severity when set.
	Severity string `yaml:"severity"`
}

// PostureException excepts the failures of a policy on the entities it
// selects until Expires. Every selector that is set must match.
type PostureException struct {
	// Policy is a policy name, or "*" for every policy.
	Policy string `yaml:"policy"`
	// Labels selects containers whose labels have each key with the given
	// value, and images run by such a container. Host results never match
	// a label selector.
	Labels map[string]string `yaml:"labels"`
	// Hosts selects the entities of hosts with one of these ids or names.
	Hosts []string `yaml:"hosts"`
	// Entities selects entities by id or name: a container name, an image
	// reference or id, or a host name.
	Entities []string `yaml:"entities"`
	// Expires is the first day, UTC, on which the exception no longer
	// applies, written YYYY-MM-DD.
	Expires time.Time `yaml:"-"`
	// ExpiresText is Expires as written.
	ExpiresText string `yaml:"expires"`
	// Reason is stored in the result's evidence.
	Reason string `yaml:"reason"`
}

// maxOverridesFileBytes caps the size of an overrides file.
const maxOverridesFileBytes = 1 << 20

// LoadPostureOverrides reads an overrides file and checks it against the
// loaded policies. Errors name the file and the field.
func LoadPostureOverrides(path string, policies []Rule) (*PostureOverrides, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open posture overrides file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxOverridesFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read posture overrides file %s: %w", path, err)
	}
	if len(data) > maxOverridesFileBytes {
		return nil, fmt.Errorf("invalid posture overrides file %s: larger than %d bytes", path, maxOverridesFileBytes)
	}
	return ParsePostureOverrides(path, data, policies)
}

// ParsePostureOverrides parses an overrides file. name is used in errors.
func ParsePostureOverrides(name string, data []byte, policies []Rule) (*PostureOverrides, error) {
	var o PostureOverrides
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&o); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("invalid posture overrides file %s: %w", name, err)
	}
	known := map[string]bool{}
	for _, r := range policies {
		if r.Kind == KindPosture {
			known[r.Name] = true
		}
	}
	var errs []error
	for policy, po := range o.Policies {
		if !known[policy] {
			errs = append(errs, fmt.Errorf("%s: policies.%s: unknown policy: no loaded posture policy has this name", name, policy))
		}
		if po.Severity != "" && !slices.Contains(alertSeverities, po.Severity) {
			errs = append(errs, fmt.Errorf("%s: policies.%s.severity: invalid value %q: expected one of %s", name, policy, po.Severity, strings.Join(alertSeverities, ", ")))
		}
	}
	for i := range o.Exceptions {
		ex := &o.Exceptions[i]
		field := fmt.Sprintf("%s: exceptions[%d]", name, i)
		switch {
		case ex.Policy == "":
			errs = append(errs, fmt.Errorf("%s.policy: missing: expected a policy name or *", field))
		case ex.Policy != "*" && !known[ex.Policy]:
			errs = append(errs, fmt.Errorf("%s.policy: unknown policy %q", field, ex.Policy))
		}
		if len(ex.Labels) == 0 && len(ex.Hosts) == 0 && len(ex.Entities) == 0 {
			errs = append(errs, fmt.Errorf("%s: missing selector: set labels, hosts or entities", field))
		}
		expires, err := time.Parse(time.DateOnly, ex.ExpiresText)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.expires: invalid value %q: expected a date YYYY-MM-DD; every exception needs an expiry", field, ex.ExpiresText))
		}
		ex.Expires = expires
		if strings.TrimSpace(ex.Reason) == "" {
			errs = append(errs, fmt.Errorf("%s.reason: missing: say why the exception is granted", field))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &o, nil
}

// apply returns the severity of a policy after the overrides and whether
// the policy is enabled. A nil receiver changes nothing.
func (o *PostureOverrides) apply(r Rule) (string, bool) {
	if o == nil {
		return r.Severity, true
	}
	po, ok := o.Policies[r.Name]
	if !ok {
		return r.Severity, true
	}
	severity := r.Severity
	if po.Severity != "" {
		severity = po.Severity
	}
	return severity, po.Enabled == nil || *po.Enabled
}

// Enabled reports whether the overrides leave a policy on.
func (o *PostureOverrides) Enabled(r Rule) bool {
	_, enabled := o.apply(r)
	return enabled
}

// exception returns the first unexpired exception that covers a failing
// result on host h.
func (o *PostureOverrides) exception(policy string, h PostureHost, r PostureResult, at time.Time) (PostureException, bool) {
	if o == nil {
		return PostureException{}, false
	}
	for _, ex := range o.Exceptions {
		if ex.Policy != "*" && ex.Policy != policy {
			continue
		}
		if !at.Before(ex.Expires) {
			continue
		}
		if len(ex.Hosts) > 0 && !slices.Contains(ex.Hosts, h.ID) && !slices.Contains(ex.Hosts, h.Name) {
			continue
		}
		if len(ex.Entities) > 0 && !slices.Contains(ex.Entities, r.EntityID) && !slices.Contains(ex.Entities, r.EntityName) {
			continue
		}
		if len(ex.Labels) > 0 && !labelsMatch(ex.Labels, h, r) {
			continue
		}
		return ex, true
	}
	return PostureException{}, false
}

// labelsMatch reports whether the container of a result, or one container
// running the image of an image result, has every selected label.
func labelsMatch(selector map[string]string, h PostureHost, r PostureResult) bool {
	for _, c := range h.Containers {
		switch r.EntityKind {
		case PostureEntityContainer:
			if c.ID != r.EntityID {
				continue
			}
		case PostureEntityImage:
			if firstValue(c.Facts["container.image_id"]) != r.EntityID {
				continue
			}
		default:
			return false
		}
		labels := c.Facts["container.labels"].Values
		all := true
		for k, v := range selector {
			if !slices.Contains(labels, k+"="+v) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}
