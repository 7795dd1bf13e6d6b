package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/barchart"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	ds "github.com/harrierhq/harrier/dashboards/datasource"
)

// containerVariable is the drill-down dashboard's variable holding the
// container id. Grafana substitutes it into the containerId field, which
// the data source binds as a parameter.
const containerVariable = "$container"

func targets(qs []cog.Builder[variants.Dataquery]) []cog.Builder[variants.Dataquery] { return qs }

func tablePanel(title, description string, width, height uint32, qs ...cog.Builder[variants.Dataquery]) cog.Builder[dashboard.Panel] {
	return table.NewPanelBuilder().Title(title).Description(description).Datasource(harrierRef()).
		Span(width).Height(height).Targets(targets(qs))
}

func timeSeriesPanel(title, description string, width, height uint32, qs ...cog.Builder[variants.Dataquery]) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().Title(title).Description(description).Datasource(harrierRef()).
		Span(width).Height(height).Targets(targets(qs))
}

func barPanel(title, description string, width, height uint32, qs ...cog.Builder[variants.Dataquery]) cog.Builder[dashboard.Panel] {
	return barchart.NewPanelBuilder().Title(title).Description(description).Datasource(harrierRef()).
		Span(width).Height(height).Targets(targets(qs))
}

func statPanel(title, description string, width, height uint32, qs ...cog.Builder[variants.Dataquery]) cog.Builder[dashboard.Panel] {
	return stat.NewPanelBuilder().Title(title).Description(description).Datasource(harrierRef()).
		Span(width).Height(height).Targets(targets(qs))
}

func one(q queryBuilder) cog.Builder[variants.Dataquery] { return q }

// socOverview is the analysts' start page: alerts by severity and rule,
// open and resolved alert groups, the noisiest rules, scores, and
// critical fixable vulnerabilities.
func socOverview() *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder("Harrier SOC overview").
		Uid("harrier-soc-overview").
		Tags([]string{"harrier", "security"}).
		Time("now-24h", "now").
		Refresh("1m").
		WithPanel(barPanel("Alerts by severity", "Alerts raised in the time range, by severity.", 8, 8,
			one(sqlTarget("A", "SELECT severity, count() AS alerts FROM alerts FINAL WHERE $__timeFilter(raised_at) GROUP BY severity ORDER BY alerts DESC", ds.Query{})))).
		WithPanel(statPanel("Open and resolved alert groups",
			"Alert groups (fingerprints) raised in the time range. A group is open while it was raised in the 15 minutes before the end of the range, and resolved otherwise.", 8, 8,
			one(sqlTarget("A", "SELECT countIf(last_raised >= $__toTime - 900) AS open, countIf(last_raised < $__toTime - 900) AS resolved FROM (SELECT fingerprint, max(raised_at) AS last_raised FROM alerts FINAL WHERE $__timeFilter(raised_at) GROUP BY fingerprint)", ds.Query{})))).
		WithPanel(tablePanel("Noisiest rules", "The rules with the most alerts in the time range, with the containers they fired on.", 8, 8,
			one(sqlTarget("A", "SELECT source, name, count() AS alerts, uniqExact(container_id) AS containers, max(raised_at) AS last_raised FROM alerts FINAL WHERE $__timeFilter(raised_at) GROUP BY source, name ORDER BY alerts DESC LIMIT 10", ds.Query{})))).
		WithPanel(timeSeriesPanel("Alerts by rule", "Alerts per rule and interval.", 12, 8,
			one(sqlTarget("A", "SELECT $__timeGroup(raised_at) AS time, name, count() AS alerts FROM alerts FINAL WHERE $__timeFilter(raised_at) GROUP BY time, name ORDER BY time, name", ds.Query{})))).
		WithPanel(timeSeriesPanel("Anomaly scores", "The highest isolation-forest score per container and interval, with the threshold that raises an alert.", 12, 8,
			one(target("A", ds.Query{QueryType: ds.QueryTypeScores})))).
		WithPanel(tablePanel("Most anomalous containers", "Containers by their highest score in the time range.", 12, 8,
			one(target("A", ds.Query{QueryType: ds.QueryTypeTopContainers, Limit: 10})))).
		WithPanel(tablePanel("Critical fixable vulnerabilities", "Running containers whose image has a critical vulnerability with a fixed version.", 12, 8,
			one(target("A", ds.Query{QueryType: ds.QueryTypeVulnerabilities, Severity: "CRITICAL"})))).
		WithPanel(tablePanel("Recent alerts", "The latest alerts in the time range.", 24, 10,
			one(target("A", ds.Query{QueryType: ds.QueryTypeAlerts, Limit: 100}))))
}

