package scan

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/harrierhq/harrier/internal/record"
)

type grypeCVSS struct {
	Source  string `json:"source"`
	Version string `json:"version"`
	Vector  string `json:"vector"`
	Metrics struct {
		BaseScore float64 `json:"baseScore"`
	} `json:"metrics"`
}

type grypeVulnerability struct {
	ID          string      `json:"id"`
	Severity    string      `json:"severity"`
	Description string      `json:"description"`
	CVSS        []grypeCVSS `json:"cvss"`
	Fix         struct {
		Versions []string `json:"versions"`
		State    string   `json:"state"`
	} `json:"fix"`
}

type grypeReport struct {
	Matches *[]struct {
		Vulnerability          grypeVulnerability   `json:"vulnerability"`
		RelatedVulnerabilities []grypeVulnerability `json:"relatedVulnerabilities"`
		Artifact               struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"artifact"`
	} `json:"matches"`
	Source *struct {
		Type   string          `json:"type"`
		Target json.RawMessage `json:"target"`
	} `json:"source"`
	Distro *struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"distro"`
	Descriptor *struct {
		Timestamp string `json:"timestamp"`
	} `json:"descriptor"`
}

// grypeImage is source.target of an image scan; for a directory or file
// scan the target is a plain string.
type grypeImage struct {
	UserInput      string   `json:"userInput"`
	ImageID        string   `json:"imageID"`
	ManifestDigest string   `json:"manifestDigest"`
	Tags           []string `json:"tags"`
}

// ParseGrype parses a Grype JSON report (`grype -o json`): one finding per
// entry of matches. The image id is source.target.imageID, or the manifest
// digest when that is missing. The reference is the first tag, or the
// image as the user named it. Fixed versions are joined with ", " as Trivy
// writes them. The CVSS rating is the finding's own, or that of a related
// vulnerability (Grype puts the NVD rating of a GHSA finding there).
func ParseGrype(b []byte) (Result, error) {
	var r grypeReport
	if err := json.Unmarshal(b, &r); err != nil {
		return Result{}, fmt.Errorf("invalid Grype report: %w", err)
	}
	if r.Matches == nil {
		return Result{}, fmt.Errorf("invalid Grype report: missing field matches")
	}
	if r.Source == nil {
		return Result{}, fmt.Errorf("invalid Grype report: missing field source")
	}

	res := Result{Scan: record.Scan{Scanner: string(FormatGrype), Vulnerabilities: []record.Vulnerability{}}}
	if err := grypeSource(&res.Scan, r.Source.Type, r.Source.Target); err != nil {
		return Result{}, err
	}
	if r.Distro != nil {
		res.Scan.OSFamily, res.Scan.OSName = r.Distro.Name, r.Distro.Version
	}
	if r.Descriptor != nil {
		ns, err := parseTime("Grype", "descriptor.timestamp", r.Descriptor.Timestamp)
		if err != nil {
			return Result{}, err
		}
		res.Scan.ScannedNs = ns
	}

	for i, m := range *r.Matches {
		v := m.Vulnerability
		if v.ID == "" {
			return Result{}, fmt.Errorf("invalid Grype report: missing field matches[%d].vulnerability.id", i)
		}
		if m.Artifact.Name == "" {
			return Result{}, fmt.Errorf("invalid Grype report: missing field matches[%d].artifact.name", i)
		}
		rating := grypeRating(v.CVSS)
		description := v.Description
		for _, related := range m.RelatedVulnerabilities {
			if rating.BaseScore == 0 {
				rating = grypeRating(related.CVSS)
			}
			if description == "" {
				description = related.Description
			}
		}
		res.add(record.Vulnerability{
			ID:               v.ID,
			Package:          m.Artifact.Name,
			InstalledVersion: m.Artifact.Version,
			FixedVersion:     strings.Join(v.Fix.Versions, ", "),
			Severity:         normalizeSeverity(v.Severity),
			Title:            shortTitle(description),
		}, rating)
	}
	return res, nil
}

func grypeSource(s *record.Scan, kind string, target json.RawMessage) error {
	if len(target) == 0 || string(target) == "null" {
		return fmt.Errorf("invalid Grype report: missing field source.target")
	}
	if target[0] == '"' {
		// A directory or file scan names its path.
		var path string
		if err := json.Unmarshal(target, &path); err != nil {
			return fmt.Errorf("invalid Grype report field source.target: %w", err)
		}
		s.ImageRef = path
		return nil
	}

	var img grypeImage
	if err := json.Unmarshal(target, &img); err != nil {
		return fmt.Errorf("invalid Grype report field source.target (source.type=%q): %w", kind, err)
	}
	s.ImageID = img.ImageID
	if s.ImageID == "" {
		s.ImageID = img.ManifestDigest
	}
	s.ImageRef = img.UserInput
	if len(img.Tags) > 0 {
		s.ImageRef = img.Tags[0]
	}
	if s.ImageRef == "" {
		s.ImageRef = s.ImageID
	}
	return nil
}

// grypeRating picks the rating with the newest CVSS version, preferring NVD
// among ratings of the same version.
func grypeRating(ratings []grypeCVSS) CVSS {
	var best CVSS
	bestVersion := -1.0
	for _, c := range ratings {
		if c.Metrics.BaseScore <= 0 {
			continue
		}
		version, err := strconv.ParseFloat(c.Version, 64)
		if err != nil {
			version = 0
		}
		if version > bestVersion || (version == bestVersion && c.Source == "nvd") {
			best = CVSS{Version: c.Version, Vector: c.Vector, BaseScore: c.Metrics.BaseScore, Source: c.Source}
			bestVersion = version
		}
	}
	return best
}
