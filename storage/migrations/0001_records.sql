-- Tables written by the normalizer from the logs, metrics, scans and
-- inventory topics. Tables fed from Kafka are ReplacingMergeTree tables
-- whose sort key ends with record_id, so a record delivered twice collapses
-- to one row at merge time; exact counts need FINAL or uniqExact(record_id).

CREATE TABLE IF NOT EXISTS events (
    time DateTime,
    time_ns Int64,
    record_id String,
    host_id String,
    container_id String,
    container_name String,
    image_id String,
    namespace String,
    pod String,
    runtime LowCardinality(String),
    stream LowCardinality(String),
    level LowCardinality(String),
    message String,
    template_id UInt64,
    template String,
    source String,
    collected_ns Int64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (container_id, time, record_id);

CREATE TABLE IF NOT EXISTS metrics (
    time DateTime,
    time_ns Int64,
    record_id String,
    host_id String,
    container_id String,
    container_name String,
    image_id String,
    cgroup_path String,
    cgroup_mode LowCardinality(String),
    cpu_usage_ns Int64,
    cpu_throttled_ns Int64,
    cpu_throttled_periods Int64,
    memory_usage_bytes Int64,
    memory_working_set_bytes Int64,
    memory_limit_bytes Int64,
    oom_kills Int64,
    pids_current Int64,
    pids_max Int64,
    io_read_bytes Int64,
    io_write_bytes Int64,
    collected_ns Int64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (container_id, cgroup_path, time, record_id);

CREATE TABLE IF NOT EXISTS hosts (
    host_id String,
    hostname String,
    os_id LowCardinality(String),
    os_version String,
    os_pretty String,
    kernel String,
    cpu_model String,
    cpu_count UInt32,
    memory_bytes Int64,
    uptime_s Int64,
    cgroup_mode LowCardinality(String),
    seen_at DateTime,
    record_id String
) ENGINE = ReplacingMergeTree(seen_at)
ORDER BY host_id;

CREATE TABLE IF NOT EXISTS containers (
    container_id String,
    name String,
    host_id String,
    runtime LowCardinality(String),
    image_ref String,
    image_id String,
    namespace String,
    pod String,
    labels String,
    privileged UInt8,
    user String,
    running UInt8,
    started_at DateTime,
    seen_at DateTime,
    record_id String
) ENGINE = ReplacingMergeTree(seen_at)
ORDER BY container_id;

CREATE TABLE IF NOT EXISTS images (
    image_id String,
    image_ref String,
    os_family LowCardinality(String),
    os_name String,
    scanner LowCardinality(String),
    vulnerabilities UInt32,
    scanned_at DateTime,
    record_id String
) ENGINE = ReplacingMergeTree(scanned_at)
ORDER BY image_id;

CREATE TABLE IF NOT EXISTS vulnerabilities (
    image_id String,
    image_ref String,
    vuln_id String,
    package String,
    installed_version String,
    fixed_version String,
    severity LowCardinality(String),
    title String,
    scanner LowCardinality(String),
    scanned_at DateTime,
    record_id String
) ENGINE = ReplacingMergeTree(scanned_at)
ORDER BY (image_id, vuln_id, package);

-- One row per rejected record; raw is capped by the writer (64 KiB by
-- default). The same message redelivered collapses on (topic, partition, offset).
CREATE TABLE IF NOT EXISTS dead_letters (
    topic String,
    `partition` Int32,
    `offset` Int64,
    reason String,
    raw String,
    received_at DateTime,
    record_id String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(received_at)
ORDER BY (topic, `partition`, `offset`);
