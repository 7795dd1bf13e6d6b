package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestAlertsPlotWritesPNG(t *testing.T) {
	store := storagetest.New(t)
	ctx := context.Background()
	const containerID = "5d5d5d5d0000111122223333444455556666777788889999aaaabbbbccccdddd"
	at := time.Date(2026, 11, 30, 10, 45, 0, 0, time.UTC)

	err := store.Insert(ctx, "alerts",
		[]string{"alert_id", "fingerprint", "raised_at", "raised_ns", "event_at", "event_ns", "source", "name", "severity", "container_id", "container_name", "score", "threshold"},
		[][]any{{"alert-1", "fp-1", at, at.UnixNano(), at, at.UnixNano(), "model", "isolation-forest", "high", containerID, "sshd", 0.71, 0.62}})
	if err != nil {
		t.Fatal(err)
	}
	var features, scores [][]any
	for i := -5; i <= 5; i++ {
		w := at.Add(time.Duration(i) * time.Minute)
		lines, score := 20.0, 0.4
		if i == 0 {
			lines, score = 312, 0.71
		}
		features = append(features, []any{containerID, w, 0.05, 0.0, 4.2e7, lines, lines / 10, 0.0})
		scores = append(scores, []any{containerID, w, "isolation-forest", score, 0.62})
	}
	err = store.Insert(ctx, "features", []string{"container_id", "window_start", "cpu_cores", "cpu_throttled_ratio",
		"memory_working_set_bytes", "log_lines", "error_lines", "new_shapes"}, features)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Insert(ctx, "scores", []string{"container_id", "window_start", "model", "score", "threshold"}, scores); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "alert.png")
	var stdout, stderr bytes.Buffer
	code := mainWithArgs([]string{"alerts", "--clickhouse.addr", store.Addr(), "--clickhouse.database", store.Database(),
		"plot", "alert-1", "--out", out, "--margin", "5m", "--width", "800", "--height", "1000"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "11 feature windows and 11 scores") {
		t.Errorf("output %q, expected the series sizes", stdout.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s does not decode as PNG: %v", out, err)
	}
	if size := img.Bounds().Size(); size.X != 800 || size.Y != 1000 {
		t.Errorf("image size %dx%d, expected 800x1000", size.X, size.Y)
	}

	stderr.Reset()
	code = mainWithArgs([]string{"alerts", "--clickhouse.addr", store.Addr(), "--clickhouse.database", store.Database(),
		"plot", "no-such-alert", "--out", out}, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), `no alert with id "no-such-alert"`) {
		t.Errorf("exit %d, stderr %q: expected a not-found error", code, stderr.String())
	}
}

func TestAlertsSilenceAddListExpire(t *testing.T) {
	store := storagetest.New(t)
	base := []string{"alerts", "--clickhouse.addr", store.Addr(), "--clickhouse.database", store.Database(), "silence"}
	run := func(args ...string) (string, string, int) {
		var stdout, stderr bytes.Buffer
		code := mainWithArgs(append(append([]string{}, base...), args...), &stdout, &stderr)
		return stdout.String(), stderr.String(), code
	}

	out, errOut, code := run("--match", "alertname=image-age", "--match", "severity=low", "--for", "2h", "--comment", "rebuild scheduled", "--by", "oncall")
	if code != 0 {
		t.Fatalf("add: exit %d: %s", code, errOut)
	}
	fields := strings.Fields(out)
	if len(fields) < 3 || fields[0] != "Added" || fields[1] != "silence" {
		t.Fatalf("add printed %q, expected 'Added silence ID until ...'", out)
	}
	id := fields[2]

	out, errOut, code = run("--list")
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, errOut)
	}
	for _, want := range []string{id, "[alertname=image-age severity=low]", `by "oncall": rebuild scheduled`, "1 silences"} {
		if !strings.Contains(out, want) {
			t.Errorf("list output %q lacks %q", out, want)
		}
	}

	if _, errOut, code = run("--expire", id); code != 0 {
		t.Fatalf("expire: exit %d: %s", code, errOut)
	}
	if out, _, _ = run("--list"); !strings.Contains(out, "0 silences") {
		t.Errorf("list after expiring printed %q, expected no silences", out)
	}

	if _, errOut, code = run("--match", "alertname", "--for", "1h"); code == 0 || !strings.Contains(errOut, `invalid matcher "alertname"`) {
		t.Errorf("exit %d, stderr %q: expected an invalid matcher error", code, errOut)
	}
	if _, errOut, code = run("--match", "a=b"); code == 0 || !strings.Contains(errOut, "invalid --for value") {
		t.Errorf("exit %d, stderr %q: expected a missing duration error", code, errOut)
	}
}
