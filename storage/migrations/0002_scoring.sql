-- Tables written by the scorer and the alert role.

CREATE TABLE IF NOT EXISTS features (
    container_id String,
    host_id String,
    image_id String,
    window_start DateTime,
    window_ns Int64,
    window_s UInt32,
    cpu_cores Float64,
    cpu_throttled_ratio Float64,
    memory_working_set_bytes Float64,
    log_lines Float64,
    error_lines Float64,
    new_shapes Float64,
    computed_at DateTime
) ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (container_id, window_start);

CREATE TABLE IF NOT EXISTS scores (
    container_id String,
    host_id String,
    image_id String,
    window_start DateTime,
    model LowCardinality(String),
    score Float64,
    threshold Float64,
    anomalous UInt8,
    explanation String,
    scored_at DateTime
) ENGINE = ReplacingMergeTree(scored_at)
PARTITION BY toYYYYMMDD(window_start)
ORDER BY (container_id, window_start, model);

CREATE TABLE IF NOT EXISTS alerts (
    alert_id String,
    fingerprint String,
    raised_at DateTime,
    raised_ns Int64,
    event_at DateTime,
    event_ns Int64,
    source LowCardinality(String),
    name String,
    severity LowCardinality(String),
    container_id String,
    container_name String,
    host_id String,
    image_id String,
    image_ref String,
    score Float64,
    threshold Float64,
    summary String,
    drivers Array(String),
    query String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(raised_at)
ORDER BY (fingerprint, raised_at, alert_id);
