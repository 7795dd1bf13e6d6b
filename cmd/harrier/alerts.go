package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/harrierhq/harrier/alerting"
	"github.com/harrierhq/harrier/alerting/dispatch"
	"github.com/harrierhq/harrier/alerting/route"
	"github.com/harrierhq/harrier/internal/record"
)

func init() {
	register(&command{
		name:        "alerts",
		subcommands: true,
		summary:     "Work with alerts: 'alerts send --config ROUTING.yaml --alerts FILE.jsonl' routes alerts from a file to the configured receivers.",
		run: func(ctx context.Context, env *cmdEnv) error {
			if len(env.args) == 0 || env.args[0] != "send" {
				return errors.New("missing subcommand: expected 'alerts send --config ROUTING.yaml --alerts FILE.jsonl'")
			}
			return alertsSend(ctx, env.args[1:], env)
		},
	})
}

// maxAlertLineBytes caps one line of an alerts file.
const maxAlertLineBytes = 1 << 20

// alertsSend routes the alerts of a JSONL file, one record.Alert per line,
// through a routing config. Every group is flushed once, so each receiver
// gets one notification per group, as after group_wait.
func alertsSend(ctx context.Context, args []string, env *cmdEnv) error {
	fs := flag.NewFlagSet("harrier alerts send", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	configFile := fs.String("config", "", "routing config `file` (YAML: route and receivers)")
	alertsFile := fs.String("alerts", "", "alerts `file`, one JSON alert per line as on the alerts topic")
	window := fs.Duration("model-window", alerting.DefaultModelWindow, "scoring window of model alerts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configFile == "" || *alertsFile == "" {
		return errors.New("missing flag: expected both --config ROUTING.yaml and --alerts FILE.jsonl")
	}
	cfg, err := route.Load(*configFile, nil)
	if err != nil {
		return err
	}
	alerts, err := readAlertsFile(*alertsFile)
	if err != nil {
		return err
	}

	d := dispatch.New(cfg, nil, env.logger)
	now := time.Now()
	for _, a := range alerts {
		d.Fire(alerting.NotificationAlert(a, *window), now)
	}
	// A flush far enough ahead passes every group's group_wait.
	sent := d.Flush(ctx, now.Add(24*time.Hour))
	stats := d.Stats()
	fmt.Fprintf(env.stdout, "%d alerts read, %d distinct, %d notifications\n", len(alerts), len(alerts)-int(stats.Deduplicated), len(sent))
	for _, n := range sent {
		fmt.Fprintf(env.stdout, "  %s  %s  %d alerts  %s\n", n.Receiver, n.Status(), len(n.Alerts), n.GroupKey)
	}
	retries := d.RetryStats()
	failed := int64(0)
	for _, name := range slices.Sorted(maps.Keys(retries)) {
		for _, s := range retries[name] {
			failed += s.DeadLettered
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d notifications failed after retries; the log names each receiver and error", failed)
	}
	return nil
}

// readAlertsFile reads one record.Alert per non-empty line.
func readAlertsFile(path string) ([]record.Alert, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open alerts file: %w", err)
	}
	defer f.Close()
	return readAlerts(path, f)
}

func readAlerts(name string, r io.Reader) ([]record.Alert, error) {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64*1024), maxAlertLineBytes)
	var out []record.Alert
	line := 0
	for scanner.Scan() {
		line++
		text := scanner.Bytes()
		if len(text) == 0 {
			continue
		}
		var a record.Alert
		if err := json.Unmarshal(text, &a); err != nil {
			return nil, fmt.Errorf("%s:%d: invalid alert JSON: %w", name, line, err)
		}
		if a.Name == "" {
			return nil, fmt.Errorf("%s:%d: missing alert field name", name, line)
		}
		if a.Source != "rule" && a.Source != "model" {
			return nil, fmt.Errorf("%s:%d: invalid alert field source=%q: expected rule or model", name, line, a.Source)
		}
		if a.TimeNs == 0 {
			a.TimeNs = time.Now().UnixNano()
		}
		out = append(out, a)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read alerts file %s: %w", name, err)
	}
	return out, nil
}
