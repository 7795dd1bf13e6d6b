package features

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/storage"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// storeRollupWindows stores one-minute windows of three containers for
// minutes 0 to 5 of base: c1 and c2 run image a on host-1, c3 runs image b
// on host-2 and has no window in minute 2. Feature values follow from the
// container and the minute, see rollupValue.
func storeRollupWindows(t *testing.T, store *storage.Store) {
	t.Helper()
	columns := append([]string{"container_id", "host_id", "image_id", "window_start", "window_ns", "window_s", "computed_at"},
		append(append([]string{}, FeatureNames...), ExtraFeatureNames...)...)
	type container struct{ id, host, image string }
	var rows [][]any
	for minute := range 6 {
		for c, ct := range []container{{"c1", "host-1", "a"}, {"c2", "host-1", "a"}, {"c3", "host-2", "b"}} {
			if ct.id == "c3" && minute == 2 {
				continue
			}
			start := base.Add(time.Duration(minute) * time.Minute)
			row := []any{ct.id, ct.host, ct.image, start, start.UnixNano(), uint32(60), base}
			for _, name := range append(append([]string{}, FeatureNames...), ExtraFeatureNames...) {
				row = append(row, rollupValue(name, c, minute))
			}
			rows = append(rows, row)
		}
	}
	if err := store.Insert(context.Background(), "features", columns, rows); err != nil {
		t.Fatal(err)
	}
}

// rollupValue is the stored value of a feature for container index c in
// minute m.
func rollupValue(name string, c, m int) float64 {
	switch name {
	case FeatureCPUCores:
		return float64(c + 1)
	case FeatureLogLines:
		return float64(10 * (m + 1))
	case FeatureErrorLines:
		return float64(m + 1)
	case FeatureSourceAddresses:
		return float64(c + m)
	case FeatureVulnCriticalFixable:
		return float64(2 * (c + 1))
	}
	return 0
}

func TestRollupPerImageAndHost(t *testing.T) {
	store := storagetest.New(t)
	storeRollupWindows(t, store)
	ctx := context.Background()

	byImage, err := ReadRollup(ctx, store, RollupSpec{By: ByImage, Length: time.Minute, Hop: time.Minute, From: base, To: base.Add(6 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	// Six minutes of image a, five of image b.
	if len(byImage) != 11 {
		t.Fatalf("per image: %d windows, want 11", len(byImage))
	}
	first := byImage[0]
	if first.Entity != "a" || !first.Start.Equal(base) || first.Length != time.Minute {
		t.Errorf("first window = %s at %s for %s, want image a at %s for 1m", first.Entity, first.Start, first.Length, base)
	}
	if first.Containers != 2 || first.Windows != 2 {
		t.Errorf("image a minute 0: containers %d, windows %d, want 2 and 2", first.Containers, first.Windows)
	}
	// c1 and c2 use 1 and 2 cores.
	if v := first.Feature(FeatureCPUCores); v != 3 {
		t.Errorf("image a minute 0: cpu_cores = %v, want 3", v)
	}
	if v := first.Feature(FeatureLogLines); v != 20 {
		t.Errorf("image a minute 0: log_lines = %v, want 20", v)
	}
	if v := first.Feature(FeatureErrorRatio); v != 0.1 {
		t.Errorf("image a minute 0: error_ratio = %v, want 0.1", v)
	}
	if v := first.Feature(FeatureVulnCriticalFixable); v != 4 {
		t.Errorf("image a minute 0: vulnerabilities_critical_fixable = %v, want 4 (the larger count)", v)
	}

	byHost, err := ReadRollup(ctx, store, RollupSpec{By: ByHost, Length: time.Minute, Hop: time.Minute, From: base.Add(2 * time.Minute), To: base.Add(3 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	// host-2 sent no window in minute 2.
	if len(byHost) != 1 || byHost[0].Entity != "host-1" {
		t.Fatalf("per host in minute 2: %+v, want host-1 alone", byHost)
	}
}

func TestRollupHoppingWindows(t *testing.T) {
	store := storagetest.New(t)
	storeRollupWindows(t, store)

	// Three-minute windows every minute, per container, starting at
	// minutes 1 to 3.
	got, err := ReadRollup(context.Background(), store, RollupSpec{
		By: ByContainer, Length: 3 * time.Minute, Hop: time.Minute, From: base.Add(time.Minute), To: base.Add(4 * time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 9 {
		t.Fatalf("%d hopping windows, want 9 (3 starts x 3 containers)", len(got))
	}
	var c3 RolledWindow
	for _, w := range got {
		if w.Entity == "c3" && w.Start.Equal(base.Add(time.Minute)) {
			c3 = w
		}
	}
	if c3.Length != 3*time.Minute {
		t.Fatalf("c3's window at minute 1 is missing or has length %s: %+v", c3.Length, got)
	}
	// Minutes 1 and 3 are stored, 2 is not.
	if c3.Windows != 2 {
		t.Errorf("c3 windows = %d, want 2", c3.Windows)
	}
	// 20 + 40 lines.
	if v := c3.Feature(FeatureLogLines); v != 60 {
		t.Errorf("c3 log_lines = %v, want 60", v)
	}
	if v := c3.Feature(FeatureLogLinesPerSec); v != 60.0/180 {
		t.Errorf("c3 log_lines_per_s = %v, want %v", v, 60.0/180)
	}
	// 3 cores in two of three minutes: a mean of 2 over the window.
	if v := c3.Feature(FeatureCPUCores); v != 2 {
		t.Errorf("c3 cpu_cores = %v, want 2", v)
	}
	// source_addresses is the largest count of one minute: 2 + 3.
	if v := c3.Feature(FeatureSourceAddresses); v != 5 {
		t.Errorf("c3 source_addresses = %v, want 5", v)
	}
}

func TestRollupSpecRejectsBadInput(t *testing.T) {
	cases := []struct {
		name string
		spec RollupSpec
		want string
	}{
		{"entity", RollupSpec{By: "pod", Length: time.Minute, Hop: time.Minute, From: base, To: base.Add(time.Hour)}, `"pod"`},
		{"length", RollupSpec{By: ByHost, Length: 90 * time.Second, Hop: time.Minute, From: base, To: base.Add(time.Hour)}, "1m30s"},
		{"hop", RollupSpec{By: ByHost, Length: time.Minute, Hop: 1500 * time.Millisecond, From: base, To: base.Add(time.Hour)}, "1.5s"},
		{"range", RollupSpec{By: ByHost, Length: time.Minute, Hop: time.Minute, From: base, To: base}, "before the end"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := RollupQuery(c.spec)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}
