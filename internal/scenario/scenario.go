// Package scenario generates a labelled fleet: container telemetry in the
// formats the collectors read, with daily seasonality and noise, and
// injected security incidents whose kind, container and time span go to a
// labels file. The same seed always produces the same bytes.
//
// A generated folder holds:
//
//	docker/containers/<id>/   json-file log with every line of the timeline,
//	                          and config.v2.json and hostconfig.json as they
//	                          are at the end of the timeline
//	states/<unix s>/docker/containers/<id>/
//	                          config.v2.json and hostconfig.json as they
//	                          became at that time: a container's first
//	                          version is its creation, later ones are stops,
//	                          restarts and redeploys
//	cgroup/<unix s>/          one cgroup v2 tree per minute, the layout of
//	                          collect's cgroup replay
//	scans/trivy/*.json        a Trivy report per image
//	labels.csv                the incidents (see Label)
//	manifest.json             the parameters and the containers (see Manifest)
//
// A reader that takes the folder as it is sees the final state at once.
// Stager replays it in event time instead: at each step it exposes the log
// lines, metadata versions and cgroup snapshots up to that time.
package scenario

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// Start is the first instant of every generated timeline, a Monday at
// midnight UTC, so that the daily cycle starts at its trough.
var Start = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// Defaults and limits of Config.
const (
	DefaultContainers = 16
	DefaultHours      = 24
	// MinContainers is the smallest fleet that has a distinct victim for
	// every incident.
	MinContainers = 8
	// MinHours leaves one hour of normal traffic before the first incident
	// and room for the longest one.
	MinHours = 3
	// MaxContainers and MaxHours bound the output, which takes about
	// 0.5 MB of logs and 40 small cgroup files per container and hour.
	MaxContainers = 500
	MaxHours      = 24 * 14
)

// Config sets what Generate writes.
type Config struct {
	// Seed selects the traffic, the victims and the incident times.
	Seed int64
	// Containers is the size of the fleet before redeploys, at least
	// MinContainers. Zero means DefaultContainers.
	Containers int
	// Hours is the length of the timeline, at least MinHours. Zero means
	// DefaultHours.
	Hours int
}

func (c *Config) fill() error {
	if c.Containers == 0 {
		c.Containers = DefaultContainers
	}
	if c.Hours == 0 {
		c.Hours = DefaultHours
	}
	if c.Containers < MinContainers || c.Containers > MaxContainers {
		return fmt.Errorf("invalid containers %d: must be between %d and %d", c.Containers, MinContainers, MaxContainers)
	}
	if c.Hours < MinHours || c.Hours > MaxHours {
		return fmt.Errorf("invalid hours %d: must be between %d and %d", c.Hours, MinHours, MaxHours)
	}
	return nil
}

// Manifest describes a generated folder. It is written to manifest.json.
type Manifest struct {
	Seed       int64     `json:"seed"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Containers int       `json:"containers"`
	Hours      int       `json:"hours"`
	// Fleet lists every container of the timeline, redeployed ones
	// included.
	Fleet []ManifestContainer `json:"fleet"`
	// Incidents is the number of labels.
	Incidents int `json:"incidents"`
}

// ManifestContainer is one container of the timeline.
type ManifestContainer struct {
	Name    string    `json:"name"`
	ID      string    `json:"id"`
	Image   string    `json:"image"`
	Service string    `json:"service"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
}

// ContainerDays returns the running time of the fleet in days.
func (m Manifest) ContainerDays() float64 {
	var d time.Duration
	for _, c := range m.Fleet {
		d += c.To.Sub(c.From)
	}
	return d.Hours() / 24
}

// ReadManifest reads manifest.json of the folder dir.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	path := filepath.Join(dir, "manifest.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return m, fmt.Errorf("read scenario manifest: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("invalid scenario manifest %s: %w", path, err)
	}
	return m, nil
}

// Generate writes the fleet of cfg into dir, which must be empty or absent,
// and returns its manifest.
func Generate(dir string, cfg Config) (Manifest, error) {
	if err := cfg.fill(); err != nil {
		return Manifest{}, err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return Manifest{}, fmt.Errorf("scenario output folder %s is not empty: remove it or pick another", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Manifest{}, fmt.Errorf("create scenario output folder: %w", err)
	}

	g := &generator{
		dir: dir,
		cfg: cfg,
		rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5ce7a710)),
		end: Start.Add(time.Duration(cfg.Hours) * time.Hour),
	}
	g.plan()
	steps := []func() error{g.writeContainers, g.writeCgroups, g.writeScans, g.writeLabels}
	for _, step := range steps {
		if err := step(); err != nil {
			return Manifest{}, err
		}
	}
	return g.writeManifest()
}

type generator struct {
	dir string
	cfg Config
	rng *rand.Rand
	end time.Time

	containers []*container
	labels     []Label
}

// containerID returns a 64-hex container id derived from the seed and a
// unique name of the container instance.
func containerID(seed int64, instance string) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "harrier-scenario/%d/%s", seed, instance))
	return hex.EncodeToString(sum[:])
}

// seasonal returns the daily load factor at t: 0.5 at 02:00 UTC and 1.5 at
// 14:00 UTC.
func seasonal(t time.Time) float64 {
	hours := float64(t.Sub(Start)) / float64(time.Hour)
	return 1 + 0.5*math.Sin(2*math.Pi*(hours-8)/24)
}

// noise returns a factor around 1 with the given relative spread, never
// below 0.05.
func (g *generator) noise(spread float64) float64 {
	return math.Max(0.05, 1+spread*g.rng.NormFloat64())
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create folder of %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func (g *generator) writeManifest() (Manifest, error) {
	m := Manifest{
		Seed:       g.cfg.Seed,
		Start:      Start,
		End:        g.end,
		Containers: g.cfg.Containers,
		Hours:      g.cfg.Hours,
		Incidents:  len(g.labels),
	}
	for _, c := range g.containers {
		m.Fleet = append(m.Fleet, ManifestContainer{Name: c.name, ID: c.id, Image: c.image.ref, Service: c.service.name, From: c.from, To: c.to})
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, fmt.Errorf("encode scenario manifest: %w", err)
	}
	return m, writeFile(filepath.Join(g.dir, "manifest.json"), append(b, '\n'))
}
