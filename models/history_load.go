package models

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/harrierhq/harrier/features"
)

// TrainingHistoryQuery returns the statement that reads the newest stored
// windows back for training: at most limit windows that start within
// history of the newest window in the features table, newest first, without
// the windows a model scored as anomalous.
func TrainingHistoryQuery(history time.Duration, limit int) string {
	return fmt.Sprintf(`SELECT container_id, image_id, window_ns, window_s, %s
FROM features FINAL
WHERE window_ns >= (SELECT max(window_ns) FROM features) - %d
  AND (container_id, window_start) NOT IN (SELECT container_id, window_start FROM scores WHERE anomalous = 1)
ORDER BY window_ns DESC, container_id
LIMIT %d`, strings.Join(features.FeatureNames, ", "), history.Nanoseconds(), limit)
}

// loadHistory rebuilds the training sets from the features table, so that
// a restarted scorer keeps its rolling history. It adds the windows in
// event-time order, as decide would have, and fits no model: each model is
// fitted when a window first needs it.
//
// NOTE: the features table does not mark the partial windows that a bounded
// replay flushed, so such a window joins the history here although decide
// skips it.
func (s *Scorer) loadHistory(ctx context.Context) error {
	if s.store == nil {
		return nil
	}
	query := TrainingHistoryQuery(s.cfg.Baselines.History, s.cfg.Baselines.FleetHistoryWindows)
	rows, err := s.store.Conn().Query(ctx, query)
	if err != nil {
		return fmt.Errorf("load training history: %w", err)
	}
	defer rows.Close()

	var windows []features.Window
	for rows.Next() {
		w := features.Window{Values: make([]float64, len(features.FeatureNames))}
		var startNs int64
		var seconds uint32
		dest := []any{&w.ContainerID, &w.ImageID, &startNs, &seconds}
		for i := range w.Values {
			dest = append(dest, &w.Values[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("load training history: %w", err)
		}
		w.Start = time.Unix(0, startNs).UTC()
		w.Size = time.Duration(seconds) * time.Second
		windows = append(windows, w)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load training history: %w", err)
	}
	slices.Reverse(windows)

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range windows {
		s.addTraining(w, s.train.vector(w), s.workloadSet(s.workloadOf(w)))
	}
	s.logger.Info("Loaded training history", "windows", len(windows), "workloads", len(s.workloads))
	return nil
}
