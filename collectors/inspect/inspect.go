// Package inspect prints what the collectors read from files and folders,
// as JSON lines in the unified schema: one line per row, each naming the
// ClickHouse table the row is stored in. It backs `harrier parse`.
package inspect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/harrierhq/harrier/collectors/cri"
	"github.com/harrierhq/harrier/collectors/internal/emit"
	"github.com/harrierhq/harrier/collectors/scan"
	"github.com/harrierhq/harrier/internal/record"
)

// Format selects how a path is read.
type Format string

// Formats that Inspector reads. FormatAuto chooses one per path from its
// name, its layout or its first bytes.
const (
	FormatAuto    Format = "auto"
	FormatDocker  Format = "docker"
	FormatCRI     Format = "cri"
	FormatTrivy   Format = "trivy"
	FormatGrype   Format = "grype"
	FormatClair   Format = "clair"
	FormatAnchore Format = "anchore"
	FormatCgroup  Format = "cgroup"
	FormatHost    Format = "host"
	// FormatPosture reads a host root folder as the posture reader does:
	// the security settings of the host and of its running Docker
	// containers under var/lib/docker/containers. Auto detection picks
	// FormatHost for a host root, so this format is chosen by name only.
	FormatPosture Format = "posture"
)

// Formats lists every format, FormatAuto first.
var Formats = []Format{FormatAuto, FormatDocker, FormatCRI, FormatTrivy, FormatGrype, FormatClair, FormatAnchore, FormatCgroup, FormatHost, FormatPosture}

// ParseFormat returns the format named s, or an error that lists the
// valid names.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("invalid format %q: expected one of %s", s, strings.Join(names, ", "))
}

// Table names, as in the ClickHouse schema.
const (
	TableEvents          = "events"
	TableMetrics         = "metrics"
	TableVulnerabilities = "vulnerabilities"
	TableFindings        = "findings"
	TableContainers      = "containers"
	TableHosts           = "hosts"
	TableImages          = "images"
	TablePostureFacts    = "posture_facts"
)

// Rejection is one input that yields no record, written to the error
// stream as one JSON line.
type Rejection struct {
	// Source is the file, or the file and byte offset of a log line.
	Source string `json:"source"`
	Format Format `json:"format"`
	Reason string `json:"reason"`
}

// Stats counts what an Inspector wrote.
type Stats struct {
	// Rows counts the JSON lines written to the output, per table.
	Rows map[string]int
	// Rejected counts the rejection lines.
	Rejected int
	// Skipped counts files of a walked folder that were not read because
	// their names mark them as neither logs nor reports.
	Skipped int
}

// Inspector reads paths and writes their rows to Out and their rejections
// to Err.
type Inspector struct {
	format Format
	out    io.Writer
	err    io.Writer
	now    func() time.Time
	stats  Stats
}

// New returns an inspector that reads every path in format f.
func New(f Format, out, errOut io.Writer) *Inspector {
	return &Inspector{format: f, out: out, err: errOut, now: time.Now, stats: Stats{Rows: map[string]int{}}}
}

// Stats returns the counters so far.
func (in *Inspector) Stats() Stats {
	rows := make(map[string]int, len(in.stats.Rows))
	for k, v := range in.stats.Rows {
		rows[k] = v
	}
	return Stats{Rows: rows, Rejected: in.stats.Rejected, Skipped: in.stats.Skipped}
}

// Path reads one file or folder. Input it cannot parse is rejected, line
// by line or file by file, and does not stop it. The returned error is a
// failure to write the output.
func (in *Inspector) Path(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return in.reject(path, in.format, err.Error())
	}
	f := in.format
	if f == FormatAuto {
		f = detect(path, st)
		if f == FormatAuto && st.IsDir() {
			return in.walk(path)
		}
		if f == FormatAuto {
			return in.reject(path, FormatAuto, "unknown input format: expected a Docker json-file or CRI log, a Trivy, Grype, Clair or Anchore JSON report, a cgroup tree or a host root folder; pass --format")
		}
	}

	switch f {
	case FormatDocker:
		if st.IsDir() {
			return in.dockerDir(path)
		}
		return in.logFile(path, FormatDocker, dockerDecoder(path))
	case FormatCRI:
		if st.IsDir() {
			return in.criRoot(path)
		}
		return in.logFile(path, FormatCRI, cri.NewDecoder(criTarget(path)))
	case FormatTrivy, FormatGrype, FormatClair, FormatAnchore:
		if st.IsDir() {
			return in.scanDir(path, scan.Format(f))
		}
		return in.scanFile(path, scan.Format(f))
	case FormatCgroup:
		return in.cgroupTree(path)
	case FormatHost:
		return in.hostRoot(path)
	case FormatPosture:
		return in.postureRoot(path)
	}
	return fmt.Errorf("invalid format %q", f)
}

var dockerLogName = regexp.MustCompile(`-json\.log(\.[0-9]+)?$`)

