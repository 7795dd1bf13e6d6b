package alerting

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"testing"
	"time"

	"github.com/harrierhq/harrier/storage"
	"github.com/harrierhq/harrier/storage/storagetest"
)

// insertDemoSeries stores an hour of one-minute feature and score windows
// for sshd, whose log lines and score jump in the three windows from
// incident on, as in the demo's failed-login burst.
func insertDemoSeries(t *testing.T, store *storage.Store, incident time.Time) {
	t.Helper()
	featureColumns := []string{"container_id", "host_id", "image_id", "window_start", "window_ns", "window_s",
		"cpu_cores", "cpu_throttled_ratio", "memory_working_set_bytes", "log_lines", "error_lines", "new_shapes", "computed_at"}
	scoreColumns := []string{"container_id", "host_id", "image_id", "window_start", "model", "score", "threshold", "anomalous", "explanation", "scored_at"}
	var features, scores [][]any
	start := incident.Add(-30 * time.Minute)
	for i := range 60 {
		at := start.Add(time.Duration(i) * time.Minute)
		lines, score := 20.0+float64(i%3), 0.42+0.01*float64(i%4)
		if !at.Before(incident) && at.Before(incident.Add(3*time.Minute)) {
			lines, score = 312, 0.71
		}
		features = append(features, []any{sshdID, hostID, imageWeb, at, at.UnixNano(), uint32(60),
			0.05, 0.0, 4.2e7, lines, lines / 10, 0.0, at.Add(time.Minute)})
		scores = append(scores, []any{sshdID, hostID, imageWeb, at, "isolation-forest", score, 0.62, uint8(0), "", at.Add(time.Minute)})
	}
	ctx := context.Background()
	if err := store.Insert(ctx, "features", featureColumns, features); err != nil {
		t.Fatal(err)
	}
	if err := store.Insert(ctx, "scores", scoreColumns, scores); err != nil {
		t.Fatal(err)
	}
}

func TestPlotRendersAlertWindow(t *testing.T) {
	store := storagetest.New(t)
	insertSSHD(t, store)
	incident := time.Date(2026, 11, 30, 10, 45, 0, 0, time.UTC)
	insertDemoSeries(t, store, incident)

	a, _ := newAlerter(t, store, Config{Clock: func() time.Time { return incident.Add(2 * time.Minute) }})
	alert := candidate{}
	alert.TimeNs = incident.UnixNano()
	alert.Source, alert.Name, alert.Severity = "model", "isolation-forest", "high"
	alert.ContainerID, alert.Score, alert.Threshold = sshdID, 0.71, 0.62
	alert.Fingerprint = "fp-sshd"
	if err := a.raise(context.Background(), []candidate{alert}); err != nil {
		t.Fatal(err)
	}
	_, rows, err := store.Query(context.Background(), "SELECT alert_id FROM alerts")
	if err != nil || len(rows) != 1 {
		t.Fatalf("alerts %v, err %v: expected one alert", rows, err)
	}
	alertID := rows[0][0].(string)

	data, err := LoadPlotData(context.Background(), store, alertID, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !data.WindowStart.Equal(incident) || !data.WindowEnd.Equal(incident.Add(DefaultModelWindow)) {
		t.Errorf("window %s to %s, expected %s plus one model window", data.WindowStart, data.WindowEnd, incident)
	}
	if len(data.Times) != 22 {
		t.Errorf("%d feature windows, expected 22 (10:35 to 10:56, both included)", len(data.Times))
	}
	if len(data.Scores) != 22 {
		t.Errorf("%d scores, expected 22", len(data.Scores))
	}
	if got := data.Thresholds[0]; got != 0.62 {
		t.Errorf("threshold %v, expected 0.62", got)
	}

	image, err := RenderPlot(data, 900, 1200)
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("HARRIER_PLOT_DIR"); dir != "" {
		_ = os.WriteFile(dir+"/alert.png", image, 0o600)
	}
	decoded, err := png.Decode(bytes.NewReader(image))
	if err != nil {
		t.Fatalf("plot does not decode as PNG: %v", err)
	}
	if size := decoded.Bounds().Size(); size.X != 900 || size.Y != 1200 {
		t.Errorf("plot size %dx%d, expected 900x1200", size.X, size.Y)
	}
}

func TestPlotUnknownAlert(t *testing.T) {
	store := storagetest.New(t)
	_, err := LoadPlotData(context.Background(), store, "no-such-alert", time.Minute)
	if !errors.Is(err, ErrAlertNotFound) {
		t.Errorf("error %v, expected ErrAlertNotFound", err)
	}
}

func TestRenderPlotRejectsSize(t *testing.T) {
	if _, err := RenderPlot(PlotData{}, 10, 10); err == nil {
		t.Error("expected an error for a 10x10 plot")
	}
}
