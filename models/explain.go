package models

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/harrierhq/harrier/features"
)

// madScale turns the median absolute deviation into an estimate of the
// standard deviation of normally distributed data.
const madScale = 1.4826

// zEpsilon keeps the robust z finite for a feature without a spread floor.
const zEpsilon = 1e-9

// A window whose score reaches the threshold is anomalous only when one of
// its drivers is significant: its robust z-score reaches MinDriverZ and
// its value is at least MinDriverRatio times its baseline median, or at
// most 1/MinDriverRatio of it. The forest isolates the tails of ordinary
// variation as readily as a real change, such as a working set 3% above
// its median, and this check keeps those windows from alerting. The
// z-score cut-off 3.5 is the one Iglewicz and Hoaglin (1993) propose for
// the modified z-score. The ratio keeps a container whose baseline is
// still short, and so has a small MAD, from alerting on small changes.
const (
	MinDriverZ     = 3.5
	MinDriverRatio = 3.0
)

// MaxDrivers is the number of drivers that Explain returns.
const MaxDrivers = 3

// Baseline is the per-feature median and median absolute deviation (MAD) of
// a set of training windows, in the features' own units.
type Baseline struct {
	Names  []string
	Median []float64
	MAD    []float64
}

// countFeatures are the features that count events in a window. Their
// spread is taken to be at least √median + 1, about the standard deviation
// of a Poisson count plus one. Without the floor a quiet container that
// logs one line most minutes has a MAD of 0, and every silent or busy
// minute would be an outlier. With it, the smallest count that reaches
// MinDriverZ has a one-sided Poisson tail probability of about 1e-4 or
// less for medians from 1 to 100 (8 lines against a median of 1, 25
// against 10, 139 against 100).
var countFeatures = map[string]bool{
	features.FeatureLogLines:   true,
	features.FeatureErrorLines: true,
	features.FeatureNewShapes:  true,
}

// resolution is the smallest change of a gauge feature worth reporting,
// used as the floor of its spread. A container whose CPU never varied
// would otherwise rank a change of 0.001 cores above any count, and the
// ranking among features that never varied would be arbitrary.
var resolution = map[string]float64{
	features.FeatureCPUCores:              0.01,
	features.FeatureCPUThrottledRatio:     0.01,
	features.FeatureMemoryWorkingSetBytes: 1 << 20,
}

// spread returns the robust standard deviation of feature d: MAD·1.4826,
// but at least the feature's floor.
func (b Baseline) spread(d int) float64 {
	s := b.MAD[d] * madScale
	name := b.Names[d]
	if countFeatures[name] {
		s = math.Max(s, math.Sqrt(math.Max(b.Median[d], 0))+1)
	}
	return math.Max(s, resolution[name])
}

// NewBaseline computes the baseline of the rows of X, whose columns are the
// features named by names.
func NewBaseline(names []string, X [][]float64) (Baseline, error) {
	if len(X) == 0 {
		return Baseline{}, fmt.Errorf("invalid baseline: no rows")
	}
	b := Baseline{Names: names, Median: make([]float64, len(names)), MAD: make([]float64, len(names))}
	column := make([]float64, len(X))
	for d := range names {
		for i, row := range X {
			if len(row) != len(names) {
				return Baseline{}, fmt.Errorf("invalid baseline: row %d has %d features, want %d", i, len(row), len(names))
			}
			column[i] = row[d]
		}
		b.Median[d] = median(column)
		for i := range column {
			column[i] = math.Abs(column[i] - b.Median[d])
		}
		b.MAD[d] = median(column)
	}
	return b, nil
}

// median sorts x in place and returns its median.
func median(x []float64) float64 {
	slices.Sort(x)
	n := len(x)
	if n%2 == 1 {
		return x[n/2]
	}
	return (x[n/2-1] + x[n/2]) / 2
}

// Driver is one feature of a window and how far it is from the baseline.
type Driver struct {
	Feature string
	Value   float64
	Median  float64
	// Z is the robust z-score (Value − Median) / (MAD·1.4826 + ε). The
	// term MAD·1.4826 has a floor: √Median + 1 for a count feature, and the
	// feature's resolution (10 millicores, 1% throttled, 1 MiB) for a gauge.
	Z float64
	// Text puts the same in plain words, for example "log lines 14.2 times
	// its baseline median (312 vs 22)".
	Text string
}

// Significant reports whether the driver is far enough from the baseline,
// in robust z-score and in ratio to the median, to explain an anomaly.
func (d Driver) Significant() bool {
	if math.Abs(d.Z) < MinDriverZ {
		return false
	}
	if d.Median == 0 {
		return d.Value != 0
	}
	ratio := d.Value / d.Median
	return ratio >= MinDriverRatio || ratio <= 1/MinDriverRatio
}

// Explain ranks the features of x by the absolute robust z-score against
// the baseline and returns the top MaxDrivers that differ from the median.
func (b Baseline) Explain(x []float64) []Driver {
	var drivers []Driver
	for d, name := range b.Names {
		if d >= len(x) {
			break
		}
		if x[d] == b.Median[d] {
			continue
		}
		z := (x[d] - b.Median[d]) / (b.spread(d) + zEpsilon)
		drivers = append(drivers, Driver{
			Feature: name,
			Value:   x[d],
			Median:  b.Median[d],
			Z:       z,
			Text:    describe(name, x[d], b.Median[d]),
		})
	}
	slices.SortStableFunc(drivers, func(a, b Driver) int {
		switch {
		case math.Abs(a.Z) > math.Abs(b.Z):
			return -1
		case math.Abs(a.Z) < math.Abs(b.Z):
			return 1
		}
		return 0
	})
	if len(drivers) > MaxDrivers {
		drivers = drivers[:MaxDrivers]
	}
	return drivers
}

// describe puts a feature's value against its baseline median in words.
func describe(name string, value, median float64) string {
	label := strings.ReplaceAll(name, "_", " ")
	if median == 0 {
		return fmt.Sprintf("%s %s against a baseline median of 0", label, formatValue(value))
	}
	return fmt.Sprintf("%s %.1f times its baseline median (%s vs %s)", label, value/median, formatValue(value), formatValue(median))
}

// formatValue prints whole numbers and values of 100 or more without
// decimals, and smaller fractions with two.
func formatValue(v float64) string {
	if v == math.Trunc(v) || math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
