package main

import (
	"context"
	"errors"

	"flag"
	"fmt"
	"github.com/ClickHouse/clickhouse-go/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/collectors/host"
	"github.com/harrierhq/harrier/internal/broker"
	"github.com/harrierhq/harrier/internal/config"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/storage"
)

// demoDatabase is the database the demo writes to unless
// clickhouse.database is set. The demo drops and recreates it, so that a
// second run starts from nothing.
const demoDatabase = "harrier_demo"

// demoLateness is the allowed lateness the demo uses unless it is set. The
// collector reads each file of the bundle in one go, so a container's log
// lines for the whole hour reach the scorer before its cgroup samples do.
// The windows must therefore stay open until both have arrived.
const demoLateness = 2 * time.Hour

func demoCommand() *command {
	return &command{
		name: "demo",
		summary: "Replay a bundled fleet and this host's cgroups through the whole pipeline, then print the alerts and a summary. " +
			"The bundle has Docker and CRI logs, cgroup samples and Trivy reports. The demo starts its own broker and ClickHouse " +
			"unless --kafka and --clickhouse are given.",
		groups: []string{"kafka", "clickhouse", "features", "models", "alerting"},
		setup: func(fs *flag.FlagSet, l *config.Loader, o *cmdOptions) {
			connectionAliases(fs, l, o)
			fs.StringVar(&o.dataDir, "data", "testdata/demo", "bundled replay `folder` (docker/, cri/, cgroup/, scans/)")
			fs.BoolVar(&o.keep, "keep", false, "keep the local ClickHouse running after the summary, until Ctrl-C, to query it")
			fs.BoolVar(&o.noHost, "no-host", false, "skip this host's cgroup tree and host facts")
		},
		run: runDemo,
	}
}

