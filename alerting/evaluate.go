package alerting

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/harrierhq/harrier/internal/record"
)

// maxDrivers caps the drivers of one rule alert. The alert's query lists
// every row.
const maxDrivers = 20

// candidate is an alert on its way to the alerts table, with the container
// facts that record.Alert does not carry.
type candidate struct {
	record.Alert
	ContainerName string
	ImageRef      string
	details       alertDetails
}

// alertDetails are the columns of the alerts table added by migration
// 0007 that record.Alert does not carry.
type alertDetails struct {
	// Version is the rule version (see ruleVersion). Model alerts leave it
	// empty because record.Alert carries no model version.
	Version string
	// WindowStart and WindowEnd bound the data the alert was raised on.
	WindowStart, WindowEnd time.Time
	// Condition is the matched condition in words.
	Condition string
	// Link is the filled Config.LinkTemplate.
	Link string
}

// evaluateRule runs one rule and returns one candidate per matching
// container.
func (a *Alerter) evaluateRule(ctx context.Context, rule Rule, nowNs int64) ([]candidate, error) {
	switch rule.Kind {
	case KindRunningImageFixableVuln:
		return a.evaluateFixableVuln(ctx, rule, nowNs)
	case KindSQL:
		return a.evaluateSQL(ctx, rule, nowNs)
	case KindPosture:
		return nil, nil
	case KindPostureFailure:
		return a.evaluatePostureFailure(ctx, rule, nowNs)
	}
	if slices.Contains(ruleKinds, rule.Kind) {
		return a.evaluatePolicy(ctx, rule, nowNs)
	}
	return nil, fmt.Errorf("rule %s: invalid kind %q", rule.Name, rule.Kind)
}

// finding is one row of a KindRunningImageFixableVuln query.
type finding struct {
	vulnID, pkg, installed, fixed, severity string
}

func (a *Alerter) evaluateFixableVuln(ctx context.Context, rule Rule, nowNs int64) ([]candidate, error) {
	columns, rows, err := a.store.Query(ctx, fixableVulnQuery(rule.VulnSeverities))
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", rule.Name, err)
	}
	idx, err := columnIndexes(columns, "container_id", "container_name", "container_host_id", "container_image_ref", "image_id",
		"vuln_id", "package", "vuln_installed_version", "vuln_fixed_version", "vuln_severity")
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", rule.Name, err)
	}

	var out []candidate
	findings := make(map[string][]finding)
	for _, row := range rows {
		get := func(i int) string { return toString(row[idx[i]]) }
		containerID := get(0)
		if _, seen := findings[containerID]; !seen {
			out = append(out, candidate{
				Alert: record.Alert{
					TimeNs:      nowNs,
					Source:      "rule",
					Name:        rule.Name,
					Severity:    rule.Severity,
					ContainerID: containerID,
					HostID:      get(2),
					ImageID:     get(4),
					Query:       fixableVulnRowsQuery(get(4), rule.VulnSeverities),
					Fingerprint: record.NewID(rule.Name, containerID),
				},
				ContainerName: get(1),
				ImageRef:      get(3),
				details:       ruleDetails(rule, nowNs),
			})
		}
		findings[containerID] = append(findings[containerID], finding{vulnID: get(5), pkg: get(6), installed: get(7), fixed: get(8), severity: get(9)})
	}

	for i := range out {
		c := &out[i]
		list := findings[c.ContainerID]
		c.Summary = fixableVulnSummary(c.ContainerName, c.ContainerID, c.ImageRef, c.ImageID, rule.VulnSeverities, list)
		c.Drivers = fixableVulnDrivers(list)
	}
	return out, nil
}

// fixableVulnSummary builds a sentence such as "Container web runs image
// nginx:1.17 with 1 critical vulnerability that has a fix".
func fixableVulnSummary(name, containerID, imageRef, imageID string, severities []string, list []finding) string {
	if name == "" {
		name = shortID(containerID)
	}
	if imageRef == "" {
		imageRef = shortID(imageID)
	}
	ids := make(map[string]bool)
	for _, f := range list {
		ids[f.vulnID] = true
	}
	words := make([]string, len(severities))
	for i, s := range severities {
		words[i] = strings.ToLower(s)
	}
	noun, verb := "vulnerability", "has"
	if len(ids) != 1 {
		noun, verb = "vulnerabilities", "have"
	}
	return fmt.Sprintf("Container %s runs image %s with %d %s %s that %s a fix",
		name, imageRef, len(ids), strings.Join(words, " or "), noun, verb)
}

