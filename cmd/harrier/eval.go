package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// evalRunner runs one evaluation: args are the arguments after its name.
type evalRunner func(ctx context.Context, env *cmdEnv, args []string) error

// evaluations holds the 'harrier eval' subcommands by name. Files of this
// package add to it with registerEval from an init function.
var evaluations = map[string]evalRunner{}

// registerEval adds the evaluation 'harrier eval NAME'. It panics on a
// duplicate name, which is a programming error caught by any test run.
func registerEval(name string, run func(ctx context.Context, env *cmdEnv, args []string) error) {
	if _, ok := evaluations[name]; ok {
		panic("harrier: evaluation " + name + " registered twice")
	}
	evaluations[name] = run
}

func init() {
	register(&command{
		name:        "eval",
		subcommands: true,
		summary:     "Measure a detector on a labelled benchmark set: harrier eval NAME [args] (see 'harrier eval help').",
		run: func(ctx context.Context, env *cmdEnv) error {
			if len(env.args) == 0 || env.args[0] == "help" {
				printEvalHelp(env.stdout)
				return nil
			}
			run, ok := evaluations[env.args[0]]
			if !ok {
				printEvalHelp(env.stderr)
				return fmt.Errorf("unknown evaluation %q: want one of %s", env.args[0], strings.Join(evalNames(), ", "))
			}
			return run(ctx, env, env.args[1:])
		},
	})
}

func evalNames() []string {
	names := make([]string, 0, len(evaluations))
	for name := range evaluations {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func printEvalHelp(w io.Writer) {
	fmt.Fprintln(w, "Usage: harrier eval NAME [args]")
	fmt.Fprintln(w, "\nEvaluations:")
	for _, name := range evalNames() {
		fmt.Fprintf(w, "  %s\n", name)
	}
	fmt.Fprintln(w, "\nRun 'harrier eval NAME --help' for the arguments of one.")
}
