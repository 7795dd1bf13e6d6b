package inspect

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/harrierhq/harrier/collectors/cgroup"
	"github.com/harrierhq/harrier/collectors/cri"
	"github.com/harrierhq/harrier/collectors/docker"
	"github.com/harrierhq/harrier/collectors/host"
	"github.com/harrierhq/harrier/collectors/internal/tail"
	"github.com/harrierhq/harrier/collectors/posture"
	"github.com/harrierhq/harrier/collectors/scan"
	"github.com/harrierhq/harrier/internal/record"
)

// dockerDecoder returns a decoder for a json-file log at path. The
// container id comes from the file name and the name from config.v2.json
// beside it, when that file can be read.
func dockerDecoder(path string) *docker.Decoder {
	name := filepath.Base(path)
	id := name[:max(0, strings.Index(name, "-json.log"))]
	target := docker.Target{ContainerID: id}
	dir := filepath.Dir(path)
	if config, err := os.ReadFile(filepath.Join(dir, "config.v2.json")); err == nil {
		hostconfig, _ := os.ReadFile(filepath.Join(dir, "hostconfig.json"))
		if info, err := docker.ParseConfig(config, hostconfig); err == nil {
			target = docker.Target{ContainerID: info.ContainerID, ContainerName: info.Name}
		}
	}
	return docker.NewDecoder(target)
}

// criTarget takes namespace, pod and container from a path laid out as
// pods/<namespace>_<pod>_<uid>/<container>/<n>.log. Another layout gives an
// empty target.
func criTarget(path string) cri.Target {
	containerDir := filepath.Dir(path)
	namespace, pod, _, err := cri.ParsePodDir(filepath.Base(filepath.Dir(containerDir)))
	if err != nil {
		return cri.Target{}
	}
	container := filepath.Base(containerDir)
	return cri.Target{ContainerID: cri.DerivedID(namespace, pod, container), ContainerName: container, Namespace: namespace, Pod: pod}
}

// logFile decodes every line of one log file. An invalid line is rejected
// with its offset; a message still pending at the end is printed as it is.
func (in *Inspector) logFile(path string, f Format, dec tail.Decoder) error {
	file, err := os.Open(path)
	if err != nil {
		return in.reject(path, f, err.Error())
	}
	defer file.Close()

	r := bufio.NewReaderSize(file, 64<<10)
	var offset int64
	var long []byte
	for {
		chunk, readErr := r.ReadSlice('\n')
		if errors.Is(readErr, bufio.ErrBufferFull) {
			if len(long) < tail.MaxLineBytes {
				long = append(long, chunk...)
			}
			offset += int64(len(chunk))
			continue
		}
		start := offset - int64(len(long))
		offset += int64(len(chunk))
		line := chunk
		if long != nil {
			line = append(long, chunk...)
			long = nil
		}
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			return in.reject(path, f, fmt.Sprintf("read at offset %d: %v", offset, readErr))
		}

		if len(line) > 0 {
			if err := in.decodeLine(path, f, dec, line, start, offset); err != nil {
				return err
			}
		}
		if readErr != nil {
			break
		}
	}

	for _, e := range dec.Flush() {
		if err := in.writeRecord(e.Record); err != nil {
			return err
		}
	}
	return nil
}

func (in *Inspector) decodeLine(path string, f Format, dec tail.Decoder, line []byte, start, end int64) error {
	source := path + ":" + strconv.FormatInt(start, 10)
	if len(line) > tail.MaxLineBytes {
		return in.reject(source, f, fmt.Sprintf("line longer than %d bytes", tail.MaxLineBytes))
	}
	line = bytes.TrimRight(line, "\r\n")
	entries, err := dec.Decode(path, line, start, end)
	if err != nil {
		return in.reject(source, f, err.Error())
	}
	for _, e := range entries {
		if err := in.writeRecord(e.Record); err != nil {
			return err
		}
	}
	return nil
}

