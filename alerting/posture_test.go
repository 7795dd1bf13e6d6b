package alerting

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/collectors/posture"
	"github.com/harrierhq/harrier/collectors/scan"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage"
	"github.com/harrierhq/harrier/storage/storagetest"
)

const postureFixtures = "../collectors/posture/testdata"

// postureEvalTime is the evaluation time of the fixture tests: a day after
// the hardened host's image scan.
var postureEvalTime = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// weakFailures lists every policy the weak fixture host fails, as
// "policy entity-name".
var weakFailures = []string{
	"daemon-content-trust-off weak-1",
	"daemon-insecure-registries weak-1",
	"daemon-inter-container-traffic weak-1",
	"daemon-live-restore-off weak-1",
	"daemon-tcp-without-tls weak-1",
	"daemon-userns-remap-off weak-1",
	"firewall-input-default-accept weak-1",
	"firewall-published-ports-unrestricted weak-1",
	"host-aslr-disabled weak-1",
	"host-container-egress-unrestricted weak-1",
	"host-docker-partition weak-1",
	"host-empty-password-accounts weak-1",
	"host-icmp-redirects-accepted weak-1",
	"host-os-end-of-life weak-1",
	"host-password-max-age weak-1",
	"host-password-min-age weak-1",
	"host-pending-security-updates weak-1",
	"host-send-redirects weak-1",
	"host-ssh-password-authentication weak-1",
	"host-ssh-root-login weak-1",
	"host-suid-core-dumps weak-1",
	"host-tmp-noexec weak-1",
	"host-uid0-accounts weak-1",
	"host-unprivileged-bpf weak-1",

	"container-dns-outside-allowed web",
	"container-host-network web",
	"container-new-privileges web",
	"container-outside-user-network web",
	"container-runs-as-root web",
	"container-writable-root web",

	"container-apparmor-unconfined legacy",
	"container-dangerous-capabilities legacy",
	"container-host-ipc legacy",
	"container-host-pid legacy",
	"container-new-privileges legacy",
	"container-outside-user-network legacy",
	"container-port-on-all-interfaces legacy",
	"container-privileged legacy",
	"container-runs-as-root legacy",
	"container-seccomp-unconfined legacy",
	"container-sensitive-mount legacy",
	"container-writable-root legacy",
	"image-untrusted-registry legacy",

	"image-critical-fixable-vulnerability ghcr.io/aquasecurity/trivy-test-images:debian-buster",
	"image-scan-missing-or-stale ghcr.io/aquasecurity/trivy-test-images:debian-buster",
	"image-scan-missing-or-stale 203.0.113.7:5000/legacy/app:1.0",
}

// fixtureScans returns the scan data of a fixture host's scan folder.
func fixtureScans(t *testing.T, host string) PostureScans {
	t.Helper()
	scans := PostureScans{ScannedAt: map[string]time.Time{}, Fixable: map[string][]PostureFinding{}}
	reports, invalid, err := scan.ReadDir(filepath.Join(postureFixtures, host, "var/lib/harrier/scans"))
	if err != nil || len(invalid) > 0 {
		t.Fatalf("scan reports of %s: %v %v", host, err, invalid)
	}
	for _, r := range reports {
		scans.ScannedAt[r.Scan.ImageID] = time.Unix(0, r.Scan.ScannedNs)
		for _, v := range r.Scan.Vulnerabilities {
			if v.FixedVersion != "" {
				scans.Fixable[r.Scan.ImageID] = append(scans.Fixable[r.Scan.ImageID], PostureFinding{
					VulnID: v.ID, Package: v.Package, Installed: v.InstalledVersion, Fixed: v.FixedVersion, Severity: v.Severity,
				})
			}
		}
	}
	return scans
}

