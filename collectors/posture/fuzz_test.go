package posture

import (
	"os"
	"testing"
)

// addFiles adds the fixture files at paths to the seed corpus.
func addFiles(f *testing.F, paths ...string) {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParseDaemonJSON(f *testing.F) {
	addFiles(f, "testdata/hardened/etc/docker/daemon.json", "testdata/weak/etc/docker/daemon.json")
	f.Add([]byte(`{"tlsverify": true, "hosts": null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDaemon()
		if err := ParseDaemonJSON(&d, b, "daemon.json"); err != nil {
			return
		}
		d.addFacts(facts{})
		ParseServiceFlags(&d, b, "unit")
		ParseEnvironment(&d, b, "env")
	})
}

func FuzzParseFirewall(f *testing.F) {
	addFiles(f, "testdata/hardened/etc/iptables/rules.v4", "testdata/weak/etc/iptables/rules.v4")
	f.Add([]byte("table ip filter {\n chain DOCKER-USER {\n iifname != \"eth0\" drop\n }\n}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fw, err := ParseFirewall(b)
		if err != nil {
			return
		}
		fw.RestrictsPublished()
		fw.RestrictsEgress()
		fw.ChainPolicy("INPUT")
	})
}

func FuzzParseSSHDConfig(f *testing.F) {
	addFiles(f, "testdata/hardened/etc/ssh/sshd_config", "testdata/weak/etc/ssh/sshd_config")
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseSSHDConfig(b)
		if err == nil && cfg.Values == nil {
			t.Fatal("nil values without an error")
		}
	})
}

func FuzzParseAccounts(f *testing.F) {
	addFiles(f, "testdata/weak/etc/passwd", "testdata/weak/etc/shadow", "testdata/hardened/etc/login.defs")
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParsePasswd(b)
		_, _ = ParseShadow(b)
		_, _ = ParseLoginDefs(b)
	})
}

func FuzzParseMounts(f *testing.F) {
	addFiles(f, "testdata/hardened/proc/mounts", "testdata/weak/proc/mounts")
	f.Add([]byte("a /x\\0 t o\nb /y\\1234 t o\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ParseMounts(b)
	})
}

func FuzzParseUpdatesAvailable(f *testing.F) {
	addFiles(f, "testdata/weak/var/lib/update-notifier/updates-available")
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseUpdatesAvailable(b)
		if err == nil && n < 0 {
			t.Fatalf("negative count %d", n)
		}
	})
}

func FuzzParseContainer(f *testing.F) {
	dir := "testdata/weak/var/lib/docker/containers/b7e2c9d4f1a3e5b6c8d0f2a4b6c8e0d2f4a6b8c0e2d4f6a8b0c2e4d6f8a0b2c4/"
	config, err := os.ReadFile(dir + "config.v2.json")
	if err != nil {
		f.Fatal(err)
	}
	hostconfig, err := os.ReadFile(dir + "hostconfig.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(config, hostconfig, []byte("nameserver 10.0.0.2\n"))
	f.Fuzz(func(t *testing.T, config, hostconfig, resolv []byte) {
		s, err := ParseContainer(config, hostconfig, resolv)
		if err != nil {
			return
		}
		s.facts("fuzz").sorted()
	})
}
