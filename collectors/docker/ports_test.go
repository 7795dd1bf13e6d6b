package docker

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/internal/record"
)

func readPortsSample(t testing.TB) (config, hostconfig []byte) {
	t.Helper()
	config, err := os.ReadFile(filepath.Join("testdata", "ports", "config.v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	hostconfig, err = os.ReadFile(filepath.Join("testdata", "ports", "hostconfig.json"))
	if err != nil {
		t.Fatal(err)
	}
	return config, hostconfig
}

func TestParseConfigPortsAndMounts(t *testing.T) {
	config, hostconfig := readPortsSample(t)
	c, err := ParseConfig(config, hostconfig)
	if err != nil {
		t.Fatal(err)
	}

	// NetworkSettings.Ports wins over PortBindings: it has the ephemeral
	// port 32768 that the engine picked for 9090/tcp, and 53/udp is
	// exposed but not published.
	wantPorts := []record.Port{
		{ContainerPort: 8080, Protocol: "tcp", HostIP: "0.0.0.0", HostPort: 8080},
		{ContainerPort: 8080, Protocol: "tcp", HostIP: "::", HostPort: 8080},
		{ContainerPort: 9090, Protocol: "tcp", HostIP: "127.0.0.1", HostPort: 32768},
	}
	if !reflect.DeepEqual(c.Ports, wantPorts) {
		t.Errorf("Ports = %+v, want %+v", c.Ports, wantPorts)
	}

	wantMounts := []record.Mount{
		{Source: "/var/lib/docker/volumes/api-data/_data", Destination: "/data", ReadWrite: true},
		{Source: "/srv/api/config", Destination: "/etc/api", ReadWrite: false},
		{Source: "/var/run/docker.sock", Destination: "/var/run/docker.sock", ReadWrite: true},
	}
	if !reflect.DeepEqual(c.Mounts, wantMounts) {
		t.Errorf("Mounts = %+v, want %+v", c.Mounts, wantMounts)
	}
}

func TestParseConfigPortBindingsFallback(t *testing.T) {
	config, hostconfig := readPortsSample(t)
	// A created container that never started has no bound ports yet.
	stopped := strings.Replace(string(config), `"Ports":{`, `"Ports":{"1/tcp":null,`, 1)
	stopped = strings.Replace(stopped, `"8080/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}]`, `"8080/tcp":[]`, 1)
	stopped = strings.Replace(stopped, `"9090/tcp":[{"HostIp":"127.0.0.1","HostPort":"32768"}]`, `"9090/tcp":null`, 1)

	c, err := ParseConfig([]byte(stopped), hostconfig)
	if err != nil {
		t.Fatal(err)
	}
	want := []record.Port{
		{ContainerPort: 8080, Protocol: "tcp", HostIP: "0.0.0.0", HostPort: 8080},
		{ContainerPort: 9090, Protocol: "tcp", HostIP: "127.0.0.1", HostPort: 0},
	}
	if !reflect.DeepEqual(c.Ports, want) {
		t.Errorf("Ports = %+v, want %+v", c.Ports, want)
	}
}

func TestParseConfigDemoHasNoPorts(t *testing.T) {
	dir := "../../testdata/demo/docker/containers/3bd9d093368e3d0670f89c422f30ebc3f96bc629ce919c6b2b8a8f58eaf2125f"
	config, err := os.ReadFile(filepath.Join(dir, "config.v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	hostconfig, err := os.ReadFile(filepath.Join(dir, "hostconfig.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(config, hostconfig)
	if err != nil {
		t.Fatal(err)
	}
	if c.Ports != nil {
		t.Errorf("Ports = %+v, want nil", c.Ports)
	}
	if c.Mounts != nil {
		t.Errorf("Mounts = %+v, want nil", c.Mounts)
	}
}

func TestParseConfigPortErrors(t *testing.T) {
	config, hostconfig := readPortsSample(t)
	tests := []struct {
		name       string
		hostconfig string
		want       string
	}{
		{"bad protocol", `{"PortBindings":{"80/icmp":[{"HostIp":"","HostPort":"80"}]}}`, `PortBindings key "80/icmp"`},
		{"port zero", `{"PortBindings":{"0/tcp":[{"HostIp":"","HostPort":"80"}]}}`, `PortBindings key "0/tcp"`},
		{"bad host port", `{"PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"http"}]}}`, `HostPort "http"`},
		{"host port too large", `{"PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"70000"}]}}`, `HostPort "70000"`},
		{"bad range", `{"PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8000-x"}]}}`, `HostPort "8000-x"`},
	}
	// Empty NetworkSettings.Ports, so that PortBindings is read.
	noPorts := strings.Replace(string(config), `"Ports":{`, `"Unused":{`, 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(noPorts), []byte(tt.hostconfig))
			if err == nil {
				t.Fatalf("ParseConfig succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := ParseConfig(config, hostconfig); err != nil {
		t.Errorf("sample: %v", err)
	}
}

func TestParseHostPortRange(t *testing.T) {
	got, err := parseHostPort("8000-8010")
	if err != nil {
		t.Fatal(err)
	}
	if got != 0 {
		t.Errorf("parseHostPort(8000-8010) = %d, want 0", got)
	}
}

func FuzzParsePortsAndMounts(f *testing.F) {
	config, hostconfig := readPortsSample(f)
	f.Add(config, hostconfig)
	demo, _ := filepath.Glob("../../testdata/demo/docker/containers/*")
	for _, dir := range demo {
		c, err1 := os.ReadFile(filepath.Join(dir, "config.v2.json"))
		h, err2 := os.ReadFile(filepath.Join(dir, "hostconfig.json"))
		if err1 == nil && err2 == nil {
			f.Add(c, h)
		}
	}
	f.Fuzz(func(t *testing.T, config, hostconfig []byte) {
		c, err := ParseConfig(config, hostconfig)
		if err != nil {
			return
		}
		for _, p := range c.Ports {
			if p.ContainerPort < 1 || p.ContainerPort > 65535 || p.HostPort < 0 || p.HostPort > 65535 || p.HostIP == "" {
				t.Fatalf("invalid port %+v", p)
			}
		}
		for _, m := range c.Mounts {
			if m.Destination == "" {
				t.Fatalf("mount without destination: %+v", m)
			}
		}
	})
}
