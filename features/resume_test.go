package features

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/harrierhq/harrier/features/drain"
	"github.com/harrierhq/harrier/internal/record"
)

// positioned is a record envelope with the Kafka position it was read at.
type positioned struct {
	env record.Envelope
	pos Position
}

// resumeStream returns six minutes of two containers in arrival order.
// Logs of both share partition logs/0, and each container's samples have a
// metrics partition of its own. One log line arrives late.
func resumeStream(t *testing.T) []positioned {
	t.Helper()
	offsets := map[partitionKey]int64{}
	var out []positioned
	add := func(kind record.Kind, id string, payload any, topic string, partition int) {
		raw, err := record.Encode(kind, id, "host-1", "test", 0, payload)
		if err != nil {
			t.Fatal(err)
		}
		env, err := record.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		k := partitionKey{topic, partition}
		out = append(out, positioned{env, Position{Topic: topic, Partition: partition, Offset: offsets[k]}})
		offsets[k]++
	}

	containers := []string{"c1", "c2"}
	usage := map[string]int64{}
	for second := 0; second < 6*60; second++ {
		for ci, c := range containers {
			if second%20 == ci*5 {
				usage[c] += int64(second%7+1) * 1e9
				m := metricAt(c, 0, second, usage[c], usage[c]/10, int64(1<<20+second*1000))
				m.PidsCurrent = int64(3 + second/60)
				m.IOReadBytes, m.IOWriteBytes = int64(second)*4096, int64(second)*8192
				add(record.KindMetric, fmt.Sprintf("m-%s-%d", c, second), m, "metrics", ci)
			}
			if second%(7+ci) == 0 {
				msg := fmt.Sprintf("request %d from 192.0.2.%d failed", second, second%5)
				if second%3 == 0 {
					msg = fmt.Sprintf("job %d done in %dms", second, second%11)
				}
				add(record.KindLog, fmt.Sprintf("l-%s-%d", c, second), logAt(c, 0, second, msg), "logs", 0)
			}
		}
		if second == 190 {
			add(record.KindLog, "late-c1", logAt("c1", 1, 5, "late line"), "logs", 0)
		}
	}
	return out
}

func feedPositioned(t *testing.T, w *Windower, records []positioned) []Window {
	t.Helper()
	var out []Window
	for _, r := range records {
		closed, err := w.AddEnvelopeAt(r.env, r.pos)
		if err != nil {
			t.Fatalf("AddEnvelopeAt(%s): %v", r.env.ID, err)
		}
		out = append(out, closed...)
	}
	return out
}

func sortWindows(ws []Window) {
	slices.SortStableFunc(ws, func(a, b Window) int {
		if a.ContainerID != b.ContainerID {
			if a.ContainerID < b.ContainerID {
				return -1
			}
			return 1
		}
		return a.Start.Compare(b.Start)
	})
}

// resumePoints returns the newest stored window of each container, as the
// scorer reads them from the features table.
func resumePoints(stored []Window) []ResumePoint {
	newest := map[string]Window{}
	for _, w := range stored {
		if n, ok := newest[w.ContainerID]; !ok || w.Start.After(n.Start) {
			newest[w.ContainerID] = w
		}
	}
	var out []ResumePoint
	for _, w := range newest {
		out = append(out, ResumePoint{ContainerID: w.ContainerID, HostID: w.HostID, ImageID: w.ImageID,
			End: w.End(), Values: w.Values, Extra: w.Extra})
	}
	return out
}