func failures(results []PostureResult) []string {
	var out []string
	for _, r := range results {
		if r.Status == PostureFail {
			out = append(out, r.Policy+" "+r.EntityName)
		}
	}
	sort.Strings(out)
	return out
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

func posturePolicies(t *testing.T) []Rule {
	t.Helper()
	pack, err := PosturePack()
	if err != nil {
		t.Fatal(err)
	}
	return pack
}

func evaluateFixture(t *testing.T, host string, overrides *PostureOverrides) []PostureResult {
	t.Helper()
	records, invalid := posture.Collect(posture.Options{Root: filepath.Join(postureFixtures, host)}, postureEvalTime)
	if len(invalid) > 0 {
		t.Fatalf("invalid files in %s: %v", host, invalid)
	}
	h := PostureHostFromRecords(records[0].EntityID, records)
	return EvaluatePosture(posturePolicies(t), []PostureHost{h}, fixtureScans(t, host), overrides, postureEvalTime)
}

func TestPosturePackParses(t *testing.T) {
	pack := posturePolicies(t)
	groups := map[string]int{}
	for _, r := range pack {
		if r.Kind != KindPosture {
			continue
		}
		groups[r.Posture.Group]++
		if r.Description == "" {
			t.Errorf("policy %s has no description", r.Name)
		}
	}
	for _, g := range postureGroups {
		if groups[g] == 0 {
			t.Errorf("the pack has no policy of group %s", g)
		}
	}
}

func TestPostureHardenedHostPassesEveryPolicy(t *testing.T) {
	results := evaluateFixture(t, "hardened", nil)
	if got := failures(results); len(got) > 0 {
		t.Errorf("hardened host fails %q", got)
	}
	evaluated := map[string]bool{}
	for _, r := range results {
		evaluated[r.Policy] = true
	}
	// Debian 12 is not in the collector's end-of-life table, Debian has no
	// update-notifier file, and no scan report names the host's kernel, so
	// those three policies have no input.
	noInput := []string{"host-os-end-of-life", "host-pending-security-updates", "host-kernel-vulnerabilities"}
	for _, r := range posturePolicies(t) {
		if r.Kind == KindPosture && !evaluated[r.Name] && !slices.Contains(noInput, r.Name) {
			t.Errorf("policy %s gave no result on the hardened host", r.Name)
		}
	}
}

func TestPostureWeakHostFailsExpectedPolicies(t *testing.T) {
	got := failures(evaluateFixture(t, "weak", nil))
	want := sortedCopy(weakFailures)
	if !slices.Equal(got, want) {
		for _, f := range got {
			if !slices.Contains(want, f) {
				t.Errorf("unexpected failure: %s", f)
			}
		}
		for _, f := range want {
			if !slices.Contains(got, f) {
				t.Errorf("missing failure: %s", f)
			}
		}
	}
}

func TestPostureEvidenceNamesValuesAndSource(t *testing.T) {
	for _, r := range evaluateFixture(t, "weak", nil) {
		if r.Policy == "host-ssh-root-login" {
			if want := "sshd.permit_root_login = [yes] (/etc/ssh/sshd_config): not allowed: yes"; r.Evidence != want {
				t.Errorf("evidence = %q, want %q", r.Evidence, want)
			}
			if r.Benchmark == "" || r.Group != "authentication" || r.Severity != "high" {
				t.Errorf("result = %+v", r)
			}
		}
		if r.Policy == "image-critical-fixable-vulnerability" && r.Status == PostureFail && !strings.Contains(r.Evidence, "CVE-2019-18224 in libidn2-0 2.0.5-1: CRITICAL, fixed in 2.0.5-1+deb10u1") {
			t.Errorf("image evidence = %q, want the CVE", r.Evidence)
		}
	}
}

func TestPostureOverrides(t *testing.T) {
	policies := posturePolicies(t)
	yaml := `policies:
  host-ssh-password-authentication:
    enabled: false
  host-ssh-root-login:
    severity: critical
exceptions:
  - policy: container-privileged
    labels: {team: billing}
    expires: 2027-01-31
    reason: billing agent needs device access until its rewrite
  - policy: "*"
    entities: [web]
    expires: 2026-11-30
    reason: expired before the evaluation
`
	o, err := ParsePostureOverrides("overrides.yaml", []byte(yaml), policies)
	if err != nil {
		t.Fatal(err)
	}
	results := evaluateFixture(t, "weak", o)
	byName := map[string]PostureResult{}
	for _, r := range results {
		byName[r.Policy+" "+r.EntityName] = r
	}
	if _, ok := byName["host-ssh-password-authentication weak-1"]; ok {
		t.Errorf("disabled policy still evaluated")
	}
	if got := byName["host-ssh-root-login weak-1"].Severity; got != "critical" {
		t.Errorf("severity = %q, want the override critical", got)
	}
	priv := byName["container-privileged legacy"]
	if priv.Status != PostureExcepted || !strings.Contains(priv.Evidence, "excepted until 2027-01-31: billing agent") {
		t.Errorf("privileged legacy = %+v, want excepted", priv)
	}
	if got := byName["container-host-network web"].Status; got != PostureFail {
		t.Errorf("expired exception applied: status %q", got)
	}
	// The image of a container with the label is excepted too when the
	// policy matches, and other policies of that container are not.
	if got := byName["container-host-pid legacy"].Status; got != PostureFail {
		t.Errorf("exception of another policy applied: status %q", got)
	}
}

func TestPostureOverridesErrors(t *testing.T) {
	policies := posturePolicies(t)
	for yaml, want := range map[string]string{
		"policies:\n  no-such-policy:\n    enabled: false\n":                                      "unknown policy",
		"policies:\n  host-ssh-root-login:\n    severity: urgent\n":                               `invalid value "urgent"`,
		"exceptions:\n  - policy: host-ssh-root-login\n    hosts: [a]\n    reason: r\n":           "every exception needs an expiry",
		"exceptions:\n  - policy: host-ssh-root-login\n    expires: 2027-01-01\n    reason: r\n":  "missing selector",
		"exceptions:\n  - policy: host-ssh-root-login\n    hosts: [a]\n    expires: 2027-01-01\n": "reason: missing",
		"unknown: 1\n": "field unknown not found",
	} {
		_, err := ParsePostureOverrides("o.yaml", []byte(yaml), policies)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("overrides %q: error %v, want one containing %q", yaml, err, want)
		}
	}
}

