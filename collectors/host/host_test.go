package host_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/collectors/host"
	"github.com/harrierhq/harrier/internal/record"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const cpuinfo = `processor	: 0
vendor_id	: GenuineIntel
model name	: Intel(R) Xeon(R) CPU @ 2.20GHz

processor	: 1
vendor_id	: GenuineIntel
model name	: Intel(R) Xeon(R) CPU @ 2.20GHz
`

func TestCollectFromRoot(t *testing.T) {
	root := t.TempDir()
	osRelease, err := os.ReadFile("testdata/os-release")
	if err != nil {
		t.Fatal(err)
	}
	procNetTCP, err := os.ReadFile("testdata/proc-net-tcp")
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, root, map[string]string{
		"proc/sys/kernel/arch":      "x86_64\n",
		"proc/net/tcp":              string(procNetTCP),
		"var/lib/docker/engine-id":  "8c1b2f5e-3f0e-4a57-9b0c-5d1e6f7a8b9c\n",
		"var/lib/dpkg/status":       dpkgStatus,
		"etc/os-release":            string(osRelease),
		"etc/machine-id":            "4c4c4544004b4d10805ab2c04f563232\n",
		"proc/sys/kernel/osrelease": "6.1.0-27-amd64\n",
		"proc/sys/kernel/hostname":  "node-7\n",
		"proc/cpuinfo":              cpuinfo,
		"proc/meminfo":              "MemTotal:       16318284 kB\nMemFree:         1000 kB\n",
		"proc/uptime":               "350735.47 234388.90\n",
	})
	if err := os.MkdirAll(filepath.Join(root, "sys/fs/cgroup/memory"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "sys/fs/cgroup/unified"), 0o755); err != nil {
		t.Fatal(err)
	}

	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	h, invalid := host.Collect(root, now)
	if len(invalid) != 0 {
		t.Fatalf("invalid files: %v", invalid)
	}
	osr, _ := host.ParseOSRelease(osRelease)
	want := record.Host{
		TimeNs: now.UnixNano(), HostID: "4c4c4544004b4d10805ab2c04f563232", Hostname: "node-7",
		OSID: osr["ID"], OSVersion: osr["VERSION_ID"], OSPretty: osr["PRETTY_NAME"],
		Kernel: "6.1.0-27-amd64", CPUModel: "Intel(R) Xeon(R) CPU @ 2.20GHz", CPUCount: 2,
		MemoryBytes: 16318284 * 1024, UptimeS: 350735, CgroupMode: "hybrid",
		Arch: "x86_64", Runtime: "docker", RuntimeVersion: "5:27.3.1-1~debian.12~bookworm",
		Listeners: []record.Listener{{Protocol: "tcp", Address: "0.0.0.0", Port: 2024}},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("host =\n%+v\nwant\n%+v", h, want)
	}
	if want.OSID == "" || want.OSPretty == "" {
		t.Error("os-release sample has no ID or PRETTY_NAME")
	}
}

// dpkgStatus is an excerpt of /var/lib/dpkg/status of a Debian 12 host
// with Docker CE, with a removed package listed before the installed one.
const dpkgStatus = `Package: docker.io
Status: deinstall ok config-files
Version: 20.10.24+dfsg1-1+b3

Package: docker-ce
Status: install ok installed
Priority: optional
Section: admin
Architecture: amd64
Version: 5:27.3.1-1~debian.12~bookworm
Description: Docker: the open-source application container engine
 Docker is a product for you to build, ship and run any application as a
 lightweight container

Package: containerd.io
Status: install ok installed
Version: 1.7.22-1
`

func TestEOLDate(t *testing.T) {
	cases := []struct {
		id, version, want string
	}{
		{"debian", "11", "2024-08-14"},
		{"ubuntu", "22.04", "2027-04-30"},
		{"rhel", "8.9", "2029-05-31"},
		{"rocky", "9.3", "2032-05-31"},
		{"centos", "7", "2024-06-30"},
		{"alpine", "3.18.4", "2025-05-09"},
		{"alpine", "3.16", "2024-05-23"},
		{"amzn", "2", "2026-06-30"},
		{"amzn", "2023", "2029-06-30"},
		{"Debian", " 10 ", "2022-09-10"},
		{"debian", "12", ""},
		{"ubuntu", "23.10", ""},
		{"arch", "", ""},
		{"", "", ""},
		{"alpine", "3", ""},
	}
	for _, c := range cases {
		if got := host.EOLDate(c.id, c.version); got != c.want {
			t.Errorf("EOLDate(%q, %q) = %q, expected %q", c.id, c.version, got, c.want)
		}
	}
}

