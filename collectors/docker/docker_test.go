package docker_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/collectors/docker"
	"github.com/harrierhq/harrier/collectors/internal/tail"
	"github.com/harrierhq/harrier/internal/record"
)

var fixedNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// readAll reads every log record of the json-file log at path.
func readAll(t *testing.T, path string) ([]record.Log, *tail.Follower) {
	t.Helper()
	store, err := tail.NewStore("")
	if err != nil {
		t.Fatal(err)
	}
	dec := docker.NewDecoder(docker.Target{ContainerID: "c1", ContainerName: "app"})
	f := tail.NewFollower(path, store, dec, docker.RotatedPaths)
	defer f.Close()

	var logs []record.Log
	for {
		entries, commit, err := f.Read(100)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			logs = append(logs, e.Record.Payload.(record.Log))
		}
		if err := commit(); err != nil {
			t.Fatal(err)
		}
		if len(entries) < 100 {
			return logs, f
		}
	}
}

func messages(logs []record.Log) []string {
	out := make([]string, len(logs))
	for i, l := range logs {
		out[i] = l.Message
	}
	return out
}

// withTimes copies the json-file sample at path, which has no time fields,
// into a temporary file whose line i carries the time 2020-03-24T10:00:0i.
func withTimes(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		fmt.Fprintf(&out, "%s,\"time\":\"2020-03-24T10:00:%02dZ\"}\n", strings.TrimSuffix(line, "}"), i)
	}
	timed := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(timed, []byte(out.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return timed
}

func TestDecoderJoinsSplitLines(t *testing.T) {
	logs, _ := readAll(t, withTimes(t, "testdata/dockermode_splitted_line.log"))
	got := strings.Join(messages(logs), "|")
	if want := "2020-03-24 Single line|2020-03-24 Another single line"; got != want {
		t.Fatalf("messages = %q, want %q", got, want)
	}
	// A joined message has the time of its first line.
	if want := time.Date(2020, 3, 24, 10, 0, 3, 0, time.UTC).UnixNano(); logs[1].TimeNs != want {
		t.Errorf("time = %d, want %d", logs[1].TimeNs, want)
	}
	if logs[0].Stream != "stdout" {
		t.Errorf("stream = %q, want stdout", logs[0].Stream)
	}
}

func TestDecoderRejectsLinesWithoutTime(t *testing.T) {
	tests := []struct {
		file  string
		lines int64
	}{
		{"dockermode.log", 3},
		{"dockermode_multiple_lines.log", 6},
		{"dockermode_splitted_line.log", 6},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			logs, f := readAll(t, filepath.Join("testdata", tt.file))
			n, err := f.TakeBadLines()
			if n != tt.lines {
				t.Errorf("%d bad lines, want %d", n, tt.lines)
			}
			if err == nil || !strings.Contains(err.Error(), "missing json-file field time") {
				t.Errorf("error = %v, want one naming the missing field time", err)
			}
			if len(logs) != 0 {
				t.Errorf("got %d records from lines without a time, want none", len(logs))
			}
		})
	}
}

func TestDecoderSampleFiles(t *testing.T) {
	tests := []struct {
		file   string
		count  int
		first  string
		stream string
	}{
		{"annotations-parser_multiple-1_container-1.log", 2, "[2019-04-05T14:54:23.584269761] Container 1 is logging on stdout", "stdout"},
		{"annotations-parser_stderr_text.log", 2, "[2019-04-05T14:54:23.584269761] Simple text", "stderr"},
		{"core_base_fluent-bit.log", 1, "Fluent Bit is logging", "stdout"},
		{"options_merge-log-enabled_json.log", 1, `{"text":"Simple text"}`, "stdout"},
		{"options_merge-log-trim-enabled_json.log", 1, "{\"text\":\"Simple text\n\"}", "stdout"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			logs, f := readAll(t, filepath.Join("testdata", tt.file))
			if n, err := f.TakeBadLines(); n != 0 {
				t.Fatalf("%d bad lines: %v", n, err)
			}
			if len(logs) != tt.count {
				t.Fatalf("got %d records, want %d", len(logs), tt.count)
			}
			if logs[0].Message != tt.first {
				t.Errorf("first message = %q, want %q", logs[0].Message, tt.first)
			}
			if logs[0].Stream != tt.stream {
				t.Errorf("stream = %q, want %q", logs[0].Stream, tt.stream)
			}
			if logs[0].ContainerID != "c1" || logs[0].Runtime != "docker" {
				t.Errorf("record = %+v, want container c1 and runtime docker", logs[0])
			}
		})
	}
}

