package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/harrierhq/harrier/models/nab"
)

func init() { registerEval("nab", runEvalNAB) }

func runEvalNAB(ctx context.Context, env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("harrier eval nab", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	dataDir := fs.String("data", "", "NAB data directory: one timestamp,value CSV file per series, in category folders")
	labels := fs.String("labels", "", "NAB anomaly windows file (combined_windows.json)")
	outDir := fs.String("out", "", "directory for the result files (timestamp, value, anomaly_score, label), laid out as NAB's results/<detector>/")
	asJSON := fs.Bool("json", false, `print {"nab_standard":…} as the last line`)
	seed := fs.Int64("seed", 0, "seed of the isolation forests")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: harrier eval nab --data DIR --labels FILE --out DIR [--json]")
		fmt.Fprintln(fs.Output(), "\nRuns the streaming single-series detector over NAB series, writes NAB result files and")
		fmt.Fprintln(fs.Output(), "prints the standard-profile NAB score at the best threshold over the corpus.\n\nFlags:")
		fs.PrintDefaults()
	}
	positional, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return fmt.Errorf("invalid arguments %q: eval nab takes only flags", positional)
	}
	for name, v := range map[string]string{"--data": *dataDir, "--labels": *labels, "--out": *outDir} {
		if v == "" {
			return fmt.Errorf("missing flag %s: --data, --labels and --out are required", name)
		}
	}

	corpus, err := nab.ReadCorpus(*dataDir, *labels)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	scores := nab.DetectCorpus(corpus, nab.DetectorConfig{Seed: *seed})
	elapsed := time.Since(start)
	if err := nab.WriteCorpusResults(*outDir, corpus, scores); err != nil {
		return err
	}
	res, err := nab.ScoreCorpus(corpus, scores, nab.StandardProfile)
	if err != nil {
		return err
	}
	rows := 0
	for _, s := range corpus {
		rows += len(s.Values)
	}
	fmt.Fprintf(env.stdout, "%d series, %d rows, %d anomaly windows scored; detection took %.1f µs per row\n",
		len(corpus), rows, res.Windows, float64(elapsed.Nanoseconds())/1e3/float64(rows))
	fmt.Fprintf(env.stdout, "result files written to %s\n", *outDir)
	fmt.Fprintf(env.stdout, "NAB standard profile: score %.1f (raw %.2f, null %.2f, perfect %.2f) at threshold %.6f: %d of %d windows detected, %d false positive rows\n",
		res.Score, res.Raw, res.Null, res.Perfect, res.Threshold, res.Detected, res.Windows, res.FalsePositives)
	if *asJSON {
		line, err := json.Marshal(map[string]float64{"nab_standard": res.Score})
		if err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, string(line))
	}
	return nil
}
