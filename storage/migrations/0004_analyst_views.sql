-- Views for the questions an analyst asks first after an alert. Both read
-- tables that may hold a record twice until a merge, so they count with
-- uniqExact(record_id) or read through a view that uses FINAL.

-- One row per running container and critical vulnerability of its image
-- for which the distribution publishes a fixed version.
CREATE VIEW IF NOT EXISTS running_critical_fixable_containers AS
SELECT
    container_id,
    container_name,
    host_id,
    image_id,
    image_ref,
    vuln_id,
    package,
    installed_version,
    fixed_version,
    title,
    scanned_at
FROM running_vulnerable_containers
WHERE severity = 'CRITICAL';

-- One row per container and hour of event time: log lines, lines of level
-- "error" and their ratio. The normalizer maps fatal, critical, panic and
-- similar levels to "error".
CREATE VIEW IF NOT EXISTS container_error_rate_hourly AS
SELECT
    container_id,
    hour,
    last_container_name AS container_name,
    record_count AS lines,
    error_count AS error_lines,
    error_count / record_count AS error_ratio
FROM
(
    SELECT
        container_id,
        toStartOfHour(time) AS hour,
        anyLast(container_name) AS last_container_name,
        uniqExact(record_id) AS record_count,
        uniqExactIf(record_id, level = 'error') AS error_count
    FROM events
    GROUP BY container_id, hour
);
