package features

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/record"
)

var base = time.Date(2024, 10, 10, 12, 0, 0, 0, time.UTC)

func at(minute int, second int) int64 {
	return base.Add(time.Duration(minute)*time.Minute + time.Duration(second)*time.Second).UnixNano()
}

func logAt(container string, minute, second int, msg string) record.Log {
	return record.Log{TimeNs: at(minute, second), Runtime: "docker", ContainerID: container, Stream: "stdout", Message: msg}
}

func metricAt(container string, minute, second int, usageNs, throttledNs, memory int64) record.Metric {
	return record.Metric{
		TimeNs: at(minute, second), ContainerID: container, CgroupPath: "system.slice/docker-" + container + ".scope",
		CgroupMode: "v2", CPUUsageNs: usageNs, CPUThrottledNs: throttledNs, MemoryUsageBytes: memory,
		MemoryWorkingSetBytes: memory, MemoryLimitBytes: -1,
	}
}

func mustAddLog(t *testing.T, w *Windower, id string, l record.Log) []Window {
	t.Helper()
	out, err := w.AddLog(id, "host-1", l)
	if err != nil {
		t.Fatalf("AddLog(%s): %v", id, err)
	}
	return out
}

func mustAddMetric(t *testing.T, w *Windower, id string, m record.Metric) []Window {
	t.Helper()
	out, err := w.AddMetric(id, "host-1", m)
	if err != nil {
		t.Fatalf("AddMetric(%s): %v", id, err)
	}
	return out
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

func TestWindowerClosesAfterWatermark(t *testing.T) {
	w := NewWindower(WindowConfig{})
	mustAddLog(t, w, "l1", logAt("c1", 0, 10, "GET /index.html 200"))
	mustAddLog(t, w, "l2", logAt("c1", 0, 50, "connection failed: timeout"))

	// 1:20 puts the watermark at 0:50, before the end of window 0.
	if got := mustAddLog(t, w, "l3", logAt("c1", 1, 20, "GET /index.html 200")); len(got) != 0 {
		t.Fatalf("window closed before the watermark passed its end: %+v", got)
	}
	got := mustAddLog(t, w, "l4", logAt("c1", 1, 30, "GET /index.html 200"))
	if len(got) != 1 {
		t.Fatalf("closed %d windows at watermark 1:00, want 1", len(got))
	}
	win := got[0]
	if !win.Start.Equal(base) {
		t.Errorf("Start = %v, want %v", win.Start, base)
	}
	if win.Size != time.Minute {
		t.Errorf("Size = %v, want 1m", win.Size)
	}
	if win.HostID != "host-1" {
		t.Errorf("HostID = %q, want host-1", win.HostID)
	}
	if v := win.Feature(FeatureLogLines); v != 2 {
		t.Errorf("log_lines = %v, want 2", v)
	}
	if v := win.Feature(FeatureErrorLines); v != 1 {
		t.Errorf("error_lines = %v, want 1", v)
	}
	if v := win.Feature(FeatureNewShapes); v != 2 {
		t.Errorf("new_shapes = %v, want 2", v)
	}
	if len(win.Values) != len(FeatureNames) {
		t.Errorf("len(Values) = %d, want %d", len(win.Values), len(FeatureNames))
	}

	flushed := w.Flush()
	if len(flushed) != 1 {
		t.Fatalf("Flush returned %d windows, want 1", len(flushed))
	}
	if v := flushed[0].Feature(FeatureNewShapes); v != 0 {
		t.Errorf("new_shapes of window 1 = %v, want 0 because its shape was seen in window 0", v)
	}
}

func TestWindowerOutOfOrderWithinLateness(t *testing.T) {
	w := NewWindower(WindowConfig{})
	mustAddLog(t, w, "l1", logAt("c1", 1, 10, "b"))
	// 0:50 is older than the newest event but inside the allowed lateness.
	mustAddLog(t, w, "l2", logAt("c1", 0, 50, "a"))
	out := w.Flush()
	if len(out) != 2 {
		t.Fatalf("Flush returned %d windows, want 2", len(out))
	}
	if !out[0].Start.Equal(base) || !out[1].Start.Equal(base.Add(time.Minute)) {
		t.Errorf("windows out of order: %v, %v", out[0].Start, out[1].Start)
	}
	if st := w.Stats(); st.Late != 0 {
		t.Errorf("Late = %d, want 0", st.Late)
	}
}

func TestWindowerLateRecordsDropped(t *testing.T) {
	w := NewWindower(WindowConfig{})
	mustAddLog(t, w, "l1", logAt("c1", 0, 10, "a"))
	closed := mustAddLog(t, w, "l2", logAt("c1", 2, 40, "a"))
	if len(closed) != 1 {
		t.Fatalf("closed %d windows, want 1", len(closed))
	}
	// Window 0 has closed; these belong to it.
	mustAddLog(t, w, "l3", logAt("c1", 0, 59, "late"))
	mustAddMetric(t, w, "m1", metricAt("c1", 0, 30, 1e9, 0, 1<<20))
	st := w.Stats()
	if st.Late != 2 {
		t.Errorf("Late = %d, want 2", st.Late)
	}
	// A window between the closed one and the watermark was never opened
	// but is closed all the same.
	mustAddLog(t, w, "l4", logAt("c1", 1, 10, "late too"))
	if st := w.Stats(); st.Late != 3 {
		t.Errorf("Late = %d, want 3", st.Late)
	}
	out := w.Flush()
	if len(out) != 1 {
		t.Fatalf("Flush returned %d windows, want 1", len(out))
	}
	if v := out[0].Feature(FeatureLogLines); v != 1 {
		t.Errorf("log_lines of window 2 = %v, want 1", v)
	}
}

func TestWindowerDuplicateIDs(t *testing.T) {
	w := NewWindower(WindowConfig{})
	mustAddLog(t, w, "l1", logAt("c1", 0, 10, "a"))
	mustAddLog(t, w, "l1", logAt("c1", 0, 10, "a"))
	out := w.Flush()
	if v := out[0].Feature(FeatureLogLines); v != 1 {
		t.Errorf("log_lines = %v, want 1", v)
	}
	if st := w.Stats(); st.Duplicates != 1 {
		t.Errorf("Duplicates = %d, want 1", st.Duplicates)
	}
}

func TestWindowerCPUAndMemory(t *testing.T) {
	w := NewWindower(WindowConfig{})
	// Samples on the minute, as a collector that samples once a minute
	// takes them: minute 0 uses 0.5 cores, 10% of it throttled, and
	// minute 1 uses 2 cores.
	out := mustAddMetric(t, w, "m1", metricAt("c1", 0, 0, 0, 0, 100))
	out = append(out, mustAddMetric(t, w, "m2", metricAt("c1", 1, 0, 30e9, 3e9, 300))...)
	out = append(out, mustAddMetric(t, w, "m3", metricAt("c1", 2, 0, 150e9, 3e9, 500))...)
	out = append(out, w.Flush()...)
	if len(out) != 3 {
		t.Fatalf("got %d windows, want 3", len(out))
	}
	if v := out[0].Feature(FeatureCPUCores); !near(v, 0.5) {
		t.Errorf("window 0 cpu_cores = %v, want 0.5", v)
	}
	if v := out[0].Feature(FeatureCPUThrottledRatio); !near(v, 0.1) {
		t.Errorf("window 0 cpu_throttled_ratio = %v, want 0.1", v)
	}
	if v := out[0].Feature(FeatureMemoryWorkingSetBytes); !near(v, 100) {
		t.Errorf("window 0 memory_working_set_bytes = %v, want 100", v)
	}
	if v := out[1].Feature(FeatureCPUCores); !near(v, 2) {
		t.Errorf("window 1 cpu_cores = %v, want 2", v)
	}
	if v := out[1].Feature(FeatureCPUThrottledRatio); v != 0 {
		t.Errorf("window 1 cpu_throttled_ratio = %v, want 0", v)
	}
	if v := out[1].Feature(FeatureMemoryWorkingSetBytes); !near(v, 300) {
		t.Errorf("window 1 memory_working_set_bytes = %v, want 300", v)
	}
	// Nothing follows the 2:00 sample, so window 2 carries the rate.
	if v := out[2].Feature(FeatureCPUCores); !near(v, 2) {
		t.Errorf("window 2 cpu_cores = %v, want 2", v)
	}
}

func TestWindowerCPUOverlapWeighted(t *testing.T) {
	w := NewWindower(WindowConfig{})
	// 0.5 cores from 0:00 to 0:50 and 2 cores from 0:50 to 1:20: window 0
	// gets 50 s at 0.5 and 10 s at 2.
	mustAddMetric(t, w, "m1", metricAt("c1", 0, 0, 0, 0, 100))
	mustAddMetric(t, w, "m2", metricAt("c1", 0, 50, 25e9, 0, 100))
	out := mustAddMetric(t, w, "m3", metricAt("c1", 1, 20, 85e9, 0, 100))
	out = append(out, w.Flush()...)
	if len(out) != 2 {
		t.Fatalf("got %d windows, want 2", len(out))
	}
	if v := out[0].Feature(FeatureCPUCores); !near(v, 0.75) {
		t.Errorf("window 0 cpu_cores = %v, want 0.75", v)
	}
	if v := out[1].Feature(FeatureCPUCores); !near(v, 2) {
		t.Errorf("window 1 cpu_cores = %v, want 2", v)
	}
}

func TestWindowerCounterReset(t *testing.T) {
	w := NewWindower(WindowConfig{})
	mustAddMetric(t, w, "m1", metricAt("c1", 0, 0, 500e9, 0, 100))
	// The container restarted: usage fell to 10 s, which all counts as new
	// usage over the 20 s since the last sample.
	mustAddMetric(t, w, "m2", metricAt("c1", 0, 20, 10e9, 0, 100))
	mustAddMetric(t, w, "m3", metricAt("c1", 0, 40, 30e9, 0, 100))
	out := w.Flush()
	if len(out) != 1 {
		t.Fatalf("Flush returned %d windows, want 1", len(out))
	}
	// (10 s + 20 s) / 40 s.
	if v := out[0].Feature(FeatureCPUCores); !near(v, 0.75) {
		t.Errorf("cpu_cores = %v, want 0.75", v)
	}
}

func TestWindowerCarriesRateForward(t *testing.T) {
	w := NewWindower(WindowConfig{})
	mustAddMetric(t, w, "m1", metricAt("c1", 0, 0, 0, 0, 1000))
	mustAddMetric(t, w, "m2", metricAt("c1", 0, 30, 15e9, 0, 1000))
	// Window 1 has logs only.
	mustAddLog(t, w, "l1", logAt("c1", 1, 10, "hello"))
	out := w.Flush()
	if len(out) != 2 {
		t.Fatalf("Flush returned %d windows, want 2", len(out))
	}
	if out[1].MetricSamples != 0 {
		t.Errorf("MetricSamples = %d, want 0", out[1].MetricSamples)
	}
	if v := out[1].Feature(FeatureCPUCores); !near(v, 0.5) {
		t.Errorf("carried cpu_cores = %v, want 0.5", v)
	}
	if v := out[1].Feature(FeatureMemoryWorkingSetBytes); !near(v, 1000) {
		t.Errorf("carried memory_working_set_bytes = %v, want 1000", v)
	}
}

func TestWindowerPerContainerWatermark(t *testing.T) {
	w := NewWindower(WindowConfig{})
	mustAddLog(t, w, "a1", logAt("a", 0, 10, "x"))
	// Container b is ten minutes ahead; a's window must stay open.
	if got := mustAddLog(t, w, "b1", logAt("b", 10, 0, "x")); len(got) != 0 {
		t.Fatalf("closed %d windows, want 0", len(got))
	}
	mustAddLog(t, w, "a2", logAt("a", 0, 20, "x"))
	if st := w.Stats(); st.Late != 0 {
		t.Errorf("Late = %d, want 0", st.Late)
	}
	wm, ok := w.Watermark("a")
	if !ok || !wm.Equal(base.Add(-10*time.Second)) {
		t.Errorf("Watermark(a) = %v, %v; want %v", wm, ok, base.Add(-10*time.Second))
	}
}

func TestWindowerFlushThenLate(t *testing.T) {
	w := NewWindower(WindowConfig{})
	mustAddLog(t, w, "l1", logAt("c1", 0, 10, "x"))
	mustAddLog(t, w, "l2", logAt("c2", 0, 10, "x"))
	out := w.Flush()
	if len(out) != 2 {
		t.Fatalf("Flush returned %d windows, want 2", len(out))
	}
	if out[0].ContainerID != "c1" || out[1].ContainerID != "c2" {
		t.Errorf("Flush order = %s, %s; want c1, c2", out[0].ContainerID, out[1].ContainerID)
	}
	if again := w.Flush(); len(again) != 0 {
		t.Errorf("second Flush returned %d windows, want 0", len(again))
	}
	mustAddLog(t, w, "l3", logAt("c1", 0, 40, "x"))
	mustAddLog(t, w, "l4", logAt("c1", 1, 0, "x"))
	if st := w.Stats(); st.Late != 1 {
		t.Errorf("Late = %d, want 1", st.Late)
	}
	if st := w.Stats(); st.OpenWindows != 1 {
		t.Errorf("OpenWindows = %d, want 1", st.OpenWindows)
	}
}

func TestWindowerInventoryAndEnvelope(t *testing.T) {
	w := NewWindower(WindowConfig{})
	inv, err := record.Encode(record.KindContainer, "inv-1", "host-9", "docker:config.v2.json", at(0, 0),
		record.Container{TimeNs: at(0, 0), ContainerID: "c1", Name: "/sshd", ImageID: "sha256:abc", ImageRef: "sshd:1"})
	if err != nil {
		t.Fatal(err)
	}
	lg, err := record.Encode(record.KindLog, "log-1", "host-9", "docker:c1-json.log:0", at(0, 1), logAt("c1", 0, 5, "x"))
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range [][]byte{inv, lg} {
		env, err := record.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.AddEnvelope(env); err != nil {
			t.Fatalf("AddEnvelope(%s): %v", env.ID, err)
		}
	}
	out := w.Flush()
	if len(out) != 1 {
		t.Fatalf("Flush returned %d windows, want 1", len(out))
	}
	got := out[0]
	if got.ContainerName != "sshd" || got.ImageID != "sha256:abc" || got.ImageRef != "sshd:1" || got.HostID != "host-9" {
		t.Errorf("metadata = %q %q %q %q, want sshd sha256:abc sshd:1 host-9", got.ContainerName, got.ImageID, got.ImageRef, got.HostID)
	}
}

func TestWindowerRejectsBadInput(t *testing.T) {
	w := NewWindower(WindowConfig{})
	tests := []struct {
		name string
		add  func() error
	}{
		{"log without container", func() error { _, err := w.AddLog("x", "", record.Log{TimeNs: 1}); return err }},
		{"log without time", func() error { _, err := w.AddLog("x", "", record.Log{ContainerID: "c"}); return err }},
		{"metric without time", func() error { _, err := w.AddMetric("x", "", record.Metric{ContainerID: "c"}); return err }},
		{"container without id", func() error { return w.AddContainer("", record.Container{Name: "n"}) }},
		{"bad payload", func() error {
			_, err := w.AddEnvelope(record.Envelope{Kind: record.KindLog, ID: "x", Payload: []byte(`{"time_ns":"soon"}`)})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.add(); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestIsErrorLine(t *testing.T) {
	for msg, want := range map[string]bool{
		"Failed password for root":        true,
		"pam_unix: authentication DENIED": true,
		"java.lang.NullPointerException":  true,
		"GET /health 200":                 false,
		"":                                false,
	} {
		if got := IsErrorLine(msg); got != want {
			t.Errorf("IsErrorLine(%q) = %v, want %v", msg, got, want)
		}
	}
}

func BenchmarkMaskMessage(b *testing.B) {
	msgs := make([]string, 16)
	for i := range msgs {
		msgs[i] = fmt.Sprintf("Failed password for invalid user user%d from 203.0.113.%d port %d ssh2", i, i, 40000+i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		MaskMessage(msgs[i%len(msgs)])
	}
}

func TestWindowerFlushMarksPartial(t *testing.T) {
	w := NewWindower(WindowConfig{AllowedLateness: time.Hour})
	mustAddLog(t, w, "l1", logAt("c1", 0, 10, "x"))
	mustAddMetric(t, w, "m1", metricAt("c1", 1, 0, 1e9, 0, 1))
	out := w.Flush()
	if len(out) != 2 {
		t.Fatalf("Flush returned %d windows, want 2", len(out))
	}
	if out[0].Partial {
		t.Error("window 0 is partial, but a record at its end arrived")
	}
	if !out[1].Partial {
		t.Error("window 1 is not partial, but no record reached its end")
	}
}
