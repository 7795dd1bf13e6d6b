package models

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/features"
	"github.com/harrierhq/harrier/internal/record"
)

// updateWindowsEnv, set to 1, makes the test rewrite demoWindowsFile.
const updateWindowsEnv = "HARRIER_UPDATE_DEMO_WINDOWS"

// demoWindowsFile holds the feature windows of the demo bundle before its
// attack; the autoencoder tests of models/onnx train on them.
const demoWindowsFile = "onnx/testdata/demo_windows.csv"

func TestDemoWindowsForAutoencoder(t *testing.T) {
	if os.Getenv(updateWindowsEnv) != "1" {
		if _, err := os.Stat(demoWindowsFile); err != nil {
			t.Fatalf("%v; run %s=1 go test ./models -run DemoWindows", err, updateWindowsEnv)
		}
		t.Skip("set " + updateWindowsEnv + "=1 to rewrite " + demoWindowsFile)
	}

	manifest, msgs := collectDemo(t)
	w := features.NewWindower(features.WindowConfig{})
	var windows []features.Window
	for _, m := range msgs {
		env, err := record.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		closed, err := w.AddEnvelope(env)
		if err != nil {
			t.Fatal(err)
		}
		windows = append(windows, closed...)
	}

	var b strings.Builder
	b.WriteString(strings.Join(features.FeatureNames, ",") + "\n")
	rows := 0
	for _, win := range windows {
		if !win.Start.Before(manifest.Incident.From) {
			continue
		}
		for i, v := range win.Values {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%g", v)
		}
		b.WriteByte('\n')
		rows++
	}
	if rows < 50 {
		t.Fatalf("only %d windows before the attack", rows)
	}
	if err := os.WriteFile(demoWindowsFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d windows to %s", rows, demoWindowsFile)
}
