package alerting

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/storage"
	"github.com/harrierhq/harrier/storage/storagetest"
)

// policyNow is the evaluation time of the policy tests.
var policyNow = time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)

const (
	violatingID = "aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000aaaa0000"
	compliantID = "bbbb1111bbbb1111bbbb1111bbbb1111bbbb1111bbbb1111bbbb1111bbbb1111"
	oldHostID   = "host-old"
	newHostID   = "host-new"
)

// policyAlerter returns an Alerter with the single rule ruleYAML, whose
// clock is policyNow.
func policyAlerter(t *testing.T, store *storage.Store, ruleYAML string) *Alerter {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte("rules:\n"+ruleYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	a, _ := newAlerter(t, store, Config{RulesFile: path, Clock: func() time.Time { return policyNow }})
	return a
}

// evaluateOnly runs the Alerter's single rule and returns its candidates.
func evaluateOnly(t *testing.T, a *Alerter) []candidate {
	t.Helper()
	found, err := a.evaluateRule(context.Background(), a.rules[0], policyNow.UnixNano())
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func candidateEntities(found []candidate) []string {
	var out []string
	for _, c := range found {
		if c.ContainerID != "" {
			out = append(out, c.ContainerID)
		} else {
			out = append(out, c.HostID)
		}
	}
	return out
}

type containerSpec struct {
	id, name, imageRef, imageID, user string
	privileged                        uint8
	started                           time.Time
}

func insertContainers(t *testing.T, store *storage.Store, specs ...containerSpec) {
	t.Helper()
	var rows [][]any
	for _, s := range specs {
		seen := policyNow.Add(-time.Minute)
		rows = append(rows, []any{s.id, s.name, hostID, "docker", s.imageRef, s.imageID, s.privileged, s.user,
			uint8(1), s.started, seen, record.NewID(s.id, seen.String())})
	}
	if err := store.Insert(context.Background(), "containers", containerColumns, rows); err != nil {
		t.Fatal(err)
	}
}

type hostSpec struct {
	id, kernel, eol string
	listeners       []string
}

func insertHosts(t *testing.T, store *storage.Store, specs ...hostSpec) {
	t.Helper()
	columns := []string{"host_id", "hostname", "os_pretty", "kernel", "os_eol_date", "listeners", "seen_at", "record_id"}
	var rows [][]any
	for _, s := range specs {
		seen := policyNow.Add(-time.Minute)
		listeners := s.listeners
		if listeners == nil {
			listeners = []string{}
		}
		rows = append(rows, []any{s.id, s.id + ".example", "Debian GNU/Linux", s.kernel, s.eol, listeners, seen, record.NewID(s.id)})
	}
	if err := store.Insert(context.Background(), "hosts", columns, rows); err != nil {
		t.Fatal(err)
	}
}

func assertFires(t *testing.T, found []candidate, want string) {
	t.Helper()
	got := candidateEntities(found)
	if !slices.Equal(got, []string{want}) {
		t.Fatalf("alerts for %v, expected only %s", got, want)
	}
}

func TestImageAgePolicy(t *testing.T) {
	store := storagetest.New(t)
	insertContainers(t, store,
		containerSpec{id: violatingID, name: "old", imageRef: "nginx:1.17", imageID: imageOld, user: "nginx", started: policyNow.AddDate(0, 0, -120)},
		containerSpec{id: compliantID, name: "fresh", imageRef: "nginx:1.27", imageID: imageWeb, user: "nginx", started: policyNow.AddDate(0, 0, -10)},
	)
	a := policyAlerter(t, store, "  - {name: old-image, severity: low, kind: image-age, params: {max_days: 90}}\n")
	found := evaluateOnly(t, a)
	assertFires(t, found, violatingID)
	if !strings.Contains(found[0].Summary, "first seen 120 days ago") {
		t.Errorf("summary = %q, expected the age in days", found[0].Summary)
	}
	if found[0].ImageID != imageOld {
		t.Errorf("image id = %q, expected %q", found[0].ImageID, imageOld)
	}
}

func TestImageRegistryPolicy(t *testing.T) {
	store := storagetest.New(t)
	insertContainers(t, store,
		containerSpec{id: violatingID, name: "rogue", imageRef: "evil.example.com:5000/tools/miner:latest", imageID: imageOld, user: "app", started: policyNow},
		containerSpec{id: compliantID, name: "web", imageRef: "nginx:1.27", imageID: imageWeb, user: "app", started: policyNow},
		containerSpec{id: webID, name: "api", imageRef: "ghcr.io/acme/api:2", imageID: imageWeb, user: "app", started: policyNow},
	)
	a := policyAlerter(t, store, "  - {name: registry, severity: high, kind: image-registry, params: {allowed: [docker.io, GHCR.io]}}\n")
	found := evaluateOnly(t, a)
	assertFires(t, found, violatingID)
	if !strings.Contains(found[0].Summary, "registry evil.example.com:5000") {
		t.Errorf("summary = %q, expected the registry", found[0].Summary)
	}
}

func TestContainerRootPolicy(t *testing.T) {
	store := storagetest.New(t)
	insertContainers(t, store,
		containerSpec{id: violatingID, name: "root", imageRef: "nginx", imageID: imageWeb, user: "0:0", started: policyNow},
		containerSpec{id: webID, name: "priv", imageRef: "nginx", imageID: imageWeb, user: "nginx", privileged: 1, started: policyNow},
		containerSpec{id: compliantID, name: "app", imageRef: "nginx", imageID: imageWeb, user: "1000", started: policyNow},
	)
	a := policyAlerter(t, store, "  - {name: root, severity: medium, kind: container-root-or-privileged}\n")
	found := evaluateOnly(t, a)
	got := candidateEntities(found)
	want := []string{webID, violatingID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("alerts for %v, expected %v", got, want)
	}
	for _, c := range found {
		if c.ContainerID == webID && !strings.Contains(c.Summary, "runs privileged") {
			t.Errorf("summary = %q, expected privileged", c.Summary)
		}
		if c.ContainerID == violatingID && !strings.Contains(c.Summary, "runs as root") {
			t.Errorf("summary = %q, expected root", c.Summary)
		}
	}
}

func TestHostOSEndOfLifePolicy(t *testing.T) {
	store := storagetest.New(t)
	insertHosts(t, store,
		hostSpec{id: oldHostID, kernel: "4.19.0-27-amd64", eol: "2026-12-15"},
		hostSpec{id: newHostID, kernel: "6.1.0-18-amd64", eol: "2028-06-30"},
		hostSpec{id: "host-unknown", kernel: "6.1.0-18-amd64", eol: ""},
	)
	a := policyAlerter(t, store, "  - {name: eol, severity: high, kind: host-os-eol, params: {within_days: 30}}\n")
	found := evaluateOnly(t, a)
	assertFires(t, found, oldHostID)
	if found[0].Fingerprint != policyFingerprint("eol", "", oldHostID) {
		t.Errorf("fingerprint = %q, expected the host fingerprint", found[0].Fingerprint)
	}
	if !strings.Contains(found[0].Query, "host_id = 'host-old'") {
		t.Errorf("query = %q, expected a filter on the host", found[0].Query)
	}

	a = policyAlerter(t, store, "  - {name: eol, severity: high, kind: host-os-eol}\n")
	if found := evaluateOnly(t, a); len(found) != 0 {
		t.Errorf("alerts for %v before the end-of-life date, expected none", candidateEntities(found))
	}
}

func TestHostKernelFloorPolicy(t *testing.T) {
	store := storagetest.New(t)
	insertHosts(t, store,
		hostSpec{id: oldHostID, kernel: "5.4.0-150-generic"},
		hostSpec{id: newHostID, kernel: "5.10.0-28-amd64"},
		hostSpec{id: "host-empty", kernel: ""},
	)
	a := policyAlerter(t, store, "  - {name: kernel, severity: medium, kind: host-kernel-floor, params: {min_version: \"5.10\"}}\n")
	found := evaluateOnly(t, a)
	assertFires(t, found, oldHostID)
	if !strings.Contains(found[0].Summary, "kernel 5.4.0-150-generic, older than 5.10") {
		t.Errorf("summary = %q", found[0].Summary)
	}
}

func TestHostUnexpectedPortPolicy(t *testing.T) {
	store := storagetest.New(t)
	insertHosts(t, store,
		hostSpec{id: oldHostID, listeners: []string{"tcp 0.0.0.0:22 sshd", "tcp [::]:6379 redis-server", "udp 0.0.0.0:53 dnsmasq", "udp 0.0.0.0:5353 avahi"}},
		hostSpec{id: newHostID, listeners: []string{"tcp 0.0.0.0:22 sshd", "udp 127.0.0.1:53 systemd-resolved"}},
	)
	a := policyAlerter(t, store, "  - {name: ports, severity: medium, kind: host-unexpected-port, params: {allowed_ports: [22, udp/53]}}\n")
	found := evaluateOnly(t, a)
	assertFires(t, found, oldHostID)
	want := []string{"tcp/6379 (tcp [::]:6379 redis-server)", "udp/5353 (udp 0.0.0.0:5353 avahi)"}
	if !slices.Equal(found[0].Drivers, want) {
		t.Errorf("drivers = %q, expected %q", found[0].Drivers, want)
	}
}

func insertEvents(t *testing.T, store *storage.Store, containerID, message string, templateID uint64, times ...time.Time) {
	t.Helper()
	columns := []string{"time", "time_ns", "record_id", "host_id", "container_id", "container_name", "image_id", "message", "template_id"}
	var rows [][]any
	for _, at := range times {
		rows = append(rows, []any{at, at.UnixNano(), record.NewID(containerID, at.String()), hostID, containerID, "app", imageWeb, message, templateID})
	}
	if err := store.Insert(context.Background(), "events", columns, rows); err != nil {
		t.Fatal(err)
	}
}

func TestLogMatchPolicy(t *testing.T) {
	store := storagetest.New(t)
	recent := []time.Time{policyNow.Add(-3 * time.Minute), policyNow.Add(-2 * time.Minute), policyNow.Add(-time.Minute)}
	insertEvents(t, store, violatingID, "kernel: Out of memory: Killed process 4242", 77, recent...)
	// Three matching lines, but only one within the window.
	insertEvents(t, store, compliantID, "kernel: Out of memory: Killed process 17", 77,
		policyNow.Add(-time.Hour), policyNow.Add(-50*time.Minute), policyNow.Add(-time.Minute))
	insertEvents(t, store, webID, "GET /healthz 200", 78, recent...)

	a := policyAlerter(t, store, "  - {name: oom, severity: high, kind: log-match, params: {pattern: '[Oo]ut of memory', window: 10m, threshold: 2}}\n")
	found := evaluateOnly(t, a)
	assertFires(t, found, violatingID)
	if !strings.Contains(found[0].Summary, "logged 3 lines") {
		t.Errorf("summary = %q, expected 3 lines", found[0].Summary)
	}
	if got := found[0].details.WindowStart; !got.Equal(policyNow.Add(-10 * time.Minute)) {
		t.Errorf("window start = %s, expected 10 minutes before %s", got, policyNow)
	}

	a = policyAlerter(t, store, "  - {name: oom-template, severity: high, kind: log-match, params: {template_id: 77, window: 10m, threshold: 2}}\n")
	assertFires(t, evaluateOnly(t, a), violatingID)
}

func TestPolicyAlertStoresDetails(t *testing.T) {
	store := storagetest.New(t)
	insertHosts(t, store, hostSpec{id: oldHostID, kernel: "4.19.0"})
	path := filepath.Join(t.TempDir(), "rules.yaml")
	rule := "rules:\n  - {name: kernel, severity: medium, kind: host-kernel-floor, params: {min_version: \"5.10\"}}\n"
	if err := os.WriteFile(path, []byte(rule), 0o600); err != nil {
		t.Fatal(err)
	}
	a, out := newAlerter(t, store, Config{
		RulesFile:    path,
		Clock:        func() time.Time { return policyNow },
		LinkTemplate: "http://127.0.0.1:3000/d/harrier?var-host={{.HostID | urlquery}}&from={{.FromMs}}",
	})
	if err := a.EvaluateRules(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ALERT medium  kernel  host host-old") {
		t.Errorf("printed %q, expected a host alert block", out.String())
	}

	_, rows, err := store.Query(context.Background(),
		"SELECT a.name, rule_version, window_start, window_end, condition, link FROM alerts AS a ALL INNER JOIN alert_details AS d USING alert_id")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("%d alerts with details, expected 1", len(rows))
	}
	row := rows[0]
	if row[1] != a.rules[0].Version || len(a.rules[0].Version) != 12 {
		t.Errorf("rule_version = %v, expected %q", row[1], a.rules[0].Version)
	}
	if got := row[2].(time.Time); !got.Equal(policyNow) {
		t.Errorf("window_start = %s, expected %s", got, policyNow)
	}
	if got := row[4]; got != "host kernel older than 5.10" {
		t.Errorf("condition = %q", got)
	}
	wantLink := "http://127.0.0.1:3000/d/harrier?var-host=host-old&from="
	if got := row[5].(string); !strings.HasPrefix(got, wantLink) {
		t.Errorf("link = %q, expected prefix %q", got, wantLink)
	}
}

func TestPolicySkippedWithoutColumn(t *testing.T) {
	store := storagetest.New(t)
	if err := store.Exec(context.Background(), "ALTER TABLE hosts DROP COLUMN listeners"); err != nil {
		t.Fatal(err)
	}
	a := policyAlerter(t, store, "  - {name: ports, severity: medium, kind: host-unexpected-port, params: {allowed_ports: [22]}}\n")
	if found := evaluateOnly(t, a); len(found) != 0 {
		t.Errorf("alerts for %v without the listeners column, expected none", candidateEntities(found))
	}
	if got := a.SkippedRules(); !slices.Equal(got, []string{"ports"}) {
		t.Errorf("skipped rules = %v, expected [ports]", got)
	}
}

func TestRuleVersionChangesWithParams(t *testing.T) {
	parse := func(days string) Rule {
		rules, err := ParseRules("v.yaml", []byte("rules:\n  - {name: r, severity: low, kind: image-age, params: {max_days: "+days+"}}\n"))
		if err != nil {
			t.Fatal(err)
		}
		return rules[0]
	}
	if parse("90").Version == parse("91").Version {
		t.Error("the same version for different params")
	}
	if parse("90").Version != parse("90").Version {
		t.Error("different versions for the same rule")
	}
}

func TestPolicyExamplesLoad(t *testing.T) {
	rules, err := PolicyExamples()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, r := range rules {
		kinds[r.Kind] = true
	}
	for _, kind := range ruleKinds {
		if kind == KindSQL || kind == KindRunningImageFixableVuln {
			continue
		}
		if !kinds[kind] {
			t.Errorf("no example rule of kind %s", kind)
		}
	}
}

func TestParsePolicyErrors(t *testing.T) {
	const head = "rules:\n  - name: r1\n    severity: high\n"
	cases := []struct {
		name, yaml string
		line       int
		field, msg string
	}{
		{"missing max_days", head + "    kind: image-age\n", 2, "rules[0].params.max_days", "missing"},
		{"negative max_days", head + "    kind: image-age\n    params: {max_days: -3}\n", 5, "rules[0].params.max_days", `invalid value "-3"`},
		{"unknown param", head + "    kind: image-age\n    params: {max_days: 3, days: 4}\n", 5, "rules[0].params.days", "unknown field"},
		{"empty allow list", head + "    kind: image-registry\n    params: {allowed: []}\n", 5, "rules[0].params.allowed", "non-empty list"},
		{"invalid registry", head + "    kind: image-registry\n    params:\n      allowed: [docker.io, 'bad host/x']\n", 6, "rules[0].params.allowed[1]", `invalid value "bad host/x"`},
		{"params on root kind", head + "    kind: container-root-or-privileged\n    params: {x: 1}\n", 5, "rules[0].params", "no params"},
		{"invalid kernel", head + "    kind: host-kernel-floor\n    params: {min_version: 5.x}\n", 5, "rules[0].params.min_version", `invalid value "5.x"`},
		{"invalid port", head + "    kind: host-unexpected-port\n    params: {allowed_ports: [70000]}\n", 5, "rules[0].params.allowed_ports[0]", "0 to 65535"},
		{"invalid protocol", head + "    kind: host-unexpected-port\n    params: {allowed_ports: [sctp/22]}\n", 5, "rules[0].params.allowed_ports[0]", `invalid value "sctp/22"`},
		{"invalid regex", head + "    kind: log-match\n    params: {pattern: 'a(b', window: 5m}\n", 5, "rules[0].params.pattern", "invalid regular expression"},
		{"pattern and template", head + "    kind: log-match\n    params: {pattern: a, template_id: 3, window: 5m}\n", 5, "rules[0].params.template_id", "not both"},
		{"missing window", head + "    kind: log-match\n    params: {pattern: a}\n", 5, "rules[0].params.window", "missing"},
		{"invalid window", head + "    kind: log-match\n    params: {pattern: a, window: 0s}\n", 5, "rules[0].params.window", `invalid value "0s"`},
		{"invalid threshold", head + "    kind: log-match\n    params: {pattern: a, window: 5m, threshold: 0}\n", 5, "rules[0].params.threshold", `invalid value "0"`},
		{"query on policy", head + "    kind: container-root-or-privileged\n    query: SELECT 1\n", 5, "rules[0].query", "unknown field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRules("p.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatal("expected an error")
			}
			want := "p.yaml:" + itoa(int64(tc.line)) + ": " + tc.field + ": "
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q, expected it to contain %q", err, want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q, expected it to contain %q", err, tc.msg)
			}
		})
	}
}
