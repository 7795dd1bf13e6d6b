package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/harrierhq/harrier/alerting"
	"github.com/harrierhq/harrier/alerting/route"
	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/collectors/agentrun"
	"github.com/harrierhq/harrier/features/drain"
	"github.com/harrierhq/harrier/internal/broker"
	"github.com/harrierhq/harrier/internal/config"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/models"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage"
)

// allTopics lists the topics Harrier creates before its roles start.
var allTopics = record.Topics

func brokerCommand() *command {
	return &command{
		name:    "broker",
		summary: "Run the embedded Kafka-protocol broker (single node, for local use and tests).",
		groups:  []string{"broker", "kafka", "http"},
		run: func(ctx context.Context, env *cmdEnv) error {
			b, err := broker.Start(broker.Config{Port: env.cfg.Broker.Port, DataDir: env.cfg.Broker.DataDir, Partitions: env.cfg.Kafka.Partitions}, env.logger)
			if err != nil {
				return err
			}
			defer b.Close()
			fmt.Fprintf(env.stdout, "broker listening on %s\n", b.Addr())
			// /readyz checks the Kafka brokers, which for this role is the
			// embedded broker itself.
			env.cfg.Kafka.Brokers = []string{b.Addr()}
			serveHTTP(ctx, env)
			<-ctx.Done()
			return nil
		},
	}
}

func warnMissingSources(cfg *config.Config, env *cmdEnv) {
	agentrun.WarnMissingSources(cfg, env.logger)
}

func agentConfig(cfg *config.Config) collectors.AgentConfig {
	return agentrun.AgentConfig(cfg)
}

func normalizeCommand() *command {
	return &command{
		name:    "normalize",
		summary: "Consume the telemetry topics, validate and enrich each record and store it in ClickHouse.",
		groups:  []string{"kafka", "clickhouse", "normalize", "features", "http"},
		setup:   connectionAliases,
		run: func(ctx context.Context, env *cmdEnv) error {
			store, err := openStore(ctx, env.cfg, true)
			if err != nil {
				return err
			}
			defer store.Close()
			if err := prepareTopics(ctx, env.cfg); err != nil {
				return err
			}
			p := kafka.NewProducer(env.cfg.Kafka.Brokers, env.cfg.Kafka.TopicPrefix)
			defer p.Close()
			serveHTTP(ctx, env)
			miner, stopMiner, err := startMiner(ctx, env.cfg, store, env)
			if err != nil {
				return err
			}
			// The miner's final save must finish before the store closes.
			defer stopMiner()
			return newNormalizer(env.cfg, store, p, miner, env).Run(ctx)
		},
	}
}

// startMiner starts a miner for one role and returns a function that stops
// it and waits for its final save.
func startMiner(ctx context.Context, cfg *config.Config, store *storage.Store, env *cmdEnv) (*drain.Miner, func(), error) {
	var wg sync.WaitGroup
	minerCtx, cancel := context.WithCancel(ctx)
	miner, err := newMiner(minerCtx, cfg, store, env, &wg)
	stop := func() {
		cancel()
		wg.Wait()
	}
	if err != nil {
		stop()
		return nil, nil, err
	}
	return miner, stop, nil
}

// newMiner returns a template miner over the templates table, or nil when
// features.templates is off. Each role needs a miner of its own: a miner
// shared with the normalizer would have seen every message before the
// scorer checks whether it is new. The miner saves its templates until ctx
// is done, and wg is done after its final save, so callers wait on wg
// before they close the store.
func newMiner(ctx context.Context, cfg *config.Config, store *storage.Store, env *cmdEnv, wg *sync.WaitGroup) (*drain.Miner, error) {
	if !cfg.Features.Templates {
		return nil, nil
	}
	miner, err := drain.NewMiner(ctx, drain.Config{
		Similarity:         cfg.Features.TemplateSimilarity,
		MaxTemplatesPerKey: cfg.Features.TemplateMaxPerKey,
	}, drain.NewClickHouseStore(store), env.logger)
	if err != nil {
		return nil, err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := miner.Run(ctx); err != nil && ctx.Err() == nil {
			env.logger.Error("Template miner stopped", "component", "templates", "err", err)
		}
	}()
	return miner, nil
}

