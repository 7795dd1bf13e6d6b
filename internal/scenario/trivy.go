package scenario

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// writeScans writes one Trivy JSON report (schema version 2) per image of
// the fleet, scanned an hour before the timeline starts.
func (g *generator) writeScans() error {
	seen := map[string]bool{}
	for _, c := range g.containers {
		img := c.image
		if seen[img.id] {
			continue
		}
		seen[img.id] = true

		var vulns []map[string]any
		for _, v := range img.vulns {
			vulns = append(vulns, map[string]any{
				"VulnerabilityID": v.id, "PkgName": v.pkg, "InstalledVersion": v.installed,
				"FixedVersion": v.fixed, "Severity": v.severity, "Title": v.title,
			})
		}
		osName, osVersion, _ := strings.Cut(img.os, " ")
		report := map[string]any{
			"SchemaVersion": 2,
			"CreatedAt":     Start.Add(-time.Hour).Format("2006-01-02T15:04:05Z"),
			"ArtifactName":  img.ref,
			"ArtifactType":  "container_image",
			"Metadata": map[string]any{
				"ImageID":   img.id,
				"Reference": img.ref,
				"OS":        map[string]string{"Family": osName, "Name": osVersion},
			},
			"Results": []map[string]any{{"Target": img.ref + " (" + img.os + ")", "Class": "os-pkgs", "Type": osName, "Vulnerabilities": vulns}},
		}
		b, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return fmt.Errorf("encode Trivy report of %s: %w", img.ref, err)
		}
		name := strings.NewReplacer("/", "_", ":", "_").Replace(img.ref) + ".json"
		if err := writeFile(filepath.Join(g.dir, "scans", "trivy", name), b); err != nil {
			return err
		}
	}
	return nil
}
