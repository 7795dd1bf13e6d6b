package host_test

import (
	"os"
	"path/filepath"
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
	writeFiles(t, root, map[string]string{
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
	}
	if h != want {
		t.Errorf("host =\n%+v\nwant\n%+v", h, want)
	}
	if want.OSID == "" || want.OSPretty == "" {
		t.Error("os-release sample has no ID or PRETTY_NAME")
	}
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