func newNormalizer(cfg *config.Config, store *storage.Store, p *kafka.Producer, miner *drain.Miner, env *cmdEnv) *normalize.Normalizer {
	var templates normalize.TemplateMatcher
	if miner != nil {
		templates = miner
	}
	return normalize.New(normalize.Config{
		Templates:     templates,
		Brokers:       cfg.Kafka.Brokers,
		TopicPrefix:   cfg.Kafka.TopicPrefix,
		Group:         cfg.Normalize.Group,
		MaxBatchBytes: cfg.Normalize.MaxBatchBytes,
		QueueCapacity: cfg.Normalize.QueueCapacity,
		FetchMaxBytes: cfg.Normalize.FetchMaxBytes,
		Metrics:       metrics.Default().ForRole("normalize"),
	}, store, p, env.logger)
}

func scoreCommand() *command {
	return &command{
		name:    "score",
		summary: "Compute windowed features per container, score them with an isolation forest and raise model alerts.",
		groups:  []string{"kafka", "clickhouse", "features", "models", "http"},
		setup:   connectionAliases,
		run: func(ctx context.Context, env *cmdEnv) error {
			store, err := openStore(ctx, env.cfg, true)
			if err != nil {
				return err
			}
			defer store.Close()
			if err := prepareTopics(ctx, env.cfg); err != nil {
				return err
			}
			p := kafka.NewProducer(env.cfg.Kafka.Brokers, env.cfg.Kafka.TopicPrefix)
			defer p.Close()
			serveHTTP(ctx, env)
			miner, stopMiner, err := startMiner(ctx, env.cfg, store, env)
			if err != nil {
				return err
			}
			// The miner's final save must finish before the store closes.
			defer stopMiner()
			s, err := newScorer(env.cfg, store, p, miner, env)
			if err != nil {
				return err
			}
			return s.Run(ctx)
		},
	}
}

func newScorer(cfg *config.Config, store *storage.Store, p *kafka.Producer, miner *drain.Miner, env *cmdEnv) (*models.Scorer, error) {
	var registry *models.Registry
	if cfg.Models.Dir != "" {
		r, err := models.OpenRegistry(cfg.Models.Dir, cfg.Models.KeepVersions)
		if err != nil {
			return nil, fmt.Errorf("models.dir: %w", err)
		}
		registry = r
	}
	return models.NewScorer(models.ScorerConfig{
		Templates:          miner,
		Brokers:            cfg.Kafka.Brokers,
		TopicPrefix:        cfg.Kafka.TopicPrefix,
		Window:             cfg.Features.Window,
		AllowedLateness:    cfg.Features.AllowedLateness,
		MinTrainingWindows: cfg.Models.MinTrainingWindows,
		Trees:              cfg.Models.Trees,
		Subsample:          cfg.Models.Subsample,
		Contamination:      cfg.Models.Contamination,
		Seed:               cfg.Models.Seed,
		Metrics:            metrics.Default().ForRole("score"),
		Baselines: models.BaselineConfig{
			WorkloadLabels:         cfg.Models.WorkloadLabels,
			MinWorkloadWindows:     cfg.Models.MinWorkloadWindows,
			History:                cfg.Models.History,
			FleetHistoryWindows:    cfg.Models.FleetHistoryWindows,
			WorkloadHistoryWindows: cfg.Models.WorkloadHistoryWindows,
			RetrainInterval:        cfg.Models.RetrainInterval,
			Registry:               registry,
		},
	}, store, p, env.logger), nil
}

func alertCommand() *command {
	return &command{
		name:    "alert",
		summary: "Evaluate policy rules, deduplicate model and rule alerts, store them and print them.",
		groups:  []string{"kafka", "clickhouse", "alerting", "http"},
		setup:   connectionAliases,
		run: func(ctx context.Context, env *cmdEnv) error {
			store, err := openStore(ctx, env.cfg, true)
			if err != nil {
				return err
			}
			defer store.Close()
			if err := prepareTopics(ctx, env.cfg); err != nil {
				return err
			}
			a, err := newAlerter(env.cfg, store, env)
			if err != nil {
				return err
			}
			serveHTTP(ctx, env)
			return a.Run(ctx)
		},
	}
}

