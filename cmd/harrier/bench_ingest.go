package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/internal/broker"
	"github.com/harrierhq/harrier/internal/config"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage"
)

func init() { register(benchCommand()) }

// benchCeilingBatch is the batch size of the ceiling's inserts: the
// normalizer's largest batch, so that both sides pay the same per-insert
// overhead.
const benchCeilingBatch = normalize.DefaultMaxBatch

// benchResult is the last line of 'harrier bench ingest --json'.
type benchResult struct {
	CeilingRowsPerS  float64 `json:"ceiling_rows_per_s"`
	PipelineRowsPerS float64 `json:"pipeline_rows_per_s"`
	Ratio            float64 `json:"ratio"`
}

func benchCommand() *command {
	rows := 200000
	containers := 8
	asJSON := false
	cpuProfile := ""
	benchFlags := func(fs *flag.FlagSet) {
		fs.IntVar(&rows, "rows", rows, "log lines to generate and ingest")
		fs.IntVar(&containers, "containers", containers, "Docker containers the log lines are spread over")
		fs.StringVar(&cpuProfile, "cpuprofile", cpuProfile, "write a CPU profile of the whole run to this `file`, for go tool pprof")
		fs.BoolVar(&asJSON, "json", asJSON, `end with one JSON line {"ceiling_rows_per_s":…, "pipeline_rows_per_s":…, "ratio":…}`)
	}
	return &command{
		name:        "bench",
		subcommands: true,
		summary: "Measure throughput. 'harrier bench ingest [--rows N] [--json]' prints the raw ClickHouse insert rate " +
			"(the ceiling), the rate of the full path from log files through the collector, Kafka and the normalizer " +
			"into ClickHouse, and their ratio; it starts its own broker and ClickHouse unless --kafka and --clickhouse are given. " +
			"'harrier bench collect [--files N] [--lines N] [--cgroups N] [--json]' measures the collector's lines/s per core and peak RSS.",
		groups: []string{"kafka", "clickhouse"},
		setup: func(fs *flag.FlagSet, l *config.Loader, o *cmdOptions) {
			connectionAliases(fs, l, o)
			benchFlags(fs)
		},
		run: func(ctx context.Context, env *cmdEnv) error {
			if len(env.args) > 0 && env.args[0] == "collect" {
				return runBenchCollect(ctx, env)
			}
			if len(env.args) == 0 || env.args[0] != "ingest" {
				return fmt.Errorf("expected the benchmark name 'ingest' or 'collect', got %q", strings.Join(env.args, " "))
			}
			// The benchmark's own flags may also follow its name.
			sub := flag.NewFlagSet("harrier bench ingest", flag.ContinueOnError)
			sub.SetOutput(env.stderr)
			benchFlags(sub)
			if err := sub.Parse(env.args[1:]); err != nil {
				return err
			}
			if sub.NArg() > 0 {
				return fmt.Errorf("unexpected arguments %q after 'ingest'", strings.Join(sub.Args(), " "))
			}
			if rows < 1000 {
				return fmt.Errorf("invalid value %d for --rows: use at least 1000", rows)
			}
			if containers < 1 || containers > 1000 {
				return fmt.Errorf("invalid value %d for --containers: use 1 to 1000", containers)
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return fmt.Errorf("create --cpuprofile file: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("start CPU profile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			res, err := benchIngest(ctx, env, rows, containers)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "ceiling   %10.0f rows/s  clickhouse-go batch insert of the same rows, %d per batch\n", res.CeilingRowsPerS, benchCeilingBatch)
			fmt.Fprintf(env.stdout, "pipeline  %10.0f rows/s  log files, collector, Kafka, normalizer, ClickHouse\n", res.PipelineRowsPerS)
			fmt.Fprintf(env.stdout, "ratio     %10.2f\n", res.Ratio)
			if asJSON {
				line, err := json.Marshal(res)
				if err != nil {
					return err
				}
				fmt.Fprintln(env.stdout, string(line))
			}
			return nil
		},
	}
}

// benchIngest generates log files, runs them through the full path into
// one database, then inserts the stored rows into a second database with
// plain batch inserts, and returns both rates.
func benchIngest(ctx context.Context, env *cmdEnv, rows, containers int) (benchResult, error) {
	cfg := *env.cfg
	out := env.stderr
	work, err := os.MkdirTemp("", "harrier-bench-")
	if err != nil {
		return benchResult{}, err
	}
	defer os.RemoveAll(work)

	if env.loader.IsSet("kafka.brokers") {
		cfg.Kafka.TopicPrefix = fmt.Sprintf("%sbench-%d.", cfg.Kafka.TopicPrefix, time.Now().UnixNano())
	} else {
		b, err := broker.Start(broker.Config{Port: 0, Partitions: cfg.Kafka.Partitions}, nil)
		if err != nil {
			return benchResult{}, err
		}
		defer b.Close()
		cfg.Kafka.Brokers = []string{b.Addr()}
	}
	if !env.loader.IsSet("clickhouse.addr") {
		server, err := storage.StartLocal(ctx, filepath.Join(work, "clickhouse"), env.logger)
		if err != nil {
			return benchResult{}, err
		}
		defer server.Stop()
		cfg.ClickHouse.Addr = server.Addr
	}

	dockerRoot := filepath.Join(work, "containers")
	fmt.Fprintf(out, "bench: writing %d log lines for %d containers to %s\n", rows, containers, dockerRoot)
	if err := writeBenchLogs(dockerRoot, rows, containers); err != nil {
		return benchResult{}, err
	}

	suffix := time.Now().UnixNano()
	pipeCfg := cfg
	pipeCfg.ClickHouse.Database = fmt.Sprintf("harrier_bench_pipeline_%d", suffix)
	pipeStore, err := openStore(ctx, &pipeCfg, false)
	if err != nil {
		return benchResult{}, err
	}
	defer pipeStore.Close()
	defer pipeStore.DropDatabase(context.WithoutCancel(ctx))
	if _, err := pipeStore.Migrate(ctx); err != nil {
		return benchResult{}, err
	}
	if err := prepareTopics(ctx, &pipeCfg); err != nil {
		return benchResult{}, err
	}

	fmt.Fprintln(out, "bench: full path")
	pipelineRate, err := benchPipeline(ctx, env, &pipeCfg, pipeStore, dockerRoot, rows)
	if err != nil {
		return benchResult{}, err
	}

	cols := normalize.Columns(normalize.TableEvents)
	_, stored, err := pipeStore.Query(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM events")
	if err != nil {
		return benchResult{}, err
	}
	if len(stored) != rows {
		return benchResult{}, fmt.Errorf("the full path stored %d event rows for %d log lines: check the normalizer's dead letters", len(stored), rows)
	}

	ceilCfg := cfg
	ceilCfg.ClickHouse.Database = fmt.Sprintf("harrier_bench_ceiling_%d", suffix)
	ceilStore, err := openStore(ctx, &ceilCfg, false)
	if err != nil {
		return benchResult{}, err
	}
	defer ceilStore.Close()
	defer ceilStore.DropDatabase(context.WithoutCancel(ctx))
	if _, err := ceilStore.Migrate(ctx); err != nil {
		return benchResult{}, err
	}
	fmt.Fprintln(out, "bench: ceiling")
	start := time.Now()
	for i := 0; i < len(stored); i += benchCeilingBatch {
		end := min(i+benchCeilingBatch, len(stored))
		if err := ceilStore.Insert(ctx, normalize.TableEvents, cols, stored[i:end]); err != nil {
			return benchResult{}, err
		}
	}
	ceilingRate := float64(len(stored)) / time.Since(start).Seconds()

	return benchResult{
		CeilingRowsPerS:  ceilingRate,
		PipelineRowsPerS: pipelineRate,
		Ratio:            pipelineRate / ceilingRate,
	}, nil
}

// benchPipeline runs a collector over dockerRoot and a normalizer into
// store, and returns the rate from the collector's start until the last
// event row is stored.
func benchPipeline(ctx context.Context, env *cmdEnv, cfg *config.Config, store *storage.Store, dockerRoot string, rows int) (float64, error) {
	producer := kafka.NewProducer(cfg.Kafka.Brokers, cfg.Kafka.TopicPrefix)
	defer producer.Close()
	nctx, cancel := context.WithCancel(ctx)
	var minerWG sync.WaitGroup
	defer minerWG.Wait()
	miner, err := newMiner(nctx, cfg, store, env, &minerWG)
	if err != nil {
		cancel()
		return 0, err
	}
	n := newNormalizer(cfg, store, producer, miner, env)
	done := make(chan error, 1)
	go func() { done <- n.Run(nctx) }()
	defer func() {
		cancel()
		<-done
	}()

	agent := collectors.NewAgent(collectors.AgentConfig{HostID: "bench-host", DockerRoot: dockerRoot}, producer, env.logger)
	start := time.Now()
	if err := agent.RunOnce(ctx); err != nil {
		return 0, fmt.Errorf("collect: %w", err)
	}
	fmt.Fprintf(env.stderr, "bench: the collector produced %d records in %.2fs; the normalizer had stored %d event rows by then\n",
		agent.Stats().Produced, time.Since(start).Seconds(), n.Stats().Stored[normalize.TableEvents])
	err = waitFor(ctx, 10*time.Minute, func() bool {
		return n.Stats().Stored[normalize.TableEvents] >= uint64(rows)
	})
	if err != nil {
		return 0, fmt.Errorf("waiting for %d event rows (stored %d): %w", rows, n.Stats().Stored[normalize.TableEvents], err)
	}
	return float64(rows) / time.Since(start).Seconds(), nil
}

// writeBenchLogs writes Docker json-file logs with rows lines in total,
// spread over the given number of containers. The messages mix Apache,
// sshd and application shapes with varying numbers, one line per
// millisecond of event time.
func writeBenchLogs(root string, rows, containers int) error {
	shapes := []string{
		`[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state %d`,
		`Failed password for invalid user admin from 173.234.31.%d port 38926 ssh2`,
		`level=info msg="request served" path=/api/v1/items/%d status=200 duration_ms=12`,
		`GET /index.html?id=%d HTTP/1.1 200 5120`,
	}
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for c := 0; c < containers; c++ {
		id := fmt.Sprintf("%064x", c+1)
		dir := filepath.Join(root, id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		meta := fmt.Sprintf(`{"ID":%q,"Name":"/bench-%d","Image":"sha256:%064x","Config":{"Image":"bench:1","Labels":{}},"State":{"Running":true,"StartedAt":"2026-11-30T09:00:00Z"}}`, id, c, c+1)
		if err := os.WriteFile(filepath.Join(dir, "config.v2.json"), []byte(meta), 0o644); err != nil {
			return err
		}
		var b strings.Builder
		for i := c; i < rows; i += containers {
			msg := fmt.Sprintf(shapes[i%len(shapes)], i)
			ts := base.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
			line, err := json.Marshal(map[string]string{"log": msg + "\n", "stream": "stdout", "time": ts})
			if err != nil {
				return err
			}
			b.Write(line)
			b.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(dir, id+"-json.log"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
