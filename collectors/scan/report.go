package scan

import (
	"bytes"
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

// Format names a scan report layout.
type Format string

// Report formats that Parse reads.
const (
	FormatTrivy   Format = "trivy"
	FormatGrype   Format = "grype"
	FormatClair   Format = "clair"
	FormatAnchore Format = "anchore"
)

// Formats lists every format Parse reads, in the order Detect tries them.
var Formats = []Format{FormatTrivy, FormatGrype, FormatClair, FormatAnchore}

// CVSS is the CVSS rating of one finding. A zero value means the report
// carries no rating for it.
type CVSS struct {
	// Version is the CVSS version, such as "3.1" or "2.0".
	Version string `json:"version,omitempty"`
	// Vector is the CVSS vector string. Anchore reports carry only scores,
	// so it is empty for them.
	Vector string `json:"vector,omitempty"`
	// BaseScore is the base score, 0.0 to 10.0.
	BaseScore float64 `json:"base_score,omitempty"`
	// Source is the party that assigned the rating, such as "nvd".
	Source string `json:"source,omitempty"`
}

// Result is one parsed report.
type Result struct {
	Scan record.Scan
	// CVSS holds the rating of each finding, index for index with
	// Scan.Vulnerabilities.
	CVSS []CVSS
}

// add appends finding v with its rating c, which it also copies into v's
// CVSS fields so that the stored record carries it.
func (r *Result) add(v record.Vulnerability, c CVSS) {
	v.CVSSVersion, v.CVSSVector, v.CVSSScore = c.Version, c.Vector, c.BaseScore
	r.Scan.Vulnerabilities = append(r.Scan.Vulnerabilities, v)
	r.CVSS = append(r.CVSS, c)
}

// Detect returns the format of report b from its top-level fields:
// SchemaVersion for Trivy, matches for Grype, manifest_hash for Clair and
// imageDigest for Anchore. The error names what is missing.
func Detect(b []byte) (Format, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return "", fmt.Errorf("invalid scan report: expected a JSON object: %w", err)
	}
	switch {
	case top["SchemaVersion"] != nil:
		return FormatTrivy, nil
	case top["matches"] != nil:
		return FormatGrype, nil
	case top["manifest_hash"] != nil:
		return FormatClair, nil
	case top["imageDigest"] != nil:
		return FormatAnchore, nil
	}
	return "", errors.New("unknown scan report format: expected field SchemaVersion (Trivy), matches (Grype), manifest_hash (Clair) or imageDigest (Anchore)")
}

// Parse parses report b in format f, or in the format Detect finds when f is empty.
func Parse(b []byte, f Format) (Result, error) {
	if f == "" {
		detected, err := Detect(b)
		if err != nil {
			return Result{}, err
		}
		f = detected
	}
	switch f {
	case FormatTrivy:
		return parseTrivy(b)
	case FormatGrype:
		return ParseGrype(b)
	case FormatClair:
		return ParseClair(b)
	case FormatAnchore:
		return ParseAnchore(b)
	}
	return Result{}, fmt.Errorf("invalid scan report format %q: expected trivy, grype, clair or anchore", f)
}

// normalizeSeverity maps a scanner's severity to CRITICAL, HIGH, MEDIUM, LOW
// or UNKNOWN. Negligible, used by Grype, Clair and Anchore for findings
// below LOW, becomes LOW.
func normalizeSeverity(s string) string {
	switch s = strings.ToUpper(strings.TrimSpace(s)); s {
	case "CRITICAL", "HIGH", "MEDIUM", "LOW":
		return s
	case "NEGLIGIBLE":
		return "LOW"
	}
	return "UNKNOWN"
}

// parseTime parses an optional RFC 3339 report time. An empty value gives 0.
func parseTime(format, field, value string) (int64, error) {
	if value == "" {
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		return 0, fmt.Errorf("invalid %s report field %s=%q: expected an RFC 3339 time: %w", format, field, value, err)
	}
	return t.UnixNano(), nil
}

// maxTitle caps a title taken from a long description.
const maxTitle = 200

func shortTitle(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxTitle {
		return s
	}
	cut := maxTitle
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// Report is one parsed report file.
type Report struct {
	Path    string
	ModTime time.Time
	Format  Format
	Scan    record.Scan
	// CVSS holds the rating of each finding, index for index with
	// Scan.Vulnerabilities.
	CVSS []CVSS
}

// Record wraps the report in a record keyed by its image id, or by its
// reference for a report that has no image id.
func (r Report) Record() emit.Record {
	key := r.Scan.ImageID
	if key == "" {
		key = r.Scan.ImageRef
	}
	scanner := r.Scan.Scanner
	if scanner == "" {
		scanner = string(FormatTrivy)
	}
	return emit.Record{
		Kind:    record.KindScan,
		Key:     key,
		ID:      record.NewID(scanner, r.Path, strconv.FormatInt(r.Scan.ScannedNs, 10)),
		Source:  scanner + ":" + r.Path,
		Payload: r.Scan,
	}
}

// InvalidFile is the error ReadDir returns for a file it could not read
// or parse. Size and ModTime identify the file's version, so that a caller
// can report each version once.
type InvalidFile struct {
	Path    string
	Size    int64
	ModTime time.Time
	Err     error
}

func (e *InvalidFile) Error() string { return e.Err.Error() }

func (e *InvalidFile) Unwrap() error { return e.Err }

// ReadDir parses every *.json file under dir, sorted by path, detecting
// each file's format. It returns the reports it could read and one
// *InvalidFile per file it could not. A missing dir holds no reports.
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
		rep, err := ReadFile(path, "")
		if err != nil {
			bad := &InvalidFile{Path: path, Err: err}
			if info, statErr := d.Info(); statErr == nil {
				bad.Size, bad.ModTime = info.Size(), info.ModTime()
			}
			invalid = append(invalid, bad)
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

// ReadFile parses the report at path in format f, or in the format Detect
// finds when f is empty. A report without a creation time (Clair and
// Anchore reports have none) is stamped with the file's modification time.
func ReadFile(path string, f Format) (Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Report{}, fmt.Errorf("read scan report %q: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return Report{}, fmt.Errorf("stat scan report %q: %w", path, err)
	}
	res, err := Parse(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), f)
	if err != nil {
		return Report{}, fmt.Errorf("scan report %q: %w", path, err)
	}
	if res.Scan.ScannedNs == 0 {
		res.Scan.ScannedNs = st.ModTime().UnixNano()
	}
	return Report{Path: path, ModTime: st.ModTime(), Format: Format(res.Scan.Scanner), Scan: res.Scan, CVSS: res.CVSS}, nil
}
