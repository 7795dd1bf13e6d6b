package scan

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/harrierhq/harrier/internal/record"
)

// anchoreScore is a cvss_v2 or cvss_v3 object of Anchore Engine, which uses
// -1.0 for a score it does not know.
type anchoreScore struct {
	BaseScore *float64 `json:"base_score"`
}

type anchoreRating struct {
	ID     string        `json:"id"`
	CVSSv2 *anchoreScore `json:"cvss_v2"`
	CVSSv3 *anchoreScore `json:"cvss_v3"`
}

type anchoreReport struct {
	ImageDigest     *string `json:"imageDigest"`
	Vulnerabilities *[]struct {
		Vuln           string          `json:"vuln"`
		Package        string          `json:"package"`
		PackageName    string          `json:"package_name"`
		PackageVersion string          `json:"package_version"`
		Severity       string          `json:"severity"`
		Fix            string          `json:"fix"`
		NVDData        []anchoreRating `json:"nvd_data"`
		VendorData     []anchoreRating `json:"vendor_data"`
	} `json:"vulnerabilities"`
}

// ParseAnchore parses Anchore Engine's vulnerability listing: the body of
// its API's GET /images/{digest}/vuln/{type}, which `anchore-cli --json
// image vuln IMAGE all` prints unchanged. The image id and reference are
// imageDigest, the manifest digest, because the listing names no tag and
// no config digest. A fix of "None" means no fix is published. Engines
// before 0.4 write only "package" ("name-version"), from which the name
// is taken by removing the version. The CVSS rating is the NVD v3 base
// score, else the v2 one, else the vendor one. Anchore sends no vector.
func ParseAnchore(b []byte) (Result, error) {
	var r anchoreReport
	if err := json.Unmarshal(b, &r); err != nil {
		return Result{}, fmt.Errorf("invalid Anchore report: %w", err)
	}
	if r.ImageDigest == nil || *r.ImageDigest == "" {
		return Result{}, fmt.Errorf("invalid Anchore report: missing field imageDigest")
	}
	if r.Vulnerabilities == nil {
		return Result{}, fmt.Errorf("invalid Anchore report: missing field vulnerabilities")
	}

	// NOTE: imageDigest is the manifest digest; containers carry the image
	// config digest, so an Anchore scan joins them only where both are the same.
	res := Result{Scan: record.Scan{Scanner: string(FormatAnchore), ImageID: *r.ImageDigest, ImageRef: *r.ImageDigest, Vulnerabilities: []record.Vulnerability{}}}
	for i, v := range *r.Vulnerabilities {
		if v.Vuln == "" {
			return Result{}, fmt.Errorf("invalid Anchore report: missing field vulnerabilities[%d].vuln", i)
		}
		name := v.PackageName
		if name == "" {
			name = strings.TrimSuffix(v.Package, "-"+v.PackageVersion)
		}
		if name == "" {
			return Result{}, fmt.Errorf("invalid Anchore report: missing field vulnerabilities[%d].package_name", i)
		}
		fix := v.Fix
		if strings.EqualFold(fix, "None") {
			fix = ""
		}
		rating := anchoreBest(v.NVDData, "nvd")
		if rating.BaseScore == 0 {
			rating = anchoreBest(v.VendorData, "vendor")
		}
		res.add(record.Vulnerability{
			ID:               v.Vuln,
			Package:          name,
			InstalledVersion: v.PackageVersion,
			FixedVersion:     fix,
			Severity:         normalizeSeverity(v.Severity),
		}, rating)
	}
	return res, nil
}

func anchoreBest(ratings []anchoreRating, source string) CVSS {
	var v3, v2 CVSS
	for _, r := range ratings {
		if r.CVSSv3 != nil && r.CVSSv3.BaseScore != nil && *r.CVSSv3.BaseScore > v3.BaseScore {
			v3 = CVSS{Version: "3", BaseScore: *r.CVSSv3.BaseScore, Source: source}
		}
		if r.CVSSv2 != nil && r.CVSSv2.BaseScore != nil && *r.CVSSv2.BaseScore > v2.BaseScore {
			v2 = CVSS{Version: "2.0", BaseScore: *r.CVSSv2.BaseScore, Source: source}
		}
	}
	if v3.BaseScore > 0 {
		return v3
	}
	return v2
}
