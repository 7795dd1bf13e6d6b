package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/harrierhq/harrier/models"
)

func init() {
	register(&command{
		name:        "models",
		subcommands: true,
		summary:     "Show the model registry: 'models list' prints every saved model version in models.dir with its training range, threshold and metrics.",
		groups:      []string{"models"},
		run: func(ctx context.Context, env *cmdEnv) error {
			if len(env.args) == 0 || env.args[0] != "list" {
				return errors.New("missing subcommand: expected 'models list [--dir DIR] [--workload KEY] [--json]'")
			}
			return modelsList(env.args[1:], env)
		},
	})
}

// modelsList prints the metadata of the models in the registry folder.
func modelsList(args []string, env *cmdEnv) error {
	fs := flag.NewFlagSet("harrier models list", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	dir := fs.String("dir", env.cfg.Models.Dir, "models `folder`; default models.dir")
	workload := fs.String("workload", "", "list only the versions of this workload `key`, such as fleet or image=nginx")
	asJSON := fs.Bool("json", false, "print one JSON object per model version instead of a table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: expected 'models list [--dir DIR] [--workload KEY] [--json]'", fs.Args())
	}
	if *dir == "" {
		return errors.New("missing models folder: set models.dir (--models.dir before 'list', HARRIER_MODELS_DIR or the config file) or pass --dir")
	}

	infos, err := models.ListModels(*dir)
	if err != nil {
		return err
	}
	var selected []models.ModelInfo
	for _, m := range infos {
		if *workload == "" || m.Workload == *workload {
			selected = append(selected, m)
		}
	}

	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		for _, m := range selected {
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
		return nil
	}
	if len(selected) == 0 {
		fmt.Fprintf(env.stdout, "no models in %s\n", *dir)
		return nil
	}
	w := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "VERSION\tWORKLOAD\tCREATED\tREASON\tTRAINING RANGE\tWINDOWS\tFEATURES\tTHRESHOLD\tFLAGGED\tMEDIAN SCORE\tFIT")
	for _, m := range selected {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s to %s\t%d\t%d\t%.4f\t%.2f%%\t%.4f\t%.3fs\n",
			m.Version, m.Workload, m.CreatedAt.UTC().Format(time.RFC3339), m.Reason,
			m.TrainingFrom.UTC().Format(time.RFC3339), m.TrainingTo.UTC().Format(time.RFC3339),
			m.TrainingWindows, len(m.Features), m.Threshold, 100*m.Metrics.FlaggedShare, m.Metrics.ScoreMedian, m.Metrics.FitSeconds)
	}
	return w.Flush()
}
