package alerting

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/storage"
)

// PostureFactsQuery selects the facts of each host's latest collection
// pass. A pass delivered twice before a merge gives identical rows, which
// LoadPostureHosts keeps once.
const PostureFactsQuery = `SELECT host_id, entity_kind, entity_id, entity_name, fact, fact_values, source, collected_ns
FROM posture_facts
WHERE (host_id, collected_ns) IN (SELECT host_id, max(collected_ns) FROM posture_facts GROUP BY host_id)
ORDER BY host_id, entity_kind, entity_id, fact`

// PostureScanTimesQuery selects the newest scan time of each image.
const PostureScanTimesQuery = `SELECT image_id, max(scanned_at) AS newest_scan_at FROM images WHERE image_id != '' GROUP BY image_id`

// PostureFixableQuery selects the findings with a published fix of each
// image's newest scan.
const PostureFixableQuery = `SELECT image_id, vuln_id, package, installed_version, fixed_version, severity
FROM vulnerabilities
WHERE fixed_version != '' AND ` + latestScanFilterSQL + `
GROUP BY image_id, vuln_id, package, installed_version, fixed_version, severity
ORDER BY image_id, vuln_id, package`

// PostureKernelPackagesQuery selects the kernel packages that the newest
// scan of each image names.
const PostureKernelPackagesQuery = `SELECT DISTINCT package, installed_version
FROM vulnerabilities
WHERE (package LIKE 'linux-image-%' OR package IN ('kernel', 'kernel-core')) AND ` + latestScanFilterSQL + `
ORDER BY package, installed_version`

// PostureInputsQuery returns a summary of the posture inputs that changes
// whenever a host sends a new pass or an image gets a new scan.
const PostureInputsQuery = `SELECT
    (SELECT toString(count()) FROM posture_facts) AS facts,
    (SELECT toString(max(collected_ns)) FROM posture_facts) AS latest_pass,
    (SELECT toString(count()) FROM images) AS scans,
    (SELECT toString(max(scanned_at)) FROM images) AS latest_scan`

// PostureResultsQuery selects the current results: each host's rows of
// its latest evaluation. where is empty or an AND clause on the rows.
func PostureResultsQuery(where string) string {
	return `SELECT host_id, policy, entity_kind, entity_id, entity_name, policy_group, severity, benchmark,
    status, evidence, first_seen, last_seen
FROM posture_results
WHERE (host_id, last_seen_ns) IN (SELECT host_id, max(last_seen_ns) FROM posture_results GROUP BY host_id)` + where + `
ORDER BY host_id, policy, entity_kind, entity_id
LIMIT 1 BY host_id, policy, entity_kind, entity_id`
}

// postureStateQuery selects the latest status and its first-seen time of
// every result, the state that transitions are computed against.
const postureStateQuery = `SELECT host_id, policy, entity_kind, entity_id,
    argMax(status, last_seen_ns) AS latest_status,
    argMax(first_seen, last_seen_ns) AS latest_first_seen
FROM posture_results
GROUP BY host_id, policy, entity_kind, entity_id`

var postureResultColumns = []string{
	"host_id", "policy", "entity_kind", "entity_id", "entity_name", "policy_group", "severity", "benchmark",
	"status", "evidence", "first_seen", "last_seen", "last_seen_ns",
}

var postureEventColumns = []string{
	"event_at", "event_ns", "event_id", "host_id", "policy", "entity_kind", "entity_id", "entity_name",
	"severity", "from_status", "to_status", "evidence",
}

var posturePolicyColumns = []string{
	"policy", "policy_group", "severity", "benchmark", "description", "inputs", "enabled", "loaded_at", "loaded_ns",
}

