package models

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/features"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestWorkloadKey(t *testing.T) {
	tests := []struct {
		name              string
		namespace, pod    string
		labels            map[string]string
		imageRef, imageID string
		want              string
	}{
		{"recommended label", "shop", "cart-7d9f8b6c5-x2k4q", map[string]string{"app.kubernetes.io/name": "cart", "app": "old"}, "cart:1.2", "sha256:a", "shop/app.kubernetes.io/name=cart"},
		{"app label without namespace", "", "", map[string]string{"app": "web"}, "web:1", "", "app=web"},
		{"deployment pod with hash label", "shop", "cart-7d9f8b6c5-x2k4q", map[string]string{"pod-template-hash": "7d9f8b6c5"}, "cart:1.2", "", "shop/pod-owner=cart"},
		{"deployment pod without hash label", "shop", "cart-7d9f8b6c5-x2k4q", nil, "cart:1.2", "", "shop/pod-owner=cart-7d9f8b6c5"},
		{"statefulset pod", "db", "postgres-2", nil, "postgres:16", "", "db/pod-owner=postgres"},
		{"bare pod", "default", "debug", nil, "busybox", "", "default/pod-owner=debug"},
		{"image with tag and digest", "", "", nil, "registry.example:5000/team/app:1.2@sha256:abc", "sha256:def", "image=registry.example:5000/team/app"},
		{"image with registry port only", "", "", nil, "registry.example:5000/app", "", "image=registry.example:5000/app"},
		{"image id only", "", "", nil, "", "sha256:def", "image=sha256:def"},
		{"nothing", "", "", nil, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := WorkloadKey(tt.namespace, tt.pod, tt.labels, tt.imageRef, tt.imageID, DefaultWorkloadLabels)
			if got != tt.want {
				t.Errorf("WorkloadKey = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzWorkloadKey checks that any pod name and image reference give a key
// without panicking, and that a pod or image always gives one.
func FuzzWorkloadKey(f *testing.F) {
	f.Add("shop", "cart-7d9f8b6c5-x2k4q", "7d9f8b6c5", "registry.example:5000/team/app:1.2@sha256:abc", "sha256:def")
	f.Add("", "", "", "nginx", "")
	f.Add("db", "postgres-0", "", "", "")
	f.Add("", "", "", "@:/", "")
	f.Fuzz(func(t *testing.T, namespace, pod, hash, imageRef, imageID string) {
		key := WorkloadKey(namespace, pod, map[string]string{labelPodTemplateHash: hash}, imageRef, imageID, DefaultWorkloadLabels)
		if key == "" && (pod != "" || imageID != "") {
			t.Errorf("empty key for pod %q, image id %q", pod, imageID)
		}
	})
}

func TestContainerInfoFromDockerLabels(t *testing.T) {
	info := containerInfoFrom(record.Container{ContainerID: "c1", Labels: map[string]string{
		labelPodNamespace: "shop", labelPodName: "cart-0",
	}})
	if info.namespace != "shop" || info.pod != "cart-0" {
		t.Errorf("namespace, pod = %q %q, want shop cart-0", info.namespace, info.pod)
	}
}

func trainingWindow(start time.Time, imageID string, v float64) features.Window {
	return features.Window{ContainerID: "c1", ImageID: imageID, Start: start, Size: time.Minute,
		Values: []float64{v, 0, 1e6, 10, 0, 0}}
}

func TestTrainingSetKeepsMaxWindows(t *testing.T) {
	set := newTrainingSet("", historyLimit{MaxWindows: 50})
	for i := range 200 {
		set.add(trainingWindow(fleetStart.Add(time.Duration(i)*time.Minute), "", float64(i)), []float64{float64(i)})
	}
	if set.len() != 50 {
		t.Fatalf("len = %d, want 50", set.len())
	}
	if got := set.samples[0].scaled[0]; got != 150 {
		t.Errorf("oldest window %v, want 150", got)
	}
	if got := len(set.byID["c1"].rows); got != 200 {
		t.Errorf("container rows = %d, want all 200 (below maxContainerRows)", got)
	}
}

func TestTrainingSetDropsOldWindows(t *testing.T) {
	set := newTrainingSet("", historyLimit{MaxAge: 10 * time.Minute})
	for i := range 30 {
		set.add(trainingWindow(fleetStart.Add(time.Duration(i)*time.Minute), "", 1), []float64{float64(i)})
	}
	// The newest window ends at minute 30, so windows ending before minute
	// 20 leave: starts 0 to 18.
	if set.len() != 11 {
		t.Fatalf("len = %d, want 11", set.len())
	}
	if got := set.samples[0].start; !got.Equal(fleetStart.Add(19 * time.Minute)) {
		t.Errorf("oldest window starts %v, want minute 19", got)
	}

	set.byID["gone"] = &containerHistory{rows: [][]float64{{1}}, last: fleetStart}
	set.pruneContainers(fleetStart.Add(30 * time.Minute))
	if _, ok := set.byID["gone"]; ok {
		t.Error("container idle for 30 minutes kept, want it pruned after 10")
	}
	if _, ok := set.byID["c1"]; !ok {
		t.Error("active container pruned")
	}
}

func TestTrainingSetFitReason(t *testing.T) {
	set := newTrainingSet("image=app", historyLimit{})
	at := func(i int) time.Time { return fleetStart.Add(time.Duration(i) * time.Minute) }
	for i := range 40 {
		set.add(trainingWindow(at(i), "sha256:v1", float64(i%7)), []float64{float64(i % 7)})
	}
	if got := set.fitReason(at(40), refitGrowth, time.Hour); got != reasonFirst {
		t.Fatalf("reason = %q, want %q", got, reasonFirst)
	}
	if err := set.fit(ForestConfig{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if got := set.fitReason(at(41), refitGrowth, time.Hour); got != "" {
		t.Errorf("reason right after a fit = %q, want none", got)
	}
	if got := set.fitReason(at(100), refitGrowth, time.Hour); got != reasonScheduled {
		t.Errorf("reason an hour later = %q, want %q", got, reasonScheduled)
	}

	for i := 40; i < 40+minContainerBaseline-1; i++ {
		set.add(trainingWindow(at(i), "sha256:v2", 1), []float64{1})
	}
	if got := set.fitReason(at(49), refitGrowth, time.Hour); got != "" {
		t.Errorf("reason after %d windows of a new image = %q, want none", minContainerBaseline-1, got)
	}
	set.add(trainingWindow(at(49), "sha256:v2", 1), []float64{1})
	if got := set.fitReason(at(50), refitGrowth, time.Hour); got != reasonImage {
		t.Errorf("reason after %d windows of a new image = %q, want %q", minContainerBaseline, got, reasonImage)
	}
	if err := set.fit(ForestConfig{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if set.imageID != "sha256:v2" || set.newImageID != "" {
		t.Errorf("image, new image after the fit = %q %q, want sha256:v2 and none", set.imageID, set.newImageID)
	}
}

// withImageChange returns msgs with an inventory record inserted at
// minute m that moves container c to image imageID under the same image
// reference.
func withImageChange(t *testing.T, msgs []kafka.Message, c fleetContainer, m int, imageID string) []kafka.Message {
	t.Helper()
	ns := fleetStart.Add(time.Duration(m) * time.Minute).UnixNano()
	value, err := record.Encode(record.KindContainer, "inv2-"+c.id, "host-1", "synthetic", ns, record.Container{
		TimeNs: ns, ContainerID: c.id, Name: c.name, Runtime: "docker", ImageRef: c.name + ":latest", ImageID: imageID, Running: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	msg := kafka.Message{Topic: record.TopicFor(record.KindContainer), Key: []byte(c.id), Value: value}
	at := slices.IndexFunc(msgs, func(m kafka.Message) bool {
		env, err := record.Decode(m.Value)
		return err == nil && env.CollectedNs >= ns
	})
	return slices.Insert(slices.Clone(msgs), at, msg)
}

func TestScorerWorkloadModels(t *testing.T) {
	store := storagetest.New(t)
	ctx := context.Background()
	out := &memoryEmitter{}
	registry, err := OpenRegistry(t.TempDir(), 100)
	if err != nil {
		t.Fatal(err)
	}
	s := NewScorer(ScorerConfig{Seed: 1, Baselines: BaselineConfig{MinWorkloadWindows: 30, Registry: registry}}, store, out, nil)
	feed(t, s, fleetMessages(t, 60, 3), 500)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	st := s.Stats()
	if st.WorkloadModels != 5 {
		t.Errorf("WorkloadModels = %d, want 5", st.WorkloadModels)
	}
	sshd := fleet[2]
	alerts := out.alerts(t)
	checkIncidentAlerts(t, alerts, sshd.id, fleetStart, incidentFirst, incidentLast)
	models, err := ListModels(registry.Dir())
	if err != nil {
		t.Fatal(err)
	}
	byVersion := map[string]ModelInfo{}
	for _, m := range models {
		byVersion[m.Version] = m
	}
	for _, a := range alerts {
		if strings.Contains(a.Summary, "fleet model") {
			t.Errorf("summary = %q, want no fleet-model note", a.Summary)
		}
		if got := byVersion[a.ModelVersion].Workload; got != "image=sshd" {
			t.Errorf("alert model %q has workload %q in the registry, want image=sshd", a.ModelVersion, got)
		}
	}

	_, rows, err := store.Query(ctx, "SELECT workload, baseline, count(), uniqExact(model_version), countIf(model_version = '') FROM scores WHERE container_id = ? GROUP BY workload, baseline ORDER BY baseline", sshd.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("sshd score rows by baseline = %v, want fleet and workload", rows)
	}
	for _, row := range rows {
		if row[0] != "image=sshd" {
			t.Errorf("workload = %v, want image=sshd", row[0])
		}
		if row[4].(uint64) != 0 {
			t.Errorf("%v score rows without a model version", row[4])
		}
	}
	// sshd's windows 0 to 29 train only; 30 to 44 are scored while its own
	// model is still missing, because the fleet model starts scoring at its
	// 30th window overall (minute 6).
	if row := rows[0]; row[1] != "fleet" || row[2].(uint64) != 24 {
		t.Errorf("fleet-scored sshd rows = %v, want 24 (minutes 6 to 29)", row)
	}
	if row := rows[1]; row[1] != "workload" || row[2].(uint64) != 29 {
		t.Errorf("workload-scored sshd rows = %v, want 29 (minutes 30 to 58)", row)
	}

	for _, m := range models {
		if m.TrainingWindows == 0 || !m.TrainingTo.After(m.TrainingFrom) || m.Threshold <= 0 || len(m.Features) != 12 {
			t.Errorf("model %s: windows %d, range %v to %v, threshold %v, %d features", m.Version, m.TrainingWindows,
				m.TrainingFrom, m.TrainingTo, m.Threshold, len(m.Features))
		}
	}
}

func TestScorerRefitsOnImageChange(t *testing.T) {
	registry, err := OpenRegistry(t.TempDir(), 100)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ScorerConfig{Seed: 1, Baselines: BaselineConfig{MinWorkloadWindows: 15, RetrainInterval: 24 * time.Hour, Registry: registry}}
	s := NewScorer(cfg, nil, nil, nil)
	web := fleet[0]
	feed(t, s, withImageChange(t, fleetMessages(t, 60, 5), web, 30, "sha256:web-v2"), 500)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	models, err := ListModels(registry.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var image *ModelInfo
	for i, m := range models {
		if m.Workload == "image=web" && m.Reason == reasonImage {
			image = &models[i]
			break
		}
	}
	if image == nil {
		t.Fatalf("no model of workload image=web fitted for an image change among %d models", len(models))
	}
	if !slices.Equal(image.ImageIDs, []string{web.image, "sha256:web-v2"}) {
		t.Errorf("image ids = %q, want the old and new digest", image.ImageIDs)
	}
	// The inventory record arrives while the window of minute 29 is still
	// open, and a window takes the image its container has when it closes.
	// So windows 29 onwards carry the new digest, and the refit comes after
	// the 10th of them.
	if want := fleetStart.Add(39 * time.Minute); !image.TrainingTo.Equal(want) {
		t.Errorf("training ends %v, want %v", image.TrainingTo, want)
	}
}

func TestScorerLoadsInventoryFromClickHouse(t *testing.T) {
	store := storagetest.New(t)
	ctx := context.Background()
	seen := time.Date(2024, 10, 10, 12, 0, 0, 0, time.UTC)
	cols := []string{"container_id", "name", "namespace", "pod", "labels", "image_ref", "image_id", "seen_at", "record_id"}
	rows := [][]any{
		{"c-labelled", "sshd", "", "", `{"app":"sshd"}`, "sshd:latest", "sha256:sshd", seen, "r1"},
		{"c-pod", "cart", "shop", "cart-0", `{}`, "cart:1", "sha256:cart", seen, "r2"},
		{"c-bad-labels", "web", "", "", `not json`, "web:2", "sha256:web", seen, "r3"},
	}
	if err := store.Insert(ctx, "containers", cols, rows); err != nil {
		t.Fatal(err)
	}

	s := NewScorer(ScorerConfig{}, store, nil, nil)
	if err := s.loadInventory(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"c-labelled": "app=sshd", "c-pod": "shop/pod-owner=cart", "c-bad-labels": "image=web"}
	for id, key := range want {
		if got := s.workloadOf(features.Window{ContainerID: id}); got != key {
			t.Errorf("workload of %s = %q, want %q", id, got, key)
		}
	}
}

func TestScorerReloadsTrainingHistory(t *testing.T) {
	store := storagetest.New(t)
	ctx := context.Background()
	first := NewScorer(ScorerConfig{Seed: 1}, store, nil, nil)
	feed(t, first, fleetMessages(t, 60, 3), 500)
	if err := first.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := first.train.len(); got != 290 {
		t.Fatalf("first scorer's training windows = %d, want 290 (300 minus 5 partial and 5 anomalous)", got)
	}

	// The normalizer stores the inventory records; this test has none.
	var inventory [][]any
	for _, c := range fleet {
		inventory = append(inventory, []any{c.id, c.name, `{}`, c.name + ":latest", c.image, fleetStart, "inv-" + c.id})
	}
	if err := store.Insert(ctx, "containers", []string{"container_id", "name", "labels", "image_ref", "image_id", "seen_at", "record_id"}, inventory); err != nil {
		t.Fatal(err)
	}

	second := NewScorer(ScorerConfig{Seed: 1}, store, nil, nil)
	if err := second.loadInventory(ctx); err != nil {
		t.Fatal(err)
	}
	if err := second.loadHistory(ctx); err != nil {
		t.Fatal(err)
	}
	// The features table keeps the 5 partial windows but not which they are.
	if got := second.train.len(); got != 295 {
		t.Errorf("reloaded training windows = %d, want 295", got)
	}
	if got := len(second.workloads); got != 5 {
		t.Errorf("reloaded workloads = %d, want 5", got)
	}
	if sshd := second.workloads["image=sshd"]; sshd == nil {
		t.Errorf("no workload image=sshd among %d reloaded workloads", len(second.workloads))
	} else if got := sshd.len(); got != 55 {
		t.Errorf("reloaded sshd windows = %d, want 55 (60 minus the 5 anomalous)", got)
	}
	for i := 1; i < second.train.len(); i++ {
		if second.train.samples[i].start.Before(second.train.samples[i-1].start) {
			t.Fatalf("reloaded window %d starts before window %d", i, i-1)
		}
	}

	limited := NewScorer(ScorerConfig{Seed: 1, Baselines: BaselineConfig{History: 10 * time.Minute}}, store, nil, nil)
	if err := limited.loadHistory(ctx); err != nil {
		t.Fatal(err)
	}
	// The newest window starts at minute 59, so windows starting at minute
	// 49 or later come back, 11 per container, minus sshd's anomalous 49.
	if got := limited.train.len(); got != 54 {
		t.Errorf("training windows within 10 minutes = %d, want 54", got)
	}
}
