package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harrierhq/harrier/alerting/notify"
	"github.com/harrierhq/harrier/alerting/route"
)

const alertmanagerBinary = "/usr/bin/prometheus-alertmanager"

// startAlertmanager starts Debian's prometheus-alertmanager on a free
// local port with clustering off, and stops it by PID when the test ends.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(alertmanagerBinary); err != nil {
		t.Skipf("%s not installed (apt-get install prometheus-alertmanager): %v", alertmanagerBinary, err)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "alertmanager.yml")
	err := os.WriteFile(config, []byte(`route:
  receiver: blackhole
  group_by: [alertname]
  group_wait: 1s
receivers:
  - name: blackhole
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	var logs bytes.Buffer
	cmd := exec.Command(alertmanagerBinary, "--config.file="+config, "--web.listen-address="+addr,
		"--storage.path="+filepath.Join(dir, "data"), "--cluster.listen-address=")
	cmd.Stdout = &logs
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start alertmanager: %v", err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager (pid %d) output:\n%s", pid, logs.String())
		}
	})

	base := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager (pid %d) not ready at %s after 15 s", pid, base)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// receiverLog collects request bodies and body validation failures.
type receiverLog struct {
	mu       sync.Mutex
	bodies   [][]byte
	problems []string
}

func (r *receiverLog) add(body []byte, problems ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, body)
	r.problems = append(r.problems, problems...)
}

func (r *receiverLog) snapshot() ([][]byte, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...), append([]string(nil), r.problems...)
}

const (
	testRoutingKey   = "R0UT1NGKEY0123456789abcdefabcdef"
	testSlackPath    = "/services/T000/B000/SLACKTOKENxyz"
	testWebhookToken = "WEBHOOKTOKEN42"
	testHMACKey      = "hmac-secret-for-tests"
)

// pagerDutyServer checks each body against the Events API v2 rules: a
// routing_key, event_action trigger or resolve, a dedup_key, and for a
// trigger a payload with summary (at most 1024 characters), source and one
// of the four severities.
func pagerDutyServer(t *testing.T, log *receiverLog) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			RoutingKey  string `json:"routing_key"`
			EventAction string `json:"event_action"`
			DedupKey    string `json:"dedup_key"`
			Payload     *struct {
				Summary  string `json:"summary"`
				Source   string `json:"source"`
				Severity string `json:"severity"`
			} `json:"payload"`
		}
		var problems []string
		if err := json.Unmarshal(body, &ev); err != nil {
			problems = append(problems, "invalid JSON: "+err.Error())
		}
		if r.URL.Path != "/v2/enqueue" {
			problems = append(problems, "path "+r.URL.Path)
		}
		if r.Header.Get("Content-Type") != "application/json" {
			problems = append(problems, "content type "+r.Header.Get("Content-Type"))
		}
		if ev.RoutingKey != testRoutingKey {
			problems = append(problems, "routing_key "+ev.RoutingKey)
		}
		if ev.DedupKey == "" || len(ev.DedupKey) > 255 {
			problems = append(problems, "dedup_key "+ev.DedupKey)
		}
		switch ev.EventAction {
		case "trigger":
			switch {
			case ev.Payload == nil:
				problems = append(problems, "trigger without payload")
			case ev.Payload.Summary == "" || len([]rune(ev.Payload.Summary)) > 1024:
				problems = append(problems, "payload.summary "+ev.Payload.Summary)
			case ev.Payload.Source == "":
				problems = append(problems, "missing payload.source")
			case !strings.Contains(" critical error warning info ", " "+ev.Payload.Severity+" "):
				problems = append(problems, "payload.severity "+ev.Payload.Severity)
			}
		case "resolve":
		default:
			problems = append(problems, "event_action "+ev.EventAction)
		}
		log.add(body, problems...)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"status":"success","message":"Event processed","dedup_key":%q}`, ev.DedupKey)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// slackServer checks each body for the fields of an incoming webhook
// message: text, and attachments with color, title, text and fallback.
func slackServer(t *testing.T, log *receiverLog) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg struct {
			Text        string `json:"text"`
			Attachments []struct {
				Color, Title, Text, Fallback string
			} `json:"attachments"`
		}
		var problems []string
		if err := json.Unmarshal(body, &msg); err != nil {
			problems = append(problems, "invalid JSON: "+err.Error())
		}
		if r.URL.Path != testSlackPath {
			problems = append(problems, "path "+r.URL.Path)
		}
		if msg.Text == "" {
			problems = append(problems, "missing text")
		}
		if len(msg.Attachments) != 1 || msg.Attachments[0].Fallback == "" || msg.Attachments[0].Color == "" {
			problems = append(problems, "attachments "+string(body))
		}
		log.add(body, problems...)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// webhookServer verifies the HMAC-SHA256 signature of each body and checks
// the Alertmanager webhook fields.
func webhookServer(t *testing.T, log *receiverLog) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var problems []string
		if !notify.VerifySignature([]byte(testHMACKey), body, r.Header.Get(notify.DefaultSignatureHeader)) {
			problems = append(problems, "signature does not verify: "+r.Header.Get(notify.DefaultSignatureHeader))
		}
		var msg struct {
			Version, GroupKey, Status, Receiver string
			Alerts                              []struct{ Status, Fingerprint, StartsAt string }
		}
		if err := json.Unmarshal(body, &msg); err != nil {
			problems = append(problems, "invalid JSON: "+err.Error())
		}
		if msg.Version != "4" || msg.GroupKey == "" || msg.Receiver == "" || len(msg.Alerts) == 0 {
			problems = append(problems, "fields "+string(body))
		}
		if r.URL.Query().Get("token") != testWebhookToken {
			problems = append(problems, "token "+r.URL.RawQuery)
		}
		log.add(body, problems...)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("decode %s: %v", url, err)
	}
}