// LoadPostureHosts reads each host's latest posture from the posture_facts
// table.
func LoadPostureHosts(ctx context.Context, store *storage.Store) ([]PostureHost, error) {
	_, rows, err := store.Query(ctx, PostureFactsQuery)
	if err != nil {
		return nil, fmt.Errorf("load posture facts: %w", err)
	}
	var hosts []PostureHost
	byHost := map[string]int{}
	entities := map[string]*PostureEntity{}
	for _, row := range rows {
		hostID, kind, id, name, key := toString(row[0]), toString(row[1]), toString(row[2]), toString(row[3]), toString(row[4])
		values, _ := row[5].([]string)
		collected, _ := row[7].(int64)
		i, ok := byHost[hostID]
		if !ok {
			i = len(hosts)
			byHost[hostID] = i
			hosts = append(hosts, PostureHost{ID: hostID, CollectedNs: collected})
		}
		h := &hosts[i]
		ekey := hostID + "\x00" + kind + "\x00" + id
		e, ok := entities[ekey]
		if !ok {
			e = &PostureEntity{Kind: kind, ID: id, Name: name, Facts: map[string]PostureFact{}}
			entities[ekey] = e
			switch kind {
			case record.PostureHost:
				h.Host, h.Name = e, name
			case record.PostureContainer:
				h.Containers = append(h.Containers, e)
			}
		}
		e.Facts[key] = PostureFact{Values: values, Source: toString(row[6])}
	}
	return hosts, nil
}

// LoadPostureScans reads the scan times and fixable findings of every
// image.
func LoadPostureScans(ctx context.Context, store *storage.Store) (PostureScans, error) {
	scans := PostureScans{ScannedAt: map[string]time.Time{}, Fixable: map[string][]PostureFinding{}}
	_, rows, err := store.Query(ctx, PostureScanTimesQuery)
	if err != nil {
		return scans, fmt.Errorf("load image scan times: %w", err)
	}
	for _, row := range rows {
		if t, ok := row[1].(time.Time); ok {
			scans.ScannedAt[toString(row[0])] = t
		}
	}
	_, rows, err = store.Query(ctx, PostureFixableQuery)
	if err != nil {
		return scans, fmt.Errorf("load fixable findings: %w", err)
	}
	for _, row := range rows {
		id := toString(row[0])
		scans.Fixable[id] = append(scans.Fixable[id], PostureFinding{
			VulnID: toString(row[1]), Package: toString(row[2]), Installed: toString(row[3]), Fixed: toString(row[4]), Severity: toString(row[5]),
		})
	}
	_, rows, err = store.Query(ctx, PostureKernelPackagesQuery)
	if err != nil {
		return scans, fmt.Errorf("load scanned kernel packages: %w", err)
	}
	for _, row := range rows {
		scans.KernelPackages = append(scans.KernelPackages, PostureFinding{Package: toString(row[0]), Installed: toString(row[1])})
	}
	return scans, nil
}

// postureState is the latest stored status of one result.
type postureState struct {
	status    string
	firstSeen time.Time
}

// postureRefresh is the longest time between two evaluations while no
// input changes, so that last_seen stays recent and expiring exceptions
// and scan ages are applied.
const postureRefresh = time.Hour

