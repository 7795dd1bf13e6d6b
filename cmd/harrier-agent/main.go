// Command harrier-agent is the collector agent alone: the same role, flags
// and config keys as 'harrier collect', in a binary that links only the
// collector. The agent runs on every node, and the full harrier binary
// maps about 30 MB more of its code into memory at start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/harrierhq/harrier/collectors/agentrun"
	"github.com/harrierhq/harrier/internal/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("harrier-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	loader := config.NewLoader(fs, append([]string{"log"}, agentrun.Groups...)...)
	loader.Alias(fs, "kafka", "kafka.brokers")
	once := fs.Bool("once", false, "read what is there now, send it and exit instead of following")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: harrier-agent [flags]\n\n"+
			"Run the collector agent, which ships container logs, cgroup stats, scan reports and host facts to Kafka.\n"+
			"It is 'harrier collect' in a smaller binary for the nodes.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "harrier-agent: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := loader.Load()
	if err != nil {
		fmt.Fprintf(stderr, "harrier-agent: %v\n", err)
		return 2
	}
	if err := agentrun.ApplyKafkaSecurity(cfg); err != nil {
		fmt.Fprintf(stderr, "harrier-agent: %v\n", err)
		return 2
	}
	logger := agentrun.NewLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := agentrun.Run(ctx, cfg, agentrun.Options{Once: *once, Stdout: stdout, Logger: logger}); err != nil {
		fmt.Fprintf(stderr, "harrier-agent: %v\n", err)
		return 1
	}
	return 0
}
