-- Running containers joined with the vulnerabilities of their image that
-- have a fixed version. The latest state of each container wins (argMax
-- over seen_at), and FINAL collapses repeated scans of the same finding.
-- The inner aliases differ from the column names because current
-- ClickHouse resolves an alias that shadows a column inside aggregates.
-- Both joined subqueries have an alias, because current ClickHouse rejects
-- a joined subquery without one (joined_subquery_requires_alias).

CREATE VIEW IF NOT EXISTS running_vulnerable_containers AS
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
    severity,
    title,
    scanner,
    scanned_at
FROM
(
    SELECT
        container_id,
        last_name AS container_name,
        last_host_id AS host_id,
        last_image_id AS image_id,
        last_image_ref AS image_ref
    FROM
    (
        SELECT
            container_id,
            argMax(name, seen_at) AS last_name,
            argMax(host_id, seen_at) AS last_host_id,
            argMax(image_id, seen_at) AS last_image_id,
            argMax(image_ref, seen_at) AS last_image_ref,
            argMax(running, seen_at) AS last_running
        FROM containers
        GROUP BY container_id
    )
    WHERE last_running = 1 AND last_image_id != ''
) AS running
ALL INNER JOIN
(
    SELECT
        image_id,
        vuln_id,
        package,
        installed_version,
        fixed_version,
        severity,
        title,
        scanner,
        scanned_at
    FROM vulnerabilities FINAL
    WHERE fixed_version != ''
) AS fixable
USING image_id;