func runDemo(ctx context.Context, env *cmdEnv) error {
	started := time.Now()
	cfg := env.cfg
	out := env.stdout
	if err := checkBundle(env.opts.dataDir); err != nil {
		return err
	}
	if !env.loader.IsSet("features.allowed_lateness") {
		cfg.Features.AllowedLateness = demoLateness
	}
	if !env.loader.IsSet("clickhouse.database") {
		cfg.ClickHouse.Database = demoDatabase
	}
	// Alerts are evaluated once at the end of the replay, not on a timer.
	cfg.Alerting.EvalInterval = 24 * time.Hour

	if env.loader.IsSet("kafka.brokers") {
		// A fresh topic prefix keeps an earlier run's messages out.
		cfg.Kafka.TopicPrefix = fmt.Sprintf("%sdemo-%d.", cfg.Kafka.TopicPrefix, started.UnixNano())
		fmt.Fprintf(out, "Kafka:      %s (topics %s*)\n", strings.Join(cfg.Kafka.Brokers, ","), cfg.Kafka.TopicPrefix)
	} else {
		b, err := broker.Start(broker.Config{Port: 0, Partitions: cfg.Kafka.Partitions}, nil)
		if err != nil {
			return err
		}
		defer b.Close()
		cfg.Kafka.Brokers = []string{b.Addr()}
		fmt.Fprintf(out, "Kafka:      embedded broker on %s\n", b.Addr())
	}
	if env.loader.IsSet("clickhouse.addr") {
		fmt.Fprintf(out, "ClickHouse: %s, database %s\n", cfg.ClickHouse.Addr, cfg.ClickHouse.Database)
	} else {
		dir, err := os.MkdirTemp("", "harrier-demo-clickhouse-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		server, err := storage.StartLocal(ctx, dir, env.logger)
		if err != nil {
			return err
		}
		defer server.Stop()
		cfg.ClickHouse.Addr = server.Addr
		fmt.Fprintf(out, "ClickHouse: local clickhouse-server on %s (pid %d, data in %s)\n", server.Addr, server.PID, dir)
	}

	store, err := openStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer store.Close()
	if cfg.ClickHouse.Database == demoDatabase {
		if err := store.DropDatabase(ctx); err != nil {
			return err
		}
	} else if err := checkEmptyDatabase(ctx, store); err != nil {
		return err
	}
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
	p.start(ctx)
	defer p.stop()

	producer := kafka.NewProducer(cfg.Kafka.Brokers, cfg.Kafka.TopicPrefix)
	defer producer.Close()
	agents := demoAgents(cfg, env, producer)
	prog := newProgress(env.stderr, cfg, p, agents)
	prog.start()
	defer prog.stop()

	prog.stage("collect")
	for _, a := range agents {
		if err := a.RunOnce(ctx); err != nil {
			return fmt.Errorf("collect: %w", err)
		}
	}
	prog.stage("normalize and score")
	if err := waitFor(ctx, 3*time.Minute, func() bool { return prog.caughtUp() }); err != nil {
		return fmt.Errorf("waiting for the consumers to catch up with %d produced records: %w", prog.produced(), err)
	}
	prog.stage("close windows")
	if err := p.scorer.Flush(ctx); err != nil {
		return fmt.Errorf("score the last windows: %w", err)
	}
	prog.stage("alert")
	emitted := p.scorer.Stats().AlertsEmitted
	handled := func() bool {
		s := p.alerter.Stats()
		return s.Raised+s.Deduplicated+s.Invalid >= emitted
	}
	if err := waitFor(ctx, time.Minute, handled); err != nil {
		return fmt.Errorf("waiting for %d model alerts to reach the alerter: %w", emitted, err)
	}
	if err := p.alerter.EvaluateRules(ctx); err != nil {
		return fmt.Errorf("evaluate policy rules: %w", err)
	}
	prog.stop()

	if err := printSummary(ctx, out, store, p, agents, time.Since(started)); err != nil {
		return err
	}
	// A ClickHouse server given with --clickhouse outlives the demo. The
	// demo's own server stops on return unless --keep holds it.
	printQueryHint(out, store, env.opts.keep || env.loader.IsSet("clickhouse.addr"))
	if env.opts.keep {
		fmt.Fprintf(out, "\nClickHouse stays up on %s until Ctrl-C: harrier sql --clickhouse %s --clickhouse.database %s \"SELECT ...\"\n",
			cfg.ClickHouse.Addr, cfg.ClickHouse.Addr, cfg.ClickHouse.Database)
		<-ctx.Done()
	}
	return nil
}

// unknownDatabaseCode is ClickHouse's UNKNOWN_DATABASE error code.
const unknownDatabaseCode = 81

// checkEmptyDatabase rejects a database that already holds tables, so that
// the summary counts only what this run stored.
func checkEmptyDatabase(ctx context.Context, store *storage.Store) error {
	_, rows, err := store.Query(ctx, "SELECT count() FROM system.tables WHERE database = ?", store.Database())
	var exception *clickhouse.Exception
	if errors.As(err, &exception) && exception.Code == unknownDatabaseCode {
		return nil
	}
	if err != nil {
		return err
	}
	if n := rows[0][0].(uint64); n > 0 {
		return fmt.Errorf("database %s already has %d tables: the demo needs a new database, or the default %s, which it recreates",
			store.Database(), n, demoDatabase)
	}
	return nil
}

// checkBundle fails early with a clear message when the replay folder is
// missing, for example when harrier runs outside the repository.
func checkBundle(dir string) error {
	for _, sub := range []string{"docker/containers", "cri/pods", "cgroup", "scans/trivy"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
			return fmt.Errorf("demo bundle folder %s is missing %s: run from the repository root or pass --data <repo>/testdata/demo", dir, sub)
		}
	}
	return nil
}

// demoAgents returns the collector for the bundle and, unless --no-host,
// one for this host's own cgroup tree and facts.
func demoAgents(cfg *config.Config, env *cmdEnv, producer *kafka.Producer) []*collectors.Agent {
	dir := env.opts.dataDir
	// The bundle's containers run on this host: they carry its host id, and
	// the host agent alone sends the host facts.
	hostID := cfg.Collect.HostID
	if hostID == "" && !env.opts.noHost {
		facts, _ := host.Collect(cfg.Collect.HostRoot, time.Now())
		hostID = facts.HostID
	}
	bundle := collectors.AgentConfig{
		HostID:          hostID,
		DockerRoot:      filepath.Join(dir, "docker", "containers"),
		CRIRoot:         filepath.Join(dir, "cri"),
		CgroupReplayDir: filepath.Join(dir, "cgroup"),
		ScanDir:         filepath.Join(dir, "scans"),
		MaxCgroups:      cfg.Collect.MaxCgroups,
	}
	agents := []*collectors.Agent{collectors.NewAgent(bundle, producer, env.logger)}
	if !env.opts.noHost {
		hostAgent := collectors.AgentConfig{
			HostID:     hostID,
			CgroupRoot: cfg.Collect.CgroupRoot,
			HostRoot:   cfg.Collect.HostRoot,
			MaxCgroups: cfg.Collect.MaxCgroups,
		}
		agents = append(agents, collectors.NewAgent(hostAgent, producer, env.logger))
	}
	return agents
}

func waitFor(ctx context.Context, timeout time.Duration, done func() bool) error {
	deadline := time.Now().Add(timeout)
	for !done() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return errors.New("timed out after " + timeout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
