package demodata

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Manifest describes a generated bundle: what it contains and how many
// records a collector reads from it. It is written to manifest.json.
type Manifest struct {
	Seed    int64     `json:"seed"`
	Start   time.Time `json:"start"`
	Minutes int       `json:"minutes"`
	// Containers maps each container name to its id and log record count
	// (partial lines joined).
	Containers map[string]ManifestContainer `json:"containers"`
	// LogRecords, MetricRecords, ContainerRecords and ScanRecords are the
	// records a collector sends for the bundle. The host record is not
	// counted because it comes from the collecting host.
	LogRecords       int `json:"log_records"`
	MetricRecords    int `json:"metric_records"`
	ContainerRecords int `json:"container_records"`
	ScanRecords      int `json:"scan_records"`
	// Snapshots is the number of cgroup snapshots.
	Snapshots int `json:"cgroup_snapshots"`
	// Incident names the attacked container and the incident's first and
	// last minute.
	Incident ManifestIncident `json:"incident"`
}

// ManifestContainer is one container of the bundle.
type ManifestContainer struct {
	ID         string `json:"id"`
	Runtime    string `json:"runtime"`
	LogRecords int    `json:"log_records"`
}

// ManifestIncident is the injected incident.
type ManifestIncident struct {
	Container string    `json:"container"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
}

// ReadManifest reads manifest.json of the bundle in dir.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return m, fmt.Errorf("read demo manifest: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("invalid demo manifest %q: %w", filepath.Join(dir, "manifest.json"), err)
	}
	return m, nil
}

func (g *generator) writeManifest() error {
	m := Manifest{
		Seed:       g.seed,
		Start:      Start,
		Minutes:    Minutes,
		Containers: map[string]ManifestContainer{},
		Snapshots:  Minutes + 1,
		Incident: ManifestIncident{
			Container: IncidentContainer,
			From:      Start.Add(IncidentFrom * time.Minute),
			To:        Start.Add((IncidentTo+1)*time.Minute - time.Nanosecond),
		},
	}
	for _, name := range DockerContainers {
		m.Containers[name] = ManifestContainer{ID: ContainerID(g.seed, name), Runtime: "docker", LogRecords: g.logRecords[name]}
	}
	m.Containers[PodContainer] = ManifestContainer{ID: ContainerID(g.seed, "cri/"+PodContainer), Runtime: "cri", LogRecords: g.logRecords[PodContainer]}
	for _, c := range m.Containers {
		m.LogRecords += c.LogRecords
	}
	m.ContainerRecords = len(m.Containers)
	m.MetricRecords = m.Snapshots * len(m.Containers)
	m.ScanRecords = len(scanReports)

	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode demo manifest: %w", err)
	}
	return writeFile(filepath.Join(g.dir, "manifest.json"), append(b, '\n'))
}

var scanReports = []string{"alpine-310.json", "debian-buster.json"}

func (g *generator) writeScans(samplesDir string) error {
	for _, name := range scanReports {
		b, err := os.ReadFile(filepath.Join(samplesDir, "trivy", name))
		if err != nil {
			return fmt.Errorf("read sample report: %w", err)
		}
		if err := writeFile(filepath.Join(g.dir, "scans", "trivy", name), b); err != nil {
			return err
		}
	}
	return nil
}
