package models

import (
	"os"
	"testing"
)

// readOutlierSet reads one of the bundled outlier sets.
func readOutlierSet(tb testing.TB, name string) ([][]float64, []bool) {
	tb.Helper()
	fh, err := os.Open("testdata/outliers/" + name + ".csv")
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	X, labels, err := ReadLabeledCSV(fh)
	if err != nil {
		tb.Fatal(err)
	}
	return X, labels
}

// BenchmarkScoreBatch reports the time to score every row of shuttle; the
// ns/row metric compares with scikit-learn's score_samples as measured by
// harrier eval outliers and scripts/reference/sklearn_iforest.py.
func BenchmarkScoreBatch(b *testing.B) {
	X, _ := readOutlierSet(b, "shuttle")
	for _, v := range []struct {
		name string
		cfg  ForestConfig
	}{
		{"liu", ForestConfig{Seed: 1}},
		{"extend-range", ForestConfig{Seed: 1, ExtendRange: true}},
		{"hyperplanes", ForestConfig{Seed: 1, Hyperplanes: true}},
	} {
		b.Run(v.name, func(b *testing.B) {
			f, err := Fit(X, v.cfg)
			if err != nil {
				b.Fatal(err)
			}
			out := make([]float64, len(X))
			b.ResetTimer()
			for b.Loop() {
				f.ScoreBatch(X, out)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(X)), "ns/row")
		})
	}
}
