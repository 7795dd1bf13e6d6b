// Package scan reads image vulnerability reports into record.Scan values.
package scan

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

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
			// CVSS maps a source such as "nvd" to its rating.
			CVSS map[string]trivyCVSS `json:"CVSS"`
		} `json:"Vulnerabilities"`
		Secrets           []trivySecret           `json:"Secrets"`
		Misconfigurations []trivyMisconfiguration `json:"Misconfigurations"`
	} `json:"Results"`
}

// trivySecret is one entry of a result's Secrets list. The report's Match
// and Code fields quote the secret (Trivy masks it with asterisks, but a
// custom rule may leave part of it), so they are not decoded at all.
type trivySecret struct {
	RuleID    string `json:"RuleID"`
	Category  string `json:"Category"`
	Severity  string `json:"Severity"`
	Title     string `json:"Title"`
	StartLine int    `json:"StartLine"`
	EndLine   int    `json:"EndLine"`
}

// trivyMisconfiguration is one entry of a result's Misconfigurations list.
type trivyMisconfiguration struct {
	ID            string `json:"ID"`
	AVDID         string `json:"AVDID"`
	Title         string `json:"Title"`
	Severity      string `json:"Severity"`
	Status        string `json:"Status"`
	Resolution    string `json:"Resolution"`
	CauseMetadata struct {
		StartLine int `json:"StartLine"`
		EndLine   int `json:"EndLine"`
	} `json:"CauseMetadata"`
}

// trivyCVSS is one source's entry of a Trivy finding's CVSS map.
type trivyCVSS struct {
	V2Vector  string  `json:"V2Vector"`
	V3Vector  string  `json:"V3Vector"`
	V2Score   float64 `json:"V2Score"`
	V3Score   float64 `json:"V3Score"`
	V40Vector string  `json:"V40Vector"`
	V40Score  float64 `json:"V40Score"`
}

// ParseTrivy parses a Trivy JSON report of schema version 2. The image id
// comes from Metadata.ImageID and the reference from Metadata.Reference or,
// without one, ArtifactName. A report of something other than an image,
// such as a lockfile, has an empty image id. The error names the field that
// makes b something other than a Trivy report.
func ParseTrivy(b []byte) (record.Scan, error) {
	res, err := parseTrivy(b)
	return res.Scan, err
}

func parseTrivy(b []byte) (Result, error) {
	var r trivyReport
	if err := json.Unmarshal(b, &r); err != nil {
		return Result{}, fmt.Errorf("invalid Trivy report: %w", err)
	}
	if r.SchemaVersion == nil {
		return Result{}, fmt.Errorf("invalid Trivy report: missing field SchemaVersion")
	}
	if *r.SchemaVersion != 2 {
		return Result{}, fmt.Errorf("invalid Trivy report field SchemaVersion=%d: expected 2", *r.SchemaVersion)
	}
	if r.ArtifactName == "" {
		return Result{}, fmt.Errorf("invalid Trivy report: missing field ArtifactName")
	}
	if r.Results == nil {
		return Result{}, fmt.Errorf("invalid Trivy report: missing field Results")
	}

	res := Result{Scan: record.Scan{Scanner: string(FormatTrivy), ImageRef: r.ArtifactName, Vulnerabilities: []record.Vulnerability{}}}
	created, err := parseTime("Trivy", "CreatedAt", r.CreatedAt)
	if err != nil {
		return Result{}, err
	}
	res.Scan.ScannedNs = created
	if md := r.Metadata; md != nil {
		res.Scan.ImageID = md.ImageID
		if md.Reference != "" {
			res.Scan.ImageRef = md.Reference
		}
		if md.OS != nil {
			res.Scan.OSFamily, res.Scan.OSName = md.OS.Family, md.OS.Name
		}
	}

	for i, result := range *r.Results {
		for j, v := range result.Vulnerabilities {
			if v.VulnerabilityID == "" {
				return Result{}, fmt.Errorf("invalid Trivy report: missing field Results[%d].Vulnerabilities[%d].VulnerabilityID", i, j)
			}
			res.add(record.Vulnerability{
				ID:               v.VulnerabilityID,
				Package:          v.PkgName,
				InstalledVersion: v.InstalledVersion,
				FixedVersion:     v.FixedVersion,
				Severity:         normalizeSeverity(v.Severity),
				Title:            v.Title,
			}, trivyRating(v.CVSS))
		}
		findings, err := trivyFindings(i, result.Target, result.Secrets, result.Misconfigurations)
		if err != nil {
			return Result{}, err
		}
		res.Scan.Findings = append(res.Scan.Findings, findings...)
	}
	return res, nil
}

