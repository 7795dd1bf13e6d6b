package models

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/harrierhq/harrier/features"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
)

// resumeValues and resumeExtra are the indexes of the features that carry
// forward from a container's newest stored window into a window that lacks
// their input: cgroup samples, a scan report of the image, or a record of
// the host.
var (
	resumeValues = []int{features.IndexCPUCores, features.IndexCPUThrottledRatio, features.IndexMemoryWorkingSetBytes}
	resumeExtra  = append([]int{
		features.IndexPidsCurrent, features.IndexIOReadRate, features.IndexIOWriteRate,
		features.IndexNetRxRate, features.IndexNetTxRate, features.IndexHostOSEndOfLife,
	}, vulnIndexes()...)
)

func vulnIndexes() []int {
	var out []int
	for i := features.IndexVulnFirst; i < features.IndexHostOSEndOfLife; i++ {
		out = append(out, i)
	}
	return out
}

// ResumeQuery reads, per container, the end of the newest window in the
// features table, its host and image, and the features of resumeValues and
// resumeExtra.
var ResumeQuery = resumeQuery()

func resumeQuery() string {
	var b strings.Builder
	b.WriteString(`SELECT container_id,
    argMax(host_id, window_ns) AS last_host_id,
    argMax(image_id, window_ns) AS last_image_id,
    max(window_ns + toInt64(window_s) * 1000000000) AS end_ns`)
	for _, i := range resumeValues {
		fmt.Fprintf(&b, ",\n    argMax(%[1]s, window_ns) AS last_%[1]s", features.FeatureNames[i])
	}
	for _, i := range resumeExtra {
		fmt.Fprintf(&b, ",\n    argMax(%[1]s, window_ns) AS last_%[1]s", features.ExtraFeatureNames[i])
	}
	b.WriteString("\nFROM features\nGROUP BY container_id")
	return b.String()
}

// ResumeContainersQuery reads the names and image references that the
// windows of a resumed container carry until its next inventory record.
const ResumeContainersQuery = `SELECT container_id, name, image_ref FROM containers FINAL`

// CommitOffset returns the offset that the consumer group may commit for a
// partition: next, or the first offset of a record that still counts in an
// open window (see features.Windower.CommitOffset). Run passes it to
// kafka.Consume.
func (s *Scorer) CommitOffset(topic string, partition int, next int64) int64 {
	offset := s.windower.CommitOffset(topic, partition, next)
	s.commits.note(topic, partition, next, offset)
	return offset
}

// HeldBack returns how many consumed messages the last commits held back
// because their windows are open, summed over the partitions. The group's
// lag (kafka.GroupLag) equals it once the scorer has read every message.
func (s *Scorer) HeldBack() int64 {
	return s.commits.heldBack()
}

// commitTracker keeps, per partition, the offset after the last message
// handled and the offset committed for it. Its zero value is ready to use.
type commitTracker struct {
	mu    sync.Mutex
	held  map[commitPartition]int64
	total int64
}

type commitPartition struct {
	topic     string
	partition int
}

func (c *commitTracker) note(topic string, partition int, next, committed int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil {
		c.held = make(map[commitPartition]int64)
	}
	k := commitPartition{topic, partition}
	c.total += (next - committed) - c.held[k]
	c.held[k] = next - committed
}

func (c *commitTracker) heldBack() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// resume loads the newest stored window of every container into the
// windower, so that the records Kafka delivers again after a restart are
// not counted twice.
func (s *Scorer) resume(ctx context.Context) error {
	if s.store == nil {
		return nil
	}
	points, err := s.loadResumePoints(ctx)
	if err != nil {
		return err
	}
	s.windower.Resume(points)
	s.logger.Info("Resumed windows stored before the start", "containers", len(points))
	return nil
}

func (s *Scorer) loadResumePoints(ctx context.Context) ([]features.ResumePoint, error) {
	rows, err := s.store.Conn().Query(ctx, ResumeQuery)
	if err != nil {
		return nil, fmt.Errorf("load the newest stored windows: %w", err)
	}
	defer rows.Close()

	var points []features.ResumePoint
	index := map[string]int{}
	for rows.Next() {
		var p features.ResumePoint
		var endNs int64
		values := make([]float64, len(features.FeatureNames))
		extra := make([]float64, len(features.ExtraFeatureNames))
		dest := []any{&p.ContainerID, &p.HostID, &p.ImageID, &endNs}
		for _, i := range resumeValues {
			dest = append(dest, &values[i])
		}
		for _, i := range resumeExtra {
			dest = append(dest, &extra[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("load the newest stored windows: %w", err)
		}
		p.End = time.Unix(0, endNs).UTC()
		p.Values, p.Extra = values, extra
		index[p.ContainerID] = len(points)
		points = append(points, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load the newest stored windows: %w", err)
	}
	if len(points) == 0 {
		return nil, nil
	}

	crows, err := s.store.Conn().Query(ctx, ResumeContainersQuery)
	if err != nil {
		return nil, fmt.Errorf("load container names: %w", err)
	}
	defer crows.Close()
	for crows.Next() {
		var id, name, ref string
		if err := crows.Scan(&id, &name, &ref); err != nil {
			return nil, fmt.Errorf("load container names: %w", err)
		}
		if i, ok := index[id]; ok {
			points[i].ContainerName = strings.TrimPrefix(name, "/")
			points[i].ImageRef = ref
		}
	}
	if err := crows.Err(); err != nil {
		return nil, fmt.Errorf("load container names: %w", err)
	}
	return points, nil
}

// saveTemplates saves the templates that the closed windows created, before
// their offsets are committed, so that a restarted scorer does not count
// them as new again.
func (s *Scorer) saveTemplates(ctx context.Context) error {
	if s.cfg.Templates == nil {
		return nil
	}
	if err := s.cfg.Templates.Flush(ctx); err != nil {
		return fmt.Errorf("save log templates: %w", err)
	}
	return nil
}

// ScoreTopics are the topic suffixes the scorer reads.
var ScoreTopics = []string{record.TopicLogs, record.TopicMetrics, record.TopicInventory, record.TopicScans}

// CaughtUp reports whether the scorer has read every message of its topics
// that the brokers hold: the group's lag is then what the scorer holds back
// for its open windows. A bounded replay waits on it before Flush.
func (s *Scorer) CaughtUp(ctx context.Context) (bool, error) {
	lag, err := kafka.GroupLag(ctx, s.cfg.Brokers, s.cfg.TopicPrefix, s.cfg.Group, ScoreTopics...)
	if err != nil {
		return false, err
	}
	return lag == s.HeldBack(), nil
}
