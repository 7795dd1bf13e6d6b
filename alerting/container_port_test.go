package alerting

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/storage"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func insertContainerPorts(t *testing.T, store *storage.Store, id string, running uint8, ports ...string) {
	t.Helper()
	columns := []string{"container_id", "name", "host_id", "runtime", "image_id", "running", "seen_at", "record_id", "ports"}
	seen := policyNow.Add(-time.Minute)
	if ports == nil {
		ports = []string{}
	}
	row := []any{id, "", hostID, "docker", imageWeb, running, seen, record.NewID(id, seen.String()), ports}
	if err := store.Insert(context.Background(), "containers", columns, [][]any{row}); err != nil {
		t.Fatal(err)
	}
}

func TestContainerPortPolicy(t *testing.T) {
	store := storagetest.New(t)
	insertContainerPorts(t, store, violatingID, 1, "tcp 0.0.0.0:443->8443", "tcp 0.0.0.0:6379->6379", "tcp [::]:6379->6379", "udp 127.0.0.1:5353->53")
	insertContainerPorts(t, store, compliantID, 1, "tcp 0.0.0.0:80->8080", "tcp [::]:443->443", "tcp 127.0.0.1:9090->9090")
	// A stopped container is not checked.
	insertContainerPorts(t, store, webID, 0, "tcp 0.0.0.0:22->22")
	insertContainerPorts(t, store, "no-ports", 1)

	a := policyAlerter(t, store, "  - {name: ports, severity: medium, kind: container-port, params: {allowed_ports: [80, tcp/443], public_only: true}}\n")
	found := evaluateOnly(t, a)
	assertFires(t, found, violatingID)
	want := []string{"tcp/6379 (tcp 0.0.0.0:6379->6379)", "tcp/6379 (tcp [::]:6379->6379)"}
	if !slices.Equal(found[0].Drivers, want) {
		t.Errorf("drivers = %q, expected %q", found[0].Drivers, want)
	}
	if !strings.Contains(found[0].Summary, violatingID+" publishes ports outside its allow list") {
		t.Errorf("summary = %q", found[0].Summary)
	}
	if found[0].details.Condition != "running container host port published on 0.0.0.0 or :: not in [80, tcp/443]" {
		t.Errorf("condition = %q", found[0].details.Condition)
	}

	// Without public_only, the loopback bindings count too.
	a = policyAlerter(t, store, "  - {name: ports-all, severity: medium, kind: container-port, params: {allowed_ports: [80, tcp/443]}}\n")
	found = evaluateOnly(t, a)
	got := candidateEntities(found)
	wantIDs := []string{violatingID, compliantID}
	if !slices.Equal(got, wantIDs) {
		t.Fatalf("alerts for %v, expected %v", got, wantIDs)
	}
	if !slices.Contains(found[1].Drivers, "tcp/9090 (tcp 127.0.0.1:9090->9090)") {
		t.Errorf("drivers = %q, expected the loopback binding", found[1].Drivers)
	}
	if !slices.Contains(found[0].Drivers, "udp/5353 (udp 127.0.0.1:5353->53)") {
		t.Errorf("drivers = %q, expected the udp binding", found[0].Drivers)
	}
}

func TestContainerPortSkippedWithoutColumn(t *testing.T) {
	store := storagetest.New(t)
	if err := store.Exec(context.Background(), "ALTER TABLE containers DROP COLUMN ports"); err != nil {
		t.Fatal(err)
	}
	a := policyAlerter(t, store, "  - {name: ports, severity: medium, kind: container-port, params: {allowed_ports: [80]}}\n")
	if found := evaluateOnly(t, a); len(found) != 0 {
		t.Errorf("alerts for %v without the ports column, expected none", candidateEntities(found))
	}
	if got := a.SkippedRules(); !slices.Equal(got, []string{"ports"}) {
		t.Errorf("skipped rules = %v, expected [ports]", got)
	}
}

func TestParseContainerPortErrors(t *testing.T) {
	const head = "rules:\n  - name: r1\n    severity: high\n    kind: container-port\n"
	cases := []struct {
		name, yaml string
		line       int
		field, msg string
	}{
		{"missing allow list", head, 2, "rules[0].params.allowed_ports", "missing"},
		{"invalid protocol", head + "    params: {allowed_ports: [tcp6/80]}\n", 5, "rules[0].params.allowed_ports[0]", `invalid value "tcp6/80"`},
		{"port too large", head + "    params: {allowed_ports: [80, 65536]}\n", 5, "rules[0].params.allowed_ports[1]", "0 to 65535"},
		{"invalid public_only", head + "    params:\n      allowed_ports: [80]\n      public_only: maybe\n", 7, "rules[0].params.public_only", `invalid value "maybe"`},
		{"unknown param", head + "    params: {allowed_ports: [80], ports: [1]}\n", 5, "rules[0].params.ports", "unknown field"},
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

	rules, err := ParseRules("p.yaml", []byte(head+"    params: {allowed_ports: [80, TCP/443, sctp/9], public_only: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := rules[0].Policy.AllowedPorts; !slices.Equal(got, []string{"80", "tcp/443", "sctp/9"}) {
		t.Errorf("allowed ports = %q", got)
	}
	if !rules[0].Policy.PublicOnly {
		t.Error("public_only = false, expected true")
	}
}
