package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/harrierhq/harrier/collectors/inspect"
	"github.com/harrierhq/harrier/internal/config"
)

func init() {
	var format string
	register(&command{
		name:    "parse",
		summary: "Print the records that files or folders yield, as JSON lines in the unified schema; rejected input goes to stderr.",
		setup: func(fs *flag.FlagSet, _ *config.Loader, _ *cmdOptions) {
			fs.StringVar(&format, "format", string(inspect.FormatAuto),
				"input format: auto, docker, cri, trivy, grype, clair, anchore, cgroup or host; auto picks one per path")
		},
		run: func(ctx context.Context, env *cmdEnv) error {
			return runParse(ctx, env, format)
		},
	})
}

// runParse prints one JSON line per row on stdout, each with a field
// "table", and one JSON line per rejected input on stderr, each with a
// field "reason". It returns an error, which makes the exit status 1, when
// anything was rejected.
func runParse(ctx context.Context, env *cmdEnv, format string) error {
	f, err := inspect.ParseFormat(format)
	if err != nil {
		return err
	}
	if len(env.args) == 0 {
		return errors.New("missing PATH: usage: harrier parse [--format FORMAT] PATH...")
	}

	in := inspect.New(f, env.stdout, env.stderr)
	for _, path := range env.args {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := in.Path(path); err != nil {
			return err
		}
	}
	if n := in.Stats().Rejected; n > 0 {
		return fmt.Errorf("rejected %d inputs; each is a JSON line with a reason above", n)
	}
	return nil
}
