package onnx

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/harrierhq/harrier/features"
	"github.com/harrierhq/harrier/models"
)

const (
	shippedModel = "testdata/autoencoder.onnx"
	// updateEnv, set to 1, makes TestShippedAutoencoderReproducible rewrite
	// shippedModel and referenceInputs.
	updateEnv       = "HARRIER_UPDATE_AUTOENCODER"
	referenceInputs = "testdata/reference_inputs.csv"
	// ortReference is the output of scripts/reference/onnx_reference.py on
	// shippedModel and referenceInputs.
	ortReference = "testdata/onnxruntime_reference.json"
)

var shippedMapping = Mapping{Features: features.FeatureNames, Log1p: true, Output: OutputScore}

// readWindows reads a CSV with a header of feature names and one row of
// raw feature values per line.
func readWindows(t *testing.T, path string) [][]float64 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	// ReadLabeledCSV wants f0..fN,label, so rename the header and add a
	// label column.
	var b strings.Builder
	for i := range len(strings.Split(lines[0], ",")) {
		b.WriteString("f" + string(rune('0'+i)) + ",")
	}
	b.WriteString("label\n")
	for _, l := range lines[1:] {
		b.WriteString(l + ",0\n")
	}
	X, _, err := models.ReadLabeledCSV(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return X
}

func log1pRows(X [][]float64) [][]float64 {
	out := make([][]float64, len(X))
	for i, row := range X {
		out[i] = make([]float64, len(row))
		for j, v := range row {
			out[i][j] = math.Log1p(math.Max(v, 0))
		}
	}
	return out
}

func trainShipped(t *testing.T) *Autoencoder {
	t.Helper()
	X := readWindows(t, "testdata/demo_windows.csv")
	a, err := TrainAutoencoder(log1pRows(X), AutoencoderConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestShippedAutoencoderReproducible(t *testing.T) {
	a := trainShipped(t)
	data, err := a.ExportONNX()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv(updateEnv) == "1" {
		if err := os.WriteFile(shippedModel, data, 0o644); err != nil {
			t.Fatal(err)
		}
		writeReferenceInputs(t)
		t.Skipf("rewrote %s and %s; now run scripts/reference/onnx_reference.py", shippedModel, referenceInputs)
	}
	shipped, err := os.ReadFile(shippedModel)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, shipped) {
		t.Errorf("training on testdata/demo_windows.csv gave a model that differs from %s; rerun with %s=1 if the change is intended", shippedModel, updateEnv)
	}
}

// writeReferenceInputs writes the first 20 demo windows and 5 rows far
// from them.
func writeReferenceInputs(t *testing.T) {
	X := readWindows(t, "testdata/demo_windows.csv")[:20]
	X = append(X,
		[]float64{4, 0.5, 8e9, 13, 4, 13},
		[]float64{0, 0, 0, 5000, 4000, 300},
		[]float64{0, 0, 0, 0, 0, 0},
		[]float64{1.5, 0, 2e8, 16, 4, 15},
		[]float64{0.01, 0.9, 1e6, 1, 1, 1},
	)
	var b strings.Builder
	b.WriteString(strings.Join(features.FeatureNames, ",") + "\n")
	for _, row := range X {
		for j, v := range row {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(formatFloat(v))
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(referenceInputs, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func formatFloat(v float64) string {
	out, _ := json.Marshal(v)
	return string(out)
}

func loadShipped(t *testing.T) *Model {
	t.Helper()
	m, err := LoadFile(shippedModel, features.FeatureNames, shippedMapping)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAutoencoderGonnxMatchesGo(t *testing.T) {
	a := trainShipped(t)
	m := loadShipped(t)
	X := readWindows(t, referenceInputs)
	got, err := m.Score(X)
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range log1pRows(X) {
		want := a.Score(row)
		// The graph runs in float32, Go in float64.
		if math.Abs(got[i]-want) > 1e-4*math.Max(1, want) {
			t.Errorf("row %d: gonnx %v, Go %v", i, got[i], want)
		}
	}
	// The rows far from the demo windows reconstruct worst.
	if got[len(got)-4] < 10*got[0] {
		t.Errorf("far row scored %v, demo row %v: want at least 10 times higher", got[len(got)-4], got[0])
	}
}

// ortOutput is the output of scripts/reference/onnx_reference.py.
type ortOutput struct {
	Checker        string      `json:"checker"`
	OnnxVersion    string      `json:"onnx_version"`
	Score          [][]float64 `json:"score"`
	Reconstruction [][]float64 `json:"reconstruction"`
}

func readORTReference(t *testing.T) ortOutput {
	t.Helper()
	raw, err := os.ReadFile(ortReference)
	if err != nil {
		t.Fatal(err)
	}
	var ref ortOutput
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatalf("%s: %v", ortReference, err)
	}
	return ref
}

func TestShippedAutoencoderPassesONNXChecker(t *testing.T) {
	ref := readORTReference(t)
	if ref.Checker != "ok" {
		t.Errorf("onnx %s checker: %q, want ok", ref.OnnxVersion, ref.Checker)
	}
}

func TestAutoencoderGonnxMatchesOnnxruntime(t *testing.T) {
	ref := readORTReference(t)
	X := readWindows(t, referenceInputs)
	if len(ref.Score) != len(X) || len(ref.Reconstruction) != len(X) {
		t.Fatalf("%s has %d scores and %d reconstructions for %d inputs; regenerate it", ortReference, len(ref.Score), len(ref.Reconstruction), len(X))
	}
	m := loadShipped(t)
	got, err := m.Score(X)
	if err != nil {
		t.Fatal(err)
	}
	outputs, err := m.run(X)
	if err != nil {
		t.Fatal(err)
	}
	recon, ok := outputs[OutputReconstruction].Data().([]float32)
	if !ok {
		t.Fatalf("output %s has type %T, want []float32", OutputReconstruction, outputs[OutputReconstruction].Data())
	}
	for i := range X {
		if want := ref.Score[i][0]; math.Abs(got[i]-want) > 1e-5*math.Max(1, want) {
			t.Errorf("row %d score: gonnx %v, onnxruntime %v", i, got[i], want)
		}
		for j, want := range ref.Reconstruction[i] {
			if v := float64(recon[i*len(features.FeatureNames)+j]); math.Abs(v-want) > 1e-5*math.Max(1, math.Abs(want)) {
				t.Errorf("row %d reconstruction %d: gonnx %v, onnxruntime %v", i, j, v, want)
			}
		}
	}
}

func TestModelConcurrentScore(t *testing.T) {
	m := loadShipped(t)
	X := readWindows(t, referenceInputs)
	want, err := m.Score(X)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				got, err := m.Score(X)
				if err != nil {
					t.Error(err)
					return
				}
				for i := range got {
					if got[i] != want[i] {
						t.Errorf("concurrent Score row %d = %v, want %v", i, got[i], want[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
