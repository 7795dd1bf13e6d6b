package cri_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/collectors/cri"
	"github.com/harrierhq/harrier/collectors/internal/tail"
	"github.com/harrierhq/harrier/internal/record"
)

func readAll(t *testing.T, path string, target cri.Target) ([]record.Log, int64) {
	t.Helper()
	store, err := tail.NewStore("")
	if err != nil {
		t.Fatal(err)
	}
	f := tail.NewFollower(path, store, cri.NewDecoder(target), cri.RotatedPaths)
	defer f.Close()
	entries, _, err := f.Read(1000)
	if err != nil {
		t.Fatal(err)
	}
	logs := make([]record.Log, len(entries))
	for i, e := range entries {
		logs[i] = e.Record.Payload.(record.Log)
	}
	bad, _ := f.TakeBadLines()
	return logs, bad
}

func TestDecoderJoinsPartialLines(t *testing.T) {
	target := cri.Target{ContainerID: "c1", ContainerName: "sshd", Namespace: "ns", Pod: "p"}
	logs, bad := readAll(t, "testdata/0.log", target)
	if bad != 0 {
		t.Fatalf("%d bad lines", bad)
	}
	want := []struct{ stream, msg string }{
		{"stdout", "sshd[24200]: reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!"},
		{"stderr", "sshd[24200]: input_userauth_request: invalid user webmaster [preauth]"},
		{"stdout", "sshd[24200]: Invalid user webmaster from 173.234.31.186"},
		{"stdout", ""},
		{"stdout", "sshd[24200]: Connection closed by 173.234.31.186 [preauth]"},
	}
	if len(logs) != len(want) {
		t.Fatalf("got %d records, want %d: %+v", len(logs), len(want), logs)
	}
	for i, w := range want {
		if logs[i].Stream != w.stream || logs[i].Message != w.msg {
			t.Errorf("record %d = %s %q, want %s %q", i, logs[i].Stream, logs[i].Message, w.stream, w.msg)
		}
		if logs[i].Runtime != "cri" || logs[i].Namespace != "ns" || logs[i].Pod != "p" || logs[i].ContainerID != "c1" {
			t.Errorf("record %d = %+v, want the target's ids", i, logs[i])
		}
	}
	// A joined record carries the time of its first line.
	if got, want := logs[2].TimeNs, time.Date(2016, 10, 6, 0, 17, 9, 669794203, time.UTC).UnixNano(); got != want {
		t.Errorf("joined record time = %d, want %d", got, want)
	}
}

func TestParseLineErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{"2016-10-06T00:17:09Z stdout", "expected time"},
		{"yesterday stdout F x", `invalid CRI log field time="yesterday": expected RFC 3339`},
		{" stdout F x", "missing CRI log field time"},
		{"2016-10-06T00:17:09Z stdin F x", "stream"},
		{"2016-10-06T00:17:09Z stdout X x", "tags"},
		{"2016-13-06T00:17:09Z stdout F x", `time="2016-13-06T00:17:09Z": expected RFC 3339, such as 2019-04-01T17:58:33.598656444Z: month out of range`},
		{"2999-01-01T00:00:00Z stdout F x", `invalid CRI log field time="2999-01-01T00:00:00Z": must not be after 2262-04-11T23:47:16.854775807Z`},
		{"1970-01-01T00:00:00Z stdout F x", `invalid CRI log field time="1970-01-01T00:00:00Z": must be after 1970-01-01T00:00:00Z`},
		{"1969-12-31T23:59:59Z stdout F x", `time="1969-12-31T23:59:59Z": must be after`},
		{"1970-01-01T01:00:00+02:00 stdout F x", `time="1970-01-01T01:00:00+02:00": must be after`},
	}
	for _, tt := range tests {
		_, err := cri.ParseLine([]byte(tt.line))
		if err == nil {
			t.Errorf("ParseLine(%q) returned no error", tt.line)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseLine(%q) error %q does not contain %q", tt.line, err, tt.want)
		}
		if strings.Contains(err.Error(), "2006-01-02") {
			t.Errorf("ParseLine(%q) error %q quotes Go's layout", tt.line, err)
		}
	}
}

func TestParseLineTimeBounds(t *testing.T) {
	tests := []struct {
		raw  string
		want int64
	}{
		{"1970-01-01T00:00:00.000000001Z", 1},
		{"2262-04-11T23:47:16.854775807Z", math.MaxInt64},
		{"2262-04-12T01:47:16.854775807+02:00", math.MaxInt64},
	}
	for _, tt := range tests {
		l, err := cri.ParseLine([]byte(tt.raw + " stdout F x"))
		if err != nil {
			t.Errorf("ParseLine at %s: %v", tt.raw, err)
			continue
		}
		if got := l.Time.UnixNano(); got != tt.want {
			t.Errorf("ParseLine at %s: time_ns = %d, want %d", tt.raw, got, tt.want)
		}
	}
}

