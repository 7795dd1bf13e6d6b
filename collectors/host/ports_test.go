package host

import (
	"net"
	"os"
	"testing"
)

func TestParseProcNetSamples(t *testing.T) {
	b, err := os.ReadFile("testdata/proc-net-tcp")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseProcNet(b, "tcp")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d listeners, expected 1 (the TIME_WAIT socket is not listening): %+v", len(got), got)
	}
	want := Listener{Protocol: "tcp", Address: "0.0.0.0", Port: 2024, Inode: 1120}
	if got[0] != want {
		t.Errorf("listener = %+v, expected %+v", got[0], want)
	}

	b, err = os.ReadFile("testdata/proc-net-tcp6")
	if err != nil {
		t.Fatal(err)
	}
	got, err = ParseProcNet(b, "tcp6")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatal("no tcp6 listeners in the sample")
	}
	if got[0].Address != "127.0.0.1" {
		t.Errorf("IPv4-mapped address = %q, expected 127.0.0.1", got[0].Address)
	}
}

func TestParseProcNetUDPAndErrors(t *testing.T) {
	udp := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n" +
		"  1: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 4711 2 0000000000000000 0\n" +
		"  2: 0100007F:9C40 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 4712 2 0000000000000000 0\n"
	got, err := ParseProcNet([]byte(udp), "udp")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Address != "127.0.0.53" || got[0].Port != 53 || got[0].Inode != 4711 {
		t.Errorf("udp listeners = %+v, expected 127.0.0.53:53 inode 4711 only", got)
	}

	bad := "header\n  0: 0000000Z:0050 00000000:0000 0A 0 0 0 0 0 1 \n"
	if _, err := ParseProcNet([]byte(bad), "tcp"); err == nil {
		t.Error("invalid address accepted")
	}
	short := "header\n  0: 00000000:0050 00000000:0000 0A\n"
	if _, err := ParseProcNet([]byte(short), "tcp"); err == nil {
		t.Error("short line accepted")
	}
}

// TestListenersThisHost opens a TCP and a UDP socket on 127.0.0.1 and
// expects both among the listeners, owned by this process.
func TestListenersThisHost(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp on this host")
	}
	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()

	listeners, invalid := Listeners("/")
	if len(invalid) != 0 {
		t.Errorf("invalid /proc/net files: %v", invalid)
	}
	find := func(protocol string, port int) *Listener {
		for i := range listeners {
			if listeners[i].Protocol == protocol && listeners[i].Port == port {
				return &listeners[i]
			}
		}
		return nil
	}
	for _, c := range []struct {
		protocol string
		port     int
	}{
		{"tcp", tcp.Addr().(*net.TCPAddr).Port},
		{"udp", udp.LocalAddr().(*net.UDPAddr).Port},
	} {
		l := find(c.protocol, c.port)
		if l == nil {
			t.Errorf("%s port %d not among the listeners", c.protocol, c.port)
			continue
		}
		if l.Address != "127.0.0.1" {
			t.Errorf("%s port %d: address %q, expected 127.0.0.1", c.protocol, c.port, l.Address)
		}
		if l.PID != os.Getpid() {
			t.Errorf("%s port %d: pid %d, expected this process %d", c.protocol, c.port, l.PID, os.Getpid())
		}
		if l.Process == "" {
			t.Errorf("%s port %d: no process name", c.protocol, c.port)
		}
	}
}

func FuzzParseProcNet(f *testing.F) {
	for _, name := range []string{"testdata/proc-net-tcp", "testdata/proc-net-tcp6"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "tcp")
	}
	f.Add([]byte("h\n 1: 3500007F:0035 00000000:0000 07 0 0 0 0 0 4711 2\n"), "udp")
	f.Fuzz(func(t *testing.T, b []byte, protocol string) {
		listeners, _ := ParseProcNet(b, protocol)
		for _, l := range listeners {
			if l.Port < 0 || l.Port > 65535 {
				t.Fatalf("port %d out of range", l.Port)
			}
		}
	})
}
