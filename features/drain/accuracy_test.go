package drain

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// drainPublished is the grouping accuracy of Drain on the loghub 2k samples
// as published with the loghub benchmark.
var drainPublished = map[string]float64{
	"BGL":     0.963,
	"OpenSSH": 0.788,
	"Apache":  1.0,
	"Linux":   0.690,
}

func loadLoghub(t testing.TB, name string) []LabeledLine {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "loghub", name+"_2k.log_structured.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines, err := ReadStructuredCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

func mineAccuracy(t testing.TB, lines []LabeledLine) (float64, int) {
	t.Helper()
	m, err := NewMiner(context.Background(), Config{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	predicted := make([]uint64, len(lines))
	truth := make([]string, len(lines))
	for i, l := range lines {
		predicted[i], _, _ = m.Match("eval", l.Content)
		truth[i] = l.EventID
	}
	acc, err := GroupingAccuracy(predicted, truth)
	if err != nil {
		t.Fatal(err)
	}
	return acc, int(m.Stats().Templates)
}

func TestLoghubAccuracy(t *testing.T) {
	for name, published := range drainPublished {
		t.Run(name, func(t *testing.T) {
			lines := loadLoghub(t, name)
			if len(lines) != 2000 {
				t.Fatalf("read %d lines, want 2000", len(lines))
			}
			acc, templates := mineAccuracy(t, lines)
			t.Logf("%s: accuracy %.4f (Drain published %.3f), %d templates", name, acc, published, templates)
			// The published figures are rounded to three decimals.
			if math.Round(acc*1000)/1000 < published {
				t.Errorf("%s: accuracy %.4f is below Drain's published %.3f", name, acc, published)
			}
		})
	}
}