func newAlerter(cfg *config.Config, store *storage.Store, env *cmdEnv) (*alerting.Alerter, error) {
	var routing *route.Config
	if cfg.Alerting.RoutingFile != "" {
		var err error
		if routing, err = route.Load(cfg.Alerting.RoutingFile, nil); err != nil {
			return nil, err
		}
	}
	return alerting.New(alerting.Config{
		Metrics:              metrics.Default().ForRole("alert"),
		Brokers:              cfg.Kafka.Brokers,
		TopicPrefix:          cfg.Kafka.TopicPrefix,
		RulesFile:            cfg.Alerting.RulesFile,
		PostureFile:          cfg.Alerting.PostureFile,
		PostureOverridesFile: cfg.Alerting.PostureOverridesFile,
		EvalInterval:         cfg.Alerting.EvalInterval,
		Dedup:                cfg.Alerting.Dedup,
		Routing:              routing,
		LinkTemplate:         cfg.Alerting.LinkTemplate,
		ModelWindow:          cfg.Features.Window,
		ModelNormalWindows:   cfg.Alerting.ResolveWindows,
	}, store, env.stdout, env.logger)
}

func migrateCommand() *command {
	return &command{
		name:    "migrate",
		summary: "Create or upgrade Harrier's ClickHouse schema; running it again is harmless.",
		groups:  []string{"clickhouse"},
		setup: func(fs *flag.FlagSet, l *config.Loader, o *cmdOptions) {
			l.Alias(fs, "clickhouse", "clickhouse.addr")
		},
		run: func(ctx context.Context, env *cmdEnv) error {
			store, err := openStore(ctx, env.cfg, false)
			if err != nil {
				return err
			}
			defer store.Close()
			applied, err := store.Migrate(ctx)
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintf(env.stdout, "schema of %s is up to date at version %d\n", env.cfg.ClickHouse.Database, storage.LatestVersion())
				return nil
			}
			fmt.Fprintf(env.stdout, "applied migrations %v to %s; schema version is now %d\n", applied, env.cfg.ClickHouse.Database, storage.LatestVersion())
			return nil
		},
	}
}

func configCommand() *command {
	return &command{
		name:    "config",
		summary: "Check a config file (harrier config check --config FILE) or list every key (harrier config keys).",
		run: func(ctx context.Context, env *cmdEnv) error {
			if len(env.args) == 1 && env.args[0] == "keys" {
				keys := config.Keys()
				sort.Strings(keys)
				fmt.Fprintln(env.stdout, strings.Join(keys, "\n"))
				return nil
			}
			if len(env.args) == 1 && env.args[0] == "check" {
				fmt.Fprintln(env.stdout, "configuration is valid")
				return nil
			}
			return errors.New("expected 'keys' or 'check'")
		},
	}
}

func connectionAliases(fs *flag.FlagSet, l *config.Loader, o *cmdOptions) {
	l.Alias(fs, "kafka", "kafka.brokers")
	l.Alias(fs, "clickhouse", "clickhouse.addr")
}

// openStore connects to ClickHouse. With requireSchema it also checks that
// the schema is migrated, so a role fails at start with a clear message
// instead of on its first insert.
func openStore(ctx context.Context, cfg *config.Config, requireSchema bool) (*storage.Store, error) {
	password, err := kafka.ReadSecret("clickhouse.password", cfg.ClickHouse.Password, cfg.ClickHouse.PasswordFile)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := clickHouseTLS(cfg)
	if err != nil {
		return nil, err
	}
	store, err := storage.Open(ctx, storage.Config{
		Addr:             cfg.ClickHouse.Addr,
		Database:         cfg.ClickHouse.Database,
		User:             cfg.ClickHouse.User,
		Password:         password,
		TLS:              tlsConfig,
		MaxExecutionTime: cfg.ClickHouse.MaxExecutionTime,
	})
	if err != nil {
		return nil, err
	}
	if !requireSchema {
		return store, nil
	}
	applied, err := store.AppliedVersions(ctx)
	if err != nil || len(applied) == 0 || applied[len(applied)-1] < storage.LatestVersion() {
		store.Close()
		return nil, fmt.Errorf("the schema of database %s on %s is missing or old: run 'harrier migrate --clickhouse %s --clickhouse.database %s' first",
			cfg.ClickHouse.Database, cfg.ClickHouse.Addr, cfg.ClickHouse.Addr, cfg.ClickHouse.Database)
	}
	return store, nil
}

func prepareTopics(ctx context.Context, cfg *config.Config) error {
	return agentrun.PrepareTopics(ctx, cfg)
}

// serveHTTP serves /healthz, /readyz, /metrics and the extra handlers on
// http.addr until ctx is done; see agentrun.ServeHTTP.
func serveHTTP(ctx context.Context, env *cmdEnv, extra ...map[string]http.Handler) {
	agentrun.ServeHTTP(ctx, env.cfg, env.logger, extra...)
}