func TestPosturePolicyParseErrors(t *testing.T) {
	for body, want := range map[string]string{
		"params: {group: host, fact: sysctl.x, pass_values: [1], max: 2}":                "exactly one of",
		"params: {group: host, fact: sysctl.x}":                                          "exactly one of",
		"params: {group: cloud, fact: sysctl.x, max: 1}":                                 `invalid value "cloud"`,
		"params: {group: image, check: image-scan-age}":                                  "max_days: missing",
		"params: {group: image, check: image-scan-age, max_days: 3, severities: [HIGH]}": "unknown field for check image-scan-age",
		"params: {group: host, fact: sysctl.x, pass_cidrs: [10.0.0.0/33]}":               "expected an address prefix",
		"params: {group: host, fact: 'bad key', empty: true}":                            "expected a dotted setting key",
		"params: {group: host, fact: sysctl.x, empty: true, missing: maybe}":             `invalid value "maybe"`,
	} {
		yaml := "rules:\n  - name: p\n    severity: low\n    kind: posture\n    " + body + "\n"
		_, err := ParseRules("p.yaml", []byte(yaml))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", body, err, want)
		}
	}
}

func TestPostureKernelVulnerabilities(t *testing.T) {
	rules, err := ParseRules("p.yaml", []byte(`rules:
  - name: kernel
    severity: high
    kind: posture
    params: {group: host, check: host-kernel-vulnerabilities, severities: [CRITICAL]}
`))
	if err != nil {
		t.Fatal(err)
	}
	host := func(release string) PostureHost {
		return PostureHost{ID: release, Host: &PostureEntity{Kind: PostureEntityHost, ID: release, Name: release,
			Facts: map[string]PostureFact{"kernel.release": {Values: []string{release}}}}}
	}
	// The findings are made up for this test: the ids are not real CVEs.
	scans := PostureScans{
		Fixable: map[string][]PostureFinding{
			"sha256:node": {
				{VulnID: "TEST-0001", Package: "linux-image-6.1.0-28-amd64", Installed: "6.1.119-1", Fixed: "6.1.123-1", Severity: "CRITICAL"},
				{VulnID: "TEST-0002", Package: "kernel", Installed: "4.18.0-513.5.1.el8_9", Fixed: "4.18.0-513.9.1.el8_9", Severity: "HIGH"},
			},
		},
		KernelPackages: []PostureFinding{
			{Package: "linux-image-6.1.0-28-amd64", Installed: "6.1.119-1"},
			{Package: "kernel", Installed: "4.18.0-513.5.1.el8_9"},
			{Package: "linux-image-6.1.0-30-amd64", Installed: "6.1.124-1"},
		},
	}
	hosts := []PostureHost{host("6.1.0-28-amd64"), host("4.18.0-513.5.1.el8_9.x86_64"), host("6.1.0-30-amd64"), host("5.15.0-91-generic")}
	results := EvaluatePosture(rules, hosts, scans, nil, postureEvalTime)
	got := map[string]string{}
	for _, r := range results {
		got[r.HostID] = r.Status
	}
	want := map[string]string{
		// A critical finding of its kernel package.
		"6.1.0-28-amd64": PostureFail,
		// A high finding only, and the policy pages critical ones.
		"4.18.0-513.5.1.el8_9.x86_64": PosturePass,
		// Named by a report without fixable findings.
		"6.1.0-30-amd64": PosturePass,
	}
	if len(got) != len(want) {
		t.Errorf("results = %v, want %v: a kernel no report names gets no result", got, want)
	}
	for release, status := range want {
		if got[release] != status {
			t.Errorf("kernel %s: status %q, want %q", release, got[release], status)
		}
	}
}

