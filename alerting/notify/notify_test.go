package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type sinkRecorder struct {
	mu      sync.Mutex
	letters []DeadLetter
}

func (s *sinkRecorder) DeadLetter(_ context.Context, d DeadLetter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.letters = append(s.letters, d)
	return nil
}

func testNotification() Notification {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	return Notification{
		Receiver: "team", GroupKey: `0:{alertname="root-user"}`, GroupLabels: map[string]string{"alertname": "root-user"}, SentAt: now,
		Alerts: []Alert{{Labels: map[string]string{"alertname": "root-user", "severity": "critical", "container_id": "abc"},
			Annotations: map[string]string{"summary": "Container web runs as root", "host": "node-1"}, StartsAt: now.Add(-time.Minute)}},
	}
}

func TestRetrierRetriesThenSucceeds(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	r := NewRetrier(&Webhook{URL: srv.URL}, RetryConfig{Attempts: 5, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, nil, nil)
	if err := r.Notify(context.Background(), testNotification()); err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Errorf("calls = %d, expected 3", calls)
	}
	if s := r.Stats(); s.Retries != 2 || s.Sent != 1 {
		t.Errorf("stats = %+v, expected 2 retries and 1 sent", s)
	}
}

// TestFailuresLogNoSecrets drives every integration into final failure,
// through an HTTP error and through an unreachable address, and checks that
// neither the log nor the dead letters contain a token or key.
func TestFailuresLogNoSecrets(t *testing.T) {
	const (
		routingKey = "PDKEY0123456789abcdef0123456789ab"
		slackPath  = "/services/T1/B2/SLACKSECRETTOKEN"
		hookToken  = "HOOKTOKEN777"
		hmacKey    = "HMACSECRETKEY"
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Echo the request back, as some failing proxies do.
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte(r.URL.String()))
	}))
	defer srv.Close()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	sink := &sinkRecorder{}
	for _, base := range []string{srv.URL, "http://127.0.0.1:1"} {
		notifiers := []Notifier{
			&PagerDuty{URL: base + "/v2/enqueue", RoutingKey: routingKey},
			&Slack{WebhookURL: base + slackPath},
			&Webhook{URL: base + "/hook?token=" + hookToken, Secret: []byte(hmacKey)},
			&Alertmanager{URL: base},
		}
		for _, n := range notifiers {
			r := NewRetrier(n, RetryConfig{Attempts: 2, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}, sink, logger)
			if err := r.Notify(context.Background(), testNotification()); err == nil {
				t.Errorf("%s to %s succeeded, expected a failure", n.Integration(), base)
			}
		}
	}
	if len(sink.letters) != 8 {
		t.Errorf("dead letters = %d, expected 8", len(sink.letters))
	}
	var letters strings.Builder
	for _, d := range sink.letters {
		letters.WriteString(d.Error + string(d.Notification))
	}
	for _, secret := range []string{routingKey, slackPath, "SLACKSECRETTOKEN", hookToken, hmacKey} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains secret %q:\n%s", secret, logs.String())
		}
		if strings.Contains(letters.String(), secret) {
			t.Errorf("dead letters contain secret %q", secret)
		}
	}
	if !strings.Contains(logs.String(), "retrying") || !strings.Contains(logs.String(), "dead letter") {
		t.Errorf("log lacks the retry and dead-letter lines:\n%s", logs.String())
	}
}

func TestClientErrorIsNotRetried(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	sink := &sinkRecorder{}
	r := NewRetrier(&Slack{WebhookURL: srv.URL + "/x"}, RetryConfig{Attempts: 5, MinBackoff: time.Millisecond}, sink, nil)
	if err := r.Notify(context.Background(), testNotification()); err == nil {
		t.Fatal("Notify succeeded on HTTP 400")
	}
	if calls != 1 {
		t.Errorf("calls = %d, expected 1 because HTTP 400 is not retryable", calls)
	}
	if len(sink.letters) != 1 || sink.letters[0].Attempts != 1 {
		t.Errorf("dead letters = %+v, expected one after 1 attempt", sink.letters)
	}
}

func TestBackoffGrowsWithJitter(t *testing.T) {
	for attempt, base := range map[int]time.Duration{1: 100, 2: 200, 3: 400, 10: 1000} {
		got := Backoff(100, 1000, attempt)
		if got < base || got > base+base/2 {
			t.Errorf("Backoff(attempt %d) = %d, expected within [%d, %d]", attempt, got, base, base+base/2)
		}
	}
}

func TestPagerDutyEvent(t *testing.T) {
	p := &PagerDuty{RoutingKey: "k"}
	n := testNotification()
	ev := p.Event(n)
	if ev.EventAction != "trigger" || ev.Payload == nil {
		t.Fatalf("event = %+v, expected a trigger with payload", ev)
	}
	if ev.Payload.Severity != "critical" || ev.Payload.Source != "node-1" || ev.Payload.Summary != "Container web runs as root" {
		t.Errorf("payload = %+v", ev.Payload)
	}
	n.Alerts[0].EndsAt = n.SentAt
	resolve := p.Event(n)
	if resolve.EventAction != "resolve" || resolve.DedupKey != ev.DedupKey || resolve.Payload != nil {
		t.Errorf("resolve event = %+v, expected resolve with dedup_key %s and no payload", resolve, ev.DedupKey)
	}
}

func TestWebhookSignatureVerifies(t *testing.T) {
	var body []byte
	var signature string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := new(bytes.Buffer)
		buf.ReadFrom(r.Body)
		body, signature = buf.Bytes(), r.Header.Get(DefaultSignatureHeader)
	}))
	defer srv.Close()
	w := &Webhook{URL: srv.URL, Secret: []byte("key")}
	if err := w.Notify(context.Background(), testNotification()); err != nil {
		t.Fatal(err)
	}
	if !VerifySignature([]byte("key"), body, signature) {
		t.Errorf("signature %q does not verify", signature)
	}
	if VerifySignature([]byte("other"), body, signature) {
		t.Error("signature verifies under the wrong key")
	}
	var msg map[string]any
	if err := json.Unmarshal(body, &msg); err != nil || msg["version"] != "4" {
		t.Errorf("body = %s, expected the version 4 webhook format", body)
	}
}

func TestFingerprintIgnoresMapOrder(t *testing.T) {
	a := Fingerprint(map[string]string{"a": "1", "b": "2"})
	b := Fingerprint(map[string]string{"b": "2", "a": "1"})
	if a != b {
		t.Errorf("fingerprints differ: %s, %s", a, b)
	}
	if Fingerprint(map[string]string{"a": "b,c"}) == Fingerprint(map[string]string{"a": "b", "c": ""}) {
		t.Error("label sets {a=\"b,c\"} and {a=\"b\",c=\"\"} share a fingerprint")
	}
}