// detect picks the format of one path, or FormatAuto when nothing fits.
func detect(path string, st fs.FileInfo) Format {
	if st.IsDir() {
		switch {
		case isDir(filepath.Join(path, "pods")):
			return FormatCRI
		case exists(filepath.Join(path, "config.v2.json")) || hasDockerContainers(path):
			return FormatDocker
		case exists(filepath.Join(path, "etc", "os-release")) || exists(filepath.Join(path, "usr", "lib", "os-release")):
			return FormatHost
		case looksLikeCgroup(path):
			return FormatCgroup
		}
		return FormatAuto
	}

	name := filepath.Base(path)
	switch {
	case dockerLogName.MatchString(name):
		return FormatDocker
	case strings.HasSuffix(name, ".json"):
		b, err := os.ReadFile(path)
		if err != nil {
			return FormatAuto
		}
		f, err := scan.Detect(b)
		if err != nil {
			return FormatAuto
		}
		return Format(f)
	}

	// A log file: Docker lines are JSON objects, CRI lines start with a time.
	first, err := firstLine(path)
	if err != nil || len(first) == 0 {
		return FormatAuto
	}
	if first[0] == '{' {
		return FormatDocker
	}
	if _, err := cri.ParseLine(first); err == nil {
		return FormatCRI
	}
	return FormatAuto
}

func firstLine(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 64<<10).ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

func hasDockerContainers(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.IsDir() && exists(filepath.Join(dir, e.Name(), "config.v2.json")) {
			return true
		}
	}
	return false
}

// looksLikeCgroup reports whether dir holds cgroup v2 interface files or
// v1 controller folders.
func looksLikeCgroup(dir string) bool {
	for _, name := range []string{"cgroup.controllers", "cpu.stat", "memory.current", "memory.stat", "cgroup.procs"} {
		if exists(filepath.Join(dir, name)) {
			return true
		}
	}
	for _, name := range []string{"memory", "cpuacct", "cpu,cpuacct", "blkio", "pids"} {
		if isDir(filepath.Join(dir, name)) {
			return true
		}
	}
	// A tree copied without its root files still has systemd's slices.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.IsDir() && (strings.HasSuffix(e.Name(), ".slice") || strings.HasSuffix(e.Name(), ".scope")) {
			return true
		}
	}
	return false
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// walk reads every folder under dir whose format it detects as a whole,
// and every other file whose name ends in .json or contains .log, sorted
// by path. Other files, such as a README, are skipped and counted.
func (in *Inspector) walk(dir string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return in.reject(path, FormatAuto, err.Error())
		}
		if path == dir || strings.HasPrefix(d.Name(), ".") && d.IsDir() {
			return nil
		}
		if d.IsDir() {
			st, err := d.Info()
			if err == nil && detect(path, st) != FormatAuto {
				paths = append(paths, path)
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		if d.Type().IsRegular() && (strings.HasSuffix(name, ".json") || strings.Contains(name, ".log")) {
			paths = append(paths, path)
			return nil
		}
		in.stats.Skipped++
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	for _, path := range paths {
		if err := in.Path(path); err != nil {
			return err
		}
	}
	return nil
}

// write prints one row: the table, the record id and source, then the
// fields of payload.
func (in *Inspector) write(table, id, source string, payload any) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return in.reject(source, in.format, fmt.Sprintf("encode %s row: %v", table, err))
	}
	head, err := json.Marshal(struct {
		Table    string `json:"table"`
		RecordID string `json:"record_id"`
		Source   string `json:"source"`
	}{table, id, source})
	if err != nil {
		return err
	}

	var line bytes.Buffer
	line.Write(head[:len(head)-1])
	if len(body) > 2 {
		line.WriteByte(',')
		line.Write(body[1:])
	} else {
		line.WriteByte('}')
	}
	line.WriteByte('\n')
	if _, err := in.out.Write(line.Bytes()); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	in.stats.Rows[table]++
	return nil
}

// writeRecord prints the row of one collected record.
func (in *Inspector) writeRecord(rec emit.Record) error {
	switch rec.Payload.(type) {
	case record.Log:
		return in.write(TableEvents, rec.ID, rec.Source, rec.Payload)
	case record.Metric:
		return in.write(TableMetrics, rec.ID, rec.Source, rec.Payload)
	case record.Container:
		return in.write(TableContainers, rec.ID, rec.Source, rec.Payload)
	case record.Host:
		return in.write(TableHosts, rec.ID, rec.Source, rec.Payload)
	}
	return in.reject(rec.Source, in.format, fmt.Sprintf("record kind %q has no table", rec.Kind))
}

func (in *Inspector) reject(source string, f Format, reason string) error {
	b, err := json.Marshal(Rejection{Source: source, Format: f, Reason: reason})
	if err != nil {
		return err
	}
	if _, err := in.err.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write rejection: %w", err)
	}
	in.stats.Rejected++
	return nil
}
