package scan_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/collectors/scan"
	"github.com/harrierhq/harrier/internal/record"
)

var samples = map[string]scan.Format{
	"alpine-310.json":                scan.FormatTrivy,
	"debian-buster.json":             scan.FormatTrivy,
	"npm.json":                       scan.FormatTrivy,
	"trivy-secrets-misconfig.json":   scan.FormatTrivy,
	"grype-image.json":               scan.FormatGrype,
	"clair-debian-buster.json":       scan.FormatClair,
	"clair-alpine-310.json":          scan.FormatClair,
	"anchore-api-debian-buster.json": scan.FormatAnchore,
	"anchore-cli-alpine-310.json":    scan.FormatAnchore,
}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// countBySeverity walks the report as plain JSON, without the parsers, and
// counts its findings per severity as each format defines them.
func countBySeverity(t *testing.T, f scan.Format, b []byte) map[string]int {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	norm := func(s string) string {
		s = strings.ToUpper(s)
		switch s {
		case "NEGLIGIBLE":
			return "LOW"
		case "CRITICAL", "HIGH", "MEDIUM", "LOW":
			return s
		}
		return "UNKNOWN"
	}
	counts := map[string]int{}
	switch f {
	case scan.FormatTrivy:
		for _, r := range doc["Results"].([]any) {
			vulns, _ := r.(map[string]any)["Vulnerabilities"].([]any)
			for _, v := range vulns {
				counts[norm(v.(map[string]any)["Severity"].(string))]++
			}
		}
	case scan.FormatGrype:
		for _, m := range doc["matches"].([]any) {
			counts[norm(m.(map[string]any)["vulnerability"].(map[string]any)["severity"].(string))]++
		}
	case scan.FormatClair:
		vulns := doc["vulnerabilities"].(map[string]any)
		for _, ids := range doc["package_vulnerabilities"].(map[string]any) {
			for _, id := range ids.([]any) {
				counts[norm(vulns[id.(string)].(map[string]any)["normalized_severity"].(string))]++
			}
		}
	case scan.FormatAnchore:
		for _, v := range doc["vulnerabilities"].([]any) {
			counts[norm(v.(map[string]any)["severity"].(string))]++
		}
	}
	return counts
}

func TestParseSamplesMatchIndependentCounts(t *testing.T) {
	for name, format := range samples {
		t.Run(name, func(t *testing.T) {
			b := readSample(t, name)
			detected, err := scan.Detect(b)
			if err != nil {
				t.Fatal(err)
			}
			if detected != format {
				t.Errorf("Detect = %q, want %q", detected, format)
			}
			res, err := scan.Parse(b, "")
			if err != nil {
				t.Fatal(err)
			}
			if res.Scan.Scanner != string(format) {
				t.Errorf("scanner = %q, want %q", res.Scan.Scanner, format)
			}
			if len(res.CVSS) != len(res.Scan.Vulnerabilities) {
				t.Errorf("%d CVSS ratings for %d findings", len(res.CVSS), len(res.Scan.Vulnerabilities))
			}
			got := map[string]int{}
			for _, v := range res.Scan.Vulnerabilities {
				got[v.Severity]++
				if v.ID == "" || v.Package == "" {
					t.Errorf("incomplete finding %+v", v)
				}
			}
			want := countBySeverity(t, format, b)
			for sev, n := range want {
				if got[sev] != n {
					t.Errorf("severity %s: parsed %d findings, the file has %d", sev, got[sev], n)
				}
			}
			for sev, n := range got {
				if want[sev] == 0 {
					t.Errorf("severity %s: parsed %d findings, the file has none", sev, n)
				}
			}
		})
	}
}

func TestParseCopiesCVSSIntoFindings(t *testing.T) {
	for name := range samples {
		t.Run(name, func(t *testing.T) {
			res, err := scan.Parse(readSample(t, name), "")
			if err != nil {
				t.Fatal(err)
			}
			if len(res.CVSS) != len(res.Scan.Vulnerabilities) {
				t.Fatalf("%d CVSS ratings for %d findings", len(res.CVSS), len(res.Scan.Vulnerabilities))
			}
			for i, v := range res.Scan.Vulnerabilities {
				c := res.CVSS[i]
				if v.CVSSVersion != c.Version {
					t.Errorf("finding %d %s: cvss_version = %q, want %q", i, v.ID, v.CVSSVersion, c.Version)
				}
				if v.CVSSVector != c.Vector {
					t.Errorf("finding %d %s: cvss_vector = %q, want %q", i, v.ID, v.CVSSVector, c.Vector)
				}
				if v.CVSSScore != c.BaseScore {
					t.Errorf("finding %d %s: cvss_score = %g, want %g", i, v.ID, v.CVSSScore, c.BaseScore)
				}
			}
		})
	}
}