func TestDecoderTimeFromLine(t *testing.T) {
	logs, _ := readAll(t, "testdata/core_base_fluent-bit.log")
	want := time.Date(2019, 4, 1, 17, 58, 33, 598656444, time.UTC).UnixNano()
	if logs[0].TimeNs != want {
		t.Errorf("time = %d, want %d", logs[0].TimeNs, want)
	}
}

func TestDecoderPartialPerStream(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x-json.log")
	content := `{"log":"out-","stream":"stdout","time":"2026-11-30T10:00:00Z"}
{"log":"err line\n","stream":"stderr","time":"2026-11-30T10:00:01Z"}
{"log":"joined\n","stream":"stdout","time":"2026-11-30T10:00:02Z"}
`
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	logs, _ := readAll(t, path)
	got := strings.Join(messages(logs), "|")
	if got != "err line|out-joined" {
		t.Fatalf("messages = %q, want %q", got, "err line|out-joined")
	}
}

func TestParseLineErrors(t *testing.T) {
	tests := []struct {
		line, want string
	}{
		{`not json`, "invalid json-file line"},
		{`{"stream":"stdout","time":"2019-04-01T17:58:33Z"}`, "missing json-file field log"},
		{`{"log":"x\n","stream":"stdin","time":"2019-04-01T17:58:33Z"}`, "stream"},
		{`{"log":"x\n","stream":"stdout"}`, "missing json-file field time"},
		{`{"log":"x\n","stream":"stdout","time":null}`, "missing json-file field time"},
		{`{"log":"x\n","stream":"stdout","time":""}`, `invalid json-file field time="": expected RFC 3339`},
		{`{"log":"x\n","time":"yesterday"}`, `invalid json-file field time="yesterday": expected RFC 3339, such as 2019-04-01T17:58:33.598656444Z`},
		{`{"log":"x\n","time":"2019-04-31T17:58:33Z"}`, `time="2019-04-31T17:58:33Z": expected RFC 3339, such as 2019-04-01T17:58:33.598656444Z: day out of range`},
		{`{"log":"x\n","stream":"stdout","time":"2999-01-01T00:00:00Z"}`, `invalid json-file field time="2999-01-01T00:00:00Z": must not be after 2262-04-11T23:47:16.854775807Z`},
		{`{"log":"x\n","stream":"stdout","time":"2262-04-11T23:47:16.854775808Z"}`, `time="2262-04-11T23:47:16.854775808Z": must not be after`},
		{`{"log":"x\n","stream":"stdout","time":"1970-01-01T00:00:00Z"}`, `invalid json-file field time="1970-01-01T00:00:00Z": must be after 1970-01-01T00:00:00Z`},
		{`{"log":"x\n","stream":"stdout","time":"0001-01-01T00:00:00Z"}`, `time="0001-01-01T00:00:00Z": must be after`},
	}
	for _, tt := range tests {
		_, err := docker.ParseLine([]byte(tt.line))
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
	}
	for _, tt := range tests {
		l, err := docker.ParseLine([]byte(`{"log":"x\n","stream":"stdout","time":"` + tt.raw + `"}`))
		if err != nil {
			t.Errorf("ParseLine at %s: %v", tt.raw, err)
			continue
		}
		if got := l.Time.UnixNano(); got != tt.want {
			t.Errorf("ParseLine at %s: time_ns = %d, want %d", tt.raw, got, tt.want)
		}
	}
}

