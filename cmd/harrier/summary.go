package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/storage"
)

// storedTables are the tables whose row counts the summary reads back from
// ClickHouse, with FINAL so a record delivered twice counts once.
var storedTables = []string{"containers", "container_events", "hosts", "images", "vulnerabilities", "events", "metrics", "features", "scores", "alerts", "dead_letters"}

// printSummary prints the records per stage, the windows scored, the
// alerts raised and the wall time.
func printSummary(ctx context.Context, w io.Writer, store *storage.Store, p *pipeline, agents []*collectors.Agent, wall time.Duration) error {
	var c collectors.AgentStats
	for _, a := range agents {
		s := a.Stats()
		c.Hosts += s.Hosts
		c.Containers += s.Containers
		c.Logs += s.Logs
		c.Metrics += s.Metrics
		c.Scans += s.Scans
		c.Lifecycle += s.Lifecycle
		c.Produced += s.Produced
		c.ParseErrors += s.ParseErrors
	}
	collected := c.Hosts + c.Containers + c.Logs + c.Metrics + c.Scans + c.Lifecycle
	n := p.normalizer.Stats()
	s := p.scorer.Stats()
	a := p.alerter.Stats()

	stored := map[string]uint64{}
	var storedTotal uint64
	for _, table := range storedTables {
		_, rows, err := store.Query(ctx, "SELECT count() FROM "+table+" FINAL")
		if err != nil {
			return fmt.Errorf("count rows of %s: %w", table, err)
		}
		stored[table] = rows[0][0].(uint64)
	}
	for _, table := range []string{"containers", "container_events", "hosts", "images", "events", "metrics"} {
		storedTotal += stored[table]
	}

	fmt.Fprintln(w, "\nHarrier demo summary")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  collected\t%d\t%s, %s, %s, %s, %s, %s; %s skipped\n", collected,
		plural(c.Containers, "container", "containers"), plural(c.Lifecycle, "lifecycle event", "lifecycle events"),
		plural(c.Hosts, "host", "hosts"), plural(c.Logs, "log record", "log records"),
		plural(c.Metrics, "cgroup sample", "cgroup samples"), plural(c.Scans, "scan report", "scan reports"),
		plural(c.ParseErrors, "unparsable input", "unparsable inputs"))
	fmt.Fprintf(tw, "  produced\t%d\t%s acknowledged by Kafka\n", c.Produced, pluralNoun(c.Produced, "message", "messages"))
	fmt.Fprintf(tw, "  consumed\t%d\tby the normalizer; the scorer added %s to windows\n",
		n.Consumed, plural(s.RecordsConsumed, "record", "records"))
	fmt.Fprintf(tw, "  stored\t%d\t%s in ClickHouse: %s, %s, %s, %s, %s, %s with %s\n", storedTotal,
		pluralNoun(storedTotal, "row", "rows"), plural(stored["events"], "event", "events"),
		plural(stored["metrics"], "metric", "metrics"), plural(stored["containers"], "container", "containers"),
		plural(stored["container_events"], "lifecycle event", "lifecycle events"), plural(stored["hosts"], "host", "hosts"),
		plural(stored["images"], "image", "images"), plural(stored["vulnerabilities"], "vulnerability", "vulnerabilities"))
	fmt.Fprintf(tw, "  dead-lettered\t%d\t%s rejected with a reason (table dead_letters: %s)\n",
		n.DeadLettered, pluralNoun(n.DeadLettered, "record", "records"), plural(stored["dead_letters"], "row", "rows"))
	fmt.Fprintf(tw, "  windows\t%d\tclosed; %d scored by the isolation forest, %d anomalous, %s\n",
		s.WindowsClosed, s.WindowsScored, s.AnomalousWindows, plural(s.LateRecords, "late record", "late records"))
	fmt.Fprintf(tw, "  alerts\t%d\traised: %d from the model, %d from policy rules; %s suppressed\n",
		a.Raised, a.RaisedBySource["model"], a.RaisedBySource["rule"], plural(a.Deduplicated, "repeat", "repeats"))
	fmt.Fprintf(tw, "  wall time\t%.1f s\t\n", wall.Seconds())
	return tw.Flush()
}

// printQueryHint prints the harrier sql command that reads the alerts
// back. serverStays is false when the demo stops its own ClickHouse on
// return, and then it prints a pointer to --keep instead.
func printQueryHint(w io.Writer, store *storage.Store, serverStays bool) {
	if !serverStays {
		fmt.Fprintln(w, "\nThe demo's ClickHouse stops now and its data is deleted: run the demo with --keep to query the data afterwards.")
		return
	}
	fmt.Fprintf(w, "\nSee every alert again with: harrier sql --clickhouse %s --clickhouse.database %s \"SELECT raised_at, name, container_name, summary FROM alerts FINAL ORDER BY raised_at\"\n",
		store.Addr(), store.Database())
}

// plural returns n followed by one or many, as in "1 host" or "2 hosts".
func plural[N ~int | ~int64 | ~uint64](n N, one, many string) string {
	return fmt.Sprintf("%d %s", n, pluralNoun(n, one, many))
}

// pluralNoun returns one when n is 1 and many otherwise.
func pluralNoun[N ~int | ~int64 | ~uint64](n N, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
