package features

import (
	"fmt"
	"testing"

	"github.com/harrierhq/harrier/features/drain"
	"github.com/harrierhq/harrier/internal/record"
)

func TestWindowerCountsNewTemplates(t *testing.T) {
	miner := drain.NewInMemory(nil)
	w := NewWindower(WindowConfig{Templates: miner})
	mustAddLog(t, w, "l1", logAt("c1", 0, 5, "Accepted password for alice from 10.0.0.1 port 5000 ssh2"))
	mustAddLog(t, w, "l2", logAt("c1", 0, 10, "Accepted password for bob from 10.0.0.2 port 5001 ssh2"))
	mustAddLog(t, w, "l3", logAt("c1", 0, 20, "connection failed: timeout"))
	mustAddLog(t, w, "l4", logAt("c1", 1, 5, "Accepted password for carol from 10.0.0.3 port 5002 ssh2"))
	closed := mustAddLog(t, w, "l5", logAt("c1", 1, 40, "Received disconnect from 10.0.0.3 port 5002"))
	if len(closed) != 1 {
		t.Fatalf("closed %d windows, want 1", len(closed))
	}
	// alice and bob differ only in variables, so they share one template.
	if v := closed[0].Feature(FeatureNewShapes); v != 2 {
		t.Errorf("new_shapes of window 0 = %v, want 2", v)
	}

	flushed := w.Flush()
	if len(flushed) != 1 {
		t.Fatalf("Flush returned %d windows, want 1", len(flushed))
	}
	if v := flushed[0].Feature(FeatureNewShapes); v != 1 {
		t.Errorf("new_shapes of window 1 = %v, want 1 (only the disconnect line is new)", v)
	}
	if got := miner.Stats().Templates; got != 3 {
		t.Errorf("miner holds %d templates, want 3", got)
	}
}

func TestWindowerTemplatesPerImage(t *testing.T) {
	w := NewWindower(WindowConfig{Templates: drain.NewInMemory(nil), AllowedLateness: -1})
	for _, c := range []string{"c1", "c2"} {
		if _, err := w.AddEnvelope(containerEnvelope(t, c, "sha256:img")); err != nil {
			t.Fatal(err)
		}
	}
	mustAddLog(t, w, "l1", logAt("c1", 0, 5, "worker 1 started"))
	mustAddLog(t, w, "l2", logAt("c1", 1, 0, "worker 2 started"))
	mustAddLog(t, w, "l3", logAt("c2", 0, 5, "worker 7 started"))
	out := mustAddLog(t, w, "l4", logAt("c2", 1, 0, "worker 8 started"))
	if len(out) != 1 {
		t.Fatalf("closed %d windows of c2, want 1", len(out))
	}
	// c1 closed its window first, so the template is known for the image.
	if v := out[0].Feature(FeatureNewShapes); v != 0 {
		t.Errorf("new_shapes of c2 = %v, want 0 because c1 of the same image logged it", v)
	}
}

func BenchmarkWindowerTemplates(b *testing.B) {
	benchmarkWindower(b, WindowConfig{Templates: drain.NewInMemory(nil)})
}

func BenchmarkWindowerShapes(b *testing.B) {
	benchmarkWindower(b, WindowConfig{})
}

// benchmarkWindower feeds 10 containers with 20 log lines and one cgroup
// sample a second each, and reports records and closed windows per second.
func benchmarkWindower(b *testing.B, cfg WindowConfig) {
	w := NewWindower(cfg)
	msgs := make([]string, 64)
	for i := range msgs {
		msgs[i] = fmt.Sprintf("Failed password for invalid user user%d from 203.0.113.%d port %d ssh2", i%7, i, 40000+i)
	}
	msgs[5] = "GET /api/v1/items/42 200 12ms"
	msgs[9] = "connection reset by peer"
	containers := []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}
	b.ReportAllocs()
	b.ResetTimer()
	var windows int
	for i := 0; i < b.N; i++ {
		c := containers[i%len(containers)]
		second := i / len(containers) / 21
		ts := base.UnixNano() + int64(second)*1e9
		var out []Window
		var err error
		if i%21 == 20 {
			m := metricAt(c, 0, 0, int64(second)*1e8, 0, 1<<20)
			m.TimeNs = ts
			out, err = w.AddMetric(fmt.Sprint(i), "h", m)
		} else {
			l := logAt(c, 0, 0, msgs[i%len(msgs)])
			l.TimeNs = ts
			out, err = w.AddLog(fmt.Sprint(i), "h", l)
		}
		if err != nil {
			b.Fatal(err)
		}
		windows += len(out)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(windows)/b.Elapsed().Seconds(), "windows/s")
}

func containerEnvelope(t *testing.T, containerID, imageID string) record.Envelope {
	t.Helper()
	raw, err := record.Encode(record.KindContainer, "inv-"+containerID, "host-1", "test", at(0, 0),
		record.Container{ContainerID: containerID, Name: containerID, ImageID: imageID})
	if err != nil {
		t.Fatal(err)
	}
	env, err := record.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestTemplateIDsMaskedAndRaw checks that the windower, which
// mines masked messages, and the normalizer, which mines raw messages,
// reach the same template ids, so that they can share one templates table.
func TestTemplateIDsMaskedAndRaw(t *testing.T) {
	messages := []string{
		"Failed password for invalid user admin from 203.0.113.7 port 50022 ssh2",
		"GET /api/v1/items/42 HTTP/1.1 200 512 0.004s",
		"session 3f2a9c1e-1b2c-4d5e-8f90-a1b2c3d4e5f6 opened for user root by (uid=0)",
		"worker 0x7f3a pid=4242 exited with status 1",
	}
	raw := drain.NewInMemory(nil)
	masked := drain.NewInMemory(nil)
	for _, msg := range messages {
		rawID, rawTemplate, _ := raw.Match("sha256:aa", msg)
		maskedID, maskedTemplate, _ := masked.Match("sha256:aa", drain.Mask(msg))
		if rawID != maskedID {
			t.Errorf("%q: raw template id %d, masked template id %d", msg, rawID, maskedID)
		}
		if rawTemplate != maskedTemplate {
			t.Errorf("%q: raw template %q, masked template %q", msg, rawTemplate, maskedTemplate)
		}
	}
}
