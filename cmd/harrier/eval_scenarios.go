package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/harrierhq/harrier/alerting"
	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/internal/broker"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/harrierhq/harrier/internal/scenario"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage"
)

func init() { registerEval("scenarios", runEvalScenarios) }

// scenarioDatabase is the database of the evaluation's private ClickHouse.
const scenarioDatabase = "harrier_scenarios"

// scenarioHostID is the host id of the replayed fleet.
const scenarioHostID = "scenario-host"

// scenarioGrace is the minimum time after an incident's end during which
// an alert on its container still counts for it. The grace is at least one
// evaluation step plus a minute, so that the rules' first evaluation after
// a short incident and the model's last window of it still count.
const scenarioGrace = 10 * time.Minute

// scenarioDetectorKinds maps the rules written for one incident kind to
// it, so that their false alerts count against that kind's precision.
var scenarioDetectorKinds = map[string]string{
	"exploit-payload-in-logs":                scenario.KindExploitStrings,
	"failed-login-burst":                     scenario.KindBruteForce,
	"fork-bomb":                              scenario.KindForkBomb,
	"oom-killed":                             scenario.KindMemoryLeakOOM,
	"new-published-port":                     scenario.KindNewPort,
	"privileged-with-runtime-socket":         scenario.KindPrivilegedSock,
	"privileged-container-running":           scenario.KindPrivilegedSock,
	"critical-fixable-vulnerability-running": scenario.KindVulnRollout,
}

type scenarioOptions struct {
	seed              int64
	dir               string
	containers, hours int
	step              time.Duration
	asJSON, keep      bool
	// generated is set when the fleet was generated into the work folder.
	generated bool
}

func runEvalScenarios(ctx context.Context, env *cmdEnv, args []string) error {
	var o scenarioOptions
	fs := flag.NewFlagSet("harrier eval scenarios", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Int64Var(&o.seed, "seed", 1, "seed of the generated fleet; ignored with --dir")
	fs.StringVar(&o.dir, "dir", "", "replay this folder from 'harrier scenario generate' instead of generating one")
	fs.IntVar(&o.containers, "containers", scenario.DefaultContainers, "containers of the generated fleet")
	fs.IntVar(&o.hours, "hours", scenario.DefaultHours, "hours of the generated timeline")
	fs.DurationVar(&o.step, "step", 5*time.Minute, "event time between two collector passes and rule evaluations (1m to 1h)")
	fs.BoolVar(&o.asJSON, "json", false, `print {"recall":…, "precision":…, "median_ttd_s":…, "false_per_100_container_days":…, "by_kind":{…}} as the last line`)
	fs.BoolVar(&o.keep, "keep", false, "keep the private ClickHouse running after the report, until Ctrl-C, to query it")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: harrier eval scenarios [--seed N] [--dir DIR] [--json]")
		fmt.Fprintln(fs.Output(), "\nGenerates a labelled fleet (or reads --dir), replays it in event time through the collector, the embedded")
		fmt.Fprintln(fs.Output(), "broker, the normalizer, a private ClickHouse, the scorer and the alerter with the default and incident")
		fmt.Fprintln(fs.Output(), "rules, and scores the alerts against the labels: recall, precision and time to detect per incident")
		fmt.Fprintln(fs.Output(), "kind, and false alerts per 100 container-days outside the incidents.\n\nFlags:")
		fs.PrintDefaults()
	}
	positional, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return fmt.Errorf("unexpected arguments %q: expected flags only", positional)
	}
	if o.step < time.Minute || o.step > time.Hour || o.step%time.Minute != 0 {
		return fmt.Errorf("invalid --step %s: expected whole minutes from 1m to 1h", o.step)
	}

	work, err := os.MkdirTemp("", "harrier-eval-scenarios-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if o.dir == "" {
		o.dir = filepath.Join(work, "fleet")
		o.generated = true
		started := time.Now()
		if _, err := scenario.Generate(o.dir, scenario.Config{Seed: o.seed, Containers: o.containers, Hours: o.hours}); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Generated seed %d: %d containers, %d hours in %.1f s\n", o.seed, o.containers, o.hours, time.Since(started).Seconds())
	}
	manifest, err := scenario.ReadManifest(o.dir)
	if err != nil {
		return err
	}
	labels, err := scenario.LoadLabels(o.dir)
	if err != nil {
		return err
	}

	return replayScenario(ctx, env, o, work, manifest, func(alerts []scenario.Alert) error {
		grace := max(scenarioGrace, o.step+time.Minute)
		score := scenario.ScoreAlerts(manifest, labels, alerts, scenario.ScoreConfig{Grace: grace, DetectorKinds: scenarioDetectorKinds})
		printScenarioScore(env.stdout, manifest, score)
		if o.asJSON {
			line, err := json.Marshal(score)
			if err != nil {
				return err
			}
			fmt.Fprintln(env.stdout, string(line))
		}
		return nil
	})
}

