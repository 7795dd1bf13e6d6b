package scenario

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// shared is a small fleet of seed 7 that tests only read.
var shared struct {
	once sync.Once
	dir  string
	m    Manifest
	err  error
}

func sharedFleet(t *testing.T) (string, Manifest) {
	t.Helper()
	shared.once.Do(func() {
		tmp, err := os.MkdirTemp("", "scenario-test-")
		if err != nil {
			shared.err = err
			return
		}
		shared.dir = filepath.Join(tmp, "fleet")
		shared.m, shared.err = Generate(shared.dir, Config{Seed: 7, Containers: MinContainers, Hours: MinHours})
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.dir, shared.m
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(filepath.Dir(shared.dir))
	}
	os.Exit(code)
}

func generateSmall(t *testing.T, seed int64) (string, Manifest) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fleet")
	m, err := Generate(dir, Config{Seed: seed, Containers: MinContainers, Hours: MinHours})
	if err != nil {
		t.Fatal(err)
	}
	return dir, m
}

func TestGenerateLabelsEveryKind(t *testing.T) {
	dir, m := sharedFleet(t)
	labels, err := LoadLabels(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(labels) != m.Incidents {
		t.Errorf("labels.csv has %d rows, manifest says %d incidents", len(labels), m.Incidents)
	}
	for _, kind := range Kinds {
		if !slices.ContainsFunc(labels, func(l Label) bool { return l.Kind == kind }) {
			t.Errorf("no incident of kind %s in %v", kind, labels)
		}
	}
	ids := map[string]bool{}
	for _, c := range m.Fleet {
		if ids[c.ID] {
			t.Errorf("container id %s used twice", c.ID)
		}
		ids[c.ID] = true
	}
	for _, l := range labels {
		if !ids[l.ContainerID] {
			t.Errorf("label %s names container %s, which is not in the fleet", l.Kind, l.ContainerID)
		}
		if l.Start.Before(m.Start.Add(time.Hour)) || l.End.After(m.End) {
			t.Errorf("label %s spans %s to %s, outside the incident period", l.Kind, l.Start, l.End)
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	a, _ := generateSmall(t, 3)
	b, _ := generateSmall(t, 3)
	c, _ := sharedFleet(t)
	read := func(dir string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, "labels.csv"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(read(a), read(b)) {
		t.Error("same seed wrote different labels")
	}
	if bytes.Equal(read(a), read(c)) {
		t.Error("seeds 3 and 7 wrote the same labels")
	}
	logs, err := filepath.Glob(filepath.Join(a, "docker", "containers", "*", "*-json.log"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no logs written: %v", err)
	}
	for _, path := range logs {
		rel, _ := filepath.Rel(a, path)
		x, _ := os.ReadFile(path)
		y, _ := os.ReadFile(filepath.Join(b, rel))
		if !bytes.Equal(x, y) {
			t.Errorf("same seed wrote different %s", rel)
		}
	}
}

func TestGenerateRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{Containers: MinContainers - 1}, {Hours: MinHours - 1}, {Containers: MaxContainers + 1}} {
		_, err := Generate(t.TempDir(), cfg)
		if err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Errorf("Generate(%+v) error = %v, want an invalid-value error", cfg, err)
		}
	}
}

func TestStagerAdvance(t *testing.T) {
	dir, m := sharedFleet(t)
	s, err := NewStager(dir, filepath.Join(t.TempDir(), "replay"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	at := m.Start.Add(90 * time.Minute)
	if err := s.Advance(at); err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(s.Docker(), "*", "*-json.log"))
	if len(logs) == 0 {
		t.Fatal("no log staged")
	}
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			lt, err := lineTime(line)
			if err != nil {
				t.Fatal(err)
			}
			if lt.After(at) {
				t.Fatalf("%s has a line at %s, after the replay time %s", path, lt, at)
			}
		}
	}
	snaps, err := listTimedDirs(s.Cgroup())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(snaps), 91; got != want {
		t.Errorf("staged %d cgroup snapshots up to minute 90, want %d", got, want)
	}
	// Containers created later, such as the privileged shell, must not be
	// visible yet unless they started before the replay time.
	for _, c := range m.Fleet {
		_, err := os.Stat(filepath.Join(s.Docker(), c.ID, "config.v2.json"))
		if c.From.After(at) && err == nil {
			t.Errorf("container %s created at %s is visible at %s", c.Name, c.From, at)
		}
		if !c.From.After(at) && err != nil {
			t.Errorf("container %s created at %s is missing at %s: %v", c.Name, c.From, at, err)
		}
	}
}

func FuzzLineTime(f *testing.F) {
	f.Add([]byte(`{"log":"GET / HTTP/1.1\n","stream":"stdout","time":"2026-11-30T01:02:03.123456789Z"}`))
	f.Add([]byte(`{"log":"x","time":"2026-11-30T01:02:03Z"`))
	f.Add([]byte(`{"time":"not a time"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		at, err := lineTime(line)
		if err == nil && at.IsZero() && !strings.Contains(string(line), "0001-01-01") {
			t.Errorf("lineTime(%q) = zero time without an error", line)
		}
	})
}
