package scanpush

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/harrierhq/harrier/collectors/scan"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
)

const testToken = "s3cret-push-token-0123456789"

// sampleDir holds real and hand-built reports of the four formats.
const sampleDir = "../scan/testdata"

// recordingEmitter keeps what the handler writes. The spool and Kafka
// delivery behind it are tested in the spool package.
type recordingEmitter struct {
	mu   sync.Mutex
	msgs []kafka.Message
	err  error
}

func (e *recordingEmitter) Write(_ context.Context, msgs ...kafka.Message) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return e.err
	}
	e.msgs = append(e.msgs, msgs...)
	return nil
}

func newServer(t *testing.T, cfg Config, out Emitter, logs *bytes.Buffer) (*httptest.Server, *Handler) {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h, err := New(cfg, out, logger)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, h
}

func post(t *testing.T, url, token string, body []byte) (int, response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out response
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode response of status %d: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

func TestPushAcceptsEveryFormat(t *testing.T) {
	out := &recordingEmitter{}
	srv, h := newServer(t, Config{HostID: "host-1"}, out, nil)

	files, err := filepath.Glob(filepath.Join(sampleDir, "*.json"))
	if err != nil || len(files) < 4 {
		t.Fatalf("sample reports = %v, %v", files, err)
	}
	formats := map[string]bool{}
	for _, file := range files {
		body, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		want, err := scan.ReadFile(file, "")
		if err != nil {
			t.Fatal(err)
		}
		status, resp := post(t, srv.URL+Path, testToken, body)
		if status != http.StatusAccepted {
			t.Errorf("%s: status %d %+v, expected 202", file, status, resp)
			continue
		}
		if resp.Vulnerabilities == nil || *resp.Vulnerabilities != len(want.Scan.Vulnerabilities) {
			t.Errorf("%s: vulnerabilities = %v, expected %d", file, resp.Vulnerabilities, len(want.Scan.Vulnerabilities))
		}
		if resp.Format != string(want.Format) {
			t.Errorf("%s: format = %q, expected %q", file, resp.Format, want.Format)
		}
		formats[resp.Format] = true
	}
	for _, f := range scan.Formats {
		if !formats[string(f)] {
			t.Errorf("no sample of format %s accepted", f)
		}
	}

	if got := h.Stats().Accepted; got != int64(len(files)) {
		t.Errorf("accepted = %d, expected %d", got, len(files))
	}
	if len(out.msgs) != len(files) {
		t.Fatalf("emitted %d messages, expected %d", len(out.msgs), len(files))
	}
	for _, m := range out.msgs {
		env, err := record.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if m.Topic != record.TopicScans || env.Kind != record.KindScan || env.HostID != "host-1" {
			t.Errorf("message topic %q kind %q host %q, expected scans, scan, host-1", m.Topic, env.Kind, env.HostID)
		}
		var s record.Scan
		if err := json.Unmarshal(env.Payload, &s); err != nil {
			t.Fatal(err)
		}
		if s.ScannedNs == 0 {
			t.Errorf("scan of %s has no time", s.ImageRef)
		}
		if len(m.Key) == 0 {
			t.Errorf("scan of %s has no key", s.ImageRef)
		}
	}
}

func TestPushExplicitFormat(t *testing.T) {
	srv, _ := newServer(t, Config{}, &recordingEmitter{}, nil)
	body, err := os.ReadFile(filepath.Join(sampleDir, "grype-image.json"))
	if err != nil {
		t.Fatal(err)
	}
	if status, resp := post(t, srv.URL+Path+"?format=grype", testToken, body); status != http.StatusAccepted {
		t.Errorf("format=grype: status %d %+v, expected 202", status, resp)
	}
	status, resp := post(t, srv.URL+Path+"?format=clair", testToken, body)
	if status != http.StatusBadRequest {
		t.Errorf("grype report as format=clair: status %d, expected 400", status)
	}
	if resp.Field != "manifest_hash" {
		t.Errorf("field = %q, expected manifest_hash", resp.Field)
	}
}

func TestPushRejectsBadToken(t *testing.T) {
	var logs bytes.Buffer
	out := &recordingEmitter{}
	srv, h := newServer(t, Config{}, out, &logs)
	body := []byte(`{"SchemaVersion":2}`)

	for name, token := range map[string]string{"missing": "", "wrong": "not-the-token", "prefix": testToken[:10]} {
		status, resp := post(t, srv.URL+Path, token, body)
		if status != http.StatusUnauthorized {
			t.Errorf("%s token: status %d, expected 401", name, status)
		}
		if resp.Field != "Authorization" {
			t.Errorf("%s token: field %q, expected Authorization", name, resp.Field)
		}
	}
	if got := h.Stats().Unauthorized; got != 3 {
		t.Errorf("unauthorized = %d, expected 3", got)
	}
	if len(out.msgs) != 0 {
		t.Errorf("emitted %d messages for unauthorized requests", len(out.msgs))
	}

	// A correct token with a lower-case scheme is accepted, and the token
	// appears in no log line.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+Path, bytes.NewReader(body))
	req.Header.Set("Authorization", "bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		t.Errorf("lower-case bearer scheme rejected")
	}
	if strings.Contains(logs.String(), testToken) || strings.Contains(logs.String(), testToken[:10]) {
		t.Errorf("token found in the logs:\n%s", logs.String())
	}
}

func TestPushRejectsLargeBody(t *testing.T) {
	srv, h := newServer(t, Config{MaxBytes: 1024}, &recordingEmitter{}, nil)
	status, resp := post(t, srv.URL+Path, testToken, bytes.Repeat([]byte(" "), 2048))
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d %+v, expected 413", status, resp)
	}
	if got := h.Stats().TooLarge; got != 1 {
		t.Errorf("too large = %d, expected 1", got)
	}
}

func TestPushRejectsAndKeepsInvalidReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rejected")
	out := &recordingEmitter{}
	srv, h := newServer(t, Config{RejectDir: dir}, out, nil)

	cases := []struct {
		name  string
		body  string
		field string
	}{
		{"anchore without vuln id", `{"imageDigest":"sha256:ab","vulnerabilities":[{"package_name":"bash","severity":"High"}]}`, "vulnerabilities[0].vuln"},
		{"unknown layout", `{"results":[]}`, "format"},
		{"not JSON", `{"SchemaVersion": 2,`, "body (JSON syntax error at byte 20)"},
		{"clair without packages", `{"manifest_hash":"sha256:ab","package_vulnerabilities":{"1":["2"]}}`, "packages"},
	}
	for _, c := range cases {
		status, resp := post(t, srv.URL+Path, testToken, []byte(c.body))
		if status != http.StatusBadRequest {
			t.Errorf("%s: status %d, expected 400", c.name, status)
			continue
		}
		if resp.Field != c.field {
			t.Errorf("%s: field %q, expected %q (reason %q)", c.name, resp.Field, c.field, resp.Reason)
		}
		if resp.Reason == "" {
			t.Errorf("%s: empty reason", c.name)
		}
		if resp.Kept == "" {
			t.Errorf("%s: report not kept", c.name)
			continue
		}
		kept, err := os.ReadFile(filepath.Join(dir, resp.Kept))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		} else if string(kept) != c.body {
			t.Errorf("%s: kept %q, expected the body %q", c.name, kept, c.body)
		}
		reason, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(resp.Kept, ".json")+".reason.txt"))
		if err != nil || strings.TrimSpace(string(reason)) != resp.Reason {
			t.Errorf("%s: reason file %q, %v, expected %q", c.name, reason, err, resp.Reason)
		}
	}
	st := h.Stats()
	if st.Rejected != int64(len(cases)) || st.Kept != int64(len(cases)) {
		t.Errorf("rejected %d, kept %d, expected %d of each", st.Rejected, st.Kept, len(cases))
	}
	if len(out.msgs) != 0 {
		t.Errorf("emitted %d messages for rejected reports", len(out.msgs))
	}
}

func TestPushKeepsAtMostMaxRejected(t *testing.T) {
	dir := t.TempDir()
	srv, h := newServer(t, Config{RejectDir: dir, MaxRejected: 2}, &recordingEmitter{}, nil)
	for i := 0; i < 4; i++ {
		post(t, srv.URL+Path, testToken, []byte(`{}`))
	}
	st := h.Stats()
	if st.Rejected != 4 || st.Kept != 2 {
		t.Errorf("rejected %d, kept %d, expected 4 and 2", st.Rejected, st.Kept)
	}
	kept, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(kept) != 2 {
		t.Errorf("%d files kept, expected 2", len(kept))
	}
}

func TestPushEmitterFailure(t *testing.T) {
	out := &recordingEmitter{err: errors.New("spool full")}
	srv, h := newServer(t, Config{}, out, nil)
	body, err := os.ReadFile(filepath.Join(sampleDir, "alpine-310.json"))
	if err != nil {
		t.Fatal(err)
	}
	status, resp := post(t, srv.URL+Path, testToken, body)
	if status != http.StatusServiceUnavailable {
		t.Errorf("status %d %+v, expected 503", status, resp)
	}
	if got := h.Stats().EmitErrors; got != 1 {
		t.Errorf("emit errors = %d, expected 1", got)
	}
}

func TestPushRejectsGet(t *testing.T) {
	srv, _ := newServer(t, Config{}, &recordingEmitter{}, nil)
	resp, err := http.Get(srv.URL + Path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, expected 405", resp.StatusCode)
	}
}

func TestLoadToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte(testToken+"\n"), 0o600)
	if got, err := LoadToken(file, ""); err != nil || got != testToken {
		t.Errorf("LoadToken(file) = %q, %v", got, err)
	}
	t.Setenv("HARRIER_TEST_SCAN_TOKEN", " "+testToken+" ")
	if got, err := LoadToken("", "HARRIER_TEST_SCAN_TOKEN"); err != nil || got != testToken {
		t.Errorf("LoadToken(env) = %q, %v", got, err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := LoadToken(empty, ""); err == nil {
		t.Error("empty token file accepted")
	}
	if _, err := LoadToken("", ""); err == nil {
		t.Error("no token source accepted")
	}
	if _, err := New(Config{}, &recordingEmitter{}, nil); err == nil {
		t.Error("New without a token accepted")
	}
}
