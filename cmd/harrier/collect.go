package main

import (
	"context"
	"flag"

	"github.com/harrierhq/harrier/collectors/agentrun"
	"github.com/harrierhq/harrier/internal/config"
)

func collectCommand() *command {
	return &command{
		name:    "collect",
		summary: "Run the collector agent, which ships container logs, cgroup stats, scan reports and host facts to Kafka.",
		groups:  agentrun.Groups,
		setup: func(fs *flag.FlagSet, l *config.Loader, o *cmdOptions) {
			l.Alias(fs, "kafka", "kafka.brokers")
			fs.BoolVar(&o.once, "once", false, "read what is there now, send it and exit instead of following")
		},
		run: runCollect,
	}
}

func runCollect(ctx context.Context, env *cmdEnv) error {
	return agentrun.Run(ctx, env.cfg, agentrun.Options{Once: env.opts.once, Stdout: env.stdout, Logger: env.logger})
}