// trivyFindings converts the secrets and misconfigurations of Results[i].
// A misconfiguration without an ID takes its AVDID.
func trivyFindings(i int, target string, secrets []trivySecret, misconfigurations []trivyMisconfiguration) ([]record.Finding, error) {
	var findings []record.Finding
	for j, sec := range secrets {
		if sec.RuleID == "" {
			return nil, fmt.Errorf("invalid Trivy report: missing field Results[%d].Secrets[%d].RuleID", i, j)
		}
		findings = append(findings, record.Finding{
			Kind:     record.FindingSecret,
			ID:       sec.RuleID,
			Severity: normalizeSeverity(sec.Severity),
			Title:    sec.Title,
			Target:   target,
			Location: lineRange(sec.StartLine, sec.EndLine),
			Category: sec.Category,
		})
	}
	for j, m := range misconfigurations {
		id := m.ID
		if id == "" {
			id = m.AVDID
		}
		if id == "" {
			return nil, fmt.Errorf("invalid Trivy report: missing field Results[%d].Misconfigurations[%d].ID (and AVDID)", i, j)
		}
		findings = append(findings, record.Finding{
			Kind:       record.FindingMisconfiguration,
			ID:         id,
			Severity:   normalizeSeverity(m.Severity),
			Title:      m.Title,
			Target:     target,
			Status:     strings.ToUpper(m.Status),
			Location:   lineRange(m.CauseMetadata.StartLine, m.CauseMetadata.EndLine),
			AVDID:      m.AVDID,
			Resolution: m.Resolution,
		})
	}
	return findings, nil
}

// lineRange formats 1-based start and end lines as "line 3" or
// "lines 3-5". It returns "" when the report gives no start line.
func lineRange(start, end int) string {
	switch {
	case start <= 0:
		return ""
	case end <= start:
		return fmt.Sprintf("line %d", start)
	}
	return fmt.Sprintf("lines %d-%d", start, end)
}

// trivyRating picks the NVD rating when present, else the first source in
// name order, and within it the newest CVSS version that has a score.
func trivyRating(m map[string]trivyCVSS) CVSS {
	sources := make([]string, 0, len(m))
	for name := range m {
		sources = append(sources, name)
	}
	sort.Strings(sources)
	for i, name := range sources {
		if name == "nvd" {
			sources[0], sources[i] = sources[i], sources[0]
		}
	}
	for _, name := range sources {
		c := m[name]
		switch {
		case c.V40Score > 0:
			return CVSS{Version: "4.0", Vector: c.V40Vector, BaseScore: c.V40Score, Source: name}
		case c.V3Score > 0:
			return CVSS{Version: cvssVersion(c.V3Vector, "3"), Vector: c.V3Vector, BaseScore: c.V3Score, Source: name}
		case c.V2Score > 0:
			return CVSS{Version: "2.0", Vector: c.V2Vector, BaseScore: c.V2Score, Source: name}
		}
	}
	return CVSS{}
}

// cvssVersion reads the version from a "CVSS:3.1/..." vector prefix.
func cvssVersion(vector, fallback string) string {
	rest, ok := strings.CutPrefix(vector, "CVSS:")
	if !ok {
		return fallback
	}
	version, _, _ := strings.Cut(rest, "/")
	return version
}
