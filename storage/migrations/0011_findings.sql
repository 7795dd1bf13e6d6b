-- Secrets and misconfigurations of image scan reports, one row a finding.
-- A secret row carries the rule that matched and its line range, never the
-- secret itself. The sort key includes location so that two matches of one
-- rule in one file stay two rows after a merge.

CREATE TABLE IF NOT EXISTS findings (
    image_id String,
    image_ref String,
    kind LowCardinality(String),
    finding_id String,
    severity LowCardinality(String),
    title String,
    target String,
    status String,
    location String,
    scanner LowCardinality(String),
    scanned_at DateTime,
    record_id String
) ENGINE = ReplacingMergeTree(scanned_at)
ORDER BY (image_id, kind, finding_id, target, location);
