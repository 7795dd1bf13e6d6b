package scan

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/harrierhq/harrier/internal/record"
)

type clairPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

type clairDistribution struct {
	DID        string `json:"did"`
	Name       string `json:"name"`
	VersionID  string `json:"version_id"`
	Version    string `json:"version"`
	PrettyName string `json:"pretty_name"`
}

type clairVulnerability struct {
	Name               string `json:"name"`
	Description        string `json:"description"`
	Severity           string `json:"severity"`
	NormalizedSeverity string `json:"normalized_severity"`
	FixedInVersion     string `json:"fixed_in_version"`
}

type clairReport struct {
	ManifestHash           *string                       `json:"manifest_hash"`
	Packages               map[string]clairPackage       `json:"packages"`
	Distributions          map[string]clairDistribution  `json:"distributions"`
	Vulnerabilities        map[string]clairVulnerability `json:"vulnerabilities"`
	PackageVulnerabilities map[string][]string           `json:"package_vulnerabilities"`
	Enrichments            map[string][]json.RawMessage  `json:"enrichments"`
}

// clairCVSS is one entry of Clair's CVSS enrichment, which copies the NVD
// feed's cvssV3 object.
type clairCVSS struct {
	Version      string  `json:"version"`
	VectorString string  `json:"vectorString"`
	BaseScore    float64 `json:"baseScore"`
}

// ParseClair parses a Clair v4 vulnerability report (GET
// /matcher/api/v1/vulnerability_report/{digest}): one finding per pair of
// package and vulnerability in package_vulnerabilities, ordered by package
// id and then vulnerability id. The image id is manifest_hash, which is the
// manifest digest, not the image config digest. Severity is
// normalized_severity, else the vendor severity. The CVSS rating comes
// from the clair.cvss enrichment when the report has one.
func ParseClair(b []byte) (Result, error) {
	var r clairReport
	if err := json.Unmarshal(b, &r); err != nil {
		return Result{}, fmt.Errorf("invalid Clair report: %w", err)
	}
	if r.ManifestHash == nil || *r.ManifestHash == "" {
		return Result{}, fmt.Errorf("invalid Clair report: missing field manifest_hash")
	}
	if r.PackageVulnerabilities == nil {
		return Result{}, fmt.Errorf("invalid Clair report: missing field package_vulnerabilities")
	}
	if len(r.PackageVulnerabilities) > 0 && (r.Packages == nil || r.Vulnerabilities == nil) {
		return Result{}, fmt.Errorf("invalid Clair report: package_vulnerabilities is not empty but field packages or vulnerabilities is missing")
	}

	// NOTE: manifest_hash is the manifest digest; containers carry the image
	// config digest, so a Clair scan joins them only where both are the same.
	res := Result{Scan: record.Scan{Scanner: string(FormatClair), ImageID: *r.ManifestHash, ImageRef: *r.ManifestHash, Vulnerabilities: []record.Vulnerability{}}}
	if d, ok := onlyDistribution(r.Distributions); ok {
		res.Scan.OSFamily, res.Scan.OSName = d.DID, d.VersionID
		if res.Scan.OSName == "" {
			res.Scan.OSName = d.Version
		}
	}
	ratings := clairRatings(r.Enrichments)

	for _, pkgID := range sortedIDs(r.PackageVulnerabilities) {
		pkg, ok := r.Packages[pkgID]
		if !ok {
			return Result{}, fmt.Errorf("invalid Clair report field package_vulnerabilities[%q]: package %q is not in packages", pkgID, pkgID)
		}
		vulnIDs := append([]string(nil), r.PackageVulnerabilities[pkgID]...)
		sortIDs(vulnIDs)
		for _, vulnID := range vulnIDs {
			v, ok := r.Vulnerabilities[vulnID]
			if !ok {
				return Result{}, fmt.Errorf("invalid Clair report field package_vulnerabilities[%q]: vulnerability %q is not in vulnerabilities", pkgID, vulnID)
			}
			if v.Name == "" {
				return Result{}, fmt.Errorf("invalid Clair report: missing field vulnerabilities[%q].name", vulnID)
			}
			severity := v.NormalizedSeverity
			if severity == "" {
				severity = v.Severity
			}
			res.add(record.Vulnerability{
				ID:               v.Name,
				Package:          pkg.Name,
				InstalledVersion: pkg.Version,
				FixedVersion:     v.FixedInVersion,
				Severity:         normalizeSeverity(severity),
				Title:            shortTitle(v.Description),
			}, ratings[vulnID])
		}
	}
	return res, nil
}

func onlyDistribution(m map[string]clairDistribution) (clairDistribution, bool) {
	if len(m) != 1 {
		return clairDistribution{}, false
	}
	for _, d := range m {
		return d, true
	}
	return clairDistribution{}, false
}

// clairRatings reads the clair.cvss enrichment: a list holding one map from
// vulnerability id to CVSS entries. Enrichments of other kinds, and CVSS
// entries of a shape this parser does not know, are skipped because
// enrichments are optional.
func clairRatings(enrichments map[string][]json.RawMessage) map[string]CVSS {
	ratings := map[string]CVSS{}
	for kind, items := range enrichments {
		if !strings.Contains(kind, "clair.cvss") {
			continue
		}
		for _, item := range items {
			var byVuln map[string][]clairCVSS
			if json.Unmarshal(item, &byVuln) != nil {
				continue
			}
			for id, entries := range byVuln {
				for _, e := range entries {
					if e.BaseScore > ratings[id].BaseScore {
						ratings[id] = CVSS{Version: cvssVersion(e.VectorString, e.Version), Vector: e.VectorString, BaseScore: e.BaseScore, Source: "nvd"}
					}
				}
			}
		}
	}
	return ratings
}

func sortedIDs[V any](m map[string]V) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sortIDs(ids)
	return ids
}

// sortIDs orders Clair's document-local ids numerically when they are
// numbers, which they are in Clair's own reports, and as strings otherwise.
func sortIDs(ids []string) {
	sort.Slice(ids, func(i, j int) bool {
		a, errA := strconv.ParseUint(ids[i], 10, 64)
		b, errB := strconv.ParseUint(ids[j], 10, 64)
		switch {
		case errA == nil && errB == nil && a != b:
			return a < b
		case errA == nil && errB == nil:
			return ids[i] < ids[j]
		case errA == nil:
			return true
		case errB == nil:
			return false
		}
		return ids[i] < ids[j]
	})
}
