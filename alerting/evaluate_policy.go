package alerting

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/harrierhq/harrier/internal/record"
)

// evaluatePolicy runs the query of a policy rule and returns one candidate
// per container, or per host for host policies. A rule whose column is
// missing returns nothing and logs a warning once.
func (a *Alerter) evaluatePolicy(ctx context.Context, rule Rule, nowNs int64) ([]candidate, error) {
	missing, err := a.missingColumns(ctx, rule)
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", rule.Name, err)
	}
	if len(missing) > 0 {
		a.warnSkippedRule(rule, missing)
		return nil, nil
	}

	at := time.Unix(0, nowNs).UTC()
	query := policyQuery(rule, at)
	columns, rows, err := a.store.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", rule.Name, err)
	}
	idx, err := columnIndexes(columns, "container_id", "host_id", "image_id", "summary", "driver")
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", rule.Name, err)
	}

	windowStart := at
	if rule.Kind == KindLogMatch {
		windowStart = at.Add(-rule.Policy.Window)
	}
	var out []candidate
	byEntity := make(map[string]int)
	for _, row := range rows {
		get := func(i int) string { return toString(row[idx[i]]) }
		containerID, hostID := get(0), get(1)
		entity := "container:" + containerID
		if containerID == "" {
			entity = "host:" + hostID
		}
		i, seen := byEntity[entity]
		if !seen {
			i = len(out)
			byEntity[entity] = i
			out = append(out, candidate{
				Alert: record.Alert{
					TimeNs:      nowNs,
					Source:      "rule",
					Name:        rule.Name,
					Severity:    rule.Severity,
					ContainerID: containerID,
					HostID:      hostID,
					ImageID:     get(2),
					Summary:     get(3),
					Query:       policyRowsQuery(query, containerID, hostID),
					Fingerprint: policyFingerprint(rule.Name, containerID, hostID),
				},
				details: alertDetails{
					Version:     rule.Version,
					WindowStart: windowStart,
					WindowEnd:   at,
					Condition:   policyCondition(rule),
				},
			})
		}
		c := &out[i]
		driver := get(4)
		switch {
		case driver == "" || slices.Contains(c.Drivers, driver):
		case len(c.Drivers) == maxDrivers:
			c.Drivers = append(c.Drivers, "and more rows")
		case len(c.Drivers) < maxDrivers:
			c.Drivers = append(c.Drivers, driver)
		}
	}
	return out, nil
}

// policyFingerprint identifies an alert by rule and container, so that it
// keeps the fingerprint of the sql and vulnerability rules, or by rule and
// host for host policies.
func policyFingerprint(rule, containerID, hostID string) string {
	if containerID == "" {
		return record.NewID(rule, "host", hostID)
	}
	return record.NewID(rule, containerID)
}

// missingColumns returns the columns, as "table.column", that rule needs
// and the database lacks.
func (a *Alerter) missingColumns(ctx context.Context, rule Rule) ([]string, error) {
	var missing []string
	for _, c := range policyColumns(rule.Kind) {
		_, rows, err := a.store.Query(ctx, columnQuery(c))
		if err != nil {
			return nil, fmt.Errorf("check column %s: %w", c, err)
		}
		if len(rows) == 0 || toString(rows[0][0]) == "0" {
			missing = append(missing, c.String())
		}
	}
	return missing, nil
}

// warnSkippedRule logs once per rule that it is skipped.
func (a *Alerter) warnSkippedRule(rule Rule, missing []string) {
	a.skippedMu.Lock()
	defer a.skippedMu.Unlock()
	if a.skipped[rule.Name] {
		return
	}
	a.skipped[rule.Name] = true
	a.logger.Warn("Skipping rule: the database lacks a column it reads, apply the migration that adds it",
		"rule", rule.Name, "kind", rule.Kind, "missing_columns", missing)
}

// SkippedRules returns the names of the rules skipped because a column
// they read is missing.
func (a *Alerter) SkippedRules() []string {
	a.skippedMu.Lock()
	defer a.skippedMu.Unlock()
	var names []string
	for name := range a.skipped {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
