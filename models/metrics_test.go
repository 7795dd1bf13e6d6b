package models

import (
	"math"
	"testing"
)

func TestRankingMetricsMatchScikitLearn(t *testing.T) {
	// Reference values from scikit-learn 1.9.1 roc_auc_score and
	// average_precision_score on the same input, which has ties across
	// classes.
	labels := []bool{false, false, true, true, false, true, false, false}
	scores := []float64{0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.2, 0.9}

	auc, err := ROCAUC(scores, labels)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(auc-0.6) > 1e-12 {
		t.Errorf("ROCAUC = %v, want 0.6", auc)
	}
	ap, err := AveragePrecision(scores, labels)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(ap-0.4666666666666667) > 1e-12 {
		t.Errorf("AveragePrecision = %v, want 0.46667", ap)
	}
}

func TestRankingMetricsPerfectOrder(t *testing.T) {
	labels := []bool{false, false, true}
	scores := []float64{0.1, 0.2, 0.9}
	if auc, _ := ROCAUC(scores, labels); auc != 1 {
		t.Errorf("ROCAUC = %v, want 1", auc)
	}
	if ap, _ := AveragePrecision(scores, labels); ap != 1 {
		t.Errorf("AveragePrecision = %v, want 1", ap)
	}
}

func TestRankingMetricsRejectBadInput(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		labels []bool
	}{
		{"length mismatch", []float64{1, 2}, []bool{true}},
		{"no outliers", []float64{1, 2}, []bool{false, false}},
		{"only outliers", []float64{1, 2}, []bool{true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ROCAUC(tt.scores, tt.labels); err == nil {
				t.Error("ROCAUC: no error")
			}
			if _, err := AveragePrecision(tt.scores, tt.labels); err == nil {
				t.Error("AveragePrecision: no error")
			}
		})
	}
}
