// Package nab runs Harrier's single-series detector over Numenta Anomaly
// Benchmark (NAB) data, writes NAB result files, and computes the NAB score
// of the detector's scores by NAB's rules. Each anomaly window earns a
// scaled sigmoid of how early its first detection falls. Each false
// positive costs more the further it lies from the previous window. The
// first 15% of each series, at most 750 rows, is not scored, and one
// threshold is optimized over the whole corpus.
package nab

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// timeLayouts are the timestamp formats of NAB data files and label files.
var timeLayouts = []string{"2006-01-02 15:04:05", "2006-01-02 15:04:05.000000"}

// Series is one NAB data file.
type Series struct {
	// Name is the path relative to the data directory, with forward
	// slashes, as the label files key it ("realAWSCloudwatch/x.csv").
	Name       string
	Timestamps []time.Time
	// Raw holds the timestamp column as written, for the result files.
	Raw    []string
	Values []float64
	// Windows are the anomaly windows as inclusive row index ranges.
	Windows [][2]int
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q: want YYYY-MM-DD hh:mm:ss[.ffffff]", s)
}

// ReadSeries reads a NAB data file: a header timestamp,value and one row per
// point in time order.
func ReadSeries(r io.Reader, name string) (*Series, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: read header: %w", name, err)
	}
	if len(header) != 2 || header[0] != "timestamp" || header[1] != "value" {
		return nil, fmt.Errorf("%s: invalid header %q: want timestamp,value", name, header)
	}
	s := &Series{Name: name}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: read line %d: %w", name, line, err)
		}
		t, err := parseTime(rec[0])
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", name, line, err)
		}
		// NAB series repeat a timestamp at times (daylight saving
		// changes), so only a step back in time is rejected.
		if n := len(s.Timestamps); n > 0 && t.Before(s.Timestamps[n-1]) {
			return nil, fmt.Errorf("%s line %d: timestamp %q is before the previous row's", name, line, rec[0])
		}
		v, err := strconv.ParseFloat(rec[1], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%s line %d: invalid value %q: want a finite number", name, line, rec[1])
		}
		s.Timestamps = append(s.Timestamps, t)
		s.Raw = append(s.Raw, rec[0])
		s.Values = append(s.Values, v)
	}
	if len(s.Values) == 0 {
		return nil, fmt.Errorf("%s: no rows after the header", name)
	}
	return s, nil
}

// ReadCorpus reads every .csv file under dataDir and the anomaly windows of
// each from windowsPath, a NAB combined_windows.json file that maps a
// series name to a list of [start, end] timestamps.
func ReadCorpus(dataDir, windowsPath string) ([]*Series, error) {
	raw, err := os.ReadFile(windowsPath)
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	var windows map[string][][2]string
	if err := json.Unmarshal(raw, &windows); err != nil {
		return nil, fmt.Errorf("invalid labels file %s: %w: want NAB combined_windows.json", windowsPath, err)
	}

	var names []string
	err = filepath.WalkDir(dataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".csv") {
			rel, err := filepath.Rel(dataDir, path)
			if err != nil {
				return err
			}
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list data directory: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("invalid data directory %s: no .csv files", dataDir)
	}
	sort.Strings(names)

	var corpus []*Series
	for _, name := range names {
		limits, ok := windows[name]
		if !ok {
			return nil, fmt.Errorf("series %s has no entry in %s", name, windowsPath)
		}
		fh, err := os.Open(filepath.Join(dataDir, filepath.FromSlash(name)))
		if err != nil {
			return nil, err
		}
		s, err := ReadSeries(fh, name)
		fh.Close()
		if err != nil {
			return nil, err
		}
		if err := s.setWindows(limits); err != nil {
			return nil, err
		}
		corpus = append(corpus, s)
	}
	return corpus, nil
}

// setWindows turns window timestamps into row indexes.
func (s *Series) setWindows(limits [][2]string) error {
	index := make(map[int64]int, len(s.Timestamps))
	for i, t := range s.Timestamps {
		// A repeated timestamp names its first row, as in NAB's scorer.
		if _, ok := index[t.UnixNano()]; !ok {
			index[t.UnixNano()] = i
		}
	}
	for _, lim := range limits {
		var rows [2]int
		for k, ts := range lim {
			t, err := parseTime(ts)
			if err != nil {
				return fmt.Errorf("%s window %q: %w", s.Name, lim, err)
			}
			i, ok := index[t.UnixNano()]
			if !ok {
				return fmt.Errorf("%s window %q: timestamp %q is not a row of the series", s.Name, lim, ts)
			}
			rows[k] = i
		}
		if rows[1] < rows[0] {
			return fmt.Errorf("%s window %q: ends before it starts", s.Name, lim)
		}
		if n := len(s.Windows); n > 0 && rows[0] <= s.Windows[n-1][1] {
			return fmt.Errorf("%s window %q: overlaps or precedes the previous window", s.Name, lim)
		}
		s.Windows = append(s.Windows, rows)
	}
	return nil
}

// InWindow reports whether row i lies in an anomaly window.
func (s *Series) InWindow(i int) bool {
	for _, w := range s.Windows {
		if i >= w[0] && i <= w[1] {
			return true
		}
	}
	return false
}

// WriteResults writes a NAB result file: timestamp, value, anomaly_score and
// label (1 inside an anomaly window).
func (s *Series) WriteResults(w io.Writer, scores []float64) error {
	if len(scores) != len(s.Values) {
		return fmt.Errorf("%s: %d scores for %d rows", s.Name, len(scores), len(s.Values))
	}
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"timestamp", "value", "anomaly_score", "label"}); err != nil {
		return err
	}
	for i := range s.Values {
		label := "0"
		if s.InWindow(i) {
			label = "1"
		}
		rec := []string{
			s.Raw[i],
			strconv.FormatFloat(s.Values[i], 'g', -1, 64),
			strconv.FormatFloat(scores[i], 'f', -1, 64),
			label,
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
