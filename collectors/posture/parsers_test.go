package posture

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func writeFile(t *testing.T, root, path, text string) {
	t.Helper()
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseDaemonJSONDefaults(t *testing.T) {
	d := NewDaemon()
	if err := ParseDaemonJSON(&d, []byte(`{"log-driver": "syslog"}`), "/etc/docker/daemon.json"); err != nil {
		t.Fatal(err)
	}
	if !d.ICC || d.LiveRestore || d.UsernsRemap != "" || d.LogDriver != "syslog" {
		t.Errorf("daemon = %+v, want Docker's defaults and log driver syslog", d)
	}
	if d.source("icc") != SourceDefault || d.source("log-driver") != "/etc/docker/daemon.json" {
		t.Errorf("sources = %v", d.Sources)
	}
	if err := ParseDaemonJSON(&d, []byte(`{"icc": "no"}`), "daemon.json"); err == nil {
		t.Errorf("a string icc parsed without error")
	}
}

func TestServiceFlagsAddTCPSocket(t *testing.T) {
	d := NewDaemon()
	unit := "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd -H fd:// -H tcp://0.0.0.0:2375 --host=unix:///run/d.sock\n"
	ParseServiceFlags(&d, []byte(unit), "/etc/systemd/system/docker.service.d/override.conf")
	if !slices.Equal(d.Hosts, []string{"fd://", "tcp://0.0.0.0:2375", "unix:///run/d.sock"}) {
		t.Errorf("hosts = %q", d.Hosts)
	}
	if got := d.TCPWithoutTLSVerify(); !slices.Equal(got, []string{"tcp://0.0.0.0:2375"}) {
		t.Errorf("tcp without tlsverify = %q", got)
	}
	ParseServiceFlags(&d, []byte("ExecStart=/usr/bin/dockerd --tlsverify -H tcp://0.0.0.0:2376\n"), "unit")
	if len(d.TCPWithoutTLSVerify()) != 0 {
		t.Errorf("tlsverify did not cover the TCP sockets: %q", d.TCPWithoutTLSVerify())
	}
}

func TestParseEnvironmentContentTrust(t *testing.T) {
	d := NewDaemon()
	ParseEnvironment(&d, []byte("PATH=/bin\nexport DOCKER_CONTENT_TRUST=\"1\"\n"), "/etc/environment")
	if !d.ContentTrust {
		t.Errorf("content trust off after DOCKER_CONTENT_TRUST=1")
	}
	ParseEnvironment(&d, []byte("DOCKER_CONTENT_TRUST=0\n"), "/etc/default/docker")
	if d.ContentTrust {
		t.Errorf("content trust on after DOCKER_CONTENT_TRUST=0")
	}
}

func TestParseIptablesSaveDockerUser(t *testing.T) {
	tests := []struct {
		name              string
		rules             string
		published, egress bool
	}{
		{"return only", "-A DOCKER-USER -j RETURN\n", false, false},
		{"drop from eth0", "-A DOCKER-USER -i eth0 ! -s 10.0.0.0/8 -j DROP\n-A DOCKER-USER -j RETURN\n", true, false},
		{"reject from bridges", "-A DOCKER-USER -i br-+ -o eth0 -j REJECT\n", false, true},
		{"drop everything", "-A DOCKER-USER -j DROP\n", true, true},
		{"drop not from docker0", "-A DOCKER-USER ! -i docker0 -j DROP\n", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:DOCKER-USER - [0:0]\n" + tt.rules + "COMMIT\n"
			fw, err := ParseIptablesSave([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			if got := fw.RestrictsPublished(); got != tt.published {
				t.Errorf("RestrictsPublished = %v, want %v", got, tt.published)
			}
			if got := fw.RestrictsEgress(); got != tt.egress {
				t.Errorf("RestrictsEgress = %v, want %v", got, tt.egress)
			}
			if fw.ChainPolicy("INPUT") != "DROP" {
				t.Errorf("INPUT policy = %q", fw.ChainPolicy("INPUT"))
			}
		})
	}
}

func TestParseIptablesSaveErrors(t *testing.T) {
	for _, text := range []string{
		"*filter\n-A DOCKER-USER -j DROP\nCOMMIT\n",
		"*filter\n:INPUT\nCOMMIT\n",
		"*filter\nbogus line\nCOMMIT\n",
	} {
		if _, err := ParseIptablesSave([]byte(text)); err == nil {
			t.Errorf("no error for %q", text)
		}
	}
}

func TestParseNftRuleset(t *testing.T) {
	text := `table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
	}
}
table ip filter {
	chain DOCKER-USER {
		iifname "eth0" ip saddr != 10.0.0.0/8 counter packets 0 bytes 0 drop
		iifname "br-*" oifname "eth0" reject
		counter packets 10 bytes 840 return
	}
}
table ip6 filter {
	chain DOCKER-USER {
		drop
	}
}
`
	fw, err := ParseFirewall([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if fw.Format != "nftables" {
		t.Errorf("format = %q", fw.Format)
	}
	if fw.ChainPolicy("INPUT") != "DROP" {
		t.Errorf("input policy = %q, want DROP", fw.ChainPolicy("INPUT"))
	}
	if !fw.RestrictsPublished() || !fw.RestrictsEgress() {
		t.Errorf("published %v egress %v, want both restricted", fw.RestrictsPublished(), fw.RestrictsEgress())
	}
	if _, err := ParseNftRuleset([]byte("table ip filter {\n chain x {\n")); err == nil {
		t.Errorf("no error for unclosed blocks")
	}
}

func TestParseSSHDConfigFirstValueWins(t *testing.T) {
	cfg, err := ParseSSHDConfig([]byte("PermitRootLogin no\npermitrootlogin yes\nPasswordAuthentication=no\nInclude a/*.conf b.conf\nMatch Address 10.0.0.0/8\n  PermitRootLogin yes\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Values["permitrootlogin"] != "no" || cfg.Values["passwordauthentication"] != "no" {
		t.Errorf("values = %v", cfg.Values)
	}
	if !slices.Equal(cfg.Includes, []string{"a/*.conf", "b.conf"}) {
		t.Errorf("includes = %q", cfg.Includes)
	}
	if _, err := ParseSSHDConfig([]byte("PermitRootLogin\n")); err == nil {
		t.Errorf("no error for a keyword without a value")
	}
}

func TestParseAccounts(t *testing.T) {
	uid0, err := ParsePasswd([]byte("root:x:0:0::/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\nops:x:1000:1000::/home/ops:/bin/sh\n"))
	if err != nil || !slices.Equal(uid0, []string{"root", "toor"}) {
		t.Errorf("uid0 = %q, %v", uid0, err)
	}
	empty, err := ParseShadow([]byte("root:!:1::::::\nguest::1::::::\n"))
	if err != nil || !slices.Equal(empty, []string{"guest"}) {
		t.Errorf("empty = %q, %v", empty, err)
	}
	if _, err := ParseShadow([]byte("nofields\n")); err == nil {
		t.Errorf("no error for a shadow line without fields")
	}
}

func TestParseMountsEscapes(t *testing.T) {
	mounts, err := ParseMounts([]byte("tmpfs /tmp tmpfs rw,noexec 0 0\n/dev/sdc1 /mnt/my\\040disk ext4 ro 0 0\ntmpfs /tmp tmpfs rw,nosuid 0 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(mounts["/tmp"], []string{"nosuid", "rw"}) {
		t.Errorf("/tmp = %q, want the last mount's options", mounts["/tmp"])
	}
	if !slices.Equal(mounts["/mnt/my disk"], []string{"ro"}) {
		t.Errorf("escaped path not decoded: %v", mounts)
	}
}

func TestParseUpdatesAvailable(t *testing.T) {
	tests := map[string]int{
		"47 packages can be updated.\n12 of these updates are security updates.\n":                   12,
		"3 updates can be applied immediately.\n1 of these updates is a standard security update.\n": 1,
		"0 updates can be applied immediately.\n":                                                    0,
	}
	for text, want := range tests {
		got, err := ParseUpdatesAvailable([]byte(text))
		if err != nil || got != want {
			t.Errorf("ParseUpdatesAvailable(%q) = %d, %v; want %d", text, got, err, want)
		}
	}
	if _, err := ParseUpdatesAvailable([]byte("something else\n")); err == nil {
		t.Errorf("no error for an unknown file")
	}
}

func TestImageRegistry(t *testing.T) {
	for ref, want := range map[string]string{
		"nginx:1.25":                      "docker.io",
		"library/nginx":                   "docker.io",
		"ghcr.io/example/api:2":           "ghcr.io",
		"localhost/app":                   "localhost",
		"203.0.113.7:5000/legacy/app:1.0": "203.0.113.7:5000",
	} {
		if got := ImageRegistry(ref); got != want {
			t.Errorf("ImageRegistry(%q) = %q, want %q", ref, got, want)
		}
	}
}

func TestParseContainerSecurityOpts(t *testing.T) {
	config := []byte(`{"ID":"c1","Name":"/x","Config":{"Image":"nginx"},"State":{"Running":true},"AppArmorProfile":"docker-default"}`)
	hostconfig := []byte(`{"SecurityOpt":["seccomp:unconfined","apparmor=unconfined","no-new-privileges:true"],"CapAdd":["cap_sys_admin"],"NetworkMode":"container:abc"}`)
	s, err := ParseContainer(config, hostconfig, []byte("nameserver 1.1.1.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Seccomp != "unconfined" || s.AppArmor != "unconfined" || !s.NoNewPrivileges {
		t.Errorf("security options = %q %q %v", s.Seccomp, s.AppArmor, s.NoNewPrivileges)
	}
	if !slices.Equal(s.CapAdd, []string{"SYS_ADMIN"}) {
		t.Errorf("cap add = %q", s.CapAdd)
	}
	if !slices.Equal(s.DNS, []string{"1.1.1.1"}) {
		t.Errorf("dns = %q", s.DNS)
	}
	f := s.facts("test")
	if got := f["container.user_network"].Values; !slices.Equal(got, []string{"false"}) {
		t.Errorf("user_network of a container:<id> network = %q", got)
	}
	if _, err := ParseContainer(config, []byte(`{"SecurityOpt":["seccomp="]}`), nil); err == nil {
		t.Errorf("no error for an empty seccomp profile")
	}
}