func writeContainer(t *testing.T, root, id, config, hostconfig string) {
	t.Helper()
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.v2.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if hostconfig != "" {
		if err := os.WriteFile(filepath.Join(dir, "hostconfig.json"), []byte(hostconfig), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDiscover(t *testing.T) {
	root := t.TempDir()
	id := strings.Repeat("a1", 32)
	writeContainer(t, root, id,
		`{"ID":"`+id+`","Name":"/web","Image":"sha256:c2c0","Config":{"Image":"nginx:1","Labels":{"app":"web"},"User":"www"},"State":{"Running":true,"StartedAt":"2026-11-30T09:13:00.5Z"}}`,
		`{"Privileged":true}`)
	writeContainer(t, root, "broken", `{"ID":"broken"}`, "")
	if err := os.MkdirAll(filepath.Join(root, "no-config"), 0o755); err != nil {
		t.Fatal(err)
	}

	containers, invalid, err := docker.Discover(root, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(invalid) != 1 || !strings.Contains(invalid[0].Error(), "missing field Config") {
		t.Errorf("invalid = %v, want one error naming Config", invalid)
	}
	if len(containers) != 1 {
		t.Fatalf("got %d containers, want 1", len(containers))
	}
	c := containers[0].Info
	want := record.Container{
		TimeNs: fixedNow.UnixNano(), ContainerID: id, Name: "web", Runtime: "docker",
		ImageRef: "nginx:1", ImageID: "sha256:c2c0", Labels: map[string]string{"app": "web"},
		Privileged: true, User: "www", Running: true,
		StartedNs: time.Date(2026, 11, 30, 9, 13, 0, 5e8, time.UTC).UnixNano(),
	}
	if c.Name != want.Name || c.ImageRef != want.ImageRef || c.ImageID != want.ImageID || c.User != want.User ||
		c.Privileged != want.Privileged || c.Running != want.Running || c.StartedNs != want.StartedNs ||
		c.TimeNs != want.TimeNs || c.Labels["app"] != "web" || c.Runtime != "docker" {
		t.Errorf("container = %+v, want %+v", c, want)
	}
	if containers[0].LogPath != filepath.Join(root, id, id+"-json.log") {
		t.Errorf("log path = %q", containers[0].LogPath)
	}
	if rec := containers[0].Record(); rec.Kind != record.KindContainer || rec.Key != id {
		t.Errorf("record kind %s key %s, want container keyed by id", rec.Kind, rec.Key)
	}
}

func TestDiscoverMissingRoot(t *testing.T) {
	containers, invalid, err := docker.Discover(filepath.Join(t.TempDir(), "absent"), fixedNow)
	if err != nil || len(invalid) != 0 || len(containers) != 0 {
		t.Fatalf("Discover(missing) = %v, %v, %v; want nothing", containers, invalid, err)
	}
}

func TestRotatedPaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x-json.log")
	for _, name := range []string{"x-json.log.2", "x-json.log.1", "x-json.log.1.gz", "x-json.log.10"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := docker.RotatedPaths(path)
	want := []string{path + ".1", path + ".2", path + ".10"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("RotatedPaths = %v, want %v", got, want)
	}
}

func FuzzParseLine(f *testing.F) {
	samples, _ := filepath.Glob("testdata/*.log")
	for _, s := range samples {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			f.Add([]byte(line))
		}
	}
	f.Add([]byte(`{"log":"x","stream":"stderr","time":"2026-11-30T10:00:00.000000001Z"}`))
	f.Add([]byte(`{"log":"x\n","stream":"stdout","time":"2999-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"log":"x\n","stream":"stdout","time":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := docker.ParseLine(b)
		if err != nil {
			return
		}
		if l.Stream != "stdout" && l.Stream != "stderr" {
			t.Errorf("stream %q accepted", l.Stream)
		}
		if ns := l.Time.UnixNano(); ns <= 0 || !l.Time.Equal(time.Unix(0, ns)) {
			t.Errorf("time %q accepted, which time_ns %d does not hold", l.RawTime, ns)
		}
	})
}

func FuzzDecoder(f *testing.F) {
	f.Add([]byte(`{"log":"a"}`), []byte(`{"log":"b\n"}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		dec := docker.NewDecoder(docker.Target{ContainerID: "c"})
		dec.Decode("p", a, 0, int64(len(a))+1)
		dec.Decode("p", b, int64(len(a))+1, int64(len(a)+len(b))+2)
		if p := dec.PendingStart(); p > int64(len(a))+1 {
			t.Errorf("pending start %d beyond the last line", p)
		}
		dec.Flush()
		if dec.PendingStart() != -1 {
			t.Error("pending entry after Flush")
		}
	})
}
