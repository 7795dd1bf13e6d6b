package models

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/features/drain"
	"github.com/harrierhq/harrier/internal/demodata"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/storage/storagetest"
)

const demoDir = "../testdata/demo"

// collectDemo runs the collectors once over the demo bundle and returns
// what they wrote, in the order they wrote it.
func collectDemo(t *testing.T) (demodata.Manifest, []kafka.Message) {
	t.Helper()
	manifest, err := demodata.ReadManifest(demoDir)
	if err != nil {
		t.Fatal(err)
	}
	out := &memoryEmitter{}
	agent := collectors.NewAgent(collectors.AgentConfig{
		HostID:          "demo-host",
		DockerRoot:      filepath.Join(demoDir, "docker", "containers"),
		CRIRoot:         filepath.Join(demoDir, "cri"),
		CgroupReplayDir: filepath.Join(demoDir, "cgroup"),
		ScanDir:         filepath.Join(demoDir, "scans"),
	}, out, nil)
	if err := agent.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := agent.Stats(); st.Logs != int64(manifest.LogRecords) {
		t.Fatalf("collected %d log records, want %d", st.Logs, manifest.LogRecords)
	}
	return manifest, out.msgs
}

// eventTime returns the event time of a log or metric message, and 0 for
// other kinds.
func eventTime(t *testing.T, m kafka.Message) int64 {
	t.Helper()
	env, err := record.Decode(m.Value)
	if err != nil {
		t.Fatal(err)
	}
	var payload struct {
		TimeNs int64 `json:"time_ns"`
	}
	switch env.Kind {
	case record.KindLog, record.KindMetric:
		if err := json.Unmarshal(env.Payload, &payload); err != nil {
			t.Fatal(err)
		}
		return payload.TimeNs
	}
	return 0
}

// checkDemoAlerts checks that the alerts are those of the sshd incident:
// one per window of the incident minutes, allowing one window more or
// less at either edge.
func checkDemoAlerts(t *testing.T, manifest demodata.Manifest, alerts []record.Alert) {
	t.Helper()
	start, from, to := manifest.Start, manifest.Incident.From, manifest.Incident.To
	first := int(from.Sub(start) / time.Minute)
	last := int(to.Sub(start) / time.Minute)
	target := manifest.Containers[manifest.Incident.Container].ID

	got := map[int]bool{}
	for _, a := range alerts {
		minute := int(time.Unix(0, a.TimeNs).Sub(start)/time.Minute) - 1
		if a.ContainerID != target {
			t.Errorf("alert for container %s at minute %d: %s", a.ContainerID, minute, a.Summary)
			continue
		}
		t.Logf("minute %d score %.3f threshold %.3f: %s", minute, a.Score, a.Threshold, a.Summary)
		got[minute] = true
	}
	for m := range got {
		if m < first-1 || m > last+1 {
			t.Errorf("alert for %s minute %d, outside the incident minutes %d to %d", manifest.Incident.Container, m, first, last)
		}
	}
	for m := first + 1; m < last; m++ {
		if !got[m] {
			t.Errorf("no alert for %s minute %d", manifest.Incident.Container, m)
		}
	}
	if !got[first] && !got[first+1] {
		t.Errorf("no alert at the start of the incident, minute %d", first)
	}
	if !got[last] && !got[last-1] {
		t.Errorf("no alert at the end of the incident, minute %d", last)
	}
}

// newShapesModes are the two ways the scorer computes new_shapes: masked
// message shapes, and templates of the drain miner.
var newShapesModes = []struct {
	name  string
	miner func() *drain.Miner
}{
	{"shapes", func() *drain.Miner { return nil }},
	{"templates", func() *drain.Miner { return drain.NewInMemory(nil) }},
}

// TestScorerDemoReplay feeds the demo bundle in the order the collectors
// write it: every log file, then every cgroup snapshot. A replay like this
// needs an allowed lateness as long as the replay, and Flush at its end.
func TestScorerDemoReplay(t *testing.T) {
	manifest, msgs := collectDemo(t)
	for _, mode := range newShapesModes {
		t.Run(mode.name, func(t *testing.T) {
			testScorerDemoReplay(t, manifest, msgs, mode.miner())
		})
	}
}

func testScorerDemoReplay(t *testing.T, manifest demodata.Manifest, msgs []kafka.Message, miner *drain.Miner) {
	store := storagetest.New(t)
	out := &memoryEmitter{}
	s := NewScorer(ScorerConfig{AllowedLateness: 24 * time.Hour, Seed: 1, Templates: miner}, store, out, nil)

	feed(t, s, msgs, 1000)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	st := s.Stats()
	windows := int64(len(manifest.Containers) * manifest.Minutes)
	if st.WindowsClosed < windows {
		t.Errorf("WindowsClosed = %d, want at least %d", st.WindowsClosed, windows)
	}
	if st.LateRecords != 0 {
		t.Errorf("LateRecords = %d, want 0", st.LateRecords)
	}
	checkDemoAlerts(t, manifest, out.alerts(t))

	_, rows, err := store.Query(context.Background(), "SELECT count() FROM features")
	if err != nil {
		t.Fatal(err)
	}
	if got := rows[0][0].(uint64); int64(got) != st.WindowsClosed {
		t.Errorf("features rows = %d, want %d", got, st.WindowsClosed)
	}
	_, rows, err = store.Query(context.Background(), "SELECT count(), sum(anomalous) FROM scores")
	if err != nil {
		t.Fatal(err)
	}
	if got := rows[0][0].(uint64); int64(got) != st.WindowsScored {
		t.Errorf("scores rows = %d, want %d", got, st.WindowsScored)
	}
	if got := rows[0][1].(uint64); int64(got) != st.AlertsEmitted {
		t.Errorf("anomalous scores = %d, want %d", got, st.AlertsEmitted)
	}
}

// TestScorerDemoStream feeds the same records in event-time order, as live
// collectors would send them, with the default allowed lateness.
func TestScorerDemoStream(t *testing.T) {
	manifest, msgs := collectDemo(t)
	slices.SortStableFunc(msgs, func(a, b kafka.Message) int {
		ta, tb := eventTime(t, a), eventTime(t, b)
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	})
	for _, mode := range newShapesModes {
		t.Run(mode.name, func(t *testing.T) {
			out := &memoryEmitter{}
			// No store: TestScorerDemoReplay checks the tables.
			s := NewScorer(ScorerConfig{Seed: 1, Templates: mode.miner()}, nil, out, nil)
			feed(t, s, msgs, 1000)
			if err := s.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st := s.Stats(); st.LateRecords != 0 {
				t.Errorf("LateRecords = %d, want 0", st.LateRecords)
			}
			checkDemoAlerts(t, manifest, out.alerts(t))
		})
	}
}
