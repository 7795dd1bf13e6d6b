package models

import (
	"math"
	"testing"

	"github.com/harrierhq/harrier/features"
)

// sshdBaseline returns a baseline of an idle sshd: 0.05 cores, 8 MB, 22
// log lines and no errors a minute.
func sshdBaseline(t *testing.T) Baseline {
	t.Helper()
	var rows [][]float64
	for i := range 30 {
		jitter := float64(i%3 - 1)
		rows = append(rows, []float64{0.05 + 0.001*jitter, 0, 8e6 + 1e4*jitter, 22 + jitter, 0, 0})
	}
	b, err := NewBaseline(features.FeatureNames, rows)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBaselineMedianAndMAD(t *testing.T) {
	b, err := NewBaseline([]string{"x"}, [][]float64{{1}, {2}, {4}, {10}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Median[0] != 3 {
		t.Errorf("median = %v, want 3", b.Median[0])
	}
	// Deviations 2, 1, 1, 7 have median 1.5.
	if b.MAD[0] != 1.5 {
		t.Errorf("MAD = %v, want 1.5", b.MAD[0])
	}
}

func TestExplainRanksAndWords(t *testing.T) {
	b := sshdBaseline(t)
	drivers := b.Explain([]float64{1.8, 0, 8e6, 312, 290, 0})
	if len(drivers) != MaxDrivers {
		t.Fatalf("got %d drivers, want %d", len(drivers), MaxDrivers)
	}
	want := []string{
		"error lines 290 against a baseline median of 0",
		"cpu cores 36.0 times its baseline median (1.80 vs 0.05)",
		"log lines 14.2 times its baseline median (312 vs 22)",
	}
	for i, w := range want {
		if drivers[i].Text != w {
			t.Errorf("driver %d = %q, want %q", i, drivers[i].Text, w)
		}
		if !drivers[i].Significant() {
			t.Errorf("driver %d (%s) is not significant", i, drivers[i].Feature)
		}
	}
	for i := 1; i < len(drivers); i++ {
		if math.Abs(drivers[i].Z) > math.Abs(drivers[i-1].Z) {
			t.Errorf("driver %d has |z| %.1f above driver %d's %.1f", i, drivers[i].Z, i-1, drivers[i-1].Z)
		}
	}
}

func TestExplainSmallChangesNotSignificant(t *testing.T) {
	b := sshdBaseline(t)
	for _, d := range b.Explain([]float64{0.052, 0, 8.05e6, 30, 0, 0}) {
		if d.Significant() {
			t.Errorf("driver %q is significant", d.Text)
		}
	}
}

func TestExplainDropIsReported(t *testing.T) {
	b := sshdBaseline(t)
	drivers := b.Explain([]float64{0.05, 0, 8e6, 0, 0, 0})
	if len(drivers) != 1 {
		t.Fatalf("got %d drivers, want 1", len(drivers))
	}
	if drivers[0].Text != "log lines 0.0 times its baseline median (0 vs 22)" {
		t.Errorf("text = %q", drivers[0].Text)
	}
	if !drivers[0].Significant() {
		t.Error("silence of a container that logs 22 lines a minute is not significant")
	}
}