func TestPostureMissingSetting(t *testing.T) {
	rules, err := ParseRules("p.yaml", []byte(`rules:
  - name: needs-updates-file
    severity: low
    kind: posture
    params: {group: host, fact: updates.security_pending, max: 0, missing: fail}
  - name: skips-without-file
    severity: low
    kind: posture
    params: {group: host, fact: updates.security_pending, max: 0}
`))
	if err != nil {
		t.Fatal(err)
	}
	h := PostureHost{ID: "h", Host: &PostureEntity{Kind: PostureEntityHost, ID: "h", Name: "h", Facts: map[string]PostureFact{}}}
	results := EvaluatePosture(rules, []PostureHost{h}, PostureScans{}, nil, postureEvalTime)
	if len(results) != 1 || results[0].Policy != "needs-updates-file" || results[0].Status != PostureFail {
		t.Errorf("results = %+v, want one failure of needs-updates-file", results)
	}
}

// captureEmitter keeps the messages an agent writes.
type captureEmitter struct {
	mu   sync.Mutex
	msgs []kafka.Message
}

func (c *captureEmitter) Write(_ context.Context, msgs ...kafka.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, msgs...)
	return nil
}

// fixtureAgentConfig is the collector configuration of a fixture host.
func fixtureAgentConfig(host string) collectors.AgentConfig {
	root := filepath.Join(postureFixtures, host)
	return collectors.AgentConfig{
		HostRoot:   root,
		DockerRoot: filepath.Join(root, "var/lib/docker/containers"),
		ScanDir:    filepath.Join(root, "var/lib/harrier/scans"),
		Posture:    true,
	}
}

// loadFixtureHost collects a fixture host into a capture and stores the
// records through the normalizer.
func loadFixtureHost(t *testing.T, ctx context.Context, store *storage.Store, host string) {
	t.Helper()
	out := &captureEmitter{}
	agent := collectors.NewAgent(fixtureAgentConfig(host), out, nil)
	if err := agent.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if s := agent.Stats(); s.ParseErrors != 0 || s.Postures == 0 {
		t.Fatalf("agent stats %+v: want postures and no parse errors", s)
	}
	n := normalize.New(normalize.Config{}, store, nil, nil)
	if err := n.HandleBatch(ctx, out.msgs); err != nil {
		t.Fatal(err)
	}
	if dead := n.Stats().DeadLettered; dead != 0 {
		t.Fatalf("%d records dead-lettered", dead)
	}
}

// storedFailures returns the current failing results of host as
// "policy entity-name".
func storedFailures(t *testing.T, ctx context.Context, store *storage.Store, host string) (fails []string, total int) {
	t.Helper()
	_, rows, err := store.Query(ctx, PostureResultsQuery(" AND host_id = '"+host+"'"))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row[8] == PostureFail {
			fails = append(fails, toString(row[1])+" "+toString(row[4]))
		}
	}
	sort.Strings(fails)
	return fails, len(rows)
}

