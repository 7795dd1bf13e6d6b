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

func TestParseTrivyAlpine(t *testing.T) {
	b, err := os.ReadFile("testdata/alpine-310.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := scan.ParseTrivy(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Scanner != "trivy" || s.ImageRef != "ghcr.io/aquasecurity/trivy-test-images:alpine-310" {
		t.Errorf("scanner %q ref %q", s.Scanner, s.ImageRef)
	}
	if s.ImageID != "sha256:961769676411f082461f9ef46626dd7a2d1e2b2a38e6a44364bcbecf51e66dd4" {
		t.Errorf("image id = %q", s.ImageID)
	}
	if s.OSFamily != "alpine" || s.OSName != "3.10.2" {
		t.Errorf("os = %q %q", s.OSFamily, s.OSName)
	}
	if s.ScannedNs == 0 {
		t.Error("no scan time")
	}
	if len(s.Vulnerabilities) != 4 {
		t.Fatalf("got %d vulnerabilities, want 4", len(s.Vulnerabilities))
	}
	for _, v := range s.Vulnerabilities {
		if v.ID == "" || v.Package == "" || v.InstalledVersion == "" {
			t.Errorf("incomplete vulnerability %+v", v)
		}
		switch v.Severity {
		case "CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN":
		default:
			t.Errorf("severity %q", v.Severity)
		}
	}
}

func TestParseTrivyDebianFixedVersions(t *testing.T) {
	b, err := os.ReadFile("testdata/debian-buster.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := scan.ParseTrivy(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.ImageID != "sha256:c2c03a296d2329a4f3ab72a7bf38b78a8a80108204d326b0139d6af700e152d1" || len(s.Vulnerabilities) != 2 {
		t.Fatalf("image %q with %d vulnerabilities", s.ImageID, len(s.Vulnerabilities))
	}
	// The report has one finding without a published fix and one with.
	fixed := map[string]string{}
	for _, v := range s.Vulnerabilities {
		fixed[v.ID] = v.FixedVersion
	}
	if fixed["CVE-2019-18224"] != "2.0.5-1+deb10u1" {
		t.Errorf("CVE-2019-18224 fixed version = %q", fixed["CVE-2019-18224"])
	}
	unfixed := 0
	for _, v := range fixed {
		if v == "" {
			unfixed++
		}
	}
	if unfixed != 1 {
		t.Errorf("%d findings without a fix, want 1", unfixed)
	}
}

func TestParseTrivyLockfileReport(t *testing.T) {
	b, err := os.ReadFile("testdata/npm.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := scan.ParseTrivy(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.ImageID != "" || s.ImageRef != "testdata/fixtures/repo/npm" || len(s.Vulnerabilities) != 1 {
		t.Errorf("scan = %q %q with %d vulnerabilities", s.ImageID, s.ImageRef, len(s.Vulnerabilities))
	}
	rec := scan.Report{Path: "npm.json", Scan: s}.Record()
	if rec.Key != s.ImageRef || rec.Kind != record.KindScan {
		t.Errorf("record key %q kind %s, want the reference", rec.Key, rec.Kind)
	}
}

func TestParseTrivyRejectsOtherFiles(t *testing.T) {
	tests := []struct{ name, doc, field string }{
		{"not json", `{`, "invalid Trivy report"},
		{"grype", `{"matches":[],"source":{}}`, "SchemaVersion"},
		{"schema 1", `{"SchemaVersion":1,"ArtifactName":"x","Results":[]}`, "SchemaVersion=1"},
		{"no artifact", `{"SchemaVersion":2,"Results":[]}`, "ArtifactName"},
		{"no results", `{"SchemaVersion":2,"ArtifactName":"x"}`, "Results"},
		{"bad time", `{"SchemaVersion":2,"ArtifactName":"x","Results":[],"CreatedAt":"noon"}`, "CreatedAt"},
		{"no vuln id", `{"SchemaVersion":2,"ArtifactName":"x","Results":[{"Vulnerabilities":[{"PkgName":"a"}]}]}`, "VulnerabilityID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scan.ParseTrivy([]byte(tt.doc))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %q", err, tt.field)
			}
		})
	}
}

