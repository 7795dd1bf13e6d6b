package alerting

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/harrierhq/harrier/alerting/dispatch"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/storage"
)

// silenceColumns are the columns of the alert_silences table.
var silenceColumns = []string{"silence_id", "matchers", "starts_at", "ends_at", "created_by", "comment", "updated_ns"}

// silencesQuery selects the latest version of each silence that has not
// ended by the given time.
func silencesQuery(now time.Time) string {
	return fmt.Sprintf(`SELECT silence_id, silence_matchers, silence_starts_at, silence_ends_at, silence_created_by, silence_comment, silence_updated_ns
FROM
(
    SELECT
        silence_id,
        argMax(matchers, updated_ns) AS silence_matchers,
        argMax(starts_at, updated_ns) AS silence_starts_at,
        argMax(ends_at, updated_ns) AS silence_ends_at,
        argMax(created_by, updated_ns) AS silence_created_by,
        argMax(comment, updated_ns) AS silence_comment,
        max(updated_ns) AS silence_updated_ns
    FROM alert_silences
    GROUP BY silence_id
)
WHERE silence_ends_at > toDateTime(%d)
ORDER BY silence_ends_at, silence_id`, now.Unix())
}

// silenceIDsQuery selects every stored silence id, ended or not.
const silenceIDsQuery = "SELECT silence_id, max(updated_ns) AS latest_ns FROM alert_silences GROUP BY silence_id"

// ParseMatcher parses a silence matcher "label=value".
func ParseMatcher(text string) (string, string, error) {
	name, value, ok := strings.Cut(text, "=")
	if !ok || name == "" {
		return "", "", fmt.Errorf("invalid matcher %q: expected label=value, such as alertname=image-age", text)
	}
	return strings.TrimSpace(name), value, nil
}

// StoredSilence is a silence as the alert_silences table stores it.
type StoredSilence struct {
	dispatch.Silence
	// UpdatedNs is the time of the silence's latest version.
	UpdatedNs int64
}

// SaveSilence validates s, stores it as a new version and returns its ID.
// An empty ID gets a new one, and a zero StartsAt starts the silence at now.
func SaveSilence(ctx context.Context, store *storage.Store, s dispatch.Silence, now time.Time) (string, error) {
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	if s.ID == "" {
		s.ID = record.NewID("silence", fmt.Sprint(s.Matchers), now.String())[:16]
	}
	if err := s.Validate(); err != nil {
		return "", err
	}
	var matchers []string
	for name, value := range s.Matchers {
		matchers = append(matchers, name+"="+value)
	}
	slices.Sort(matchers)
	row := []any{s.ID, matchers, s.StartsAt.UTC(), s.EndsAt.UTC(), s.CreatedBy, s.Comment, now.UnixNano()}
	if err := store.Insert(ctx, "alert_silences", silenceColumns, [][]any{row}); err != nil {
		return "", fmt.Errorf("store silence %s: %w", s.ID, err)
	}
	return s.ID, nil
}

// ExpireSilence ends the silence id at now by storing a new version. It
// returns an error naming the id when no unexpired silence has it.
func ExpireSilence(ctx context.Context, store *storage.Store, id string, now time.Time) error {
	silences, err := LoadSilences(ctx, store, now)
	if err != nil {
		return err
	}
	for _, s := range silences {
		if s.ID != id {
			continue
		}
		s.EndsAt = now
		if !s.StartsAt.Before(now) {
			// A silence that has not started yet ends where it starts.
			s.EndsAt = s.StartsAt
		}
		var matchers []string
		for name, value := range s.Matchers {
			matchers = append(matchers, name+"="+value)
		}
		slices.Sort(matchers)
		// The new version must sort after the old one even when the clock
		// has not moved.
		updatedNs := max(now.UnixNano(), s.UpdatedNs+1)
		row := []any{s.ID, matchers, s.StartsAt.UTC(), s.EndsAt.UTC(), s.CreatedBy, s.Comment, updatedNs}
		if err := store.Insert(ctx, "alert_silences", silenceColumns, [][]any{row}); err != nil {
			return fmt.Errorf("expire silence %s: %w", id, err)
		}
		return nil
	}
	return fmt.Errorf("silence %q not found among the unexpired silences: list them with harrier alerts silence --list", id)
}

// LoadSilences returns the stored silences that have not ended at now.
func LoadSilences(ctx context.Context, store *storage.Store, now time.Time) ([]StoredSilence, error) {
	_, rows, err := store.Query(ctx, silencesQuery(now))
	if err != nil {
		return nil, fmt.Errorf("load silences: %w", err)
	}
	out := make([]StoredSilence, 0, len(rows))
	for _, row := range rows {
		s := StoredSilence{Silence: dispatch.Silence{ID: toString(row[0]), Matchers: map[string]string{}}}
		list, _ := row[1].([]string)
		for _, m := range list {
			if name, value, err := ParseMatcher(m); err == nil {
				s.Matchers[name] = value
			}
		}
		s.StartsAt, _ = row[2].(time.Time)
		s.EndsAt, _ = row[3].(time.Time)
		s.CreatedBy, s.Comment = toString(row[4]), toString(row[5])
		s.UpdatedNs, _ = row[6].(int64)
		out = append(out, s)
	}
	return out, nil
}

// syncSilences loads the stored silences into the dispatcher: new and
// changed ones are added, and those expired early are removed. Without a
// dispatcher it does nothing.
func (a *Alerter) syncSilences(ctx context.Context) error {
	if a.dispatcher == nil {
		return nil
	}
	now := a.now()
	_, rows, err := a.store.Query(ctx, silenceIDsQuery)
	if err != nil {
		return fmt.Errorf("load silences: %w", err)
	}
	silences, err := LoadSilences(ctx, a.store, now)
	if err != nil {
		return err
	}

	active := make(map[string]bool, len(silences))
	for _, s := range silences {
		active[s.ID] = true
		if a.silenceVersions[s.ID] == s.UpdatedNs {
			continue
		}
		if _, err := a.dispatcher.AddSilence(s.Silence, now); err != nil {
			a.logger.Warn("Skipping invalid stored silence", "silence_id", s.ID, "err", err)
		}
		a.silenceVersions[s.ID] = s.UpdatedNs
	}
	// LoadSilences leaves out the silences that were ended early, so they
	// are removed here. Those that ran out expire in the dispatcher itself.
	for _, row := range rows {
		id := toString(row[0])
		if !active[id] && a.silenceVersions[id] != 0 {
			a.dispatcher.ExpireSilence(id)
			delete(a.silenceVersions, id)
		}
	}
	return nil
}
