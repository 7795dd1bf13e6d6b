package nab

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// series returns a series of n points, one a minute, with the given
// windows as row ranges.
func series(n int, windows ...[2]int) *Series {
	s := &Series{Name: "test/s.csv", Windows: windows}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		t := start.Add(time.Duration(i) * time.Minute)
		s.Timestamps = append(s.Timestamps, t)
		s.Raw = append(s.Raw, t.Format(timeLayouts[0]))
		s.Values = append(s.Values, float64(i%7))
	}
	return s
}

func TestScaledSigmoid(t *testing.T) {
	for _, tt := range []struct{ x, want float64 }{
		{-1, 0.98661},
		{-0.5, 0.84828},
		{0, 0},
		{1, -0.98661},
		{3, -1},
	} {
		if got := scaledSigmoid(tt.x); math.Abs(got-tt.want) > 1e-5 {
			t.Errorf("scaledSigmoid(%v) = %.5f, want %.5f", tt.x, got, tt.want)
		}
	}
}

func TestProbationLength(t *testing.T) {
	for _, tt := range []struct{ rows, want int }{{100, 15}, {4032, 604}, {10000, 750}} {
		if got := probationLength(tt.rows); got != tt.want {
			t.Errorf("probationLength(%d) = %d, want %d", tt.rows, got, tt.want)
		}
	}
}

func TestScoreCorpusPerfectAndNull(t *testing.T) {
	corpus := []*Series{series(1000, [2]int{300, 399}, [2]int{700, 749}), series(500, [2]int{200, 219})}
	perfect := make([][]float64, len(corpus))
	constant := make([][]float64, len(corpus))
	for i, s := range corpus {
		perfect[i] = make([]float64, len(s.Values))
		constant[i] = make([]float64, len(s.Values))
		for _, w := range s.Windows {
			perfect[i][w[0]] = 1
		}
	}
	res, err := ScoreCorpus(corpus, perfect, StandardProfile)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(res.Score-100) > 1e-9 {
		t.Errorf("detecting every window at its first row scored %v, want 100", res.Score)
	}
	if res.Windows != 3 || res.Detected != 3 || res.FalsePositives != 0 {
		t.Errorf("windows %d, detected %d, false positives %d, want 3, 3, 0", res.Windows, res.Detected, res.FalsePositives)
	}
	res, err = ScoreCorpus(corpus, constant, StandardProfile)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(res.Score) > 1e-9 {
		t.Errorf("a constant score scored %v, want 0", res.Score)
	}
}

func TestScoreCorpusHandComputed(t *testing.T) {
	// 100 rows: rows 0–14 are probation, the window is rows 40–59.
	s := series(100, [2]int{40, 59})
	scores := make([]float64, 100)
	scores[50] = 0.9 // inside: position −(59−50+1)/20 = −0.5
	scores[70] = 0.8 // after the window: position (70−59)/19
	scores[5] = 1    // probation: ignored
	corpus := []*Series{s}

	res, err := ScoreCorpus(corpus, [][]float64{scores}, StandardProfile)
	if err != nil {
		t.Fatal(err)
	}
	tp := scaledSigmoid(-0.5) / scaledSigmoid(-1)
	fp := scaledSigmoid(11.0/19) * 0.11
	// Threshold 0.9 gives tp; 0.8 adds fp, which is negative, so the best
	// threshold is 0.9.
	if math.Abs(res.Raw-tp) > 1e-12 || res.Threshold != 0.9 {
		t.Errorf("raw %v at threshold %v, want %v at 0.9 (the fp would add %v)", res.Raw, res.Threshold, tp, fp)
	}
	// The null detector misses the window: −1.
	if res.Null != -1 {
		t.Errorf("null %v, want -1", res.Null)
	}
	if want := 100 * (tp + 1) / 2; math.Abs(res.Score-want) > 1e-9 {
		t.Errorf("score %v, want %v", res.Score, want)
	}
}

func TestScoreCorpusRejectsMismatch(t *testing.T) {
	corpus := []*Series{series(10)}
	if _, err := ScoreCorpus(corpus, nil, StandardProfile); err == nil {
		t.Error("no error for missing score series")
	}
	if _, err := ScoreCorpus(corpus, [][]float64{make([]float64, 9)}, StandardProfile); err == nil {
		t.Error("no error for 9 scores of 10 rows")
	}
}

func TestReadSeriesRejectsBadInput(t *testing.T) {
	tests := []struct{ name, in, wantErr string }{
		{"empty", "", "read header"},
		{"header", "time,value\n", "invalid header"},
		{"timestamp", "timestamp,value\n2014/01/01,1\n", `invalid timestamp "2014/01/01"`},
		{"value", "timestamp,value\n2014-01-01 00:00:00,x\n", `invalid value "x"`},
		{"NaN", "timestamp,value\n2014-01-01 00:00:00,NaN\n", `invalid value "NaN"`},
		{"backwards", "timestamp,value\n2014-01-01 00:05:00,1\n2014-01-01 00:00:00,1\n", "before the previous row"},
		{"no rows", "timestamp,value\n", "no rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadSeries(strings.NewReader(tt.in), "s.csv")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestReadSeriesAllowsRepeatedTimestamp(t *testing.T) {
	s, err := ReadSeries(strings.NewReader("timestamp,value\n2014-03-09 03:00:00,1\n2014-03-09 03:00:00,2\n"), "s.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Values) != 2 {
		t.Errorf("%d rows, want 2", len(s.Values))
	}
}

func TestReadCorpusWindows(t *testing.T) {
	corpus, err := ReadCorpus("testdata/data", "testdata/combined_windows.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(corpus) != 23 {
		t.Errorf("%d series, want 23", len(corpus))
	}
	windows := 0
	for _, s := range corpus {
		windows += len(s.Windows)
	}
	if windows != 36 {
		t.Errorf("%d windows, want 36", windows)
	}
}

func TestReadCorpusRejectsUnknownWindowTimestamp(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data", "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	csv := "timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,2\n"
	if err := os.WriteFile(filepath.Join(dir, "data", "c", "s.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	labels := `{"c/s.csv": [["2014-01-01 00:00:00.000000", "2014-01-01 00:01:00.000000"]]}`
	if err := os.WriteFile(filepath.Join(dir, "w.json"), []byte(labels), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadCorpus(filepath.Join(dir, "data"), filepath.Join(dir, "w.json"))
	if err == nil || !strings.Contains(err.Error(), `"2014-01-01 00:01:00.000000" is not a row`) {
		t.Errorf("error %v, want one naming the missing timestamp", err)
	}
}

func FuzzReadSeries(f *testing.F) {
	sample, err := os.ReadFile("testdata/data/realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv")
	if err != nil {
		f.Fatal(err)
	}
	lines := strings.SplitN(string(sample), "\n", 8)
	f.Add(strings.Join(lines[:7], "\n"))
	f.Add("timestamp,value\n2014-03-09 03:00:00,1\n2014-03-09 03:00:00,2\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ReadSeries(strings.NewReader(in), "fuzz.csv")
		if err != nil {
			return
		}
		if len(s.Values) == 0 || len(s.Values) != len(s.Timestamps) || len(s.Raw) != len(s.Values) {
			t.Fatalf("%d values, %d timestamps, %d raw timestamps", len(s.Values), len(s.Timestamps), len(s.Raw))
		}
	})
}
