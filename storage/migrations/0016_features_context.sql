-- Features of a window added beside those of 0009: log rate, error and
-- warning ratios, network rates, the vulnerability counts of the
-- container's image per severity and fixability, and whether the host's OS
-- release is past its end of life. docs/features.md gives the source, unit
-- and reason of each. Rows written before this migration read 0.
-- NOTE: ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, so this statement
-- fails with code 44 (column already exists) when it runs a second time on
-- the same database.

ALTER TABLE features
    ADD COLUMN log_lines_per_s Float64 DEFAULT 0,
    ADD COLUMN error_ratio Float64 DEFAULT 0,
    ADD COLUMN warning_ratio Float64 DEFAULT 0,
    ADD COLUMN net_rx_bytes_per_s Float64 DEFAULT 0,
    ADD COLUMN net_tx_bytes_per_s Float64 DEFAULT 0,
    ADD COLUMN vulnerabilities_critical_fixable Float64 DEFAULT 0,
    ADD COLUMN vulnerabilities_critical_unfixable Float64 DEFAULT 0,
    ADD COLUMN vulnerabilities_high_fixable Float64 DEFAULT 0,
    ADD COLUMN vulnerabilities_high_unfixable Float64 DEFAULT 0,
    ADD COLUMN vulnerabilities_medium_fixable Float64 DEFAULT 0,
    ADD COLUMN vulnerabilities_medium_unfixable Float64 DEFAULT 0,
    ADD COLUMN vulnerabilities_low_fixable Float64 DEFAULT 0,
    ADD COLUMN vulnerabilities_low_unfixable Float64 DEFAULT 0,
    ADD COLUMN host_os_end_of_life Float64 DEFAULT 0;