// containerDrillDown shows one container: its features, score and
// threshold, log templates first seen in the last week, alerts and the
// vulnerabilities of its image.
func containerDrillDown() *dashboard.DashboardBuilder {
	byContainer := ds.Query{ContainerID: containerVariable}
	return dashboard.NewDashboardBuilder("Harrier container drill-down").
		Uid("harrier-container").
		Tags([]string{"harrier", "security"}).
		Time("now-6h", "now").
		WithVariable(dashboard.NewTextBoxVariableBuilder("container").Label("Container id").
			Description("The container id, as in the alerts' container_id column.")).
		WithPanel(timeSeriesPanel("Score and threshold", "The container's highest score per interval and the threshold that raises an alert.", 24, 8,
			one(target("A", ds.Query{QueryType: ds.QueryTypeScores, ContainerID: containerVariable})))).
		WithPanel(timeSeriesPanel("Features", "The feature vector of each one-minute window: CPU cores, throttled ratio, working set, log lines, error lines and new log shapes.", 24, 10,
			one(sqlTarget("A", "SELECT window_start AS time, cpu_cores, cpu_throttled_ratio, memory_working_set_bytes, log_lines, error_lines, new_shapes FROM features FINAL WHERE container_id = $__containerId AND $__timeFilter(window_start) ORDER BY time", byContainer)))).
		WithPanel(tablePanel("Log templates new this week", "Log templates whose first line from this container is less than 7 days older than the end of the range.", 12, 10,
			one(sqlTarget("A", "SELECT template_id, any(template) AS template, min(time) AS first_seen, count() AS lines FROM events WHERE container_id = $__containerId AND time <= $__toTime GROUP BY template_id HAVING first_seen >= $__toTime - 604800 ORDER BY first_seen DESC LIMIT 200", byContainer)))).
		WithPanel(tablePanel("Vulnerabilities of its image", "The latest scan of the image the container last ran.", 12, 10,
			one(sqlTarget("A", "SELECT vuln_id, severity, package, installed_version, fixed_version, title FROM vulnerabilities FINAL WHERE image_id IN (SELECT argMax(image_id, seen_at) FROM containers WHERE container_id = $__containerId) ORDER BY severity, vuln_id", byContainer)))).
		WithPanel(tablePanel("Alerts", "The container's alerts in the time range.", 24, 8,
			one(target("A", ds.Query{QueryType: ds.QueryTypeAlerts, ContainerID: containerVariable}))))
}

// fleetVulnerabilities shows fixable vulnerabilities across running
// containers, by image and by host, and hosts past their OS's end of
// support when the hosts table has os_eol_date.
func fleetVulnerabilities(hasEOL bool) *dashboard.DashboardBuilder {
	b := dashboard.NewDashboardBuilder("Harrier fleet vulnerabilities").
		Uid("harrier-fleet-vulnerabilities").
		Tags([]string{"harrier", "vulnerabilities"}).
		Time("now-24h", "now").
		WithPanel(barPanel("Fixable criticals by image", "Critical vulnerabilities with a fixed version, per image of a running container.", 12, 9,
			one(sqlTarget("A", "SELECT image_ref, uniqExact(vuln_id) AS criticals, uniqExact(container_id) AS containers FROM running_critical_fixable_containers GROUP BY image_ref ORDER BY criticals DESC LIMIT 20", ds.Query{})))).
		WithPanel(barPanel("Fixable criticals by host", "Critical vulnerabilities with a fixed version, per host of a running container.", 12, 9,
			one(sqlTarget("A", "SELECT host_id, uniqExact(vuln_id) AS criticals, uniqExact(image_id) AS images FROM running_critical_fixable_containers GROUP BY host_id ORDER BY criticals DESC LIMIT 20", ds.Query{})))).
		WithPanel(tablePanel("Fixable vulnerabilities per host and image", "Counts by severity, for running containers.", 24, 10,
			one(target("A", ds.Query{QueryType: ds.QueryTypeVulnerabilities})))).
		WithPanel(tablePanel("Fixable criticals", "Each critical vulnerability with a fixed version in a running container.", 24, 10,
			one(sqlTarget("A", "SELECT container_name, host_id, image_ref, vuln_id, package, installed_version, fixed_version, title FROM running_critical_fixable_containers ORDER BY image_ref, vuln_id, container_name LIMIT 1000", ds.Query{}))))
	if hasEOL {
		b = b.WithPanel(tablePanel("Hosts past end of support", "Hosts whose OS release is past the end of its security support, from the latest host record.", 24, 8,
			one(sqlTarget("A", "SELECT host_id, hostname, os_pretty, eol FROM (SELECT host_id, argMax(hostname, seen_at) AS hostname, argMax(os_pretty, seen_at) AS os_pretty, argMax(os_eol_date, seen_at) AS eol FROM hosts GROUP BY host_id) WHERE eol != '' AND eol <= toString(toDate($__toTime)) ORDER BY eol, host_id", ds.Query{}))))
	}
	return b
}

