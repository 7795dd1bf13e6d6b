package storage

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Retention is how long one table keeps its rows. Only tables partitioned
// by day with toYYYYMMDD(...) qualify: events, metrics, features, scores,
// alerts and dead_letters.
type Retention struct {
	Table  string
	MaxAge time.Duration
}

// ParseRetention parses a comma-separated list of table=age pairs such as
// "events=30d,metrics=14d,dead_letters=720h". An age is a Go duration or a
// whole number of days with the suffix "d", and must be at least one day,
// because partitions are whole days.
func ParseRetention(s string) ([]Retention, error) {
	var out []Retention
	seen := make(map[string]bool)
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		table, age, ok := strings.Cut(item, "=")
		table = strings.TrimSpace(table)
		if !ok || !validIdentifier(table) {
			return nil, fmt.Errorf("invalid retention %q: expected table=age, such as events=30d", item)
		}
		if seen[table] {
			return nil, fmt.Errorf("invalid retention %q: table %s is listed twice", item, table)
		}
		seen[table] = true
		d, err := parseAge(strings.TrimSpace(age))
		if err != nil {
			return nil, fmt.Errorf("invalid retention age for table %s: %w", table, err)
		}
		out = append(out, Retention{Table: table, MaxAge: d})
	}
	return out, nil
}

func parseAge(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%q: expected a whole number of days of at least 1, such as 30d", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q: expected a duration such as 720h or a day count such as 30d", s)
		}
	}
	if d < 24*time.Hour {
		return 0, fmt.Errorf("%q is shorter than one day, the size of a partition", s)
	}
	return d, nil
}

// RetentionPartitionsQuery lists the active partitions of the table given
// as its parameter in the connection's database. system.parts.partition is
// the partition id as text, such as "20240401" for toYYYYMMDD or "tuple()"
// for an unpartitioned table.
const RetentionPartitionsQuery = "SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND table = ? AND active"

// DropPartitionStatement returns the statement that drops partition id of
// table. DropOldPartitions passes only 8-digit ids, checked by time.Parse,
// which is the UInt32 literal toYYYYMMDD returns.
func DropPartitionStatement(table, id string) string {
	return fmt.Sprintf("ALTER TABLE `%s` DROP PARTITION %s", table, id)
}

// DropOldPartitions drops every partition of table whose whole day ended
// before now minus maxAge, and returns the dropped partition ids (YYYYMMDD)
// in ascending order. A partition that still contains rows newer than the
// cutoff is kept, so rows live at least maxAge and at most maxAge plus one
// day. It fails for a table that is not partitioned by toYYYYMMDD.
func (s *Store) DropOldPartitions(ctx context.Context, table string, maxAge time.Duration, now time.Time) ([]string, error) {
	if !validIdentifier(table) {
		return nil, fmt.Errorf("invalid table name %q", table)
	}
	if maxAge < 24*time.Hour {
		return nil, fmt.Errorf("invalid retention %s for table %s: use at least one day, the size of a partition", maxAge, table)
	}
	_, rows, err := s.Query(ctx, RetentionPartitionsQuery, table)
	if err != nil {
		return nil, fmt.Errorf("list partitions of table %s: %w", table, err)
	}
	cutoff := now.Add(-maxAge)
	var old []string
	for _, row := range rows {
		id, _ := row[0].(string)
		day, err := time.Parse("20060102", id)
		if err != nil {
			return nil, fmt.Errorf("table %s has partition %q, not a day: retention applies only to tables partitioned by toYYYYMMDD", table, id)
		}
		if !day.Add(24 * time.Hour).After(cutoff) {
			old = append(old, id)
		}
	}
	sort.Strings(old)

	for i, id := range old {
		if err := s.Exec(ctx, DropPartitionStatement(table, id)); err != nil {
			return old[:i], fmt.Errorf("drop partition %s of table %s: %w", id, table, err)
		}
	}
	return old, nil
}
