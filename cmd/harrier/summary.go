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
	fmt.Fprintf(tw, "  collected\t%d\t%d containers, %d lifecycle events, %d hosts, %d log records, %d cgroup samples, %d scan reports; %d unparsable inputs skipped\n",
		collected, c.Containers, c.Lifecycle, c.Hosts, c.Logs, c.Metrics, c.Scans, c.ParseErrors)
	fmt.Fprintf(tw, "  produced\t%d\tmessages acknowledged by Kafka\n", c.Produced)
	fmt.Fprintf(tw, "  consumed\t%d\tby the normalizer; the scorer added %d records to windows\n", n.Consumed, s.RecordsConsumed)
	fmt.Fprintf(tw, "  stored\t%d\trows in ClickHouse: %d events, %d metrics, %d containers, %d lifecycle events, %d hosts, %d images with %d vulnerabilities\n",
		storedTotal, stored["events"], stored["metrics"], stored["containers"], stored["container_events"], stored["hosts"], stored["images"], stored["vulnerabilities"])
	fmt.Fprintf(tw, "  dead-lettered\t%d\trecords rejected with a reason (table dead_letters: %d rows)\n", n.DeadLettered, stored["dead_letters"])
	fmt.Fprintf(tw, "  windows\t%d\tclosed; %d scored by the isolation forest, %d anomalous, %d late records\n",
		s.WindowsClosed, s.WindowsScored, s.AnomalousWindows, s.LateRecords)
	fmt.Fprintf(tw, "  alerts\t%d\traised: %d from the model, %d from policy rules; %d repeats suppressed\n",
		a.Raised, a.RaisedBySource["model"], a.RaisedBySource["rule"], a.Deduplicated)
	fmt.Fprintf(tw, "  wall time\t%.1f s\t\n", wall.Seconds())
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nSee every alert again with: harrier sql --clickhouse %s --clickhouse.database %s \"SELECT raised_at, name, container_name, summary FROM alerts FINAL ORDER BY raised_at\"\n",
		store.Addr(), store.Database())
	return nil
}
