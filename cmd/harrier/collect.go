package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/collectors/produce"
	"github.com/harrierhq/harrier/collectors/scanpush"
	"github.com/harrierhq/harrier/collectors/spool"
	"github.com/harrierhq/harrier/internal/config"
	"github.com/harrierhq/harrier/internal/kafka"
)

func collectCommand() *command {
	return &command{
		name:    "collect",
		summary: "Run the collector agent, which ships container logs, cgroup stats, scan reports and host facts to Kafka.",
		groups:  []string{"kafka", "collect", "http"},
		setup: func(fs *flag.FlagSet, l *config.Loader, o *cmdOptions) {
			l.Alias(fs, "kafka", "kafka.brokers")
			fs.BoolVar(&o.once, "once", false, "read what is there now, send it and exit instead of following")
		},
		run: runCollect,
	}
}

func runCollect(ctx context.Context, env *cmdEnv) error {
	cfg := env.cfg
	if err := prepareTopics(ctx, cfg); err != nil {
		return err
	}
	out, err := newCollectorOutput(cfg, env)
	if err != nil {
		return err
	}
	defer out.close()

	warnMissingSources(cfg, env)
	agent := collectors.NewAgent(agentConfig(cfg), out.emitter, env.logger)

	handlers := map[string]http.Handler{}
	push, err := newScanPush(cfg, out.emitter, env)
	if err != nil {
		return err
	}
	if push != nil {
		handlers[scanpush.Path] = push
	}
	serveHTTP(ctx, env, handlers)

	if env.opts.once {
		err := agent.RunOnce(ctx)
		if flushErr := out.flush(ctx); err == nil {
			err = flushErr
		}
		stats, _ := json.Marshal(agent.Stats())
		fmt.Fprintln(env.stdout, string(stats))
		return err
	}
	return agent.Run(ctx)
}

// collectorOutput is the collector's output: the compressing producer,
// behind the on-disk spool when the spool is on.
type collectorOutput struct {
	producer *produce.Producer
	spool    *spool.Spool
	emitter  collectors.Emitter

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newCollectorOutput(cfg *config.Config, env *cmdEnv) (*collectorOutput, error) {
	transport, err := kafka.ProcessTransport()
	if err != nil {
		return nil, err
	}
	p, err := produce.New(produce.Config{
		Brokers:     cfg.Kafka.Brokers,
		TopicPrefix: cfg.Kafka.TopicPrefix,
		Compression: cfg.Collect.Compression,
		Transport:   transport,
	})
	if err != nil {
		return nil, err
	}
	out := &collectorOutput{producer: p, emitter: p}
	if !cfg.Collect.Spool || cfg.Collect.StateDir == "" {
		return out, nil
	}

	policy, err := spool.ParsePolicy(cfg.Collect.SpoolPolicy)
	if err != nil {
		p.Close()
		return nil, err
	}
	s, err := spool.Open(spool.Config{
		Dir:      filepath.Join(cfg.Collect.StateDir, "spool"),
		MaxBytes: cfg.Collect.SpoolMaxBytes,
		Policy:   policy,
	}, p, env.logger)
	if err != nil {
		p.Close()
		return nil, err
	}
	out.spool, out.emitter = s, s

	ctx, cancel := context.WithCancel(context.Background())
	out.cancel = cancel
	out.wg.Add(1)
	go func() {
		defer out.wg.Done()
		if err := s.Run(ctx); err != nil && ctx.Err() == nil {
			env.logger.Error("Spool sender stopped", "component", "spool", "err", err)
		}
	}()
	return out, nil
}

// flush waits until the spool has handed everything to Kafka, for --once.
func (o *collectorOutput) flush(ctx context.Context) error {
	if o.spool == nil {
		return nil
	}
	return waitFor(ctx, defaultFlushTimeout, func() bool { return o.spool.Stats().PendingMessages == 0 })
}

func (o *collectorOutput) close() {
	if o.cancel != nil {
		o.cancel()
		o.wg.Wait()
	}
	if o.spool != nil {
		o.spool.Close()
	}
	o.producer.Close()
}

// newScanPush returns the POST /v1/scans handler, or nil when no token is
// configured.
func newScanPush(cfg *config.Config, out collectors.Emitter, env *cmdEnv) (http.Handler, error) {
	token, err := kafka.ReadSecret("collect.scan_push_token", cfg.Collect.ScanPushToken, cfg.Collect.ScanPushTokenFile)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, nil
	}
	if cfg.HTTP.Addr == "" {
		env.logger.Warn("Scan push token set but http.addr is empty: POST /v1/scans is not served")
		return nil, nil
	}
	rejectDir := cfg.Collect.ScanRejectDir
	if rejectDir == "" && cfg.Collect.StateDir != "" {
		rejectDir = filepath.Join(cfg.Collect.StateDir, "rejected-scans")
	}
	return scanpush.New(scanpush.Config{
		Token:     token,
		MaxBytes:  cfg.Collect.ScanPushMaxBytes,
		RejectDir: rejectDir,
		HostID:    cfg.Collect.HostID,
	}, out, env.logger)
}

// defaultFlushTimeout bounds how long 'collect --once' waits for the spool
// to reach Kafka.
const defaultFlushTimeout = 2 * time.Minute
