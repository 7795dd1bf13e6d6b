-- Notifications of the alert role that failed every attempt. The
-- notification column holds the alerts as JSON, never the request body,
-- so it carries no routing key, token or signing key.

CREATE TABLE IF NOT EXISTS notification_dead_letters (
    failed_at DateTime,
    failed_ns Int64,
    receiver String,
    integration LowCardinality(String),
    group_key String,
    status LowCardinality(String),
    attempts UInt32,
    error String,
    notification String
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(failed_at)
ORDER BY (receiver, failed_at);
