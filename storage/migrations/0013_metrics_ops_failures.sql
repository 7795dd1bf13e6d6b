-- Block I/O operations summed over every device (cgroup v2 io.stat rios and
-- wios, cgroup v1 blkio.throttle.io_serviced Read and Write) and the count
-- of times memory usage hit the cgroup's limit (cgroup v1 memory.failcnt,
-- the "max" count of cgroup v2 memory.events). -1 marks a value the host
-- does not provide, and rows written before this migration read as -1.
-- NOTE: ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, so this statement
-- fails with code 44 (column already exists) when it runs a second time on
-- the same database.

ALTER TABLE metrics
    ADD COLUMN io_read_ops Int64 DEFAULT -1,
    ADD COLUMN io_write_ops Int64 DEFAULT -1,
    ADD COLUMN memory_failures Int64 DEFAULT -1;