func TestDetectRuntime(t *testing.T) {
	cases := []struct {
		name             string
		files            map[string]string
		runtime, version string
	}{
		{"none", map[string]string{"etc/hostname": "x\n"}, "", ""},
		{"docker socket without package", map[string]string{"run/docker.sock": ""}, "docker", ""},
		{"docker from dpkg", map[string]string{"var/run/docker.sock": "", "var/lib/dpkg/status": dpkgStatus}, "docker", "5:27.3.1-1~debian.12~bookworm"},
		{"containerd from dpkg", map[string]string{"run/containerd/containerd.sock": "", "var/lib/dpkg/status": dpkgStatus}, "containerd", "1.7.22-1"},
		{"docker from apk", map[string]string{
			"var/lib/docker/engine-id": "id\n",
			"lib/apk/db/installed":     "C:Q1abc=\nP:busybox\nV:1.36.1-r15\n\nC:Q1def=\nP:docker-engine\nV:26.1.5-r0\nA:x86_64\n\n",
		}, "docker", "26.1.5-r0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, c.files)
			name, version := host.DetectRuntime(root)
			if name != c.runtime {
				t.Errorf("runtime = %q, expected %q", name, c.runtime)
			}
			if version != c.version {
				t.Errorf("version = %q, expected %q", version, c.version)
			}
		})
	}
}

func TestArchFallback(t *testing.T) {
	if got := host.Arch(t.TempDir()); got != "" {
		t.Errorf("Arch of a root without proc/sys/kernel/arch = %q, expected empty", got)
	}
	if got := host.Arch("/"); got == "" {
		t.Error("Arch(/) is empty, expected the kernel's or GOARCH's machine name")
	}
}

func FuzzDpkgVersion(f *testing.F) {
	f.Add([]byte(dpkgStatus), "docker-ce")
	f.Add([]byte("Package: a\nStatus: install ok installed\nVersion: 1\n"), "a")
	f.Fuzz(func(t *testing.T, b []byte, pkg string) {
		v := host.DpkgVersion(b, pkg)
		if v != "" && !strings.Contains(string(b), v) {
			t.Errorf("version %q is not in the input", v)
		}
	})
}

func TestCollectHostIDFallsBackToHostname(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"etc/hostname": "node-8\n"})
	h, _ := host.Collect(root, time.Now())
	if h.Hostname != "node-8" {
		t.Errorf("hostname = %q, want node-8", h.Hostname)
	}
	if h.HostID != record.NewID("hostname", "node-8") {
		t.Errorf("host id = %q, want the hostname hash", h.HostID)
	}
}

func TestCollectThisHost(t *testing.T) {
	h, invalid := host.Collect("/", time.Now())
	if len(invalid) != 0 {
		t.Errorf("invalid files: %v", invalid)
	}
	if h.HostID == "" || h.Kernel == "" || h.CPUCount == 0 || h.MemoryBytes == 0 {
		t.Errorf("host = %+v, want id, kernel, CPUs and memory", h)
	}
}

func TestParseOSRelease(t *testing.T) {
	values, err := host.ParseOSRelease([]byte("# comment\nNAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_CODENAME='bookworm'\nQUOTED=\"a \\\"b\\\"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"NAME": "Debian GNU/Linux", "ID": "debian", "VERSION_CODENAME": "bookworm", "QUOTED": `a "b"`}
	for k, v := range want {
		if values[k] != v {
			t.Errorf("%s = %q, want %q", k, values[k], v)
		}
	}

	values, err = host.ParseOSRelease([]byte("ID=alpine\nthis is not an assignment\nNAME=\"open\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error %v does not name line 2", err)
	}
	if values["ID"] != "alpine" {
		t.Errorf("valid lines lost: %v", values)
	}
	if _, ok := values["NAME"]; ok {
		t.Error("unterminated quote accepted")
	}
}

func TestParseProcFiles(t *testing.T) {
	if _, err := host.ParseMemTotal([]byte("MemFree: 1 kB\n")); err == nil {
		t.Error("ParseMemTotal without MemTotal returned no error")
	}
	if _, err := host.ParseUptime([]byte("abc 1\n")); err == nil {
		t.Error("ParseUptime(abc) returned no error")
	}
}

func FuzzParseOSRelease(f *testing.F) {
	b, err := os.ReadFile("testdata/os-release")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("A=\"x\\\"\"\nB='y'\n#c\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		values, _ := host.ParseOSRelease(b)
		for k := range values {
			if k == "" || strings.ContainsAny(k, " \t\"'") {
				t.Errorf("invalid key %q accepted", k)
			}
		}
	})
}

// BenchmarkCollectThisHost measures one read of this host's facts, which
// the agent repeats every HostCheckInterval. Listeners walks every
// /proc/<pid>/fd, so the cost grows with the processes and their files.
func BenchmarkCollectThisHost(b *testing.B) {
	for b.Loop() {
		host.Collect("/", time.Now())
	}
}
