package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/harrierhq/harrier/alerting"
	"github.com/harrierhq/harrier/collectors/posture"
	"github.com/harrierhq/harrier/collectors/scan"
	"github.com/harrierhq/harrier/internal/config"
)

// postureOptions are the flags of `harrier posture`.
type postureOptions struct {
	host    string
	json    bool
	failed  bool
	root    string
	scanDir string
	atText  string
}

func init() {
	var o postureOptions
	register(&command{
		name:    "posture",
		summary: "Print the current posture results of a host: harrier posture [--host H] [--json] [--failed]; with --root DIR, evaluate a host root folder without ClickHouse",
		groups:  []string{"clickhouse"},
		setup: func(fs *flag.FlagSet, l *config.Loader, _ *cmdOptions) {
			o = postureOptions{}
			l.Alias(fs, "clickhouse", "clickhouse.addr")
			fs.StringVar(&o.host, "host", "", "host id or name whose results are printed; empty prints every host")
			fs.BoolVar(&o.json, "json", false, "print the results as a JSON array")
			fs.BoolVar(&o.failed, "failed", false, "print only the failing results")
			fs.StringVar(&o.root, "root", "", "evaluate the host whose root folder is `DIR` (its /etc, /proc and Docker container folders) instead of reading stored results")
			fs.StringVar(&o.scanDir, "scans", "", "with --root, the `folder` of the host's image scan reports; without it the scan checks report every image as unscanned")
			fs.StringVar(&o.atText, "at", "", "with --root, the evaluation `time` (RFC 3339) that dates and scan ages are compared with; default now")
		},
		run: func(ctx context.Context, env *cmdEnv) error {
			if len(env.args) > 0 {
				return fmt.Errorf("unexpected arguments %q: expected flags only, such as --host web-1", env.args)
			}
			var results []alerting.PostureResult
			var times resultTimes
			var err error
			if o.root != "" {
				results, err = evaluateRoot(o, env)
			} else {
				results, times, err = storedPosture(ctx, o, env)
			}
			if err != nil {
				return err
			}
			if o.json {
				return writePostureJSON(env.stdout, onlyFailed(results, o.failed), times)
			}
			return writePostureTable(env.stdout, results, o.failed)
		},
	})
}

// postureRow is one result as `harrier posture --json` prints it.
type postureRow struct {
	HostID     string `json:"host_id"`
	Policy     string `json:"policy"`
	Group      string `json:"group"`
	Severity   string `json:"severity"`
	Benchmark  string `json:"benchmark,omitempty"`
	EntityKind string `json:"entity_kind"`
	EntityID   string `json:"entity_id"`
	EntityName string `json:"entity_name"`
	Status     string `json:"status"`
	Evidence   string `json:"evidence"`
	FirstSeen  string `json:"first_seen,omitempty"`
	LastSeen   string `json:"last_seen,omitempty"`
}

// resultTimes maps a stored result to its first- and last-seen times.
type resultTimes map[alerting.PostureResult][2]time.Time

// storedPosture reads the current results of one host, or of every host,
// from ClickHouse.
func storedPosture(ctx context.Context, o postureOptions, env *cmdEnv) ([]alerting.PostureResult, resultTimes, error) {
	if o.scanDir != "" || o.atText != "" {
		return nil, nil, errors.New("--scans and --at apply only with --root")
	}
	store, err := openStore(ctx, env.cfg, true)
	if err != nil {
		return nil, nil, err
	}
	defer store.Close()
	where := ""
	if o.host != "" {
		host := quoteSQL(o.host)
		where = " AND (host_id = " + host + " OR host_id IN (SELECT host_id FROM posture_results WHERE entity_kind = 'host' AND entity_name = " + host + "))"
	}
	_, rows, err := store.Query(ctx, alerting.PostureResultsQuery(where))
	if err != nil {
		return nil, nil, fmt.Errorf("read posture results: %w", err)
	}
	if len(rows) == 0 && o.host != "" {
		return nil, nil, fmt.Errorf("no posture results for host %q: check the id or name with 'harrier inventory hosts', and that its collector runs with collect.posture", o.host)
	}
	results := make([]alerting.PostureResult, 0, len(rows))
	times := resultTimes{}
	for _, row := range rows {
		s := func(i int) string { v, _ := row[i].(string); return v }
		r := alerting.PostureResult{
			HostID: s(0), Policy: s(1), EntityKind: s(2), EntityID: s(3), EntityName: s(4),
			Group: s(5), Severity: s(6), Benchmark: s(7), Status: s(8), Evidence: s(9),
		}
		first, _ := row[10].(time.Time)
		last, _ := row[11].(time.Time)
		times[r] = [2]time.Time{first, last}
		results = append(results, r)
	}
	return results, times, nil
}

