package scenario

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Incident kinds.
const (
	KindCryptominer     = "cryptominer"
	KindMemoryLeakOOM   = "memory-leak-oom"
	KindBruteForce      = "brute-force"
	KindExploitStrings  = "exploit-strings"
	KindForkBomb        = "fork-bomb"
	KindVulnRollout     = "vulnerable-rollout"
	KindNewPort         = "new-listening-port"
	KindPrivilegedSock  = "privileged-runtime-socket"
	labelsFile          = "labels.csv"
	maxLabelsFileBytes  = 16 << 20
	labelTimeLayout     = time.RFC3339
	labelColumnsMessage = "kind,entity,container_id,start,end"
)

// Kinds lists the incident kinds in the order of reports.
var Kinds = []string{
	KindCryptominer, KindMemoryLeakOOM, KindBruteForce, KindExploitStrings,
	KindForkBomb, KindVulnRollout, KindNewPort, KindPrivilegedSock,
}

// labelColumns is the header of labels.csv.
var labelColumns = strings.Split(labelColumnsMessage, ",")

// Label is one injected incident, a row of labels.csv:
//
//	kind,entity,container_id,start,end
//	brute-force,sshd-1,3f2a…,2026-11-30T05:12:00Z,2026-11-30T05:22:00Z
//
// Kind is one of Kinds. Entity is the container name and ContainerID the
// 64-hex id of the container instance the incident happens in. For a
// rollout or redeploy that is the new container. Start is the first
// minute of the incident and End the instant it stops, both RFC 3339 UTC.
// For the incidents that persist (a vulnerable or privileged container, a
// new port) End is the end of the timeline.
type Label struct {
	Kind        string
	Entity      string
	ContainerID string
	Start       time.Time
	End         time.Time
}

// WriteLabels writes labels as CSV with a header line.
func WriteLabels(w io.Writer, labels []Label) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(labelColumns); err != nil {
		return err
	}
	for _, l := range labels {
		row := []string{l.Kind, l.Entity, l.ContainerID, l.Start.UTC().Format(labelTimeLayout), l.End.UTC().Format(labelTimeLayout)}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadLabels parses a labels CSV. Each error names the line, the column
// and the value.
func ReadLabels(r io.Reader) ([]Label, error) {
	cr := csv.NewReader(io.LimitReader(r, maxLabelsFileBytes))
	cr.FieldsPerRecord = len(labelColumns)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("invalid labels: missing header line %q", labelColumnsMessage)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid labels: %w", err)
	}
	if !slices.Equal(header, labelColumns) {
		return nil, fmt.Errorf("invalid labels header %q: expected %q", strings.Join(header, ","), labelColumnsMessage)
	}

	var labels []Label
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return labels, nil
		}
		if err != nil {
			return nil, fmt.Errorf("invalid labels: %w", err)
		}
		line, _ := cr.FieldPos(0)
		l, err := parseLabel(row)
		if err != nil {
			return nil, fmt.Errorf("invalid labels line %d: %w", line, err)
		}
		labels = append(labels, l)
	}
}

func parseLabel(row []string) (Label, error) {
	l := Label{Kind: row[0], Entity: row[1], ContainerID: row[2]}
	if !slices.Contains(Kinds, l.Kind) {
		return l, fmt.Errorf("invalid kind %q: expected one of %s", l.Kind, strings.Join(Kinds, ", "))
	}
	if l.Entity == "" {
		return l, errors.New("missing entity")
	}
	if len(l.ContainerID) != 64 || strings.Trim(l.ContainerID, "0123456789abcdef") != "" {
		return l, fmt.Errorf("invalid container_id %q: expected 64 lower-case hex digits", l.ContainerID)
	}
	var err error
	if l.Start, err = time.Parse(labelTimeLayout, row[3]); err != nil {
		return l, fmt.Errorf("invalid start %q: expected RFC 3339 time", row[3])
	}
	if l.End, err = time.Parse(labelTimeLayout, row[4]); err != nil {
		return l, fmt.Errorf("invalid end %q: expected RFC 3339 time", row[4])
	}
	if l.End.Before(l.Start) {
		return l, fmt.Errorf("invalid end %s: before start %s", row[4], row[3])
	}
	l.Start, l.End = l.Start.UTC(), l.End.UTC()
	return l, nil
}

// LoadLabels reads labels.csv of the folder dir.
func LoadLabels(dir string) ([]Label, error) {
	path := filepath.Join(dir, labelsFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open scenario labels: %w", err)
	}
	defer f.Close()
	labels, err := ReadLabels(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return labels, nil
}

func (g *generator) writeLabels() error {
	slices.SortStableFunc(g.labels, func(a, b Label) int { return a.Start.Compare(b.Start) })
	var sb strings.Builder
	if err := WriteLabels(&sb, g.labels); err != nil {
		return fmt.Errorf("encode labels: %w", err)
	}
	return writeFile(filepath.Join(g.dir, labelsFile), []byte(sb.String()))
}
