package dispatch

import (
	"fmt"
	"regexp"
	"time"

	"github.com/harrierhq/harrier/internal/record"
)

var silenceLabelPattern = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Silence mutes the alerts whose labels equal all of Matchers between
// StartsAt and EndsAt. A muted alert is left out of notifications but keeps
// its state, so it is notified once the silence expires if it still fires.
type Silence struct {
	// ID identifies the silence. AddSilence sets it when empty.
	ID string
	// Matchers are label values that a muted alert must have. At least one
	// is required, so that a silence cannot mute everything by accident.
	Matchers map[string]string
	StartsAt time.Time
	// EndsAt is when the silence expires. It is required.
	EndsAt    time.Time
	CreatedBy string
	Comment   string
}

// Validate checks the silence's fields: at least one matcher with valid
// label names, and an EndsAt after StartsAt.
func (s Silence) Validate() error {
	if len(s.Matchers) == 0 {
		return fmt.Errorf("invalid silence %q: missing matchers: a silence needs at least one label to match", s.ID)
	}
	for name := range s.Matchers {
		if !silenceLabelPattern.MatchString(name) {
			return fmt.Errorf("invalid silence %q: invalid label name %q in matchers", s.ID, name)
		}
	}
	if s.EndsAt.IsZero() || !s.EndsAt.After(s.StartsAt) {
		return fmt.Errorf("invalid silence %q: endsAt %s must be after startsAt %s", s.ID, s.EndsAt, s.StartsAt)
	}
	return nil
}

// active reports whether the silence is in force at now.
func (s Silence) active(now time.Time) bool {
	return !now.Before(s.StartsAt) && now.Before(s.EndsAt)
}

// mutes reports whether the silence matches labels.
func (s Silence) mutes(labels map[string]string) bool {
	for name, value := range s.Matchers {
		if labels[name] != value {
			return false
		}
	}
	return true
}

func newSilenceID(s Silence, now time.Time) string {
	return record.NewID("silence", fmt.Sprint(s.Matchers), now.String())[:16]
}
