package alerting

import (
	"context"
	"fmt"

	"github.com/harrierhq/harrier/alerting/notify"
	"github.com/harrierhq/harrier/storage"
)

// deadLetterColumns are the columns of notification_dead_letters.
var deadLetterColumns = []string{
	"failed_at", "failed_ns", "receiver", "integration", "group_key", "status", "attempts", "error", "notification",
}

// DeadLetterTable stores notifications that failed every attempt in the
// notification_dead_letters table.
type DeadLetterTable struct {
	Store *storage.Store
}

// DeadLetter inserts one row.
func (t DeadLetterTable) DeadLetter(ctx context.Context, d notify.DeadLetter) error {
	row := []any{
		d.FailedAt.UTC(), d.FailedAt.UnixNano(), d.Receiver, d.Integration, d.GroupKey, d.Status,
		uint32(d.Attempts), d.Error, string(d.Notification),
	}
	if err := t.Store.Insert(ctx, "notification_dead_letters", deadLetterColumns, [][]any{row}); err != nil {
		return fmt.Errorf("store dead-letter notification for receiver %s: %w", d.Receiver, err)
	}
	return nil
}