// dockerDir reads a Docker container folder, or a root of them: each
// container's inventory row, then its rotated logs oldest first, then its
// current log.
func (in *Inspector) dockerDir(dir string) error {
	root, only := dir, ""
	if exists(filepath.Join(dir, "config.v2.json")) {
		root, only = filepath.Dir(dir), filepath.Clean(dir)
	}
	containers, invalid, err := docker.Discover(root, in.now())
	if err != nil {
		return in.reject(dir, FormatDocker, err.Error())
	}
	for _, e := range invalid {
		if only == "" || strings.Contains(e.Error(), only) {
			if err := in.reject(dir, FormatDocker, e.Error()); err != nil {
				return err
			}
		}
	}

	for _, c := range containers {
		if only != "" && filepath.Clean(c.Dir) != only {
			continue
		}
		// A container whose config could not be read was rejected above,
		// and its logs are still printed under the id from its folder name.
		if c.MetadataErr == nil {
			if err := in.writeRecord(c.Record()); err != nil {
				return err
			}
		}
		rotated := docker.RotatedPaths(c.LogPath)
		dec := docker.NewDecoder(docker.Target{ContainerID: c.Info.ContainerID, ContainerName: c.Info.Name})
		for i := len(rotated) - 1; i >= 0; i-- {
			if err := in.logFile(rotated[i], FormatDocker, dec); err != nil {
				return err
			}
		}
		if exists(c.LogPath) {
			if err := in.logFile(c.LogPath, FormatDocker, dec); err != nil {
				return err
			}
		}
	}
	return nil
}

// criRoot reads the pods/ folder under root: each container's inventory
// row and its log files.
func (in *Inspector) criRoot(root string) error {
	files, invalid, err := cri.Discover(root)
	if err != nil {
		return in.reject(root, FormatCRI, err.Error())
	}
	for _, e := range invalid {
		if err := in.reject(root, FormatCRI, e.Error()); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, f := range files {
		if !seen[f.Target.ContainerID] {
			seen[f.Target.ContainerID] = true
			if err := in.writeRecord(f.Record(in.now())); err != nil {
				return err
			}
		}
		rotated := cri.RotatedPaths(f.Path)
		dec := cri.NewDecoder(f.Target)
		for i := len(rotated) - 1; i >= 0; i-- {
			if err := in.logFile(rotated[i], FormatCRI, dec); err != nil {
				return err
			}
		}
		if err := in.logFile(f.Path, FormatCRI, dec); err != nil {
			return err
		}
	}
	return nil
}

// ImageRow is a row of the images table.
type ImageRow struct {
	ImageID         string `json:"image_id"`
	ImageRef        string `json:"image_ref"`
	OSFamily        string `json:"os_family"`
	OSName          string `json:"os_name"`
	Scanner         string `json:"scanner"`
	Vulnerabilities int    `json:"vulnerabilities"`
	ScannedNs       int64  `json:"scanned_ns"`
}

// VulnerabilityRow is a row of the vulnerabilities table, with the CVSS
// rating where the report has one.
type VulnerabilityRow struct {
	ImageID          string  `json:"image_id"`
	ImageRef         string  `json:"image_ref"`
	VulnID           string  `json:"vuln_id"`
	Package          string  `json:"package"`
	InstalledVersion string  `json:"installed_version"`
	FixedVersion     string  `json:"fixed_version"`
	Severity         string  `json:"severity"`
	Title            string  `json:"title"`
	Scanner          string  `json:"scanner"`
	ScannedNs        int64   `json:"scanned_ns"`
	CVSSVersion      string  `json:"cvss_version,omitempty"`
	CVSSVector       string  `json:"cvss_vector,omitempty"`
	CVSSScore        float64 `json:"cvss_score,omitempty"`
	CVSSSource       string  `json:"cvss_source,omitempty"`
}

// FindingRow is a row of the findings table, a secret or a
// misconfiguration of an image's scan report, with the Trivy fields the
// table does not store.
type FindingRow struct {
	ImageID    string `json:"image_id"`
	ImageRef   string `json:"image_ref"`
	Kind       string `json:"kind"`
	FindingID  string `json:"finding_id"`
	Severity   string `json:"severity"`
	Title      string `json:"title"`
	Target     string `json:"target"`
	Status     string `json:"status"`
	Location   string `json:"location"`
	Scanner    string `json:"scanner"`
	ScannedNs  int64  `json:"scanned_ns"`
	Category   string `json:"category,omitempty"`
	AVDID      string `json:"avd_id,omitempty"`
	Resolution string `json:"resolution,omitempty"`
}

func (in *Inspector) scanFile(path string, f scan.Format) error {
	rep, err := scan.ReadFile(path, f)
	if err != nil {
		return in.reject(path, Format(f), err.Error())
	}
	rec := rep.Record()
	s := rep.Scan
	img := ImageRow{ImageID: s.ImageID, ImageRef: s.ImageRef, OSFamily: s.OSFamily, OSName: s.OSName,
		Scanner: s.Scanner, Vulnerabilities: len(s.Vulnerabilities), ScannedNs: s.ScannedNs}
	if err := in.write(TableImages, rec.ID, rec.Source, img); err != nil {
		return err
	}
	for i, v := range s.Vulnerabilities {
		row := VulnerabilityRow{ImageID: s.ImageID, ImageRef: s.ImageRef, VulnID: v.ID, Package: v.Package,
			InstalledVersion: v.InstalledVersion, FixedVersion: v.FixedVersion, Severity: v.Severity,
			Title: v.Title, Scanner: s.Scanner, ScannedNs: s.ScannedNs}
		if i < len(rep.CVSS) {
			c := rep.CVSS[i]
			row.CVSSVersion, row.CVSSVector, row.CVSSScore, row.CVSSSource = c.Version, c.Vector, c.BaseScore, c.Source
		}
		if err := in.write(TableVulnerabilities, rec.ID, rec.Source, row); err != nil {
			return err
		}
	}
	for _, f := range s.Findings {
		row := FindingRow{ImageID: s.ImageID, ImageRef: s.ImageRef, Kind: f.Kind, FindingID: f.ID, Severity: f.Severity,
			Title: f.Title, Target: f.Target, Status: f.Status, Location: f.Location, Scanner: s.Scanner,
			ScannedNs: s.ScannedNs, Category: f.Category, AVDID: f.AVDID, Resolution: f.Resolution}
		if err := in.write(TableFindings, rec.ID, rec.Source, row); err != nil {
			return err
		}
	}
	return nil
}

func (in *Inspector) scanDir(dir string, f scan.Format) error {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return in.reject(path, Format(f), err.Error())
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".json") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, path := range files {
		if err := in.scanFile(path, f); err != nil {
			return err
		}
	}
	return nil
}

