package models

import (
	"math"
	"testing"
)

// probes returns rows inside and far outside the blob, a row with −0 and
// rows on split values of f, so that every branch of a walk is taken.
func probes(f *IsolationForest, X [][]float64) [][]float64 {
	rows := append([][]float64{}, X[:200]...)
	rows = append(rows, []float64{100, -100}, []float64{math.Copysign(0, -1), 0}, []float64{1e300, -1e300})
	for _, nd := range f.nodes[:50] {
		if nd.feature >= 0 && !f.hyperplanes {
			x := []float64{0, 0}
			x[nd.feature] = nd.value
			rows = append(rows, x)
		}
	}
	return rows
}

func TestScoreBatchMatchesScore(t *testing.T) {
	X := blob(2000, 3, farOutliers)
	for _, tt := range []struct {
		name string
		cfg  ForestConfig
	}{
		{"liu", ForestConfig{Seed: 2}},
		{"extend range", ForestConfig{Seed: 2, ExtendRange: true}},
		{"hyperplanes", ForestConfig{Seed: 2, Hyperplanes: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Fit(X, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			rows := probes(f, X)
			out := make([]float64, len(rows))
			f.ScoreBatch(rows, out)
			for i, x := range rows {
				if want := f.Score(x); out[i] != want {
					t.Errorf("row %v: ScoreBatch %v, Score %v", x, out[i], want)
				}
			}
		})
	}
}

func TestCompleteLayoutMatchesLinkedNodes(t *testing.T) {
	X := blob(3000, 4, farOutliers)
	for _, subsample := range []int{2, 3, 100, 256, 1000} {
		f, err := Fit(X, ForestConfig{Seed: 5, Subsample: subsample, Trees: 20})
		if err != nil {
			t.Fatal(err)
		}
		if f.complete == nil {
			t.Fatalf("subsample %d: no complete layout", subsample)
		}
		rows := probes(f, X)
		complete := make([]float64, len(rows))
		linked := make([]float64, len(rows))
		f.complete.addPathLengths(rows, complete)
		f.scoreRows(rows, linked)
		for i := range rows {
			if complete[i] != linked[i] {
				t.Errorf("subsample %d, row %v: complete layout %v, linked nodes %v", subsample, rows[i], complete[i], linked[i])
			}
		}
	}
}

func TestExtendRangeScoresBeyondTrainingRange(t *testing.T) {
	X := blob(2000, 6, nil)
	liu, err := Fit(X, ForestConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	extended, err := Fit(X, ForestConfig{Seed: 1, ExtendRange: true})
	if err != nil {
		t.Fatal(err)
	}
	near, far := []float64{6, 0}, []float64{600, 0}
	// Beyond the training range, the path of Liu et al. no longer depends
	// on the distance.
	if liu.Score(near) != liu.Score(far) {
		t.Errorf("Liu et al.: Score(%v) = %v, Score(%v) = %v, want equal", near, liu.Score(near), far, liu.Score(far))
	}
	if extended.Score(far) <= extended.Score(near) {
		t.Errorf("ExtendRange: Score(%v) = %v, not above Score(%v) = %v", far, extended.Score(far), near, extended.Score(near))
	}
	if extended.Score(far) <= liu.Score(far) {
		t.Errorf("Score(%v): ExtendRange %v, not above Liu et al. %v", far, extended.Score(far), liu.Score(far))
	}
}

func TestHyperplaneForestSeparatesOutliers(t *testing.T) {
	X := blob(1000, 1, farOutliers)
	for _, features := range []int{0, 1} {
		f, err := Fit(X, ForestConfig{Seed: 7, Hyperplanes: true, HyperplaneFeatures: features})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range farOutliers {
			if s := f.Score(o); s <= 0.6 {
				t.Errorf("hyperplane features %d: outlier %v scored %.3f, want > 0.6", features, o, s)
			}
		}
		if s := f.Score([]float64{0, 0}); s >= 0.5 {
			t.Errorf("hyperplane features %d: centre scored %.3f, want < 0.5", features, s)
		}
	}
}

func TestHyperplaneForestDeterministic(t *testing.T) {
	X := blob(500, 2, farOutliers)
	a, err := Fit(X, ForestConfig{Seed: 9, Hyperplanes: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Fit(X, ForestConfig{Seed: 9, Hyperplanes: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range X[:50] {
		if a.Score(x) != b.Score(x) {
			t.Fatalf("same seed, Score(%v) = %v and %v", x, a.Score(x), b.Score(x))
		}
	}
}

func TestFitRejectsNegativeHyperplaneFeatures(t *testing.T) {
	if _, err := Fit([][]float64{{1}, {2}}, ForestConfig{Hyperplanes: true, HyperplaneFeatures: -1}); err == nil {
		t.Error("no error")
	}
}
