-- Security posture. posture_facts holds the settings that collectors read
-- from each host and its running containers, one row per entity and
-- setting of one collection pass; every row of one pass has the same
-- collected_ns, so a host's latest pass is the rows with its maximum
-- collected_ns. fact_values has one item for most settings and one per item for
-- list settings, such as a container's added capabilities.
--
-- posture_results holds the latest result of each policy for each entity
-- (host, container or image on a host): status is 'pass', 'fail' or
-- 'excepted', first_seen is when the entity entered that status and
-- last_seen the evaluation that wrote the row. Every evaluation writes a
-- row per result, so a host's current results are its rows with the
-- maximum last_seen_ns. posture_events has one row per change of status,
-- from 'pass' or no earlier result to 'fail' and from 'fail' back.
--
-- posture_policies lists the policies the alert role loaded, with the
-- settings each reads. posture_facts and posture_events are partitioned by
-- day, so that `harrier retention` can drop old passes and events.

CREATE TABLE IF NOT EXISTS posture_facts (
    collected_at DateTime,
    collected_ns Int64,
    record_id String,
    host_id String,
    entity_kind LowCardinality(String),
    entity_id String,
    entity_name String,
    fact String,
    fact_values Array(String),
    source String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(collected_at)
ORDER BY (host_id, collected_ns, entity_kind, entity_id, fact, record_id);

CREATE TABLE IF NOT EXISTS posture_results (
    host_id String,
    policy String,
    entity_kind LowCardinality(String),
    entity_id String,
    entity_name String,
    policy_group LowCardinality(String),
    severity LowCardinality(String),
    benchmark String,
    status LowCardinality(String),
    evidence String,
    first_seen DateTime,
    last_seen DateTime,
    last_seen_ns Int64
) ENGINE = ReplacingMergeTree(last_seen_ns)
ORDER BY (host_id, policy, entity_kind, entity_id);

CREATE TABLE IF NOT EXISTS posture_events (
    event_at DateTime,
    event_ns Int64,
    event_id String,
    host_id String,
    policy String,
    entity_kind LowCardinality(String),
    entity_id String,
    entity_name String,
    severity LowCardinality(String),
    from_status LowCardinality(String),
    to_status LowCardinality(String),
    evidence String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(event_at)
ORDER BY (host_id, event_ns, policy, entity_kind, entity_id, event_id);

CREATE TABLE IF NOT EXISTS posture_policies (
    policy String,
    policy_group LowCardinality(String),
    severity LowCardinality(String),
    benchmark String,
    description String,
    inputs Array(String),
    enabled UInt8,
    loaded_at DateTime,
    loaded_ns Int64
) ENGINE = ReplacingMergeTree(loaded_ns)
ORDER BY policy;