// makeTree builds <root>/pods and <root>/containers the way kubelet does.
func makeTree(t *testing.T, withLink bool) (root, logPath, id string) {
	t.Helper()
	root = t.TempDir()
	id = strings.Repeat("9f", 32)
	podDir := "payments_ledger-5d8c7_0b1c2d3e-aaaa-bbbb-cccc-000000000001"
	logPath = filepath.Join(root, "pods", podDir, "ledger", "0.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath, []byte("2016-10-06T00:17:09Z stdout F hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A rotated file and a compressed one are not separate logs.
	for _, name := range []string{"0.log.20161006-001710", "0.log.20161006-001700.gz"} {
		if err := os.WriteFile(filepath.Join(filepath.Dir(logPath), name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if withLink {
		links := filepath.Join(root, "containers")
		if err := os.MkdirAll(links, 0o755); err != nil {
			t.Fatal(err)
		}
		// kubelet writes absolute targets under /var/log/pods.
		target := "/var/log/pods/" + podDir + "/ledger/0.log"
		if err := os.Symlink(target, filepath.Join(links, "ledger-5d8c7_payments_ledger-"+id+".log")); err != nil {
			t.Fatal(err)
		}
	}
	return root, logPath, id
}

func TestDiscoverWithLink(t *testing.T) {
	root, logPath, id := makeTree(t, true)
	files, invalid, err := cri.Discover(root)
	if err != nil || len(invalid) != 0 {
		t.Fatalf("Discover: %v, %v", err, invalid)
	}
	if len(files) != 1 {
		t.Fatalf("got %d files, want 1: %+v", len(files), files)
	}
	f := files[0]
	if f.Path != logPath {
		t.Errorf("path = %q, want %q", f.Path, logPath)
	}
	want := cri.Target{ContainerID: id, ContainerName: "ledger", Namespace: "payments", Pod: "ledger-5d8c7"}
	if f.Target != want {
		t.Errorf("target = %+v, want %+v", f.Target, want)
	}
	if f.PodUID != "0b1c2d3e-aaaa-bbbb-cccc-000000000001" {
		t.Errorf("pod uid = %q", f.PodUID)
	}
	rec := f.Record(time.Unix(0, 0))
	if rec.Kind != record.KindContainer || rec.Key != id {
		t.Errorf("record kind %s key %s, want container keyed by %s", rec.Kind, rec.Key, id)
	}
}

func TestDiscoverWithoutLink(t *testing.T) {
	root, _, _ := makeTree(t, false)
	files, _, err := cri.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("got %d files, want 1", len(files))
	}
	if want := cri.DerivedID("payments", "ledger-5d8c7", "ledger"); files[0].Target.ContainerID != want {
		t.Errorf("id = %q, want derived %q", files[0].Target.ContainerID, want)
	}
}

func TestDiscoverDemoBundle(t *testing.T) {
	files, invalid, err := cri.Discover("../../testdata/demo/cri")
	if err != nil || len(invalid) != 0 {
		t.Fatalf("Discover: %v, %v", err, invalid)
	}
	if len(files) != 1 {
		t.Fatalf("got %d files, want 1", len(files))
	}
	if id := files[0].Target.ContainerID; len(id) != 64 || id == cri.DerivedID("payments", "ledger-5d8c7", "ledger") {
		t.Errorf("id = %q, want the 64-hex id of the symlink", id)
	}
}

func TestParseNames(t *testing.T) {
	pod, ns, c, id, err := cri.ParseLinkName("web-0_default_nginx-" + strings.Repeat("a", 64) + ".log")
	if err != nil || pod != "web-0" || ns != "default" || c != "nginx" || id != strings.Repeat("a", 64) {
		t.Errorf("ParseLinkName = %q %q %q %q %v", pod, ns, c, id, err)
	}
	if _, _, _, _, err := cri.ParseLinkName("web-0_default_nginx.log"); err == nil {
		t.Error("ParseLinkName without an id returned no error")
	}
	if _, _, _, err := cri.ParsePodDir("default_web"); err == nil {
		t.Error("ParsePodDir without a uid returned no error")
	}
}

func FuzzParseLine(f *testing.F) {
	b, err := os.ReadFile("testdata/0.log")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f.Add([]byte(line))
	}
	f.Add([]byte("2999-01-01T00:00:00Z stdout F x"))
	f.Add([]byte("1970-01-01T00:00:00Z stdout F x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := cri.ParseLine(b)
		if err != nil {
			return
		}
		if l.Stream != "stdout" && l.Stream != "stderr" {
			t.Errorf("stream %q accepted", l.Stream)
		}
		if ns := l.Time.UnixNano(); ns <= 0 || !l.Time.Equal(time.Unix(0, ns)) {
			t.Errorf("time %s accepted, which time_ns %d does not hold", l.RawTime, ns)
		}
		if len(l.Message) > len(b) {
			t.Errorf("message longer than the line")
		}
	})
}
