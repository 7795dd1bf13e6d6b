-- Pressure stall information (PSI) of cgroup v2 cpu.pressure,
-- memory.pressure and io.pressure: the avg10 percentages of the "some" and
-- "full" lines and their cumulative stall totals in microseconds. Network
-- bytes of a container's network namespace: the sums over every interface
-- except loopback, and the per-interface counters as parallel arrays.
-- -1 marks a value the host does not provide, and rows written before this
-- migration read as -1 and empty arrays.
-- NOTE: ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, so this statement
-- fails with code 44 (column already exists) when it runs a second time on
-- the same database.

ALTER TABLE metrics
    ADD COLUMN cpu_pressure_some_avg10 Float64 DEFAULT -1,
    ADD COLUMN cpu_pressure_full_avg10 Float64 DEFAULT -1,
    ADD COLUMN cpu_pressure_some_total_us Int64 DEFAULT -1,
    ADD COLUMN cpu_pressure_full_total_us Int64 DEFAULT -1,
    ADD COLUMN memory_pressure_some_avg10 Float64 DEFAULT -1,
    ADD COLUMN memory_pressure_full_avg10 Float64 DEFAULT -1,
    ADD COLUMN memory_pressure_some_total_us Int64 DEFAULT -1,
    ADD COLUMN memory_pressure_full_total_us Int64 DEFAULT -1,
    ADD COLUMN io_pressure_some_avg10 Float64 DEFAULT -1,
    ADD COLUMN io_pressure_full_avg10 Float64 DEFAULT -1,
    ADD COLUMN io_pressure_some_total_us Int64 DEFAULT -1,
    ADD COLUMN io_pressure_full_total_us Int64 DEFAULT -1,
    ADD COLUMN net_rx_bytes Int64 DEFAULT -1,
    ADD COLUMN net_tx_bytes Int64 DEFAULT -1,
    ADD COLUMN net_interfaces Array(String),
    ADD COLUMN net_interface_rx_bytes Array(Int64),
    ADD COLUMN net_interface_tx_bytes Array(Int64);