func TestReadDir(t *testing.T) {
	dir := t.TempDir()
	b, _ := os.ReadFile("testdata/alpine-310.json")
	os.WriteFile(filepath.Join(dir, "alpine.json"), b, 0o644)
	os.WriteFile(filepath.Join(dir, "grype.json"), []byte(`{"matches":[]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644)

	reports, invalid, err := scan.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 || len(invalid) != 1 {
		t.Fatalf("got %d reports and %d invalid files, want 1 and 1", len(reports), len(invalid))
	}
	if !strings.Contains(invalid[0].Error(), "grype.json") {
		t.Errorf("error %q does not name the file", invalid[0])
	}
	if reports, _, err := scan.ReadDir(filepath.Join(dir, "absent")); err != nil || len(reports) != 0 {
		t.Errorf("ReadDir(missing) = %v, %v", reports, err)
	}
}

func FuzzParseTrivy(f *testing.F) {
	for _, name := range []string{"alpine-310.json", "debian-buster.json", "npm.json", "trivy-secrets-misconfig.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := scan.ParseTrivy(b)
		if err == nil && s.Vulnerabilities == nil {
			t.Error("nil vulnerability list accepted")
		}
	})
}

func TestParseTrivySecretsAndMisconfigurations(t *testing.T) {
	b, err := os.ReadFile("testdata/trivy-secrets-misconfig.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := scan.ParseTrivy(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Vulnerabilities) != 1 {
		t.Errorf("got %d vulnerabilities, want 1", len(s.Vulnerabilities))
	}
	want := []record.Finding{
		{Kind: record.FindingSecret, ID: "aws-access-key-id", Severity: "CRITICAL", Title: "AWS Access Key ID",
			Target: "/app/config/settings.env", Location: "line 3", Category: "AWS"},
		{Kind: record.FindingSecret, ID: "github-pat", Severity: "CRITICAL", Title: "GitHub Personal Access Token",
			Target: "/app/config/settings.env", Location: "line 7", Category: "GitHub"},
		{Kind: record.FindingSecret, ID: "private-key", Severity: "HIGH", Title: "Asymmetric Private Key",
			Target: "/app/certs/server.key", Location: "lines 1-28", Category: "AsymmetricPrivateKey"},
		{Kind: record.FindingMisconfiguration, ID: "DS002", Severity: "HIGH", Title: "Image user should not be 'root'",
			Target: "Dockerfile", Status: "FAIL", AVDID: "AVD-DS-0002",
			Resolution: "Add 'USER <non root user name>' line to the Dockerfile"},
		{Kind: record.FindingMisconfiguration, ID: "DS026", Severity: "LOW", Title: "No HEALTHCHECK defined",
			Target: "Dockerfile", Status: "FAIL", AVDID: "AVD-DS-0026", Resolution: "Add HEALTHCHECK instruction in Dockerfile"},
		{Kind: record.FindingMisconfiguration, ID: "DS005", Severity: "LOW", Title: "ADD instead of COPY",
			Target: "Dockerfile", Status: "FAIL", Location: "line 6", AVDID: "AVD-DS-0005", Resolution: "Use COPY instead of ADD"},
		{Kind: record.FindingMisconfiguration, ID: "KSV017", Severity: "HIGH", Title: "Privileged container",
			Target: "deploy/api.yaml", Status: "FAIL", Location: "lines 21-34", AVDID: "AVD-KSV-0017",
			Resolution: "Change 'containers[].securityContext.privileged' to 'false'."},
	}
	if len(s.Findings) != len(want) {
		t.Fatalf("got %d findings, want %d: %+v", len(s.Findings), len(want), s.Findings)
	}
	for i := range want {
		if s.Findings[i] != want[i] {
			t.Errorf("finding %d = %+v, want %+v", i, s.Findings[i], want[i])
		}
	}

	// The secret's matched text and code lines must not reach the record.
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"AWS_ACCESS_KEY_ID=", "GITHUB_TOKEN=", "BEGIN RSA PRIVATE KEY", "****"} {
		if strings.Contains(string(out), leak) {
			t.Errorf("record contains secret text %q", leak)
		}
	}
}

func TestParseTrivyFindingErrors(t *testing.T) {
	cases := []struct {
		name   string
		result string
		want   string
	}{
		{"secret without rule", `{"Target":"a","Secrets":[{"Severity":"HIGH","Match":"x"}]}`, "Results[0].Secrets[0].RuleID"},
		{"misconfiguration without id", `{"Target":"Dockerfile","Misconfigurations":[{"Title":"t","Status":"FAIL"}]}`, "Results[0].Misconfigurations[0].ID"},
		{"secret lines wrong type", `{"Target":"a","Secrets":[{"RuleID":"r","StartLine":"3"}]}`, "StartLine"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := []byte(`{"SchemaVersion":2,"ArtifactName":"img","Results":[` + c.result + `]}`)
			_, err := scan.ParseTrivy(b)
			if err == nil {
				t.Fatalf("ParseTrivy accepted %s", b)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not name %q", err, c.want)
			}
		})
	}

	// A misconfiguration that only has an AVDID keeps it as its id.
	b := []byte(`{"SchemaVersion":2,"ArtifactName":"img","Results":[{"Target":"main.tf","Misconfigurations":[{"AVDID":"AVD-AWS-0086","Severity":"high","Status":"pass"}]}]}`)
	s, err := scan.ParseTrivy(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Findings) != 1 {
		t.Fatalf("got %d findings, want 1", len(s.Findings))
	}
	if f := s.Findings[0]; f.ID != "AVD-AWS-0086" || f.Severity != "HIGH" || f.Status != "PASS" {
		t.Errorf("finding = %+v, want id AVD-AWS-0086, severity HIGH, status PASS", f)
	}
}
