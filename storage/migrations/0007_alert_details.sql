-- Alert details and silences.
--
-- alert_details holds what an alert carries beyond its entities and
-- explanation: the version of the rule that raised it, the window of data
-- it was raised on, the matched condition in words and a link to the
-- Grafana dashboard. It has one row per row of alerts, with the same
-- alert_id and sort key, written right after it. It is a table of its own
-- instead of new columns of alerts because ClickHouse 18.16 has no
-- ADD COLUMN IF NOT EXISTS, and every migration statement must be safe to
-- run twice.

CREATE TABLE IF NOT EXISTS alert_details (
    alert_id String,
    fingerprint String,
    raised_at DateTime,
    rule_version String,
    window_start DateTime,
    window_end DateTime,
    condition String,
    link String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(raised_at)
ORDER BY (fingerprint, raised_at, alert_id);

-- Silences added with `harrier alerts silence`. Each change of a silence
-- (adding it, expiring it early) writes a new version, and the version with
-- the highest updated_ns wins. matchers holds "label=value" entries.
CREATE TABLE IF NOT EXISTS alert_silences (
    silence_id String,
    matchers Array(String),
    starts_at DateTime,
    ends_at DateTime,
    created_by String,
    comment String,
    updated_ns Int64
) ENGINE = ReplacingMergeTree(updated_ns)
ORDER BY silence_id;