// pipelineHealth shows ingest rate, freshness and dead letters from
// ClickHouse, and consumer lag, drops and dead letters per role from the
// roles' Prometheus metrics.
func pipelineHealth() *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder("Harrier pipeline health").
		Uid("harrier-pipeline-health").
		Tags([]string{"harrier", "pipeline"}).
		Time("now-6h", "now").
		Refresh("30s").
		WithPanel(timeSeriesPanel("Ingest rate", "Rows stored per interval, by the record's own time.", 12, 8,
			one(sqlTarget("A", "SELECT $__timeGroup(time) AS time, count() AS events FROM events WHERE $__timeFilter(time) GROUP BY time ORDER BY time", ds.Query{})),
			one(sqlTarget("B", "SELECT $__timeGroup(time) AS time, count() AS metrics FROM metrics WHERE $__timeFilter(time) GROUP BY time ORDER BY time", ds.Query{})),
			one(sqlTarget("C", "SELECT $__timeGroup(window_start) AS time, count() AS scores FROM scores WHERE $__timeFilter(window_start) GROUP BY time ORDER BY time", ds.Query{})))).
		WithPanel(tablePanel("Freshness", "Seconds between the end of the range and the newest row of each table: a growing value means a stage has stopped or fallen behind.", 12, 8,
			one(sqlTarget("A", "SELECT 'events' AS table_name, toInt64(toUInt32($__toTime)) - toInt64(toUInt32(max(time))) AS seconds_behind FROM events UNION ALL SELECT 'metrics' AS table_name, toInt64(toUInt32($__toTime)) - toInt64(toUInt32(max(time))) AS seconds_behind FROM metrics UNION ALL SELECT 'scores' AS table_name, toInt64(toUInt32($__toTime)) - toInt64(toUInt32(max(window_start))) AS seconds_behind FROM scores", ds.Query{})))).
		WithPanel(timeSeriesPanel("Dead letters per topic", "Records rejected by the normalizer, per source topic and interval.", 12, 8,
			one(sqlTarget("A", "SELECT $__timeGroup(received_at) AS time, topic, count() AS dead_letters FROM dead_letters WHERE $__timeFilter(received_at) GROUP BY time, topic ORDER BY time, topic", ds.Query{})))).
		WithPanel(tablePanel("Dead-letter reasons", "The most frequent rejection reasons in the time range.", 12, 8,
			one(sqlTarget("A", "SELECT topic, reason, count() AS records, max(received_at) AS last_received FROM dead_letters WHERE $__timeFilter(received_at) GROUP BY topic, reason ORDER BY records DESC LIMIT 50", ds.Query{})))).
		WithPanel(tablePanel("Failed notifications", "Notifications that failed every attempt, per receiver.", 12, 8,
			one(sqlTarget("A", "SELECT receiver, integration, count() AS notifications, max(failed_at) AS last_failed FROM notification_dead_letters WHERE $__timeFilter(failed_at) GROUP BY receiver, integration ORDER BY notifications DESC", ds.Query{})))).
		WithPanel(timeSeriesPanel("Collection delay", "Mean seconds between a log line's timestamp and its collection, per interval.", 12, 8,
			one(sqlTarget("A", "SELECT $__timeGroup(time) AS time, avg(collected_ns - time_ns) / 1000000000 AS delay_seconds FROM events WHERE $__timeFilter(time) AND collected_ns > 0 GROUP BY time ORDER BY time", ds.Query{})))).
		WithPanel(prometheusPanel("Consumer lag per topic", "Records between each consumer group's committed offset and the end of the partition, summed per topic.", "short",
			"sum by (role, topic) (harrier_consumer_lag_records)", "{{role}} {{topic}}")).
		WithPanel(prometheusPanel("Drops and dead letters per role", "Records dropped or dead-lettered per second, by role and reason.", "ops",
			"sum by (role, reason) (rate(harrier_records_dropped_total[5m])) or sum by (role, reason) (rate(harrier_records_dead_lettered_total[5m]))", "{{role}} {{reason}}")).
		WithPanel(prometheusPanel("Records read per role", "Records read per second by each role, by source topic.", "ops",
			"sum by (role, topic) (rate(harrier_records_in_total[5m]))", "{{role}} {{topic}}")).
		WithPanel(prometheusPanel("Batch latency per role (p95)", "95th percentile of the time to process one batch.", "s",
			"histogram_quantile(0.95, sum by (role, le) (rate(harrier_batch_duration_seconds_bucket[5m])))", "{{role}}"))
}

// prometheusPanel is a time series of a PromQL expression on the
// provisioned Prometheus data source.
func prometheusPanel(title, description, unit, expr, legend string) cog.Builder[dashboard.Panel] {
	q := prometheus.NewDataqueryBuilder().RefId("A").Datasource(prometheusRef()).Expr(expr).LegendFormat(legend)
	return timeseries.NewPanelBuilder().Title(title).Description(description).Datasource(prometheusRef()).
		Unit(unit).Span(12).Height(8).WithTarget(q)
}
