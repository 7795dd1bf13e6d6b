package cgroup_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/collectors/cgroup"
	"github.com/harrierhq/harrier/internal/record"
)

func TestSampleV2Pressure(t *testing.T) {
	root := t.TempDir()
	scope := buildV2(t, root)
	for _, name := range []string{"cpu.pressure", "memory.pressure", "io.pressure"} {
		copyFile(t, filepath.Join("testdata/v2", name), filepath.Join(root, scope, name))
	}

	metrics, stats, err := cgroup.NewSamplerMode(root, cgroup.ModeV2, cgroup.Options{}).Sample(sampleTime)
	if err != nil {
		t.Fatal(err)
	}
	if stats.ParseErrors != 0 {
		t.Fatalf("parse errors: %v", stats.FirstError)
	}
	m := find(t, metrics, scope)
	checks := []struct {
		name      string
		got, want float64
	}{
		{"cpu some avg10", m.CPUPressureSomeAvg10, 0},
		{"cpu full avg10", m.CPUPressureFullAvg10, 0},
		{"cpu some total", float64(m.CPUPressureSomeTotalUs), 293391454},
		{"cpu full total", float64(m.CPUPressureFullTotalUs), 277111656},
		{"memory some total", float64(m.MemoryPressureSomeTotalUs), 250773},
		{"memory full total", float64(m.MemoryPressureFullTotalUs), 250662},
		{"io some total", float64(m.IOPressureSomeTotalUs), 185162400},
		{"io full total", float64(m.IOPressureFullTotalUs), 184607952},
		{"memory some avg10", m.MemoryPressureSomeAvg10, 0},
		{"io full avg10", m.IOPressureFullAvg10, 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestSampleV1HasNoPressure(t *testing.T) {
	root := t.TempDir()
	rel := buildV1(t, root)
	s, err := cgroup.NewSampler(root, cgroup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	metrics, _, err := s.Sample(sampleTime)
	if err != nil {
		t.Fatal(err)
	}
	m := find(t, metrics, rel)
	if m.CPUPressureSomeAvg10 != -1 || m.MemoryPressureSomeTotalUs != -1 || m.IOPressureFullAvg10 != -1 {
		t.Errorf("v1 pressure = %+v, want -1", m)
	}
}

// writeProcs writes a cgroup.procs file listing pids into the cgroup dir.
func writeProcs(t *testing.T, dir string, pids ...string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strings.Join(pids, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSampleNetFromProcRoot(t *testing.T) {
	root := t.TempDir()
	scope := buildV2(t, root)
	// Pid 7 has exited (no proc entry), so the sampler falls back to pid 42.
	writeProcs(t, filepath.Join(root, scope), "7", "42")
	procRoot := t.TempDir()
	copyFile(t, "testdata/net/dev", filepath.Join(procRoot, "42", "net", "dev"))

	metrics, stats, err := cgroup.NewSamplerMode(root, cgroup.ModeV2, cgroup.Options{ProcRoot: procRoot}).Sample(sampleTime)
	if err != nil {
		t.Fatal(err)
	}
	if stats.ParseErrors != 0 {
		t.Fatalf("parse errors: %v", stats.FirstError)
	}
	m := find(t, metrics, scope)
	// testdata/net/dev: lo 26394971026 both ways, eth0 688678307 in and
	// 2428382 out, ifb0 and ifb1 zero. Loopback is left out of the sums.
	if m.NetRxBytes != 688678307 {
		t.Errorf("rx bytes = %d, want 688678307", m.NetRxBytes)
	}
	if m.NetTxBytes != 2428382 {
		t.Errorf("tx bytes = %d, want 2428382", m.NetTxBytes)
	}
	if len(m.NetInterfaces) != 4 {
		t.Fatalf("interfaces = %+v, want lo, ifb0, ifb1 and eth0", m.NetInterfaces)
	}
	if lo := m.NetInterfaces[0]; lo != (record.NetInterface{Name: "lo", RxBytes: 26394971026, TxBytes: 26394971026}) {
		t.Errorf("first interface = %+v, want lo", lo)
	}
}

func TestSampleNetThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/net/dev"); err != nil {
		t.Skip("no /proc/self/net/dev on this machine")
	}
	root := t.TempDir()
	scope := buildV2(t, root)
	writeProcs(t, filepath.Join(root, scope), strconv.Itoa(os.Getpid()))

	metrics, stats, err := cgroup.NewSamplerMode(root, cgroup.ModeV2, cgroup.Options{}).Sample(sampleTime)
	if err != nil {
		t.Fatal(err)
	}
	if stats.ParseErrors != 0 {
		t.Fatalf("parse errors: %v", stats.FirstError)
	}
	m := find(t, metrics, scope)
	if m.NetRxBytes < 0 || m.NetTxBytes < 0 {
		t.Errorf("rx %d tx %d, want counters of this process's namespace", m.NetRxBytes, m.NetTxBytes)
	}
	if len(m.NetInterfaces) == 0 {
		t.Error("no interfaces read from /proc/<pid>/net/dev")
	}
}

func TestSampleNetOnlyForContainers(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "system.slice", "sshd.service")
	copyFile(t, "testdata/v2/memory.current", filepath.Join(dir, "memory.current"))
	writeProcs(t, dir, strconv.Itoa(os.Getpid()))

	metrics, _, err := cgroup.NewSamplerMode(root, cgroup.ModeV2, cgroup.Options{}).Sample(sampleTime)
	if err != nil {
		t.Fatal(err)
	}
	if m := find(t, metrics, "system.slice/sshd.service"); m.NetRxBytes != -1 || m.NetInterfaces != nil {
		t.Errorf("host service network = %d, %+v; want -1 and none", m.NetRxBytes, m.NetInterfaces)
	}
}

func TestSampleNetRejectsBadPid(t *testing.T) {
	root := t.TempDir()
	scope := buildV2(t, root)
	writeProcs(t, filepath.Join(root, scope), "../../etc")

	metrics, stats, err := cgroup.NewSamplerMode(root, cgroup.ModeV2, cgroup.Options{}).Sample(sampleTime)
	if err != nil {
		t.Fatal(err)
	}
	if stats.ParseErrors != 1 || !strings.Contains(stats.FirstError.Error(), "cgroup.procs") {
		t.Errorf("parse errors = %d, first %v; want one naming cgroup.procs", stats.ParseErrors, stats.FirstError)
	}
	if m := find(t, metrics, scope); m.NetRxBytes != -1 {
		t.Errorf("rx bytes = %d, want -1", m.NetRxBytes)
	}
}

func TestParsePressure(t *testing.T) {
	p, err := cgroup.ParsePressure([]byte("some avg10=1.50 avg60=0.08 avg300=0.06 total=12\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := cgroup.Pressure{SomeAvg10: 1.5, SomeTotalUs: 12, FullAvg10: -1, FullTotalUs: -1}
	if p != want {
		t.Errorf("cpu.pressure without a full line = %+v, want %+v", p, want)
	}
	for _, bad := range []string{"partial avg10=1 total=2\n", "some avg10\n", "some avg10=NaN total=1\n", "full avg10=1 total=-5\n"} {
		if _, err := cgroup.ParsePressure([]byte(bad)); err == nil {
			t.Errorf("ParsePressure(%q) returned no error", bad)
		}
	}
}

func TestParseNetDev(t *testing.T) {
	// Kernels before 2.6.26 print the interface and its first counter with no space.
	dev := "h1\nh2\n  eth0:12345 1 0 0 0 0 0 0 678 2 0 0 0 0 0 0\n"
	ifaces, err := cgroup.ParseNetDev([]byte(dev))
	if err != nil {
		t.Fatal(err)
	}
	if len(ifaces) != 1 || ifaces[0] != (record.NetInterface{Name: "eth0", RxBytes: 12345, TxBytes: 678}) {
		t.Errorf("interfaces = %+v", ifaces)
	}
	for _, bad := range []string{"h1\nh2\neth0 1 2 3\n", "h1\nh2\neth0: 1 2 3\n", "h1\nh2\neth0: x 0 0 0 0 0 0 0 1\n"} {
		if _, err := cgroup.ParseNetDev([]byte(bad)); err == nil {
			t.Errorf("ParseNetDev(%q) returned no error", bad)
		}
	}
}

func FuzzParsePressure(f *testing.F) {
	seedFiles(f, "testdata")
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := cgroup.ParsePressure(b)
		if err == nil && (p.SomeAvg10 < -1 || p.FullAvg10 < -1 || p.SomeTotalUs < -1 || p.FullTotalUs < -1) {
			t.Errorf("pressure %+v has a value below -1", p)
		}
	})
}

func FuzzParseNetDev(f *testing.F) {
	seedFiles(f, "testdata")
	f.Fuzz(func(t *testing.T, b []byte) {
		ifaces, err := cgroup.ParseNetDev(b)
		if err != nil {
			return
		}
		for _, iface := range ifaces {
			if iface.Name == "" || iface.RxBytes < 0 || iface.TxBytes < 0 {
				t.Errorf("interface %+v", iface)
			}
		}
	})
}