type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
	GeneratorURL string `json:"generatorURL"`
}

// TestBurstReachesEveryReceiverOnce fires 1,000 identical alerts at once
// and checks that each receiver gets one notification for the group, none
// more within the next group intervals, and then one resolve.
func TestBurstReachesEveryReceiverOnce(t *testing.T) {
	amURL := startAlertmanager(t)
	var pdLog, slackLog, hookLog receiverLog
	pd := pagerDutyServer(t, &pdLog)
	slack := slackServer(t, &slackLog)
	hook := webhookServer(t, &hookLog)

	t.Setenv("HARRIER_TEST_ROUTING_KEY", testRoutingKey)
	t.Setenv("HARRIER_TEST_HMAC", testHMACKey)
	config := fmt.Sprintf(`
route:
  receiver: everyone
  group_by: [alertname]
  group_wait: 300ms
  group_interval: 500ms
  repeat_interval: 1h
receivers:
  - name: everyone
    alertmanager: {url: %q}
    pagerduty: {routing_key: "${HARRIER_TEST_ROUTING_KEY}", url: %q}
    slack: {webhook_url: %q}
    webhook: {url: %q, secret: "${HARRIER_TEST_HMAC}"}
retry: {attempts: 3, min_backoff: 10ms, max_backoff: 50ms}
`, amURL, pd.URL+"/v2/enqueue", slack.URL+testSlackPath, hook.URL+"/hook?token="+testWebhookToken)
	cfg, err := route.Parse("routing.yaml", []byte(config), nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := New(cfg, nil, logger)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx, 20*time.Millisecond)
	}()
	defer func() {
		cancel()
		<-done
	}()

	alert := notify.Alert{
		Labels: map[string]string{"alertname": "privileged-container-running", "severity": "medium",
			"container": "web", "host": "node-1", "source": "rule"},
		Annotations:  map[string]string{"summary": "Container web runs privileged", "explanation": "privileged: true, user: 'root'"},
		GeneratorURL: "http://127.0.0.1:3000/d/harrier?var-container=web",
	}
	var wg sync.WaitGroup
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.Fire(alert, time.Now())
		}()
	}
	wg.Wait()

	// group_wait plus three group intervals: one firing notification only.
	time.Sleep(300*time.Millisecond + 3*500*time.Millisecond)
	for name, l := range map[string]*receiverLog{"pagerduty": &pdLog, "slack": &slackLog, "webhook": &hookLog} {
		bodies, problems := l.snapshot()
		if len(bodies) != 1 {
			t.Errorf("%s got %d notifications for the burst, expected 1", name, len(bodies))
		}
		for _, p := range problems {
			t.Errorf("%s body: %s", name, p)
		}
	}
	if s := d.Stats(); s.Received != 1000 || s.Deduplicated != 999 || s.Notifications["everyone"] != 1 {
		t.Errorf("stats = %+v, expected 1000 received, 999 deduplicated, 1 notification", s)
	}

	// Alertmanager lists and groups the alert through its own API.
	var listed []amAlert
	getJSON(t, amURL+"/api/v2/alerts", &listed)
	if len(listed) != 1 {
		t.Fatalf("alertmanager lists %d alerts, expected 1: %+v", len(listed), listed)
	}
	if listed[0].Labels["container"] != "web" || listed[0].Status.State != "active" {
		t.Errorf("alertmanager alert = %+v, expected an active alert for container web", listed[0])
	}
	if listed[0].GeneratorURL != alert.GeneratorURL || listed[0].Annotations["summary"] != alert.Annotations["summary"] {
		t.Errorf("alertmanager alert lost generatorURL or summary: %+v", listed[0])
	}
	var groups []struct {
		Labels map[string]string `json:"labels"`
		Alerts []amAlert         `json:"alerts"`
	}
	getJSON(t, amURL+"/api/v2/alerts/groups", &groups)
	if len(groups) != 1 || groups[0].Labels["alertname"] != "privileged-container-running" || len(groups[0].Alerts) != 1 {
		t.Errorf("alertmanager groups = %+v, expected one privileged-container-running group with 1 alert", groups)
	}

	// Resolve: one resolve notification per receiver at the next interval.
	d.Resolve(alert.Fingerprint(), time.Now())
	time.Sleep(3 * 500 * time.Millisecond)
	pdBodies, _ := pdLog.snapshot()
	if len(pdBodies) != 2 || !bytes.Contains(pdBodies[1], []byte(`"event_action":"resolve"`)) {
		t.Errorf("pagerduty bodies after resolve = %q, expected a trigger then a resolve", pdBodies)
	} else {
		var first, second struct {
			DedupKey string `json:"dedup_key"`
		}
		_ = json.Unmarshal(pdBodies[0], &first)
		_ = json.Unmarshal(pdBodies[1], &second)
		if first.DedupKey != second.DedupKey {
			t.Errorf("resolve dedup_key %s differs from trigger dedup_key %s", second.DedupKey, first.DedupKey)
		}
	}
	hookBodies, _ := hookLog.snapshot()
	if len(hookBodies) != 2 || !bytes.Contains(hookBodies[1], []byte(`"status":"resolved"`)) {
		t.Errorf("webhook bodies after resolve = %d, expected a firing then a resolved message", len(hookBodies))
	}
	slackBodies, _ := slackLog.snapshot()
	if len(slackBodies) != 2 || !bytes.Contains(slackBodies[1], []byte("RESOLVED")) {
		t.Errorf("slack bodies after resolve = %d, expected a firing then a resolved message", len(slackBodies))
	}
	listed = nil
	getJSON(t, amURL+"/api/v2/alerts", &listed)
	if len(listed) != 0 {
		t.Errorf("alertmanager still lists %d active alerts after the resolve: %+v", len(listed), listed)
	}

	for _, secret := range []string{testRoutingKey, testSlackPath, testWebhookToken, testHMACKey} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains the secret %q:\n%s", secret, logs.String())
		}
	}
}

// syncWriter serialises writes of concurrent loggers to a buffer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