func TestPostureFixturesInClickHouse(t *testing.T) {
	store := storagetest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	loadFixtureHost(t, ctx, store, "hardened")
	loadFixtureHost(t, ctx, store, "weak")

	var out bytes.Buffer
	a, err := New(Config{Clock: func() time.Time { return postureEvalTime }}, store, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.EvaluateRules(ctx); err != nil {
		t.Fatal(err)
	}

	hardened, total := storedFailures(t, ctx, store, "8f3c2a1e5b7d4c6e9a0b1c2d3e4f5a6b")
	if len(hardened) > 0 || total == 0 {
		t.Errorf("hardened host: %d results, failures %q; want results and no failure", total, hardened)
	}
	weak, _ := storedFailures(t, ctx, store, "c0ffee00c0ffee00c0ffee00c0ffee00")
	if want := sortedCopy(weakFailures); !slices.Equal(weak, want) {
		t.Errorf("weak host failures:\n got %q\nwant %q", weak, want)
	}

	// Every failure is new, so each raised an event from "none".
	_, events, err := store.Query(ctx, "SELECT count(), countIf(from_status = 'none' AND to_status = 'fail') FROM posture_events")
	if err != nil {
		t.Fatal(err)
	}
	if n := events[0][0].(uint64); n != uint64(len(weakFailures)) || events[0][1].(uint64) != n {
		t.Errorf("posture events = %v, want %d new failures", events[0], len(weakFailures))
	}

	// The posture-failure rule pages the critical and high failures.
	_, alerts, err := store.Query(ctx, "SELECT name, severity, summary FROM alerts WHERE name IN ('host-ssh-root-login', 'container-privileged', 'daemon-tcp-without-tls', 'host-aslr-disabled') ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, row := range alerts {
		names = append(names, toString(row[0])+"/"+toString(row[1]))
	}
	if want := []string{"container-privileged/critical", "daemon-tcp-without-tls/critical", "host-ssh-root-login/high"}; !slices.Equal(names, want) {
		t.Errorf("posture alerts = %q, want %q (medium host-aslr-disabled does not page)", names, want)
	}
	if !strings.Contains(out.String(), "Host weak-1 fails posture policy host-ssh-root-login") {
		t.Errorf("printed alerts lack the ssh root login failure:\n%s", out.String())
	}

	_, policies, err := store.Query(ctx, "SELECT count() FROM posture_policies")
	if err != nil {
		t.Fatal(err)
	}
	if policies[0][0].(uint64) == 0 {
		t.Errorf("no posture policy registered")
	}
}

func TestPostureTransitionsRaiseEvents(t *testing.T) {
	store := storagetest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	loadFixtureHost(t, ctx, store, "weak")

	at := postureEvalTime
	a, err := New(Config{Clock: func() time.Time { return at }}, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.EvaluateRules(ctx); err != nil {
		t.Fatal(err)
	}

	// A later evaluation, by a new alert process, of unchanged settings
	// writes the results again with a later last_seen and raises no event.
	at = at.Add(postureRefresh + time.Minute)
	b, err := New(Config{Clock: func() time.Time { return at }}, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.EvaluateRules(ctx); err != nil {
		t.Fatal(err)
	}
	_, rows, err := store.Query(ctx, "SELECT count() FROM posture_events")
	if err != nil {
		t.Fatal(err)
	}
	if n := rows[0][0].(uint64); n != uint64(len(weakFailures)) {
		t.Errorf("events after a second evaluation = %d, want %d: unchanged results raise none", n, len(weakFailures))
	}
	_, rows, err = store.Query(ctx, PostureResultsQuery(" AND policy = 'host-ssh-root-login'"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || !rows[0][10].(time.Time).Equal(postureEvalTime) || !rows[0][11].(time.Time).Equal(at) {
		t.Errorf("result row = %v, want first_seen at the first and last_seen at the second evaluation", rows)
	}

	// An exception turns the failure into excepted, a change out of fail.
	o, err := ParsePostureOverrides("o.yaml", []byte("exceptions:\n  - policy: host-ssh-root-login\n    hosts: [weak-1]\n    expires: 2027-06-01\n    reason: jump host\n"), posturePolicies(t))
	if err != nil {
		t.Fatal(err)
	}
	at = at.Add(postureRefresh + time.Minute)
	c, err := New(Config{Clock: func() time.Time { return at }, PostureOverrides: o}, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EvaluateRules(ctx); err != nil {
		t.Fatal(err)
	}
	_, rows, err = store.Query(ctx, "SELECT from_status, to_status FROM posture_events WHERE policy = 'host-ssh-root-login' ORDER BY event_ns")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Errorf("events of host-ssh-root-login = %v, want only the first failure: fail to excepted is no failure", rows)
	}
	_, rows, err = store.Query(ctx, PostureResultsQuery(" AND policy = 'host-ssh-root-login'"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0][8] != PostureExcepted {
		t.Errorf("result = %v, want excepted", rows)
	}
}
