-- The model behind each score row: model_version names a file of the
-- model registry (models.dir), workload is the window's workload key, and
-- baseline is "workload" when the workload's own model scored the window
-- or "fleet" when the fleet model scored it because the workload has no
-- model of its own yet. Rows written before this migration read as empty
-- strings.
-- NOTE: ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, so this statement
-- fails with code 44 (column already exists) when it runs a second time on
-- the same database.

ALTER TABLE scores
    ADD COLUMN model_version String DEFAULT '',
    ADD COLUMN workload String DEFAULT '',
    ADD COLUMN baseline LowCardinality(String) DEFAULT '';
