-- Log templates mined by the drain miner, shared by every process that
-- mines them (normalizer, scorer). Each save writes a new version of a
-- template, and the version with the highest updated_ns wins.

CREATE TABLE IF NOT EXISTS templates (
    key String,
    id UInt64,
    first String,
    template String,
    count Int64,
    updated_ns Int64
) ENGINE = ReplacingMergeTree(updated_ns)
ORDER BY (key, id);
