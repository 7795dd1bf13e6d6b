package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestAlertsSendRoutesFile(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		calls.Add(1)
	}))
	defer srv.Close()
	dir := t.TempDir()
	config := filepath.Join(dir, "routing.yaml")
	alerts := filepath.Join(dir, "alerts.jsonl")
	os.WriteFile(config, []byte("route: {receiver: team, group_by: [alertname]}\nreceivers: [{name: team, webhook: {url: '"+srv.URL+"/hook'}}]\n"), 0o600)
	line := `{"source":"rule","name":"root-user","severity":"high","container_id":"abc","summary":"runs as root"}` + "\n"
	other := `{"source":"model","name":"isolation-forest","severity":"high","container_id":"def","score":0.7,"threshold":0.6}` + "\n"
	os.WriteFile(alerts, []byte(strings.Repeat(line, 50)+other), 0o600)

	var stdout, stderr bytes.Buffer
	code := mainWithArgs([]string{"alerts", "send", "--config", config, "--alerts", alerts}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "51 alerts read, 2 distinct, 2 notifications") {
		t.Errorf("output = %q, expected 51 read, 2 distinct, 2 notifications", stdout.String())
	}
	if calls.Load() != 2 {
		t.Errorf("webhook calls = %d, expected one per group (2)", calls.Load())
	}
}

func TestAlertsSendRejectsBadLine(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "routing.yaml")
	alerts := filepath.Join(dir, "alerts.jsonl")
	os.WriteFile(config, []byte("route: {receiver: team}\nreceivers: [{name: team, webhook: {url: 'http://127.0.0.1:1/x'}}]\n"), 0o600)
	os.WriteFile(alerts, []byte(`{"source":"other","name":"x"}`+"\n"), 0o600)
	var stdout, stderr bytes.Buffer
	code := mainWithArgs([]string{"alerts", "send", "--config", config, "--alerts", alerts}, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), `alerts.jsonl:1: invalid alert field source="other"`) {
		t.Errorf("exit code %d, stderr %q, expected an error naming line 1 and the source", code, stderr.String())
	}
}
