package storage

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// SchemaMigrationsTable is the statement that creates the table in which
// Migrate records each applied migration version.
const SchemaMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    name String,
    applied_at DateTime
) ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version`

// AppliedVersionsQuery is the statement with which Migrate reads the
// applied migration versions.
const AppliedVersionsQuery = "SELECT DISTINCT version FROM schema_migrations ORDER BY version"

// Migration is one numbered schema change compiled into the binary.
type Migration struct {
	// Version is the number that starts the file name, 1 for "0001_records.sql".
	Version int
	// Name is the file name without the number and the extension.
	Name string
	// Statements are the SQL statements of the file, in order.
	Statements []string
}

// Migrations returns the migrations compiled into the binary, ordered by
// version.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		file := e.Name()
		if e.IsDir() || path.Ext(file) != ".sql" {
			continue
		}
		number, name, ok := strings.Cut(strings.TrimSuffix(file, ".sql"), "_")
		version, err := strconv.Atoi(number)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("invalid migration file name %q: expected NNNN_name.sql", file)
		}
		if other, dup := seen[version]; dup {
			return nil, fmt.Errorf("invalid migration file name %q: version %d is also used by %q", file, version, other)
		}
		seen[version] = file

		text, err := migrationFiles.ReadFile("migrations/" + file)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", file, err)
		}
		out = append(out, Migration{Version: version, Name: name, Statements: splitStatements(string(text))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// LatestVersion returns the highest migration version compiled into the binary.
func LatestVersion() int {
	ms, err := Migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// splitStatements drops "--" comment lines and splits the rest at lines
// that end with a semicolon. Migration files must not put a semicolon at
// the end of a line inside a string literal.
func splitStatements(text string) []string {
	var statements []string
	var current []string
	flush := func() {
		stmt := strings.TrimSpace(strings.Join(current, "\n"))
		stmt = strings.TrimSpace(strings.TrimSuffix(stmt, ";"))
		if stmt != "" {
			statements = append(statements, stmt)
		}
		current = current[:0]
	}
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		current = append(current, line)
		if strings.HasSuffix(trimmed, ";") {
			flush()
		}
	}
	flush()
	return statements
}

// Migrate creates the database if it is missing, then applies the
// migrations the database has not recorded in schema_migrations, in order,
// and returns their versions. Running it again applies nothing. It returns
// an error when the database records a version newer than this binary's
// newest migration, because this binary does not know that schema.
//
// NOTE: ClickHouse DDL is not transactional. A migration that fails half way
// is not recorded. Its statements use IF NOT EXISTS, so the next run
// applies it again from the start.
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	migrations, err := Migrations()
	if err != nil {
		return nil, err
	}
	latest := 0
	if len(migrations) > 0 {
		latest = migrations[len(migrations)-1].Version
	}

	if err := s.CreateDatabase(ctx); err != nil {
		return nil, err
	}
	if err := s.Exec(ctx, SchemaMigrationsTable); err != nil {
		return nil, err
	}

	applied, err := s.AppliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	if n := len(applied); n > 0 && applied[n-1] > latest {
		return nil, fmt.Errorf("database %s schema version %d is newer than this binary's %d: upgrade harrier", s.cfg.Database, applied[n-1], latest)
	}
	done := make(map[int]bool, len(applied))
	for _, v := range applied {
		done[v] = true
	}

	var versions []int
	for _, m := range migrations {
		if done[m.Version] {
			continue
		}
		for i, stmt := range m.Statements {
			if err := s.conn.Exec(ctx, stmt); err != nil {
				return versions, fmt.Errorf("apply migration %04d_%s statement %d: %w", m.Version, m.Name, i+1, err)
			}
		}
		err := s.Insert(ctx, "schema_migrations", []string{"version", "name", "applied_at"},
			[][]any{{uint32(m.Version), m.Name, time.Now()}})
		if err != nil {
			return versions, fmt.Errorf("record migration %04d_%s: %w", m.Version, m.Name, err)
		}
		versions = append(versions, m.Version)
	}
	return versions, nil
}

// AppliedVersions returns the migration versions recorded in
// schema_migrations, in ascending order.
func (s *Store) AppliedVersions(ctx context.Context) ([]int, error) {
	rows, err := s.conn.Query(ctx, AppliedVersionsQuery)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	var versions []int
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		versions = append(versions, int(v))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return versions, nil
}