// replayScenario runs the pipeline over the folder in event-time steps and
// hands the alerts it raised to report, before it stops the pipeline.
func replayScenario(ctx context.Context, env *cmdEnv, o scenarioOptions, work string, m scenario.Manifest, report func([]scenario.Alert) error) error {
	started := time.Now()
	cfg := env.cfg
	cfg.ClickHouse.Database = scenarioDatabase
	// Each step sends its logs before its cgroup samples, so a window must
	// stay open for one step after the newest record.
	cfg.Features.AllowedLateness = o.step + time.Minute
	cfg.Alerting.EvalInterval = 24 * time.Hour
	rulesFile := filepath.Join(work, "rules.yaml")
	if err := os.WriteFile(rulesFile, alerting.DefaultAndIncidentRulesYAML(), 0o644); err != nil {
		return err
	}
	cfg.Alerting.RulesFile = rulesFile

	b, err := broker.Start(broker.Config{Port: 0, Partitions: cfg.Kafka.Partitions}, nil)
	if err != nil {
		return err
	}
	defer b.Close()
	cfg.Kafka.Brokers = []string{b.Addr()}
	server, err := storage.StartLocal(ctx, filepath.Join(work, "clickhouse"), env.logger)
	if err != nil {
		return err
	}
	defer server.Stop()
	cfg.ClickHouse.Addr = server.Addr

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

	quiet := *env
	quiet.stdout = io.Discard
	p, err := newPipeline(ctx, cfg, store, &quiet)
	if err != nil {
		return err
	}
	// The rules are evaluated at the replay's event time, not the wall
	// clock, so that their windows and dedup periods cover the replay.
	var clock atomic.Int64
	clock.Store(m.Start.UnixNano())
	p.alerter, err = alerting.New(alerting.Config{
		Metrics:      metrics.Default().ForRole("alert"),
		Brokers:      cfg.Kafka.Brokers,
		TopicPrefix:  cfg.Kafka.TopicPrefix,
		RulesFile:    rulesFile,
		EvalInterval: cfg.Alerting.EvalInterval,
		Dedup:        cfg.Alerting.Dedup,
		ModelWindow:  cfg.Features.Window,
		Clock:        func() time.Time { return time.Unix(0, clock.Load()).UTC() },
	}, store, io.Discard, env.logger)
	if err != nil {
		return err
	}
	p.start(ctx)
	defer p.stop()

	// A fleet generated for this run is moved into the replay folder, but a
	// folder given with --dir is left as it is.
	stager, err := scenario.NewStager(o.dir, filepath.Join(work, "replay"), o.generated)
	if err != nil {
		return err
	}
	defer stager.Close()
	producer := kafka.NewProducer(cfg.Kafka.Brokers, cfg.Kafka.TopicPrefix)
	defer producer.Close()
	agent := collectors.NewAgent(collectors.AgentConfig{
		HostID:          scenarioHostID,
		DockerRoot:      stager.Docker(),
		CgroupReplayDir: stager.Cgroup(),
		ScanDir:         stager.Scans(),
		MaxCgroups:      cfg.Collect.MaxCgroups,
	}, producer, env.logger)

	normalized := func() bool {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		lag, err := kafka.GroupLag(lctx, cfg.Kafka.Brokers, cfg.Kafka.TopicPrefix, cfg.Normalize.Group, normalize.Topics...)
		return err == nil && lag == 0
	}
	steps := int(m.End.Sub(m.Start) / o.step)
	lastReport := time.Now()
	// spent adds up the wall time of each part of a step.
	var spent [4]time.Duration
	mark := func(part int, since time.Time) time.Time {
		now := time.Now()
		spent[part] += now.Sub(since)
		return now
	}
	for i := 0; i <= steps; i++ {
		t := m.Start.Add(time.Duration(i) * o.step)
		at := time.Now()
		if err := stager.Advance(t); err != nil {
			return err
		}
		at = mark(0, at)
		if err := agent.RunOnce(ctx); err != nil {
			return fmt.Errorf("collect up to %s: %w", t.Format(time.RFC3339), err)
		}
		at = mark(1, at)
		if err := waitFor(ctx, 2*time.Minute, normalized); err != nil {
			return fmt.Errorf("waiting for the normalizer at %s: %w", t.Format(time.RFC3339), err)
		}
		at = mark(2, at)
		clock.Store(t.UnixNano())
		if err := p.alerter.EvaluateRules(ctx); err != nil {
			return fmt.Errorf("evaluate rules at %s: %w", t.Format(time.RFC3339), err)
		}
		mark(3, at)
		if time.Since(lastReport) > 10*time.Second {
			lastReport = time.Now()
			fmt.Fprintf(env.stderr, "[%5.0fs] replayed to %s (%d/%d steps), %d records produced, %d alerts\n",
				time.Since(started).Seconds(), t.Format("2006-01-02 15:04"), i, steps, agent.Stats().Produced, p.alerter.Stats().Raised)
		}
	}

	scored := func() bool {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		caughtUp, err := p.scorer.CaughtUp(lctx)
		return err == nil && caughtUp
	}
	if err := waitFor(ctx, 5*time.Minute, scored); err != nil {
		return fmt.Errorf("waiting for the scorer: %w", err)
	}
	if err := p.scorer.Flush(ctx); err != nil {
		return fmt.Errorf("score the last windows: %w", err)
	}
	emitted := p.scorer.Stats().AlertsEmitted
	handled := func() bool {
		s := p.alerter.Stats()
		return s.Raised+s.Deduplicated+s.Invalid >= emitted
	}
	if err := waitFor(ctx, time.Minute, handled); err != nil {
		return fmt.Errorf("waiting for %d model alerts to reach the alerter: %w", emitted, err)
	}

	_, rows, err := store.Query(ctx, "SELECT event_ns, source, name, container_id FROM alerts FINAL ORDER BY event_ns")
	if err != nil {
		return fmt.Errorf("read alerts: %w", err)
	}
	var alerts []scenario.Alert
	for _, r := range rows {
		alerts = append(alerts, scenario.Alert{Time: time.Unix(0, r[0].(int64)).UTC(), Detector: r[2].(string), ContainerID: r[3].(string)})
	}
	s := p.scorer.Stats()
	c := agent.Stats()
	fmt.Fprintf(env.stdout, "Replayed %s to %s in %d steps of %s in %.1f s: %d records (%d logs, %d cgroup samples, %d lifecycle events), "+
		"%d windows scored, %d anomalous, %d late records; %d alerts\n",
		m.Start.Format(time.RFC3339), m.End.Format(time.RFC3339), steps, o.step, time.Since(started).Seconds(),
		c.Produced, c.Logs, c.Metrics, c.Lifecycle, s.WindowsScored, s.AnomalousWindows, s.LateRecords, len(alerts))
	fmt.Fprintf(env.stdout, "  wall time of the steps: staging %.1f s, collecting %.1f s, waiting for the normalizer %.1f s, rules %.1f s\n",
		spent[0].Seconds(), spent[1].Seconds(), spent[2].Seconds(), spent[3].Seconds())
	if err := report(alerts); err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(env.stderr, "\nClickHouse stays up on %s until Ctrl-C: harrier sql --clickhouse %s --clickhouse.database %s \"SELECT ...\"\n",
			cfg.ClickHouse.Addr, cfg.ClickHouse.Addr, cfg.ClickHouse.Database)
		<-ctx.Done()
	}
	return nil
}

