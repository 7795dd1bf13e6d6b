// Package demodata generates the demo bundle in testdata/demo: one hour of
// Docker and CRI container logs, a cgroup v2 snapshot per minute and two
// Trivy reports, with an SSH brute-force incident from minute 45 to minute
// 49. The log messages come from the loghub samples in testdata/samples,
// and the same seed always produces the same bytes.
package demodata

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Timeline of the bundle.
var (
	// Start is the time of the first minute.
	Start = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
)

const (
	// DefaultSeed is the seed of the committed bundle in testdata/demo.
	DefaultSeed = 1
	// Minutes is the length of the timeline. Cgroup snapshots are taken at
	// minutes 0 to Minutes, both included.
	Minutes = 60
	// IncidentFrom and IncidentTo are the first and last minute of the
	// incident, both included.
	IncidentFrom = 45
	IncidentTo   = 49
	// IncidentContainer is the container under attack.
	IncidentContainer = "sshd"
	// dockerChunkBytes is where the json-file driver splits a long line.
	dockerChunkBytes = 16 * 1024
)

// Generate writes the demo bundle for seed into dir, which must be empty
// or absent. The samples are read from testdata/samples of the repository
// that contains the working directory.
func Generate(dir string, seed int64) error {
	samplesDir, err := findSamples()
	if err != nil {
		return err
	}
	s, err := loadSamples(samplesDir)
	if err != nil {
		return err
	}

	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("demo output dir %q is not empty: remove it first", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create demo output dir %q: %w", dir, err)
	}

	g := &generator{
		dir:     dir,
		seed:    seed,
		rng:     rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
		samples: s,
	}
	return g.run(samplesDir)
}

// findSamples walks up from the working directory to the module root and
// returns its testdata/samples directory.
func findSamples() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find testdata/samples: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			samples := filepath.Join(dir, "testdata", "samples")
			if _, err := os.Stat(samples); err != nil {
				return "", fmt.Errorf("find testdata/samples under module root %q: %w", dir, err)
			}
			return samples, nil
		}
		if filepath.Dir(dir) == dir {
			return "", errors.New("find testdata/samples: no go.mod above the working directory")
		}
	}
}

// ContainerID returns the 64-hex id of the named demo container for seed.
func ContainerID(seed int64, name string) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("harrier-demo/%d/%s", seed, name)))
	return hex.EncodeToString(sum[:])
}

// PodUID returns the uid of the demo pod for seed, in the UUID layout.
func PodUID(seed int64) string {
	h := ContainerID(seed, "pod/ledger-5d8c7")
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

type generator struct {
	dir     string
	seed    int64
	rng     *rand.Rand
	samples samples
	// counts of log records per container name, for the manifest
	logRecords map[string]int
}

func (g *generator) run(samplesDir string) error {
	g.logRecords = map[string]int{}
	steps := []func() error{
		g.writeDocker,
		g.writeCRI,
		g.writeCgroups,
		func() error { return g.writeScans(samplesDir) },
		g.writeManifest,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// minuteTimes returns n sorted event times inside minute m.
func (g *generator) minuteTimes(m, n int) []time.Time {
	base := Start.Add(time.Duration(m) * time.Minute)
	times := make([]time.Time, n)
	for i := range times {
		times[i] = base.Add(time.Duration(g.rng.Int64N(int64(time.Minute))))
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	return times
}

func (g *generator) noise(spread float64) float64 {
	return 1 + spread*g.rng.NormFloat64()
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create dir of %q: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return nil
}

func isErrorMessage(msg string) bool {
	lower := strings.ToLower(msg)
	for _, w := range []string{"error", "fail", "fatal", "denied"} {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}
