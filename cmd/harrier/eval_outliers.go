package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/harrierhq/harrier/models"
)

func init() { registerEval("outliers", runEvalOutliers) }

// sklearnReference is the output of scripts/reference/sklearn_iforest.py.
type sklearnReference struct {
	Version           string  `json:"sklearn_version"`
	AUC               float64 `json:"auc"`
	AP                float64 `json:"ap"`
	FitMicrosPerRow   float64 `json:"fit_us_per_row"`
	ScoreMicrosPerRow float64 `json:"score_us_per_row"`
	SingleRowMicros   float64 `json:"single_row_us"`
}

// outlierVariant is one forest configuration that eval outliers measures.
type outlierVariant struct {
	name string
	cfg  models.ForestConfig
}

func runEvalOutliers(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("harrier eval outliers", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	seed := fs.Int64("seed", 0, "first seed; seeds seed … seed+runs−1 are evaluated and averaged")
	runs := fs.Int("runs", 5, "number of seeds to average over")
	asJSON := fs.Bool("json", false, `print {"auc":…, "ap":…, "us_per_row":…} of the default forest as the last line`)
	trees := fs.Int("trees", models.DefaultTrees, "number of trees")
	subsample := fs.Int("subsample", models.DefaultSubsample, "rows per tree (ψ)")
	script := fs.String("reference", filepath.Join("scripts", "reference", "sklearn_iforest.py"),
		`scikit-learn reference script, run with --python when it exists and scikit-learn imports; "" skips it`)
	python := fs.String("python", "python3", "Python interpreter for the reference script")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: harrier eval outliers FILE.csv [flags]")
		fmt.Fprintln(fs.Output(), "\nFits isolation forests on every row of a CSV with columns f0..fN,label (label 1 = outlier),")
		fmt.Fprintln(fs.Output(), "scores every row and prints ROC AUC, average precision and microseconds per scored row,")
		fmt.Fprintln(fs.Output(), "beside scikit-learn's IsolationForest when Python with scikit-learn is present.\n\nFlags:")
		fs.PrintDefaults()
	}
	positional, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return fmt.Errorf("invalid arguments %q: want exactly one CSV file", positional)
	}
	if *runs < 1 {
		return fmt.Errorf("invalid --runs %d: must be at least 1", *runs)
	}
	path := positional[0]

	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open outlier set: %w", err)
	}
	X, labels, err := models.ReadLabeledCSV(fh)
	fh.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	outliers := 0
	for _, l := range labels {
		if l {
			outliers++
		}
	}
	fmt.Fprintf(env.stdout, "%s: %d rows, %d features, %d outliers; %d trees, subsample %d, mean of seeds %d…%d\n",
		filepath.Base(path), len(X), len(X[0]), outliers, *trees, *subsample, *seed, *seed+int64(*runs)-1)

	seeds := make([]int64, *runs)
	for i := range seeds {
		seeds[i] = *seed + int64(i)
	}
	base := models.ForestConfig{Trees: *trees, Subsample: *subsample}
	variants := []outlierVariant{
		{"isolation forest (Liu et al.)", base},
		{"isolation forest, range-extended", withExtendRange(base)},
		{"extended isolation forest", withHyperplanes(base)},
	}
	var results []models.OutlierEvaluation
	for _, v := range variants {
		if err := ctx.Err(); err != nil {
			return err
		}
		ev, err := models.EvaluateOutliers(X, labels, v.cfg, seeds)
		if err != nil {
			return fmt.Errorf("evaluate %s: %w", v.name, err)
		}
		results = append(results, ev)
		fmt.Fprintf(env.stdout, "  %-36s AUC %.4f  AP %.4f  batch score %7.3f µs/row  one row %9.1f µs  fit %7.3f µs/row\n",
			v.name, ev.AUC, ev.AP, ev.ScoreMicrosPerRow, ev.SingleRowMicros, ev.FitMicrosPerRow)
	}

	if *script != "" {
		ref, err := runSklearnReference(ctx, *python, *script, path, *seed, *runs)
		if err != nil {
			fmt.Fprintf(env.stdout, "  scikit-learn reference skipped: %v\n", err)
		} else {
			printSklearnComparison(env.stdout, ref, results[0])
		}
	}

	if *asJSON {
		line, err := json.Marshal(map[string]float64{
			"auc":        results[0].AUC,
			"ap":         results[0].AP,
			"us_per_row": results[0].ScoreMicrosPerRow,
		})
		if err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, string(line))
	}
	return nil
}

func withExtendRange(cfg models.ForestConfig) models.ForestConfig {
	cfg.ExtendRange = true
	return cfg
}

func withHyperplanes(cfg models.ForestConfig) models.ForestConfig {
	cfg.Hyperplanes = true
	return cfg
}

// runSklearnReference runs the reference script on the same file and
// seeds. It fails when the script or scikit-learn is missing.
func runSklearnReference(ctx context.Context, python, script, csvPath string, seed int64, runs int) (sklearnReference, error) {
	var ref sklearnReference
	if _, err := os.Stat(script); err != nil {
		return ref, fmt.Errorf("reference script: %w", err)
	}
	cmd := exec.CommandContext(ctx, python, script, csvPath, "--seed", fmt.Sprint(seed), "--runs", fmt.Sprint(runs))
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return ref, fmt.Errorf("%s %s failed: %w: %s", python, script, err, lastLine(stderr.Bytes()))
	}
	if err := json.Unmarshal(lastLine(stdout.Bytes()), &ref); err != nil {
		return ref, fmt.Errorf("invalid output of %s: %w", script, err)
	}
	return ref, nil
}

func printSklearnComparison(w io.Writer, ref sklearnReference, ours models.OutlierEvaluation) {
	fmt.Fprintf(w, "  %-36s AUC %.4f  AP %.4f  batch score %7.3f µs/row  one row %9.1f µs  fit %7.3f µs/row\n",
		"scikit-learn "+ref.Version+" IsolationForest", ref.AUC, ref.AP, ref.ScoreMicrosPerRow, ref.SingleRowMicros, ref.FitMicrosPerRow)
	fmt.Fprintf(w, "  AUC difference (Liu et al. − scikit-learn): %+.4f\n", ours.AUC-ref.AUC)
	if ours.ScoreMicrosPerRow > 0 && ours.FitMicrosPerRow > 0 && ours.SingleRowMicros > 0 {
		fmt.Fprintf(w, "  speed ratio (scikit-learn time / Harrier time): batch score %.1f×, one row %.0f×, fit %.1f×\n",
			ref.ScoreMicrosPerRow/ours.ScoreMicrosPerRow, ref.SingleRowMicros/ours.SingleRowMicros, ref.FitMicrosPerRow/ours.FitMicrosPerRow)
	}
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}