// evaluateRoot collects the posture of the host root folder o.root and
// evaluates the policies on it, as the alert role would.
func evaluateRoot(o postureOptions, env *cmdEnv) ([]alerting.PostureResult, error) {
	at := time.Now().UTC()
	if o.atText != "" {
		var err error
		if at, err = time.Parse(time.RFC3339, o.atText); err != nil {
			return nil, fmt.Errorf("invalid --at value %q: expected an RFC 3339 time such as 2026-12-01T00:00:00Z: %w", o.atText, err)
		}
	}
	rules, err := alerting.DefaultRules()
	if err != nil {
		return nil, err
	}
	policies, err := alerting.AddPosturePack(rules, env.cfg.Alerting.PostureFile)
	if err != nil {
		return nil, err
	}
	var overrides *alerting.PostureOverrides
	if env.cfg.Alerting.PostureOverridesFile != "" {
		if overrides, err = alerting.LoadPostureOverrides(env.cfg.Alerting.PostureOverridesFile, policies); err != nil {
			return nil, err
		}
	}

	records, invalid := posture.Collect(posture.Options{Root: o.root, FirewallFile: env.cfg.Collect.PostureFirewallFile}, at)
	for _, err := range invalid {
		fmt.Fprintf(env.stderr, "harrier posture: skipped invalid file: %v\n", err)
	}
	host := alerting.PostureHostFromRecords(records[0].EntityID, records)
	if o.host != "" && o.host != host.ID && o.host != host.Name {
		return nil, fmt.Errorf("--host %q does not name the host under %s, which is %s (%s)", o.host, o.root, host.Name, host.ID)
	}

	scans := alerting.PostureScans{ScannedAt: map[string]time.Time{}, Fixable: map[string][]alerting.PostureFinding{}}
	if o.scanDir != "" {
		reports, invalid, err := scan.ReadDir(o.scanDir)
		if err != nil {
			return nil, err
		}
		for _, err := range invalid {
			fmt.Fprintf(env.stderr, "harrier posture: skipped invalid scan report: %v\n", err)
		}
		for _, r := range reports {
			id := r.Scan.ImageID
			if t := time.Unix(0, r.Scan.ScannedNs).UTC(); t.After(scans.ScannedAt[id]) {
				scans.ScannedAt[id] = t
				scans.Fixable[id] = nil
				for _, v := range r.Scan.Vulnerabilities {
					if strings.HasPrefix(v.Package, "linux-image-") || v.Package == "kernel" || v.Package == "kernel-core" {
						scans.KernelPackages = append(scans.KernelPackages, alerting.PostureFinding{Package: v.Package, Installed: v.InstalledVersion})
					}
					if v.FixedVersion != "" {
						scans.Fixable[id] = append(scans.Fixable[id], alerting.PostureFinding{
							VulnID: v.ID, Package: v.Package, Installed: v.InstalledVersion, Fixed: v.FixedVersion, Severity: v.Severity,
						})
					}
				}
			}
		}
	}
	return alerting.EvaluatePosture(policies, []alerting.PostureHost{host}, scans, overrides, at), nil
}

func writePostureJSON(w io.Writer, results []alerting.PostureResult, times resultTimes) error {
	rows := make([]postureRow, 0, len(results))
	for _, r := range results {
		row := postureRow{
			HostID: r.HostID, Policy: r.Policy, Group: r.Group, Severity: r.Severity, Benchmark: r.Benchmark,
			EntityKind: r.EntityKind, EntityID: r.EntityID, EntityName: r.EntityName, Status: r.Status, Evidence: r.Evidence,
		}
		if t, ok := times[r]; ok {
			row.FirstSeen, row.LastSeen = t[0].Format(time.RFC3339), t[1].Format(time.RFC3339)
		}
		rows = append(rows, row)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}

// statusOrder prints failures first, then exceptions, then passes.
var statusOrder = map[string]int{alerting.PostureFail: 0, alerting.PostureExcepted: 1, alerting.PosturePass: 2}

// severityOrder prints the most severe first within a status.
var severityOrder = map[string]int{"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}

// onlyFailed returns the failing results when failed is set, and all
// results otherwise.
func onlyFailed(results []alerting.PostureResult, failed bool) []alerting.PostureResult {
	if !failed {
		return results
	}
	var kept []alerting.PostureResult
	for _, r := range results {
		if r.Status == alerting.PostureFail {
			kept = append(kept, r)
		}
	}
	return kept
}

// writePostureTable prints one table per host under a line counting its
// results by status. With failed set, only the failures are listed.
func writePostureTable(w io.Writer, results []alerting.PostureResult, failed bool) error {
	if len(results) == 0 {
		_, err := fmt.Fprintln(w, "No posture results.")
		return err
	}
	byHost := map[string][]alerting.PostureResult{}
	var hosts []string
	for _, r := range results {
		if _, ok := byHost[r.HostID]; !ok {
			hosts = append(hosts, r.HostID)
		}
		byHost[r.HostID] = append(byHost[r.HostID], r)
	}
	sort.Strings(hosts)
	for i, id := range hosts {
		list := byHost[id]
		sort.SliceStable(list, func(a, b int) bool {
			x, y := list[a], list[b]
			if statusOrder[x.Status] != statusOrder[y.Status] {
				return statusOrder[x.Status] < statusOrder[y.Status]
			}
			if severityOrder[x.Severity] != severityOrder[y.Severity] {
				return severityOrder[x.Severity] < severityOrder[y.Severity]
			}
			if x.Policy != y.Policy {
				return x.Policy < y.Policy
			}
			return x.EntityName < y.EntityName
		})
		counts := map[string]int{}
		name := id
		for _, r := range list {
			counts[r.Status]++
			if r.EntityKind == alerting.PostureEntityHost && r.EntityName != "" {
				name = r.EntityName
			}
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "Host %s (%s): %d fail, %d excepted, %d pass\n", name, id,
			counts[alerting.PostureFail], counts[alerting.PostureExcepted], counts[alerting.PosturePass])
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STATUS\tSEVERITY\tPOLICY\tENTITY\tEVIDENCE")
		for _, r := range onlyFailed(list, failed) {
			entity := r.EntityKind + " " + r.EntityName
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", strings.ToUpper(r.Status), r.Severity, r.Policy, entity, oneLineText(r.Evidence, 160))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// oneLineText replaces line breaks and cuts s to n runes.
func oneLineText(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// quoteSQL returns s as a ClickHouse string literal.
func quoteSQL(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
