package models

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
)

// alertMessage builds the alert record for an anomalous window, keyed by
// container id for the alerts topic. The record id depends only on the
// model, the container and the window, so a resent alert has the same id.
func alertMessage(p *pendingWindow, now time.Time) (kafka.Message, error) {
	w := p.window
	name := w.ContainerName
	if name == "" {
		name = shortID(w.ContainerID)
	}
	top := "no single feature stands out"
	if len(p.drivers) > 0 {
		top = p.drivers[0].Text
	}
	summary := fmt.Sprintf("Container %s behaves unlike its baseline: %s", name, top)
	drivers := driverTexts(p.drivers)
	if p.fallback {
		// The fleet's threshold is calibrated on every container, so the
		// reader should know that the workload's own baseline was not used.
		summary += " (" + p.fallbackNote + ")"
		drivers = append(drivers, p.fallbackNote)
	}
	alert := record.Alert{
		ModelVersion: p.modelVersion,
		TimeNs:       w.End().UnixNano(),
		Source:       "model",
		Name:         ModelName,
		Severity:     "high",
		ContainerID:  w.ContainerID,
		HostID:       w.HostID,
		ImageID:      w.ImageID,
		Score:        p.score,
		Threshold:    p.threshold,
		Summary:      summary,
		Drivers:      drivers,
		Query:        WindowQuery(w.ContainerID, w.Start, w.End()),
		Fingerprint:  record.NewID(ModelName, w.ContainerID),
	}
	id := record.NewID(ModelName, w.ContainerID, strconv.FormatInt(w.Start.UnixNano(), 10))
	value, err := record.Encode(record.KindAlert, id, w.HostID, "model:"+ModelName, now.UnixNano(), alert)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode alert for container %s: %w", w.ContainerID, err)
	}
	return kafka.Message{Topic: record.TopicAlerts, Key: []byte(w.ContainerID), Value: value}, nil
}

// WindowQuery returns a SQL statement over the events and metrics tables
// that lists a container's log lines and cgroup samples in [start, end),
// ordered by event time. The container id is a quoted string literal and
// the bounds are integer nanoseconds, so the statement is safe to run as
// is.
func WindowQuery(containerID string, start, end time.Time) string {
	id := QuoteString(containerID)
	from := start.UnixNano()
	to := end.UnixNano()
	return fmt.Sprintf("SELECT time_ns, kind, detail FROM ("+
		"SELECT time_ns, 'log' AS kind, message AS detail FROM events "+
		"WHERE container_id = %[1]s AND time_ns >= %[2]d AND time_ns < %[3]d "+
		"UNION ALL "+
		"SELECT time_ns, 'metric' AS kind, concat("+
		"'cpu_usage_ns=', toString(cpu_usage_ns), "+
		"' cpu_throttled_ns=', toString(cpu_throttled_ns), "+
		"' memory_working_set_bytes=', toString(memory_working_set_bytes)) AS detail FROM metrics "+
		"WHERE container_id = %[1]s AND time_ns >= %[2]d AND time_ns < %[3]d"+
		") ORDER BY time_ns, kind", id, from, to)
}

// QuoteString returns s as a ClickHouse string literal: single quotes,
// with backslashes and single quotes escaped by a backslash.
func QuoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
