package drain

import (
	"context"
	"fmt"
	"time"

	"github.com/harrierhq/harrier/storage"
)

// TemplatesTable is the ClickHouse table that ClickHouseStore reads and
// writes. Migration 0006_templates creates it.
const TemplatesTable = "templates"

// TemplatesLoadQuery is the statement with which ClickHouseStore.Load reads
// the latest version of every template. FINAL applies the
// ReplacingMergeTree's choice of the highest updated_ns before parts merge.
const TemplatesLoadQuery = "SELECT `key`, `id`, `first`, `template`, `count` FROM templates FINAL ORDER BY `key`, `id`"

var templateColumns = []string{"key", "id", "first", "template", "count", "updated_ns"}

// ClickHouseStore keeps templates in the templates table, so that every
// process mining the same keys (the normalizer and the scorer) loads the
// templates any of them saved. Template ids are a hash of the key and the
// first masked text, so two processes give the same message the same id
// without coordination.
//
// NOTE: each process saves its own count, and the last save wins, so
// Template.Count in the table is the count of one process, not the sum.
type ClickHouseStore struct {
	store *storage.Store
	now   func() time.Time
}

// NewClickHouseStore returns a Store over store, whose database must have
// the templates table.
func NewClickHouseStore(store *storage.Store) *ClickHouseStore {
	return &ClickHouseStore{store: store, now: time.Now}
}

// Load reads the latest version of every template.
func (s *ClickHouseStore) Load(ctx context.Context) ([]Template, error) {
	rows, err := s.store.Conn().Query(ctx, TemplatesLoadQuery)
	if err != nil {
		return nil, fmt.Errorf("load templates from table %s: %w", TemplatesTable, err)
	}
	defer rows.Close()

	var out []Template
	for rows.Next() {
		var t Template
		if err := rows.Scan(&t.Key, &t.ID, &t.First, &t.Template, &t.Count); err != nil {
			return nil, fmt.Errorf("scan row %d of table %s: %w", len(out), TemplatesTable, err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load templates from table %s: %w", TemplatesTable, err)
	}
	return out, nil
}

// Save inserts one row per template, all stamped with the current time in
// updated_ns, so that they replace the earlier versions.
func (s *ClickHouseStore) Save(ctx context.Context, templates []Template) error {
	if len(templates) == 0 {
		return nil
	}
	updated := s.now().UnixNano()
	rows := make([][]any, len(templates))
	for i, t := range templates {
		rows[i] = []any{t.Key, t.ID, t.First, t.Template, t.Count, updated}
	}
	if err := s.store.Insert(ctx, TemplatesTable, templateColumns, rows); err != nil {
		return fmt.Errorf("save %d templates: %w", len(templates), err)
	}
	return nil
}