func printScenarioScore(w io.Writer, m scenario.Manifest, s scenario.Score) {
	fmt.Fprintf(w, "\nSeed %d: %d containers over %d hours, %d incidents, %d alerts\n", m.Seed, len(m.Fleet), m.Hours, m.Incidents, s.Alerts)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  kind\tincidents\tdetected\trecall\tprecision\tmedian TTD\tdetectors (matched alerts)")
	for _, kind := range scenario.Kinds {
		k, ok := s.ByKind[kind]
		if !ok {
			continue
		}
		ttd := "-"
		if k.Detected > 0 {
			ttd = fmt.Sprintf("%.0f s", k.MedianTTDs)
		}
		var detectors []string
		for d, n := range k.Detectors {
			detectors = append(detectors, fmt.Sprintf("%s %d", d, n))
		}
		sort.Strings(detectors)
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%.2f\t%.2f\t%s\t%s\n", kind, k.Incidents, k.Detected, k.Recall, k.Precision, ttd, strings.Join(detectors, ", "))
	}
	fmt.Fprintf(tw, "  all\t%d\t\t%.2f\t%.2f\t%.0f s\t\n", m.Incidents, s.Recall, s.Precision, s.MedianTTDs)
	tw.Flush()
	fmt.Fprintf(w, "  false alerts: %d (%d from the model) over %.1f incident-free container-days: %.1f per 100 container-days\n",
		s.FalseAlerts, s.FalseByModel, s.CleanDays, s.FalsePer100)
	for _, miss := range s.Misses {
		other := "no alert on the container"
		if len(miss.Alerts) > 0 {
			other = "alerts on the container at other times: " + strings.Join(miss.Alerts, ", ")
		}
		fmt.Fprintf(w, "  missed %s on %s from %s to %s: %s\n", miss.Label.Kind, miss.Label.Entity,
			miss.Label.Start.Format("15:04"), miss.Label.End.Format("15:04"), other)
	}
	for _, a := range s.Falses {
		name := a.ContainerID
		for _, c := range m.Fleet {
			if c.ID == a.ContainerID {
				name = c.Name
			}
		}
		fmt.Fprintf(w, "  false alert %s on %s at %s\n", a.Detector, name, a.Time.Format("2006-01-02 15:04"))
	}
}