// evaluatePosture evaluates the posture policies when their inputs changed
// or postureRefresh passed, stores the results and the status changes, and
// logs the changes to fail.
func (a *Alerter) evaluatePosture(ctx context.Context, nowNs int64) error {
	if !a.hasPosturePolicies() {
		return nil
	}
	a.postureMu.Lock()
	defer a.postureMu.Unlock()
	now := time.Unix(0, nowNs).UTC()

	if !a.posturePoliciesStored {
		if err := a.storePosturePolicies(ctx, now); err != nil {
			return err
		}
		a.posturePoliciesStored = true
	}
	_, rows, err := a.store.Query(ctx, PostureInputsQuery)
	if err != nil {
		return fmt.Errorf("check posture inputs: %w", err)
	}
	inputs := ""
	if len(rows) > 0 {
		inputs = describeRow([]string{"facts", "pass", "scans", "scan"}, rows[0])
	}
	if inputs == a.postureInputs && now.Sub(a.postureEvaluatedAt) < postureRefresh {
		return nil
	}

	if a.postureState == nil {
		state, err := a.loadPostureState(ctx)
		if err != nil {
			return err
		}
		a.postureState = state
	}
	hosts, err := LoadPostureHosts(ctx, a.store)
	if err != nil {
		return err
	}
	scans, err := LoadPostureScans(ctx, a.store)
	if err != nil {
		return err
	}
	results := EvaluatePosture(a.rules, hosts, scans, a.cfg.PostureOverrides, now)

	resultRows := make([][]any, 0, len(results))
	var eventRows [][]any
	next := make(map[string]postureState, len(results))
	failed := 0
	for _, r := range results {
		prev, seen := a.postureState[r.key()]
		state := postureState{status: r.Status, firstSeen: now}
		if seen && prev.status == r.Status {
			state.firstSeen = prev.firstSeen
		}
		next[r.key()] = state
		from := prev.status
		if !seen {
			from = "none"
		}
		if (r.Status == PostureFail && from != PostureFail) || (r.Status == PosturePass && from == PostureFail) {
			eventID := record.NewID("posture-event", r.key(), strconv.FormatInt(nowNs, 10))
			eventRows = append(eventRows, []any{
				now, nowNs, eventID, r.HostID, r.Policy, r.EntityKind, r.EntityID, r.EntityName,
				r.Severity, from, r.Status, r.Evidence,
			})
			if r.Status == PostureFail {
				failed++
			}
		}
		resultRows = append(resultRows, []any{
			r.HostID, r.Policy, r.EntityKind, r.EntityID, r.EntityName, r.Group, r.Severity, r.Benchmark,
			r.Status, r.Evidence, state.firstSeen, now, nowNs,
		})
	}
	if len(resultRows) > 0 {
		if err := a.store.Insert(ctx, "posture_results", postureResultColumns, resultRows); err != nil {
			return fmt.Errorf("store %d posture results: %w", len(resultRows), err)
		}
		a.cfg.Metrics.Out("posture_results", len(resultRows))
	}
	if len(eventRows) > 0 {
		if err := a.store.Insert(ctx, "posture_events", postureEventColumns, eventRows); err != nil {
			return fmt.Errorf("store %d posture events: %w", len(eventRows), err)
		}
		a.cfg.Metrics.Out("posture_events", len(eventRows))
	}
	for k, v := range next {
		a.postureState[k] = v
	}
	a.postureInputs, a.postureEvaluatedAt = inputs, now
	level := slog.LevelDebug
	if len(eventRows) > 0 {
		level = slog.LevelInfo
	}
	a.logger.Log(ctx, level, "Evaluated posture policies", "hosts", len(hosts), "results", len(results), "changes", len(eventRows), "new_failures", failed)
	return nil
}

func (a *Alerter) hasPosturePolicies() bool {
	for _, r := range a.rules {
		if r.Kind == KindPosture {
			return true
		}
	}
	return false
}

func (a *Alerter) loadPostureState(ctx context.Context) (map[string]postureState, error) {
	_, rows, err := a.store.Query(ctx, postureStateQuery)
	if err != nil {
		return nil, fmt.Errorf("load posture results: %w", err)
	}
	state := make(map[string]postureState, len(rows))
	for _, row := range rows {
		r := PostureResult{HostID: toString(row[0]), Policy: toString(row[1]), EntityKind: toString(row[2]), EntityID: toString(row[3])}
		firstSeen, _ := row[5].(time.Time)
		state[r.key()] = postureState{status: toString(row[4]), firstSeen: firstSeen}
	}
	return state, nil
}

// storePosturePolicies registers the loaded posture policies with their
// group, severity after overrides, benchmark item and inputs.
func (a *Alerter) storePosturePolicies(ctx context.Context, now time.Time) error {
	var rows [][]any
	for _, r := range a.rules {
		if r.Kind != KindPosture {
			continue
		}
		severity, enabled := a.cfg.PostureOverrides.apply(r)
		rows = append(rows, []any{
			r.Name, r.Posture.Group, severity, r.Posture.Benchmark, r.Description, r.Posture.Inputs(),
			boolUInt8(enabled), now, now.UnixNano(),
		})
	}
	if err := a.store.Insert(ctx, "posture_policies", posturePolicyColumns, rows); err != nil {
		return fmt.Errorf("register %d posture policies: %w", len(rows), err)
	}
	return nil
}

