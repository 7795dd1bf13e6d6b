package models

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestForestBinaryRoundTrip(t *testing.T) {
	X := blob(500, 7, farOutliers)
	variants := map[string]ForestConfig{
		"plain":        {Seed: 3},
		"extend range": {Seed: 3, ExtendRange: true},
		"hyperplanes":  {Seed: 3, Hyperplanes: true},
	}
	for name, cfg := range variants {
		t.Run(name, func(t *testing.T) {
			f, err := Fit(X, cfg)
			if err != nil {
				t.Fatal(err)
			}
			data, err := f.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var g IsolationForest
			if err := g.UnmarshalBinary(data); err != nil {
				t.Fatal(err)
			}
			if g.Threshold() != f.Threshold() || g.Trees() != f.Trees() || g.Dims() != f.Dims() {
				t.Errorf("threshold, trees, dims = %v %d %d, want %v %d %d", g.Threshold(), g.Trees(), g.Dims(), f.Threshold(), f.Trees(), f.Dims())
			}
			for _, x := range probes(f, X) {
				if got, want := g.Score(x), f.Score(x); got != want {
					t.Fatalf("decoded forest scores %v as %v, want %v", x, got, want)
				}
			}
		})
	}
}

func TestForestUnmarshalRejectsDamage(t *testing.T) {
	f, err := Fit(blob(100, 1, nil), ForestConfig{Seed: 1, Trees: 3})
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var g IsolationForest
	if err := g.UnmarshalBinary(data[:len(data)/2]); err == nil {
		t.Error("truncated forest decoded without error")
	}
	if err := g.UnmarshalBinary([]byte("not a forest")); err == nil {
		t.Error("text decoded as a forest without error")
	}
}

// FuzzForestUnmarshal checks that UnmarshalBinary never panics and that a
// forest it accepts scores without panicking.
func FuzzForestUnmarshal(f *testing.F) {
	for _, cfg := range []ForestConfig{{Seed: 1, Trees: 2, Subsample: 16}, {Seed: 1, Trees: 2, Subsample: 16, ExtendRange: true}, {Seed: 1, Trees: 2, Subsample: 16, Hyperplanes: true}} {
		forest, err := Fit(blob(40, 2, nil), cfg)
		if err != nil {
			f.Fatal(err)
		}
		data, err := forest.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var g IsolationForest
		if err := g.UnmarshalBinary(data); err != nil {
			return
		}
		g.Score([]float64{0, 1, -1})
		g.ScoreBatch([][]float64{{0, 0}, {5, 5}}, make([]float64, 2))
	})
}

func TestRegistrySaveListLoad(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenRegistry(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	forest, err := Fit(blob(200, 4, farOutliers), ForestConfig{Seed: 4, ExtendRange: true})
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2024, 10, 10, 12, 0, 0, 0, time.UTC)
	save := func(workload string, i int) ModelInfo {
		t.Helper()
		info := ModelInfo{Workload: workload, CreatedAt: created.Add(time.Duration(i) * time.Minute), TrainingWindows: 200 + i,
			Threshold: forest.Threshold(), Features: []string{"x", "y"}}
		info.Version = forestVersion(info)
		if err := r.Save(info, forest); err != nil {
			t.Fatal(err)
		}
		return info
	}
	web := []ModelInfo{save("image=web", 0), save("image=web", 1), save("image=web", 2)}
	fleetModel := save(FleetWorkload, 3)

	infos, err := ListModels(dir)
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, m := range infos {
		versions = append(versions, m.Version)
	}
	want := []string{fleetModel.Version, web[1].Version, web[2].Version}
	if len(versions) != len(want) {
		t.Fatalf("listed %q, want %q (fleet first, the two newest of image=web)", versions, want)
	}
	for i := range want {
		if versions[i] != want[i] {
			t.Errorf("model %d = %s, want %s", i, versions[i], want[i])
		}
	}
	for _, ext := range []string{".json", ".forest"} {
		if _, err := os.Stat(filepath.Join(dir, web[0].Version+ext)); !os.IsNotExist(err) {
			t.Errorf("oldest version's %s file still present (err %v)", ext, err)
		}
	}

	info, loaded, err := LoadModel(dir, web[2].Version)
	if err != nil {
		t.Fatal(err)
	}
	if info.TrainingWindows != 202 || info.Workload != "image=web" {
		t.Errorf("loaded metadata windows, workload = %d %q", info.TrainingWindows, info.Workload)
	}
	if got, want := loaded.Score([]float64{8, 8}), forest.Score([]float64{8, 8}); got != want {
		t.Errorf("loaded model scores %v, want %v", got, want)
	}

	reopened, err := OpenRegistry(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	save2 := ModelInfo{Workload: "image=web", CreatedAt: created.Add(time.Hour), TrainingWindows: 999}
	save2.Version = forestVersion(save2)
	if err := reopened.Save(save2, forest); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, web[1].Version+".json")); !os.IsNotExist(err) {
		t.Errorf("reopened registry kept more than 2 versions of image=web (err %v)", err)
	}
}

func TestLoadModelRejectsPathInVersion(t *testing.T) {
	if _, _, err := LoadModel(t.TempDir(), "../etc/passwd"); err == nil {
		t.Error("version with a path loaded without error")
	}
}
