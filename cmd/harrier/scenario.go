package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/harrierhq/harrier/internal/scenario"
)

func init() {
	register(&command{
		name:        "scenario",
		subcommands: true,
		summary: "Generate a labelled fleet: 'scenario generate --out DIR [--seed N] [--containers N] [--hours H]' writes Docker logs and configs, " +
			"cgroup snapshots a minute apart and Trivy reports with injected incidents, and their labels in DIR/labels.csv.",
		run: func(ctx context.Context, env *cmdEnv) error {
			if len(env.args) == 0 || env.args[0] != "generate" {
				return errors.New("missing subcommand: expected 'scenario generate --out DIR'")
			}
			return runScenarioGenerate(env, env.args[1:])
		},
	})
}

func runScenarioGenerate(env *cmdEnv, args []string) error {
	fs := flag.NewFlagSet("harrier scenario generate", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	out := fs.String("out", "", "output `folder`, which must be empty or absent")
	seed := fs.Int64("seed", 1, "seed of the traffic, the victims and the incident times")
	containers := fs.Int("containers", scenario.DefaultContainers, fmt.Sprintf("containers in the fleet before redeploys (%d to %d)", scenario.MinContainers, scenario.MaxContainers))
	hours := fs.Int("hours", scenario.DefaultHours, fmt.Sprintf("length of the timeline in hours (%d to %d)", scenario.MinHours, scenario.MaxHours))
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: harrier scenario generate --out DIR [--seed N] [--containers N] [--hours H]")
		fmt.Fprintln(fs.Output(), "\nWrites a fleet's telemetry in the formats 'harrier collect' reads, with daily seasonality, noise and")
		fmt.Fprintln(fs.Output(), "one incident of each kind ("+joinKinds()+"; the brute force once over SSH and once over HTTP),")
		fmt.Fprintln(fs.Output(), "and their kind, container and time span in DIR/labels.csv. 'harrier eval scenarios --dir DIR' replays it.\n\nFlags:")
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
		return fmt.Errorf("unexpected arguments %q: expected 'scenario generate --out DIR'", positional)
	}
	if *out == "" {
		return errors.New("missing --out: the folder to write the fleet to")
	}

	started := time.Now()
	m, err := scenario.Generate(*out, scenario.Config{Seed: *seed, Containers: *containers, Hours: *hours})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Wrote %s in %.1f s: seed %d, %d containers (%d with redeploys), %d hours from %s, %d incidents in %s\n",
		*out, time.Since(started).Seconds(), m.Seed, m.Containers, len(m.Fleet), m.Hours, m.Start.Format(time.RFC3339), m.Incidents, *out+"/labels.csv")
	return nil
}

func joinKinds() string {
	s := ""
	for i, k := range scenario.Kinds {
		if i > 0 {
			s += ", "
		}
		s += k
	}
	return s
}