func (in *Inspector) cgroupTree(root string) error {
	s, err := cgroup.NewSampler(root, cgroup.Options{})
	if err != nil {
		return in.reject(root, FormatCgroup, err.Error())
	}
	metrics, stats, err := s.Sample(in.now())
	if err != nil {
		return in.reject(root, FormatCgroup, err.Error())
	}
	if stats.ParseErrors > 0 {
		reason := fmt.Sprintf("%d cgroup files not parsed, their fields are -1; first error: %v", stats.ParseErrors, stats.FirstError)
		if err := in.reject(root, FormatCgroup, reason); err != nil {
			return err
		}
	}
	hostID := record.NewID("inspect", root)
	for _, m := range metrics {
		if err := in.writeRecord(cgroup.Record(m, root, hostID)); err != nil {
			return err
		}
	}
	return nil
}

func (in *Inspector) hostRoot(root string) error {
	h, invalid := host.Collect(root, in.now())
	for _, e := range invalid {
		if err := in.reject(root, FormatHost, e.Error()); err != nil {
			return err
		}
	}
	return in.writeRecord(host.Record(h, root))
}

// postureRoot prints one posture_facts row per setting of the host at root
// and of its running Docker containers.
func (in *Inspector) postureRoot(root string) error {
	postures, invalid := posture.Collect(posture.Options{Root: root}, in.now())
	for _, e := range invalid {
		if err := in.reject(root, FormatPosture, e.Error()); err != nil {
			return err
		}
	}
	hostID := postures[0].EntityID
	for _, p := range postures {
		rec := posture.Record(p, hostID, root)
		for _, f := range p.Facts {
			row := struct {
				CollectedNs int64    `json:"collected_ns"`
				HostID      string   `json:"host_id"`
				EntityKind  string   `json:"entity_kind"`
				EntityID    string   `json:"entity_id"`
				EntityName  string   `json:"entity_name"`
				Fact        string   `json:"fact"`
				Values      []string `json:"fact_values"`
				Source      string   `json:"fact_source"`
			}{p.TimeNs, hostID, p.Entity, p.EntityID, p.EntityName, f.Key, f.Values, f.Source}
			if err := in.write(TablePostureFacts, rec.ID, rec.Source, row); err != nil {
				return err
			}
		}
	}
	return nil
}
