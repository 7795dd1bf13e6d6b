package posture

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/record"
)

var fixtureTime = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// factsOf returns the facts of the entity named name, by key.
func factsOf(t *testing.T, postures []record.Posture, name string) map[string]record.PostureFact {
	t.Helper()
	for _, p := range postures {
		if p.EntityName == name {
			out := map[string]record.PostureFact{}
			for _, f := range p.Facts {
				out[f.Key] = f
			}
			return out
		}
	}
	t.Fatalf("no posture of entity %q", name)
	return nil
}

func checkFact(t *testing.T, facts map[string]record.PostureFact, key string, want ...string) {
	t.Helper()
	f, ok := facts[key]
	if !ok {
		t.Errorf("fact %s missing", key)
		return
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(f.Values, want) {
		t.Errorf("fact %s = %q, want %q", key, f.Values, want)
	}
}

func TestCollectHardenedHost(t *testing.T) {
	postures, invalid := Collect(Options{Root: "testdata/hardened"}, fixtureTime)
	if len(invalid) > 0 {
		t.Fatalf("invalid files: %v", invalid)
	}
	if len(postures) != 2 {
		t.Fatalf("got %d entities, want the host and one container", len(postures))
	}
	h := postures[0]
	if h.Entity != record.PostureHost || h.EntityID != "8f3c2a1e5b7d4c6e9a0b1c2d3e4f5a6b" || h.EntityName != "hardened-1" {
		t.Errorf("host entity = %s %s %s", h.Entity, h.EntityID, h.EntityName)
	}
	if h.TimeNs != fixtureTime.UnixNano() || postures[1].TimeNs != fixtureTime.UnixNano() {
		t.Errorf("entities of one pass have different times")
	}
	host := factsOf(t, postures, "hardened-1")
	checkFact(t, host, "daemon.icc", "false")
	checkFact(t, host, "daemon.tcp_without_tlsverify")
	checkFact(t, host, "daemon.content_trust", "true")
	checkFact(t, host, "firewall.docker_user_restricts_published", "true")
	checkFact(t, host, "firewall.egress_restricted", "true")
	checkFact(t, host, "sshd.permit_root_login", "no")
	if src := host["sshd.permit_root_login"].Source; src != "/etc/ssh/sshd_config.d/50-hardening.conf" {
		t.Errorf("sshd.permit_root_login source = %q, want the included file", src)
	}
	checkFact(t, host, "mount./tmp", "nodev", "noexec", "nosuid", "relatime", "rw", "size=2097152k")
	checkFact(t, host, "sysctl.kernel.randomize_va_space", "2")
	if _, ok := host["updates.security_pending"]; ok {
		t.Errorf("updates.security_pending set on a host without update-notifier")
	}

	api := factsOf(t, postures, "api")
	checkFact(t, api, "container.network_mode", "backend")
	checkFact(t, api, "container.user_network", "true")
	checkFact(t, api, "container.ports", "tcp 127.0.0.1:8080->8080")
	checkFact(t, api, "container.ports_all_interfaces")
	checkFact(t, api, "container.dns_servers", "127.0.0.11")
	checkFact(t, api, "container.cap_drop", "ALL")
	checkFact(t, api, "container.read_only_root", "true")
	checkFact(t, api, "container.no_new_privileges", "true")
	checkFact(t, api, "container.runs_as_root", "false")
}

func TestCollectWeakHost(t *testing.T) {
	postures, invalid := Collect(Options{Root: "testdata/weak"}, fixtureTime)
	if len(invalid) > 0 {
		t.Fatalf("invalid files: %v", invalid)
	}
	var names []string
	for _, p := range postures {
		names = append(names, p.EntityName)
	}
	// old-debug is stopped, so only the host, web and legacy are read.
	if !slices.Equal(names, []string{"weak-1", "web", "legacy"}) {
		t.Errorf("entities = %q, want weak-1, web and legacy", names)
	}
	host := factsOf(t, postures, "weak-1")
	checkFact(t, host, "daemon.tcp_without_tlsverify", "tcp://0.0.0.0:2375")
	checkFact(t, host, "daemon.insecure_registries", "203.0.113.7:5000")
	checkFact(t, host, "daemon.icc", "true")
	if src := host["daemon.icc"].Source; src != SourceDefault {
		t.Errorf("daemon.icc source = %q, want %q", src, SourceDefault)
	}
	checkFact(t, host, "firewall.unrestricted_published_ports", "legacy tcp/8080")
	checkFact(t, host, "accounts.uid0_besides_root", "toor")
	checkFact(t, host, "accounts.empty_password", "backup")
	checkFact(t, host, "login_defs.pass_max_days", "99999")
	checkFact(t, host, "mount./tmp")
	checkFact(t, host, "updates.security_pending", "12")
	checkFact(t, host, "os.eol_date", "2023-05-31")
	// The Match block's PasswordAuthentication does not apply globally.
	checkFact(t, host, "sshd.password_authentication", "yes")
	checkFact(t, host, "sshd.permit_empty_passwords", "no")

	legacy := factsOf(t, postures, "legacy")
	checkFact(t, legacy, "container.privileged", "true")
	checkFact(t, legacy, "container.cap_add", "NET_BIND_SERVICE", "SYS_ADMIN")
	checkFact(t, legacy, "container.seccomp", "unconfined")
	checkFact(t, legacy, "container.apparmor", "unconfined")
	checkFact(t, legacy, "container.pid_namespace", "host")
	checkFact(t, legacy, "container.image_registry", "203.0.113.7:5000")
	checkFact(t, legacy, "container.sensitive_mounts", "/etc:/host/etc:ro", "/var/run/docker.sock:/var/run/docker.sock:rw")
	checkFact(t, legacy, "container.ports_all_interfaces", "tcp 0.0.0.0:8080->80")
	web := factsOf(t, postures, "web")
	checkFact(t, web, "container.network_mode", "host")
	checkFact(t, web, "container.dns_servers", "8.8.8.8", "10.0.0.2")
	checkFact(t, web, "container.runs_as_root", "true")
}

func TestCollectReportsInvalidFiles(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/docker/daemon.json", `{"icc": "no"}`)
	writeFile(t, root, "etc/passwd", "root:x:0\n")
	writeFile(t, root, "etc/login.defs", "PASS_MAX_DAYS forever\n")
	writeFile(t, root, "proc/sys/kernel/randomize_va_space", "2\n")
	postures, invalid := Collect(Options{Root: root, HostID: "h1", HostName: "h1"}, fixtureTime)
	if len(invalid) != 3 {
		t.Fatalf("invalid = %v, want 3 errors", invalid)
	}
	for _, want := range []string{"daemon.json", "passwd line 1", "PASS_MAX_DAYS=\"forever\""} {
		found := false
		for _, err := range invalid {
			found = found || strings.Contains(err.Error(), want)
		}
		if !found {
			t.Errorf("no error mentions %q: %v", want, invalid)
		}
	}
	// The files that parse still give their facts.
	checkFact(t, factsOf(t, postures, "h1"), "sysctl.kernel.randomize_va_space", "2")
}
