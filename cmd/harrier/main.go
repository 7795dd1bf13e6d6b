// Command harrier runs every role of the Harrier pipeline. Each role is a
// subcommand so that it can run and scale as its own process; 'run' starts
// all of them in one process and 'demo' replays a bundled fleet end to end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/harrierhq/harrier/collectors/agentrun"
	"github.com/harrierhq/harrier/internal/config"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	// groups are the config key groups that get flags.
	groups []string
	// setup adds the command's own flags.
	setup func(fs *flag.FlagSet, l *config.Loader, o *cmdOptions)
	run   func(ctx context.Context, env *cmdEnv) error
	// subcommands marks a command whose first argument names a
	// subcommand with flags of its own: its flags end at that name, and
	// the rest is handed to run unparsed.
	subcommands bool
}

// cmdOptions holds the flags that are not config keys.
type cmdOptions struct {
	dataDir         string
	keep            bool
	noHost          bool
	once            bool
	embeddedBroker  bool
	localClickHouse string
}

// cmdEnv is the input of a command's run function.
type cmdEnv struct {
	cfg    *config.Config
	loader *config.Loader
	opts   *cmdOptions
	args   []string
	logger *slog.Logger
	stdout io.Writer
	stderr io.Writer
}

func commands() []*command {
	return append([]*command{
		brokerCommand(),
		collectCommand(),
		normalizeCommand(),
		scoreCommand(),
		alertCommand(),
		migrateCommand(),
		sqlCommand(),
		runCommand(),
		demoCommand(),
		configCommand(),
	}, registered...)
}

// registered holds commands that files of this package add with register,
// so that a new command needs no edit of this list.
var registered []*command

// register adds a command to 'harrier help' and the dispatcher. Call it
// from an init function.
func register(c *command) { registered = append(registered, c) }

func main() {
	os.Exit(mainWithArgs(os.Args[1:], os.Stdout, os.Stderr))
}

func mainWithArgs(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "--version" {
		args = []string{"version"}
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return mainWithArgs([]string{args[1], "--help"}, stdout, stderr)
		}
		printHelp(stdout)
		return 0
	}
	var cmd *command
	for _, c := range commands() {
		if c.name == args[0] {
			cmd = c
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "harrier: unknown command %q\n\n", args[0])
		printHelp(stderr)
		return 2
	}

	fs := flag.NewFlagSet("harrier "+cmd.name, flag.ContinueOnError)
	loader := config.NewLoader(fs, append([]string{"log"}, cmd.groups...)...)
	opts := &cmdOptions{}
	if cmd.setup != nil {
		cmd.setup(fs, loader, opts)
	}
	// The flag package prints each error and the whole usage on its own.
	// Silence it while parsing, and print one line per error below.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var positional []string
	var err error
	if cmd.subcommands {
		err = fs.Parse(args[1:])
		positional = fs.Args()
	} else {
		positional, err = parseInterspersed(fs, args[1:])
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintf(stderr, "Usage: harrier %s [flags]\n\n%s\n\nFlags:\n", cmd.name, cmd.summary)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "harrier %s: %s\nRun 'harrier %s --help' for the flags.\n", cmd.name, flagErrorText(err, fs, loader), cmd.name)
		return 2
	}
	cfg, err := loader.Load()
	if err != nil {
		fmt.Fprintf(stderr, "harrier %s: %v\n", cmd.name, err)
		return 2
	}
	if err := applyKafkaSecurity(cfg); err != nil {
		fmt.Fprintf(stderr, "harrier %s: %v\n", cmd.name, err)
		return 2
	}
	logger := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &cmdEnv{cfg: cfg, loader: loader, opts: opts, args: positional, logger: logger, stdout: stdout, stderr: stderr}
	if err := cmd.run(ctx, env); err != nil {
		fmt.Fprintf(stderr, "harrier %s: %v\n", cmd.name, err)
		return 1
	}
	return 0
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments, as in 'harrier sql "SELECT 1" --format csv', and
// returns the positional arguments. Everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(positional, rest...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// flagErrorText returns err, an error of flag.FlagSet.Parse, as one line
// that names the flag as --name. A config key's error comes from the
// loader, because the flag package flattens it into text that repeats the
// value.
func flagErrorText(err error, fs *flag.FlagSet, loader *config.Loader) string {
	if keyErr := loader.FlagError(); keyErr != nil {
		return keyErr.Error()
	}
	text := err.Error()
	if name, ok := strings.CutPrefix(text, "flag provided but not defined: -"); ok {
		return fmt.Sprintf("unknown flag --%s", name)
	}
	if name, ok := strings.CutPrefix(text, "flag needs an argument: -"); ok {
		return fmt.Sprintf("missing value for flag --%s", name)
	}
	if m := flagValueError.FindStringSubmatch(text); m != nil {
		reason := m[3]
		if reason == "parse error" {
			reason = expectedFlagValue(fs.Lookup(m[2]), reason)
		}
		return fmt.Sprintf("invalid value %s for --%s: %s", m[1], m[2], reason)
	}
	return text
}

// expectedFlagValue returns what a flag of the standard library's types
// accepts, in place of its bare "parse error".
func expectedFlagValue(f *flag.Flag, fallback string) string {
	if f == nil {
		return fallback
	}
	getter, ok := f.Value.(flag.Getter)
	if !ok {
		return fallback
	}
	switch getter.Get().(type) {
	case time.Duration:
		return "expected a duration such as 30s, 5m or 1h"
	case bool:
		return "expected true or false"
	case int, int64, uint, uint64:
		return "expected an integer"
	case float64:
		return "expected a number"
	}
	return fallback
}

// flagValueError matches the flag package's error for a value that its
// Set method rejects, such as a bad --timeout.
var flagValueError = regexp.MustCompile(`^invalid (?:boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-([^:]+): (.*)$`)

// firstClause shortens a command summary for the command list: the text up
// to its first ". " or ": ", which 'harrier <command> --help' prints whole.
func firstClause(summary string) string {
	cut := len(summary)
	for _, sep := range []string{". ", ": "} {
		if i := strings.Index(summary, sep); i >= 0 && i < cut {
			cut = i
		}
	}
	return strings.TrimSuffix(summary[:cut], ".")
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "Harrier: streaming anomaly detection for container security.")
	fmt.Fprintln(w, "\nUsage: harrier <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, firstClause(c.summary))
	}
	fmt.Fprintln(w, "\nRun 'harrier <command> --help' for the flags of a command.")
	fmt.Fprintln(w, "Every flag that names a config key can also be set in the YAML file given by")
	fmt.Fprintln(w, "--config or by a HARRIER_... environment variable; see harrier.example.yaml.")
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	return agentrun.NewLogger(cfg, w)
}