func TestParseGrypeImage(t *testing.T) {
	res, err := scan.ParseGrype(readSample(t, "grype-image.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := res.Scan
	if s.ImageID != "sha256:ab5608d634db2716a297adbfa6a5dd5d8f8f5a7d0cab73649ea7fbb8c8da544f" {
		t.Errorf("image id = %q", s.ImageID)
	}
	if s.ImageRef != "user-input" {
		t.Errorf("image ref = %q", s.ImageRef)
	}
	if s.OSFamily != "centos" || s.OSName != "8.0" {
		t.Errorf("os = %q %q", s.OSFamily, s.OSName)
	}
	if len(s.Vulnerabilities) != 2 {
		t.Fatalf("got %d findings, want 2", len(s.Vulnerabilities))
	}
	first := s.Vulnerabilities[0]
	if first.ID != "CVE-1999-0001" || first.Package != "package-1" || first.InstalledVersion != "1.1.1" {
		t.Errorf("first finding = %+v", first)
	}
	if first.FixedVersion != "1.2.1, 2.1.3, 3.4.0" {
		t.Errorf("fixed version = %q", first.FixedVersion)
	}
	if first.Severity != "LOW" || s.Vulnerabilities[1].Severity != "CRITICAL" {
		t.Errorf("severities = %q, %q", first.Severity, s.Vulnerabilities[1].Severity)
	}
	if s.Vulnerabilities[1].FixedVersion != "" {
		t.Errorf("unfixed finding has fixed version %q", s.Vulnerabilities[1].FixedVersion)
	}
	want := scan.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:H", BaseScore: 8.2, Source: "nvd"}
	if res.CVSS[0] != want {
		t.Errorf("CVSS = %+v, want %+v", res.CVSS[0], want)
	}
	if first.CVSSVersion != "3.1" || first.CVSSVector != want.Vector || first.CVSSScore != 8.2 {
		t.Errorf("finding CVSS = %q %q %g, want 3.1 %q 8.2", first.CVSSVersion, first.CVSSVector, first.CVSSScore, want.Vector)
	}
}

func TestParseClairDebian(t *testing.T) {
	res, err := scan.ParseClair(readSample(t, "clair-debian-buster.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := res.Scan
	if s.ImageID != "sha256:c2c03a296d2329a4f3ab72a7bf38b78a8a80108204d326b0139d6af700e152d1" {
		t.Errorf("image id = %q", s.ImageID)
	}
	if s.OSFamily != "debian" || s.OSName != "10" {
		t.Errorf("os = %q %q", s.OSFamily, s.OSName)
	}
	if len(s.Vulnerabilities) != 2 {
		t.Fatalf("got %d findings, want 2", len(s.Vulnerabilities))
	}
	// Package "1" (bash) comes first, then package "2" (libidn2-0).
	bash, idn := s.Vulnerabilities[0], s.Vulnerabilities[1]
	if bash.ID != "CVE-2019-18276" || bash.Package != "bash" || bash.InstalledVersion != "5.0-4" || bash.FixedVersion != "" || bash.Severity != "LOW" {
		t.Errorf("bash finding = %+v", bash)
	}
	if idn.ID != "CVE-2019-18224" || idn.FixedVersion != "2.0.5-1+deb10u1" || idn.Severity != "CRITICAL" {
		t.Errorf("libidn2 finding = %+v", idn)
	}
	if res.CVSS[0] != (scan.CVSS{}) {
		t.Errorf("CVSS without enrichment = %+v", res.CVSS[0])
	}
}

func TestParseClairCVSSEnrichment(t *testing.T) {
	res, err := scan.ParseClair(readSample(t, "clair-alpine-310.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Scan.Vulnerabilities) != 4 {
		t.Fatalf("got %d findings, want 4", len(res.Scan.Vulnerabilities))
	}
	if res.Scan.OSFamily != "alpine" || res.Scan.OSName != "3.10.2" {
		t.Errorf("os = %q %q", res.Scan.OSFamily, res.Scan.OSName)
	}
	for i, c := range res.CVSS {
		if c.BaseScore != 5.3 || c.Version != "3.1" || !strings.HasPrefix(c.Vector, "CVSS:3.1/") {
			t.Errorf("finding %d CVSS = %+v", i, c)
		}
	}
}

func TestParseAnchoreAPI(t *testing.T) {
	res, err := scan.ParseAnchore(readSample(t, "anchore-api-debian-buster.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Scan.Vulnerabilities) != 3 {
		t.Fatalf("got %d findings, want 3", len(res.Scan.Vulnerabilities))
	}
	byID := map[string]int{}
	for i, v := range res.Scan.Vulnerabilities {
		byID[v.ID] = i
	}
	idn := byID["CVE-2019-18224"]
	if v := res.Scan.Vulnerabilities[idn]; v.Package != "libidn2-0" || v.FixedVersion != "2.0.5-1+deb10u1" || v.Severity != "CRITICAL" {
		t.Errorf("libidn2 finding = %+v", v)
	}
	if c := res.CVSS[idn]; c.BaseScore != 9.8 || c.Version != "3" {
		t.Errorf("libidn2 CVSS = %+v", c)
	}
	bash := byID["CVE-2019-18276"]
	if v := res.Scan.Vulnerabilities[bash]; v.FixedVersion != "" {
		t.Errorf("fix None read as %q", v.FixedVersion)
	}
	apt := byID["CVE-2011-3374"]
	if v := res.Scan.Vulnerabilities[apt]; v.Severity != "LOW" {
		t.Errorf("Negligible read as %q", v.Severity)
	}
	if c := res.CVSS[apt]; c != (scan.CVSS{}) {
		t.Errorf("score -1 read as %+v", c)
	}
}

func TestParseAnchoreCLIOldEngine(t *testing.T) {
	res, err := scan.ParseAnchore(readSample(t, "anchore-cli-alpine-310.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := res.Scan
	if s.ImageID != "sha256:acd3ca9941a85e8ed16515bfc5328e4e2f8c128caa72959a58a127b7801ee01f" || s.ImageRef != s.ImageID {
		t.Errorf("image id %q ref %q", s.ImageID, s.ImageRef)
	}
	if len(s.Vulnerabilities) != 5 {
		t.Fatalf("got %d findings, want 5", len(s.Vulnerabilities))
	}
	if v := s.Vulnerabilities[0]; v.Package != "libcrypto1.1" || v.InstalledVersion != "1.1.1c-r0" {
		t.Errorf("package from name-version = %q %q", v.Package, v.InstalledVersion)
	}
	if v := s.Vulnerabilities[4]; v.Package != "musl" || v.Severity != "UNKNOWN" || v.FixedVersion != "" {
		t.Errorf("last finding = %+v", v)
	}
}

// TestParseToleratesNewLayouts adds unknown fields everywhere and removes
// every optional one; each report must still parse.
func TestParseToleratesNewLayouts(t *testing.T) {
	tests := []struct {
		name   string
		format scan.Format
		doc    string
		want   int
	}{
		{"grype new fields", scan.FormatGrype, `{"matches":[{"vulnerability":{"id":"CVE-1","severity":"High","kev":true,"cvss":[{"version":"4.0","vector":"CVSS:4.0/AV:N","metrics":{"baseScore":9.1,"new":1}}]},"artifact":{"name":"p","version":"1"},"newMatchField":[1]}],"source":{"type":"image","target":{"userInput":"x","layers":null}},"newTop":{}}`, 1},
		{"grype minimal", scan.FormatGrype, `{"matches":[{"vulnerability":{"id":"CVE-1"},"artifact":{"name":"p"}}],"source":{"type":"directory","target":"/src"}}`, 1},
		{"clair minimal", scan.FormatClair, `{"manifest_hash":"sha256:1","packages":{"1":{"name":"p"}},"vulnerabilities":{"9":{"name":"CVE-1"}},"package_vulnerabilities":{"1":["9"]}}`, 1},
		{"clair new fields", scan.FormatClair, `{"manifest_hash":"sha256:1","packages":{"a":{"name":"p","version":"1","cpe":"x","new":[1]}},"vulnerabilities":{"b":{"name":"CVE-1","normalized_severity":"High","new":{}}},"package_vulnerabilities":{"a":["b"]},"enrichments":{"other":[{"x":1}],"clair.cvss":["not a map"]},"new":true}`, 1},
		{"anchore minimal", scan.FormatAnchore, `{"imageDigest":"sha256:1","vulnerabilities":[{"vuln":"CVE-1","package":"p-1","package_version":"1"}]}`, 1},
		{"anchore new fields", scan.FormatAnchore, `{"imageDigest":"sha256:1","vulnerabilities":[{"vuln":"CVE-1","package_name":"p","severity":"High","nvd_data":[{"id":"CVE-1","cvss_v3":{"base_score":7.5},"cvss_v4":{"base_score":8}}],"epss":0.1}],"vulnerability_type":"os","new":1}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := scan.Parse([]byte(tt.doc), "")
			if err != nil {
				t.Fatal(err)
			}
			if res.Scan.Scanner != string(tt.format) {
				t.Errorf("scanner = %q, want %q", res.Scan.Scanner, tt.format)
			}
			if len(res.Scan.Vulnerabilities) != tt.want {
				t.Errorf("got %d findings, want %d", len(res.Scan.Vulnerabilities), tt.want)
			}
		})
	}
}

func TestParseRejectsNamingField(t *testing.T) {
	tests := []struct {
		name   string
		format scan.Format
		doc    string
		field  string
	}{
		{"unknown format", "", `{"hello":1}`, "unknown scan report format"},
		{"not an object", "", `[1]`, "expected a JSON object"},
		{"grype no source", scan.FormatGrype, `{"matches":[]}`, "source"},
		{"grype no matches", scan.FormatGrype, `{"source":{"target":"x"}}`, "matches"},
		{"grype no id", scan.FormatGrype, `{"matches":[{"vulnerability":{},"artifact":{"name":"p"}}],"source":{"target":"x"}}`, "matches[0].vulnerability.id"},
		{"grype no package", scan.FormatGrype, `{"matches":[{"vulnerability":{"id":"CVE-1"}}],"source":{"target":"x"}}`, "matches[0].artifact.name"},
		{"grype bad time", scan.FormatGrype, `{"matches":[],"source":{"target":"x"},"descriptor":{"timestamp":"noon"}}`, "descriptor.timestamp"},
		{"clair no hash", scan.FormatClair, `{"package_vulnerabilities":{}}`, "manifest_hash"},
		{"clair dangling package", scan.FormatClair, `{"manifest_hash":"h","packages":{},"vulnerabilities":{},"package_vulnerabilities":{"7":["1"]}}`, `package "7"`},
		{"clair dangling vuln", scan.FormatClair, `{"manifest_hash":"h","packages":{"7":{"name":"p"}},"vulnerabilities":{},"package_vulnerabilities":{"7":["1"]}}`, `vulnerability "1"`},
		{"anchore no digest", scan.FormatAnchore, `{"vulnerabilities":[]}`, "imageDigest"},
		{"anchore no list", scan.FormatAnchore, `{"imageDigest":"sha256:1"}`, "vulnerabilities"},
		{"anchore no vuln", scan.FormatAnchore, `{"imageDigest":"sha256:1","vulnerabilities":[{"package_name":"p"}]}`, "vulnerabilities[0].vuln"},
		{"bad format name", "snyk", `{}`, `format "snyk"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scan.Parse([]byte(tt.doc), tt.format)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %q", err, tt.field)
			}
		})
	}
}

func TestReadDirMixedFormats(t *testing.T) {
	dir := t.TempDir()
	for name := range samples {
		if err := os.WriteFile(filepath.Join(dir, name), readSample(t, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reports, invalid, err := scan.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != len(samples) || len(invalid) != 0 {
		t.Fatalf("got %d reports and %v, want %d reports", len(reports), invalid, len(samples))
	}
	for _, r := range reports {
		if r.Scan.ScannedNs == 0 {
			t.Errorf("%s has no scan time", r.Path)
		}
		rec := r.Record()
		if rec.Kind != record.KindScan || !strings.HasPrefix(rec.Source, r.Scan.Scanner+":") {
			t.Errorf("%s record kind %s source %q", r.Path, rec.Kind, rec.Source)
		}
	}
}

func fuzzSeeds(f *testing.F, format scan.Format) {
	for name, sf := range samples {
		if format == "" || sf == format {
			f.Add(readSample(f, name))
		}
	}
}

func checkFuzzResult(t *testing.T, res scan.Result, err error) {
	if err != nil {
		return
	}
	if res.Scan.Vulnerabilities == nil {
		t.Error("nil vulnerability list accepted")
	}
	if len(res.CVSS) != len(res.Scan.Vulnerabilities) {
		t.Errorf("%d CVSS ratings for %d findings", len(res.CVSS), len(res.Scan.Vulnerabilities))
	}
}

func FuzzParseGrype(f *testing.F) {
	fuzzSeeds(f, scan.FormatGrype)
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := scan.ParseGrype(b)
		checkFuzzResult(t, res, err)
	})
}

func FuzzParseClair(f *testing.F) {
	fuzzSeeds(f, scan.FormatClair)
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := scan.ParseClair(b)
		checkFuzzResult(t, res, err)
	})
}

func FuzzParseAnchore(f *testing.F) {
	fuzzSeeds(f, scan.FormatAnchore)
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := scan.ParseAnchore(b)
		checkFuzzResult(t, res, err)
	})
}

func FuzzParseDetected(f *testing.F) {
	fuzzSeeds(f, "")
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := scan.Parse(b, "")
		checkFuzzResult(t, res, err)
	})
}
