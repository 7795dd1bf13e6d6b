package models

import (
	"fmt"
	"time"
)

// OutlierEvaluation is the accuracy and speed of one forest configuration on
// a labelled set, as means over several seeds.
type OutlierEvaluation struct {
	// AUC is the mean ROC AUC.
	AUC float64 `json:"auc"`
	// AP is the mean average precision.
	AP float64 `json:"ap"`
	// FitMicrosPerRow is the mean fit time divided by the number of rows,
	// in microseconds. It includes scoring the training rows for the
	// threshold.
	FitMicrosPerRow float64 `json:"fit_us_per_row"`
	// ScoreMicrosPerRow is the mean ScoreBatch time divided by the number
	// of rows, in microseconds.
	ScoreMicrosPerRow float64 `json:"us_per_row"`
	// SingleRowMicros is the mean time of one Score call on one row, in
	// microseconds: the latency of the streaming scorer, which scores each
	// window as it closes.
	SingleRowMicros float64 `json:"single_row_us"`
	// Runs holds the figures of each seed.
	Runs []OutlierRun `json:"runs"`
}

// OutlierRun is the result of one seed.
type OutlierRun struct {
	Seed              int64   `json:"seed"`
	AUC               float64 `json:"auc"`
	AP                float64 `json:"ap"`
	FitMicrosPerRow   float64 `json:"fit_us_per_row"`
	ScoreMicrosPerRow float64 `json:"us_per_row"`
	SingleRowMicros   float64 `json:"single_row_us"`
}

// singleRows is the number of rows that EvaluateOutliers scores one call
// each to time single-row latency.
const singleRows = 200

// EvaluateOutliers fits a forest on every row of X once per seed
// (cfg.Seed is replaced by each seed in turn), scores every row with
// ScoreBatch, and returns the ROC AUC and average precision against
// labels (true = outlier) with the time taken. Training on the whole set,
// labels unseen, is the protocol of Liu, Ting and Zhou and of ADBench.
func EvaluateOutliers(X [][]float64, labels []bool, cfg ForestConfig, seeds []int64) (OutlierEvaluation, error) {
	var ev OutlierEvaluation
	if len(seeds) == 0 {
		return ev, fmt.Errorf("invalid seeds: none given")
	}
	if len(X) != len(labels) {
		return ev, fmt.Errorf("invalid set: %d rows but %d labels", len(X), len(labels))
	}
	scores := make([]float64, len(X))
	rows := float64(len(X))
	for _, seed := range seeds {
		cfg.Seed = seed
		start := time.Now()
		f, err := Fit(X, cfg)
		if err != nil {
			return ev, err
		}
		fitTime := time.Since(start)

		start = time.Now()
		f.ScoreBatch(X, scores)
		scoreTime := time.Since(start)

		single := X[:min(singleRows, len(X))]
		start = time.Now()
		for _, x := range single {
			f.Score(x)
		}
		singleTime := time.Since(start)

		auc, err := ROCAUC(scores, labels)
		if err != nil {
			return ev, err
		}
		ap, err := AveragePrecision(scores, labels)
		if err != nil {
			return ev, err
		}
		ev.Runs = append(ev.Runs, OutlierRun{
			Seed:              seed,
			AUC:               auc,
			AP:                ap,
			FitMicrosPerRow:   float64(fitTime.Microseconds()) / rows,
			ScoreMicrosPerRow: float64(scoreTime.Nanoseconds()) / 1e3 / rows,
			SingleRowMicros:   float64(singleTime.Nanoseconds()) / 1e3 / float64(len(single)),
		})
	}
	n := float64(len(ev.Runs))
	for _, r := range ev.Runs {
		ev.AUC += r.AUC / n
		ev.AP += r.AP / n
		ev.FitMicrosPerRow += r.FitMicrosPerRow / n
		ev.ScoreMicrosPerRow += r.ScoreMicrosPerRow / n
		ev.SingleRowMicros += r.SingleRowMicros / n
	}
	return ev, nil
}