func TestWindowerResumeMatchesUninterrupted(t *testing.T) {
	stream := resumeStream(t)

	uninterrupted := NewWindower(WindowConfig{Templates: drain.NewInMemory(nil)})
	want := feedPositioned(t, uninterrupted, stream)
	want = append(want, uninterrupted.Flush()...)
	sortWindows(want)
	if got := uninterrupted.Stats().Late; got != 1 {
		t.Fatalf("Late of the uninterrupted run = %d, want 1", got)
	}

	for stop := 1; stop < len(stream); stop += 7 {
		// The miner stands for the templates table, which outlives the
		// process.
		miner := drain.NewInMemory(nil)
		first := NewWindower(WindowConfig{Templates: miner})
		stored := feedPositioned(t, first, stream[:stop])

		next := map[partitionKey]int64{}
		for _, r := range stream[:stop] {
			next[partitionKey{r.pos.Topic, r.pos.Partition}] = r.pos.Offset + 1
		}
		committed := map[partitionKey]int64{}
		for k, n := range next {
			committed[k] = first.CommitOffset(k.topic, k.partition, n)
		}

		second := NewWindower(WindowConfig{Templates: miner})
		second.Resume(resumePoints(stored))
		var replay []positioned
		for _, r := range stream {
			if r.pos.Offset >= committed[partitionKey{r.pos.Topic, r.pos.Partition}] {
				replay = append(replay, r)
			}
		}
		got := slices.Clone(stored)
		got = append(got, feedPositioned(t, second, replay)...)
		got = append(got, second.Flush()...)
		sortWindows(got)

		if len(got) != len(want) {
			t.Fatalf("stop after record %d: %d windows, want %d", stop, len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("stop after record %d: window %d\n got %+v\nwant %+v", stop, i, got[i], want[i])
			}
		}
	}
}

func TestWindowerCommitOffsetHoldsOpenWindows(t *testing.T) {
	w := NewWindower(WindowConfig{})
	add := func(id string, offset int64, l record.Log) {
		t.Helper()
		if _, err := w.addLog(id, "host-1", l, &Position{Topic: "logs", Partition: 0, Offset: offset}); err != nil {
			t.Fatal(err)
		}
	}
	add("a", 10, logAt("c1", 0, 10, "a"))
	add("b", 11, logAt("c2", 0, 20, "b"))
	if got := w.CommitOffset("logs", 0, 12); got != 10 {
		t.Errorf("CommitOffset with two open windows = %d, want 10", got)
	}
	if got := w.CommitOffset("logs", 1, 7); got != 7 {
		t.Errorf("CommitOffset of a partition without open windows = %d, want 7", got)
	}

	// c1 moves on: its window 0 closes and window 2 opens at offset 12.
	add("c", 12, logAt("c1", 2, 40, "c"))
	if got := w.CommitOffset("logs", 0, 13); got != 11 {
		t.Errorf("CommitOffset after c1's window closed = %d, want 11 (c2's open window)", got)
	}
	w.Flush()
	if got := w.CommitOffset("logs", 0, 13); got != 13 {
		t.Errorf("CommitOffset after Flush = %d, want 13", got)
	}
}

func TestWindowerResumeSkipsStoredWindows(t *testing.T) {
	w := NewWindower(WindowConfig{})
	w.Resume([]ResumePoint{{
		ContainerID: "c1", HostID: "host-9", ImageID: "sha256:img", End: base.Add(2 * 60e9),
		Values: []float64{1.5, 0.25, 4096}, Extra: make([]float64, len(ExtraFeatureNames)),
	}})

	mustAddLog(t, w, "old", logAt("c1", 1, 59, "counted before the restart"))
	mustAddLog(t, w, "new", logAt("c1", 2, 1, "counted now"))
	st := w.Stats()
	if st.Replayed != 1 {
		t.Errorf("Replayed = %d, want 1", st.Replayed)
	}
	if st.Late != 0 {
		t.Errorf("Late = %d, want 0", st.Late)
	}

	out := w.Flush()
	if len(out) != 1 {
		t.Fatalf("Flush returned %d windows, want 1", len(out))
	}
	win := out[0]
	if v := win.Feature(FeatureLogLines); v != 1 {
		t.Errorf("log_lines = %v, want 1", v)
	}
	// Without a cgroup sample, the CPU and memory features carry the
	// stored window's values forward.
	if v := win.Feature(FeatureCPUCores); v != 1.5 {
		t.Errorf("cpu_cores = %v, want 1.5 carried from the stored window", v)
	}
	if v := win.Feature(FeatureMemoryWorkingSetBytes); v != 4096 {
		t.Errorf("memory_working_set_bytes = %v, want 4096 carried from the stored window", v)
	}
	if win.HostID != "host-9" || win.ImageID != "sha256:img" {
		t.Errorf("host and image = %q, %q, want host-9, sha256:img", win.HostID, win.ImageID)
	}
}
