// Package scan reads image vulnerability reports into record.Scan values.
package scan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/harrierhq/harrier/collectors/internal/emit"
	"github.com/harrierhq/harrier/internal/record"
)

type trivyReport struct {
	SchemaVersion *int   `json:"SchemaVersion"`
	CreatedAt     string `json:"CreatedAt"`
	ArtifactName  string `json:"ArtifactName"`
	ArtifactType  string `json:"ArtifactType"`
	Metadata      *struct {
		ImageID   string `json:"ImageID"`
		Reference string `json:"Reference"`
		OS        *struct {
			Family string `json:"Family"`
			Name   string `json:"Name"`
		} `json:"OS"`
	} `json:"Metadata"`
	Results *[]struct {
		Target          string `json:"Target"`
		Vulnerabilities []struct {
			VulnerabilityID  string `json:"VulnerabilityID"`
			PkgName          string `json:"PkgName"`
			InstalledVersion string `json:"InstalledVersion"`
			FixedVersion     string `json:"FixedVersion"`
			Severity         string `json:"Severity"`
			Title            string `json:"Title"`
		} `json:"Vulnerabilities"`
	} `json:"Results"`
}

// ParseTrivy parses a Trivy JSON report of schema version 2. The image id
// comes from Metadata.ImageID and the reference from Metadata.Reference or,
// without one, ArtifactName. A report of something other than an image,
// such as a lockfile, has an empty image id. The error names the field that
// makes b something other than a Trivy report.
func ParseTrivy(b []byte) (record.Scan, error) {
	var r trivyReport
	if err := json.Unmarshal(b, &r); err != nil {
		return record.Scan{}, fmt.Errorf("invalid Trivy report: %w", err)
	}
	if r.SchemaVersion == nil {
		return record.Scan{}, fmt.Errorf("invalid Trivy report: missing field SchemaVersion")
	}
	if *r.SchemaVersion != 2 {
		return record.Scan{}, fmt.Errorf("invalid Trivy report field SchemaVersion=%d: expected 2", *r.SchemaVersion)
	}
	if r.ArtifactName == "" {
		return record.Scan{}, fmt.Errorf("invalid Trivy report: missing field ArtifactName")
	}
	if r.Results == nil {
		return record.Scan{}, fmt.Errorf("invalid Trivy report: missing field Results")
	}

	s := record.Scan{Scanner: "trivy", ImageRef: r.ArtifactName, Vulnerabilities: []record.Vulnerability{}}
	if r.CreatedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, r.CreatedAt)
		if err != nil {
			return record.Scan{}, fmt.Errorf("invalid Trivy report field CreatedAt=%q: %w", r.CreatedAt, err)
		}
		s.ScannedNs = t.UnixNano()
	}
	if md := r.Metadata; md != nil {
		s.ImageID = md.ImageID
		if md.Reference != "" {
			s.ImageRef = md.Reference
		}
		if md.OS != nil {
			s.OSFamily, s.OSName = md.OS.Family, md.OS.Name
		}
	}

	for i, res := range *r.Results {
		for j, v := range res.Vulnerabilities {
			if v.VulnerabilityID == "" {
				return record.Scan{}, fmt.Errorf("invalid Trivy report: missing field Results[%d].Vulnerabilities[%d].VulnerabilityID", i, j)
			}
			s.Vulnerabilities = append(s.Vulnerabilities, record.Vulnerability{
				ID:               v.VulnerabilityID,
				Package:          v.PkgName,
				InstalledVersion: v.InstalledVersion,
				FixedVersion:     v.FixedVersion,
				Severity:         normalizeSeverity(v.Severity),
				Title:            v.Title,
			})
		}
	}
	return s, nil
}

func normalizeSeverity(s string) string {
	switch s = strings.ToUpper(s); s {
	case "CRITICAL", "HIGH", "MEDIUM", "LOW":
		return s
	}
	return "UNKNOWN"
}

// Report is one parsed report file.
type Report struct {
	Path    string
	ModTime time.Time
	Scan    record.Scan
}

// Record wraps the report in a record keyed by its image id, or by its
// reference for a report that has no image id.
func (r Report) Record() emit.Record {
	key := r.Scan.ImageID
	if key == "" {
		key = r.Scan.ImageRef
	}
	return emit.Record{
		Kind:    record.KindScan,
		Key:     key,
		ID:      record.NewID("trivy", r.Path, strconv.FormatInt(r.Scan.ScannedNs, 10)),
		Source:  "trivy:" + r.Path,
		Payload: r.Scan,
	}
}

// ReadDir parses every *.json file under dir, sorted by path. It returns
// the reports it could read and one error per file it could not. A missing
// dir holds no reports.
func ReadDir(dir string) ([]Report, []error, error) {
	var reports []Report
	var invalid []error
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".json") {
			return nil
		}
		rep, err := ReadFile(path)
		if err != nil {
			invalid = append(invalid, err)
			return nil
		}
		reports = append(reports, rep)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read scan dir %q: %w", dir, err)
	}
	sort.Slice(reports, func(i, j int) bool { return reports[i].Path < reports[j].Path })
	return reports, invalid, nil
}

// ReadFile parses the Trivy report at path.
func ReadFile(path string) (Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Report{}, fmt.Errorf("read scan report %q: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return Report{}, fmt.Errorf("stat scan report %q: %w", path, err)
	}
	s, err := ParseTrivy(b)
	if err != nil {
		return Report{}, fmt.Errorf("scan report %q: %w", path, err)
	}
	return Report{Path: path, ModTime: st.ModTime(), Scan: s}, nil
}