// fixableVulnDrivers lists the findings, most severe first, as
// "CVE-2019-1549 in openssl 1.1.1c-1: CRITICAL, fixed in 1.1.1d-0+deb10u1".
func fixableVulnDrivers(list []finding) []string {
	sorted := slices.Clone(list)
	slices.SortStableFunc(sorted, func(x, y finding) int {
		return slices.Index(vulnSeverities, x.severity) - slices.Index(vulnSeverities, y.severity)
	})
	var drivers []string
	for i, f := range sorted {
		if i == maxDrivers {
			drivers = append(drivers, fmt.Sprintf("and %d more findings", len(sorted)-maxDrivers))
			break
		}
		drivers = append(drivers, fmt.Sprintf("%s in %s %s: %s, fixed in %s", f.vulnID, f.pkg, f.installed, f.severity, f.fixed))
	}
	return drivers
}

// evaluateSQL runs the SELECT of a KindSQL rule. The result must have a
// container_id column; the optional summary, driver, host_id and image_id
// columns fill the alert.
func (a *Alerter) evaluateSQL(ctx context.Context, rule Rule, nowNs int64) ([]candidate, error) {
	columns, rows, err := a.store.Query(ctx, rule.Query)
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", rule.Name, err)
	}
	containerCol := slices.Index(columns, "container_id")
	if containerCol < 0 {
		return nil, fmt.Errorf("rule %s: invalid query result: missing column container_id in columns %s", rule.Name, strings.Join(columns, ", "))
	}
	summaryCol := slices.Index(columns, "summary")
	driverCol := slices.Index(columns, "driver")
	hostCol := slices.Index(columns, "host_id")
	imageCol := slices.Index(columns, "image_id")
	optional := func(row []any, col int) string {
		if col < 0 {
			return ""
		}
		return toString(row[col])
	}

	var out []candidate
	byContainer := make(map[string]int)
	for _, row := range rows {
		containerID := toString(row[containerCol])
		i, seen := byContainer[containerID]
		if !seen {
			i = len(out)
			byContainer[containerID] = i
			out = append(out, candidate{Alert: record.Alert{
				TimeNs:      nowNs,
				Source:      "rule",
				Name:        rule.Name,
				Severity:    rule.Severity,
				ContainerID: containerID,
				HostID:      optional(row, hostCol),
				ImageID:     optional(row, imageCol),
				Summary:     optional(row, summaryCol),
				Query:       sqlRuleRowsQuery(rule.Query, containerID),
				Fingerprint: record.NewID(rule.Name, containerID),
			}, details: ruleDetails(rule, nowNs)})
		}
		c := &out[i]
		driver := optional(row, driverCol)
		if driverCol < 0 {
			driver = describeRow(columns, row)
		}
		switch {
		case driver == "" || slices.Contains(c.Drivers, driver):
		case len(c.Drivers) == maxDrivers:
			c.Drivers = append(c.Drivers, "and more rows")
		case len(c.Drivers) < maxDrivers:
			c.Drivers = append(c.Drivers, driver)
		}
	}

	for i := range out {
		if out[i].Summary == "" {
			out[i].Summary = sqlRuleSummary(rule)
		}
	}
	return out, nil
}

// ruleDetails returns the details of an alert of a rule that looks at the
// latest state, so that its window is the evaluation time.
func ruleDetails(rule Rule, nowNs int64) alertDetails {
	at := time.Unix(0, nowNs).UTC()
	return alertDetails{Version: rule.Version, WindowStart: at, WindowEnd: at, Condition: policyCondition(rule)}
}

func sqlRuleSummary(rule Rule) string {
	if rule.Description != "" {
		return rule.Description
	}
	return fmt.Sprintf("Rule %s matched", rule.Name)
}

// describeRow formats a result row as "column=value, ...".
func describeRow(columns []string, row []any) string {
	parts := make([]string, len(columns))
	for i, c := range columns {
		parts[i] = c + "=" + toString(row[i])
	}
	return strings.Join(parts, ", ")
}

func columnIndexes(columns []string, names ...string) ([]int, error) {
	idx := make([]int, len(names))
	for i, n := range names {
		idx[i] = slices.Index(columns, n)
		if idx[i] < 0 {
			return nil, fmt.Errorf("invalid query result: missing column %s in columns %s", n, strings.Join(columns, ", "))
		}
	}
	return idx, nil
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case *string:
		if x == nil {
			return ""
		}
		return *x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// shortID returns the first 12 characters of a container or image id,
// without a "sha256:" prefix.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
