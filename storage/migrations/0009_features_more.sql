-- Features stored beside the isolation forest's vector. docs/features.md
-- gives the source, unit and reason of each. Rows written before this
-- migration read 0.
ALTER TABLE features ADD COLUMN memory_slope_bytes_per_s Float64 DEFAULT 0;
ALTER TABLE features ADD COLUMN oom_kills Float64 DEFAULT 0;
ALTER TABLE features ADD COLUMN pids_current Float64 DEFAULT 0;
ALTER TABLE features ADD COLUMN pids_growth Float64 DEFAULT 0;
ALTER TABLE features ADD COLUMN io_read_bytes_per_s Float64 DEFAULT 0;
ALTER TABLE features ADD COLUMN io_write_bytes_per_s Float64 DEFAULT 0;
ALTER TABLE features ADD COLUMN auth_failure_lines Float64 DEFAULT 0;
ALTER TABLE features ADD COLUMN source_addresses Float64 DEFAULT 0;
ALTER TABLE features ADD COLUMN template_entropy_bits Float64 DEFAULT 0;