func boolUInt8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// postureFailureQuery returns the query of a KindPostureFailure rule: the
// current failing results of the selected severities and groups.
func postureFailureQuery(r Rule) string {
	where := " AND status = 'fail' AND severity IN (" + quoteList(r.Policy.PostureSeverities) + ")"
	if len(r.Policy.PostureGroups) > 0 {
		where += " AND policy_group IN (" + quoteList(r.Policy.PostureGroups) + ")"
	}
	return PostureResultsQuery(where)
}

// postureResultRowsQuery returns the query attached to a posture alert:
// the result's stored rows, newest first.
func postureResultRowsQuery(hostID, policy, entityKind, entityID string) string {
	return fmt.Sprintf(`SELECT last_seen, status, evidence, first_seen FROM posture_results WHERE host_id = %s AND policy = %s AND entity_kind = %s AND entity_id = %s ORDER BY last_seen_ns DESC LIMIT 10`,
		quoteString(hostID), quoteString(policy), quoteString(entityKind), quoteString(entityID))
}

// evaluatePostureFailure raises one alert per current failing result that
// the rule selects. The alert is named after the posture policy.
func (a *Alerter) evaluatePostureFailure(ctx context.Context, rule Rule, nowNs int64) ([]candidate, error) {
	_, rows, err := a.store.Query(ctx, postureFailureQuery(rule))
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", rule.Name, err)
	}
	descriptions := map[string]string{}
	for _, r := range a.rules {
		if r.Kind == KindPosture {
			descriptions[r.Name] = r.Description
		}
	}
	var out []candidate
	for _, row := range rows {
		hostID, policy, kind, id, name := toString(row[0]), toString(row[1]), toString(row[2]), toString(row[3]), toString(row[4])
		benchmark, evidence := toString(row[7]), toString(row[9])
		label := name
		if label == "" {
			label = shortID(id)
		}
		kindWord := map[string]string{PostureEntityHost: "Host", PostureEntityContainer: "Container", PostureEntityImage: "Image"}[kind]
		summary := fmt.Sprintf("%s %s fails posture policy %s", kindWord, label, policy)
		if d := descriptions[policy]; d != "" {
			summary += ": " + strings.TrimSpace(d)
		}
		drivers := []string{evidence}
		if benchmark != "" {
			drivers = append(drivers, benchmark)
		}
		c := candidate{
			Alert: record.Alert{
				TimeNs:      nowNs,
				Source:      "rule",
				Name:        policy,
				Severity:    toString(row[6]),
				HostID:      hostID,
				Summary:     summary,
				Drivers:     drivers,
				Query:       postureResultRowsQuery(hostID, policy, kind, id),
				Fingerprint: record.NewID("posture", policy, kind, id, hostID),
			},
			details: ruleDetails(rule, nowNs),
		}
		switch kind {
		case PostureEntityContainer:
			c.ContainerID, c.ContainerName = id, name
		case PostureEntityImage:
			c.ImageID, c.ImageRef = id, name
		}
		c.details.Condition = "posture policy " + policy + " fails"
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Fingerprint < out[j].Fingerprint })
	return out, nil
}

// postureQueries returns the queries of the posture evaluation, of the
// posture-failure rules among rules and in the embedded pack, and a
// sample of the query attached to a posture alert.
func postureQueries(rules []Rule) []string {
	out := []string{
		PostureFactsQuery, PostureScanTimesQuery, PostureFixableQuery, PostureKernelPackagesQuery, PostureInputsQuery, postureStateQuery,
		PostureResultsQuery(""), PostureResultsQuery(" AND host_id = 'h1'"),
		postureResultRowsQuery("h1", "host-ssh-root-login", PostureEntityHost, "h1"),
	}
	pack, err := PosturePack()
	if err != nil {
		panic(fmt.Sprintf("embedded %s: %v", PosturePackName, err))
	}
	samples, err := PolicyExamples()
	if err != nil {
		panic(fmt.Sprintf("embedded %s: %v", PolicyExamplesName, err))
	}
	for _, r := range append(append(slices.Clone(rules), pack...), samples...) {
		if r.Kind == KindPostureFailure {
			out = append(out, postureFailureQuery(r))
		}
	}
	return out
}
