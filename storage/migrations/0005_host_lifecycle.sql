-- Host facts added to the host record: architecture, the end of the OS
-- release's security support ('YYYY-MM-DD', empty when unknown), the
-- container runtime and its version, and the listening sockets, each as
-- "protocol address:port process", for example "tcp 127.0.0.1:22 sshd".
-- NOTE: ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, so unlike the
-- CREATE statements this one fails with code 44 (column already exists)
-- when it runs a second time on the same database.

ALTER TABLE hosts
    ADD COLUMN arch String,
    ADD COLUMN os_eol_date String,
    ADD COLUMN runtime String,
    ADD COLUMN runtime_version String,
    ADD COLUMN listeners Array(String);

-- Container lifecycle events: created, started, exited (with exit_code),
-- oom_killed and restarted. detail names the runtime file or cgroup
-- counter the event was derived from.

CREATE TABLE IF NOT EXISTS container_events (
    time DateTime,
    time_ns Int64,
    record_id String,
    host_id String,
    container_id String,
    container_name String,
    image_id String,
    event LowCardinality(String),
    exit_code Int32,
    detail String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(time)
ORDER BY (container_id, time, record_id);
