package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/collectors/agentrun"
	"github.com/harrierhq/harrier/collectors/scanpush"
	"github.com/harrierhq/harrier/internal/broker"
	"github.com/harrierhq/harrier/internal/config"
)

func runCommand() *command {
	return &command{
		name:    "run",
		summary: "Run every role in one process (embedded broker, collector, normalizer, scorer and alerter).",
		groups:  []string{"kafka", "clickhouse", "broker", "normalize", "collect", "features", "models", "alerting", "http"},
		setup: func(fs *flag.FlagSet, l *config.Loader, o *cmdOptions) {
			connectionAliases(fs, l, o)
			fs.BoolVar(&o.embeddedBroker, "embedded-broker", true, "start the embedded broker on broker.port and use it; --kafka turns this off")
		},
		run: func(ctx context.Context, env *cmdEnv) error {
			cfg := env.cfg
			if env.opts.embeddedBroker && !env.loader.IsSet("kafka.brokers") {
				// The collector's checkpoints move past a line once the broker
				// has it. A broker that keeps messages only in memory would lose
				// them on a stop, so it keeps them beside the checkpoints.
				dataDir := cfg.Broker.DataDir
				if dataDir == "" && cfg.Collect.StateDir != "" {
					dataDir = filepath.Join(cfg.Collect.StateDir, "broker")
					env.logger.Info("Embedded broker keeps its data beside the collector checkpoints", "data_dir", dataDir)
				}
				b, err := broker.Start(broker.Config{Port: cfg.Broker.Port, DataDir: dataDir, Partitions: cfg.Kafka.Partitions}, env.logger)
				if err != nil {
					return err
				}
				defer b.Close()
				cfg.Kafka.Brokers = []string{b.Addr()}
			}
			store, err := openStore(ctx, cfg, false)
			if err != nil {
				return err
			}
			defer store.Close()
			if _, err := store.Migrate(ctx); err != nil {
				return err
			}
			if err := prepareTopics(ctx, cfg); err != nil {
				return err
			}
			p, err := newPipeline(ctx, cfg, store, env)
			if err != nil {
				return err
			}
			out, err := agentrun.NewOutput(cfg, env.logger)
			if err != nil {
				return err
			}
			defer out.Close()
			push, err := agentrun.NewScanPush(cfg, out.Emitter(), env.logger)
			if err != nil {
				return err
			}
			handlers := map[string]http.Handler{}
			if push != nil {
				handlers[scanpush.Path] = push
			}
			serveHTTP(ctx, env, handlers)
			p.start(ctx)

			warnMissingSources(cfg, env)
			agent := collectors.NewAgent(agentConfig(cfg), out.Emitter(), env.logger)
			fmt.Fprintf(env.stderr, "harrier run: Kafka %v, ClickHouse %s/%s; stop with Ctrl-C\n", cfg.Kafka.Brokers, cfg.ClickHouse.Addr, cfg.ClickHouse.Database)
			agentErr := agent.Run(ctx)
			if err := p.stop(); err != nil {
				return err
			}
			if agentErr != nil && ctx.Err() == nil {
				return agentErr
			}
			return nil
		},
	}
}
