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
	"strings"
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
		groups:      []string{"clickhouse"},
		summary: "Work with alerts: 'alerts send --config ROUTING.yaml --alerts FILE.jsonl' routes alerts from a file to the configured receivers; " +
			"'alerts plot ID --out FILE.png' draws the feature and score series of an alert's container around the window that fired; " +
			"'alerts silence --match LABEL=VALUE --for 2h' mutes matching notifications (--list shows silences, --expire ID ends one).",
		run: func(ctx context.Context, env *cmdEnv) error {
			if len(env.args) > 0 && env.args[0] == "send" {
				return alertsSend(ctx, env.args[1:], env)
			}
			if len(env.args) > 0 && env.args[0] == "plot" {
				return alertsPlot(ctx, env.args[1:], env)
			}
			if len(env.args) > 0 && env.args[0] == "silence" {
				return alertsSilence(ctx, env.args[1:], env)
			}
			return errors.New("missing subcommand: expected 'alerts send --config ROUTING.yaml --alerts FILE.jsonl', " +
				"'alerts plot ID --out FILE.png' or 'alerts silence --match LABEL=VALUE --for 2h'")
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

// alertsPlot writes the PNG plot of one alert, read from ClickHouse.
func alertsPlot(ctx context.Context, args []string, env *cmdEnv) error {
	fs := flag.NewFlagSet("harrier alerts plot", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	out := fs.String("out", "", "PNG `file` to write")
	margin := fs.Duration("margin", 15*time.Minute, "time drawn before and after the alert window")
	width := fs.Int("width", 1000, "image width in pixels")
	height := fs.Int("height", 1200, "image height in pixels")
	var alertID string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		alertID, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if alertID == "" && fs.NArg() == 1 {
		alertID = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: expected 'alerts plot ID --out FILE.png'", fs.Args())
	}
	if alertID == "" || *out == "" {
		return errors.New("missing argument: expected 'alerts plot ID --out FILE.png'")
	}
	if *margin <= 0 {
		return fmt.Errorf("invalid --margin value %s: expected a positive duration such as 15m", *margin)
	}

	store, err := openStore(ctx, env.cfg, true)
	if err != nil {
		return err
	}
	defer store.Close()
	data, err := alerting.LoadPlotData(ctx, store, alertID, *margin)
	if err != nil {
		return err
	}
	image, err := alerting.RenderPlot(data, *width, *height)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, image, 0o644); err != nil {
		return fmt.Errorf("write plot: %w", err)
	}
	fmt.Fprintf(env.stdout, "Wrote %s: %d feature windows and %d scores from %s to %s\n", *out, len(data.Times), len(data.Scores),
		data.WindowStart.Add(-*margin).Format(time.RFC3339), data.WindowEnd.Add(*margin).Format(time.RFC3339))
	return nil
}

// matcherFlags collects repeated --match flags.
type matcherFlags map[string]string

func (m matcherFlags) String() string { return fmt.Sprint(map[string]string(m)) }

func (m matcherFlags) Set(text string) error {
	name, value, err := alerting.ParseMatcher(text)
	if err != nil {
		return err
	}
	m[name] = value
	return nil
}

// alertsSilence adds, lists or expires silences in the alert_silences
// table, which the alert role loads at each rule evaluation.
func alertsSilence(ctx context.Context, args []string, env *cmdEnv) error {
	fs := flag.NewFlagSet("harrier alerts silence", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	matchers := matcherFlags{}
	fs.Var(matchers, "match", "`label=value` that a muted alert must have, such as alertname=image-age; repeat for more labels")
	duration := fs.Duration("for", 0, "how long the silence lasts, such as 2h")
	comment := fs.String("comment", "", "why the alerts are muted")
	createdBy := fs.String("by", os.Getenv("USER"), "who adds the silence")
	list := fs.Bool("list", false, "list the silences that have not ended")
	expire := fs.String("expire", "", "end the silence with this `id` now")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: expected 'alerts silence --match LABEL=VALUE --for 2h'", fs.Args())
	}
	if !*list && *expire == "" {
		if len(matchers) == 0 {
			return errors.New("missing flag --match: a silence needs at least one label=value")
		}
		if *duration <= 0 {
			return fmt.Errorf("invalid --for value %s: expected a positive duration such as 2h", *duration)
		}
	}

	store, err := openStore(ctx, env.cfg, true)
	if err != nil {
		return err
	}
	defer store.Close()
	now := time.Now()

	switch {
	case *list:
		silences, err := alerting.LoadSilences(ctx, store, now)
		if err != nil {
			return err
		}
		for _, s := range silences {
			labels := slices.Sorted(maps.Keys(s.Matchers))
			for i, name := range labels {
				labels[i] = name + "=" + s.Matchers[name]
			}
			fmt.Fprintf(env.stdout, "%s  %s to %s  %v  by %q: %s\n", s.ID,
				s.StartsAt.UTC().Format(time.RFC3339), s.EndsAt.UTC().Format(time.RFC3339), labels, s.CreatedBy, s.Comment)
		}
		fmt.Fprintf(env.stdout, "%d silences\n", len(silences))
		return nil
	case *expire != "":
		if err := alerting.ExpireSilence(ctx, store, *expire, now); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Expired silence %s\n", *expire)
		return nil
	}

	id, err := alerting.SaveSilence(ctx, store, dispatch.Silence{
		Matchers: matchers, EndsAt: now.Add(*duration), CreatedBy: *createdBy, Comment: *comment,
	}, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "Added silence %s until %s\n", id, now.Add(*duration).UTC().Format(time.RFC3339))
	return nil
}
