package storage

// InvestigationQuery is a query an analyst runs with `harrier sql` after an
// alert. The README lists the same queries.
type InvestigationQuery struct {
	// Name is a short label for the question the query answers.
	Name string
	// SQL is the query, with the demo's container name and time range as
	// the example values an analyst replaces.
	SQL string
}

// InvestigationQueries are the queries the README suggests after an alert.
// Tests run them on both supported ClickHouse engines.
var InvestigationQueries = []InvestigationQuery{
	{
		Name: "recent alerts",
		SQL: `SELECT raised_at, severity, source, name, container_name, summary
FROM alerts FINAL
ORDER BY raised_at DESC
LIMIT 20`,
	},
	{
		Name: "log shapes of one container around the alert",
		SQL: `SELECT template, uniqExact(record_id) AS lines, min(time) AS first_seen, max(time) AS last_seen
FROM events
WHERE container_name = 'sshd'
  AND time >= toDateTime('2026-11-30 10:40:00', 'UTC') AND time < toDateTime('2026-11-30 10:55:00', 'UTC')
GROUP BY template
ORDER BY lines DESC
LIMIT 20`,
	},
	{
		Name: "cpu and memory of one container per minute",
		SQL: `SELECT toStartOfMinute(time) AS minute,
       round((max(cpu_usage_ns) - min(cpu_usage_ns)) / 60e9, 2) AS cpu_cores_approx,
       max(memory_working_set_bytes) AS memory_max_bytes,
       max(oom_kills) AS oom_kills_total
FROM metrics
WHERE container_name = 'sshd'
  AND time >= toDateTime('2026-11-30 10:40:00', 'UTC') AND time < toDateTime('2026-11-30 10:55:00', 'UTC')
GROUP BY minute
ORDER BY minute`,
	},
	{
		Name: "running containers with a fixable critical vulnerability",
		SQL: `SELECT container_name, image_ref, vuln_id, package, installed_version, fixed_version
FROM running_critical_fixable_containers
ORDER BY container_name, vuln_id`,
	},
	{
		Name: "containers with the highest error ratio per hour",
		SQL: `SELECT hour, container_name, lines, error_lines, round(error_ratio, 3) AS ratio
FROM container_error_rate_hourly
WHERE lines >= 10
ORDER BY ratio DESC, hour
LIMIT 20`,
	},
}
