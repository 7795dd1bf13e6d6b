package models

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"gonum.org/v1/gonum/mathext/prng"
)

// blob returns n points of a standard 2-D Gaussian followed by the outliers.
func blob(n int, seed uint64, outliers [][]float64) [][]float64 {
	rng := rand.New(prng.NewXoshiro256plusplus(seed))
	X := make([][]float64, 0, n+len(outliers))
	for range n {
		X = append(X, []float64{rng.NormFloat64(), rng.NormFloat64()})
	}
	return append(X, outliers...)
}

var farOutliers = [][]float64{{8, 8}, {-9, 7}, {10, -8}, {-8, -10}}

func TestAveragePathLength(t *testing.T) {
	tests := []struct {
		n    int
		want float64
	}{
		{0, 0},
		{1, 0},
		{2, 1},
		// 2(ln 2 + γ) − 4/3.
		{3, 2*(math.Log(2)+eulerGamma) - 4.0/3},
		{256, 10.2448},
	}
	for _, tt := range tests {
		if got := AveragePathLength(tt.n); math.Abs(got-tt.want) > 1e-4 {
			t.Errorf("c(%d) = %.6f, want %.4f", tt.n, got, tt.want)
		}
	}
}

func TestForestSeparatesOutliers(t *testing.T) {
	X := blob(1000, 1, farOutliers)
	f, err := Fit(X, ForestConfig{Trees: 100, Subsample: 256, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range farOutliers {
		if s := f.Score(o); s <= 0.6 {
			t.Errorf("outlier %v scored %.3f, want > 0.6", o, s)
		}
	}
	for _, x := range X[:1000] {
		if math.Hypot(x[0], x[1]) > 1.5 {
			// Points in the tail of the blob score near 0.5, as they do in
			// other isolation forest implementations.
			continue
		}
		if s := f.Score(x); s >= 0.5 {
			t.Errorf("inlier %v scored %.3f, want < 0.5", x, s)
		}
	}
	if s := f.Score([]float64{0, 0}); s >= 0.5 {
		t.Errorf("centre scored %.3f, want < 0.5", s)
	}
}

func TestForestThresholdFlagsOutliers(t *testing.T) {
	X := blob(500, 2, farOutliers)
	f, err := Fit(X, ForestConfig{Seed: 3, Contamination: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if th := f.Threshold(); th <= 0.5 || th >= 1 {
		t.Errorf("Threshold = %.3f, want in (0.5, 1)", th)
	}
	for _, o := range farOutliers {
		if s := f.Score(o); s < f.Threshold() {
			t.Errorf("outlier %v scored %.3f, below threshold %.3f", o, s, f.Threshold())
		}
	}
}

func TestForestDeterministic(t *testing.T) {
	X := blob(600, 4, farOutliers)
	a, err := Fit(X, ForestConfig{Trees: 50, Subsample: 128, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Fit(X, ForestConfig{Trees: 50, Subsample: 128, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Fit(X, ForestConfig{Trees: 50, Subsample: 128, Seed: 43})
	if err != nil {
		t.Fatal(err)
	}
	probe := []float64{1.5, -0.7}
	if a.Score(probe) != b.Score(probe) {
		t.Errorf("same seed, different scores: %v != %v", a.Score(probe), b.Score(probe))
	}
	if a.Threshold() != b.Threshold() {
		t.Errorf("same seed, different thresholds: %v != %v", a.Threshold(), b.Threshold())
	}
	if a.Nodes() != b.Nodes() {
		t.Errorf("same seed, different node counts: %d != %d", a.Nodes(), b.Nodes())
	}
	if a.Score(probe) == c.Score(probe) && a.Nodes() == c.Nodes() {
		t.Error("different seeds grew identical forests")
	}
}

func TestForestConcurrentScore(t *testing.T) {
	X := blob(300, 5, farOutliers)
	f, err := Fit(X, ForestConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := f.Score(farOutliers[0])
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if got := f.Score(farOutliers[0]); got != want {
					t.Errorf("concurrent Score = %v, want %v", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestForestConstantFeature(t *testing.T) {
	X := make([][]float64, 50)
	for i := range X {
		X[i] = []float64{float64(i % 5), 3}
	}
	f, err := Fit(X, ForestConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Score([]float64{2, 3}); math.IsNaN(s) || s <= 0 || s > 1 {
		t.Errorf("Score = %v, want in (0, 1]", s)
	}
}

func TestFitRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		X    [][]float64
		cfg  ForestConfig
	}{
		{"no rows", nil, ForestConfig{}},
		{"no features", [][]float64{{}}, ForestConfig{}},
		{"ragged rows", [][]float64{{1, 2}, {3}}, ForestConfig{}},
		{"NaN", [][]float64{{1, math.NaN()}}, ForestConfig{}},
		{"negative trees", [][]float64{{1}}, ForestConfig{Trees: -1}},
		{"contamination too high", [][]float64{{1}}, ForestConfig{Contamination: 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Fit(tt.X, tt.cfg); err == nil {
				t.Error("no error")
			}
		})
	}
}

func BenchmarkScore(b *testing.B) {
	X := blob(2000, 9, farOutliers)
	f, err := Fit(X, ForestConfig{Trees: 100, Subsample: 256, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Score(X[i%len(X)])
	}
}

func BenchmarkFit(b *testing.B) {
	X := blob(2000, 9, farOutliers)
	for i := 0; i < b.N; i++ {
		if _, err := Fit(X, ForestConfig{Trees: 100, Subsample: 256, Seed: int64(i)}); err != nil {
			b.Fatal(err)
		}
	}
}
