package docker

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var fastLineSamples = []string{
	`{"log":"hello\n","stream":"stdout","time":"2019-04-01T17:58:33.598656444Z"}`,
	`{"log":"quote \" slash \\ \/ tab \t\r\n","stream":"stderr","time":"2019-04-01T17:58:33.598656444Z"}`,
	`{"log":"\\","stream":"stdout","time":"t"}`,
	`{"log":"unicode \u00e9 escape\n","stream":"stdout","time":"t"}`,
	`{"log":"raw é 日本\n","stream":"stdout","time":"t"}`,
	`{"log":"x","stream":"stdout","time":"t","attrs":{"a":"b"}}`,
	`{"stream":"stdout","log":"reordered\n","time":"t"}`,
	`{"log":"unterminated`,
}

func TestParseFieldsMatchesUnmarshal(t *testing.T) {
	lines := fastLineSamples
	samples, _ := filepath.Glob("testdata/*.log")
	for _, s := range samples {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(string(b), "\n")...)
	}
	fast := 0
	for _, line := range lines {
		if checkParseFields(t, []byte(line)) {
			fast++
		}
	}
	if fast == 0 {
		t.Fatal("no sample took the fast path")
	}
}

// checkParseFields reports whether parseFields accepted b, and fails the
// test when its result differs from encoding/json's.
func checkParseFields(t *testing.T, b []byte) bool {
	t.Helper()
	log, stream, ts, ok := parseFields(b)
	if !ok {
		return false
	}
	var raw jsonLine
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Errorf("parseFields accepted %q, which encoding/json rejects: %v", b, err)
		return true
	}
	if raw.Log == nil || *raw.Log != log || raw.Stream != stream || raw.Time == nil || *raw.Time != ts {
		t.Errorf("parseFields(%q) = %q, %q, %q; encoding/json gives %+v", b, log, stream, ts, raw)
	}
	return true
}

func FuzzParseFields(f *testing.F) {
	for _, s := range fastLineSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkParseFields(t, b)
	})
}
