package dispatch

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harrierhq/harrier/alerting/notify"
	"github.com/harrierhq/harrier/alerting/route"
)

// recorder is a Notifier that keeps what it gets.
type recorder struct {
	mu   sync.Mutex
	sent []notify.Notification
}

func (r *recorder) Integration() string { return "recorder" }

func (r *recorder) Notify(_ context.Context, n notify.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, n)
	return nil
}

func (r *recorder) take() []notify.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sent
	r.sent = nil
	return out
}

const testRouting = `
route:
  receiver: team
  group_by: [alertname]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 1h
receivers:
  - name: team
    webhook: {url: "http://127.0.0.1:1/hook"}
`

func newTestDispatcher(t *testing.T, extra string) (*Dispatcher, *recorder) {
	t.Helper()
	cfg, err := route.Parse("routing.yaml", []byte(testRouting+extra), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	cfg.Receivers["team"].Integrations = []notify.Notifier{rec}
	return New(cfg, nil, nil), rec
}

func ruleAlert(rule, container string) notify.Alert {
	return notify.Alert{
		Labels:      map[string]string{"alertname": rule, "container": container, "severity": "high"},
		Annotations: map[string]string{"summary": rule + " on " + container},
	}
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func TestDispatchGroupWaitAndDedup(t *testing.T) {
	d, rec := newTestDispatcher(t, "")
	ctx := context.Background()
	for i := range 1000 {
		d.Fire(ruleAlert("root-user", "web"), t0.Add(time.Duration(i)*time.Millisecond))
	}
	if got := d.Flush(ctx, t0.Add(5*time.Second)); len(got) != 0 {
		t.Fatalf("notified %d times within group_wait, expected none", len(got))
	}
	d.Flush(ctx, t0.Add(10*time.Second))
	sent := rec.take()
	if len(sent) != 1 {
		t.Fatalf("notifications after group_wait = %d, expected 1", len(sent))
	}
	if len(sent[0].Alerts) != 1 {
		t.Errorf("alerts in notification = %d, expected 1 after dedup", len(sent[0].Alerts))
	}
	if s := d.Stats(); s.Deduplicated != 999 {
		t.Errorf("Deduplicated = %d, expected 999", s.Deduplicated)
	}
}

func TestDispatchGroupsByLabels(t *testing.T) {
	d, rec := newTestDispatcher(t, "")
	ctx := context.Background()
	d.Fire(ruleAlert("root-user", "web"), t0)
	d.Fire(ruleAlert("root-user", "db"), t0)
	d.Fire(ruleAlert("old-image", "web"), t0)
	d.Flush(ctx, t0.Add(10*time.Second))
	sent := rec.take()
	if len(sent) != 2 {
		t.Fatalf("notifications = %d, expected one per alertname (2)", len(sent))
	}
	for _, n := range sent {
		if n.GroupLabels["alertname"] == "root-user" && len(n.Alerts) != 2 {
			t.Errorf("root-user group has %d alerts, expected 2", len(n.Alerts))
		}
	}
}

func TestDispatchGroupIntervalAndRepeat(t *testing.T) {
	d, rec := newTestDispatcher(t, "")
	ctx := context.Background()
	d.Fire(ruleAlert("root-user", "web"), t0)
	d.Flush(ctx, t0.Add(10*time.Second))
	if n := len(rec.take()); n != 1 {
		t.Fatalf("first notification count = %d, expected 1", n)
	}

	// A new alert of the group is sent at the next group_interval, not before.
	d.Fire(ruleAlert("root-user", "db"), t0.Add(20*time.Second))
	d.Flush(ctx, t0.Add(30*time.Second))
	if n := len(rec.take()); n != 0 {
		t.Errorf("notified %d times before group_interval, expected 0", n)
	}
	d.Flush(ctx, t0.Add(70*time.Second))
	sent := rec.take()
	if len(sent) != 1 || len(sent[0].Alerts) != 2 {
		t.Fatalf("after group_interval got %d notifications, expected 1 with 2 alerts", len(sent))
	}

	// Unchanged: nothing until repeat_interval.
	for m := 2; m < 60; m++ {
		d.Flush(ctx, t0.Add(10*time.Second+time.Duration(m)*time.Minute))
	}
	if n := len(rec.take()); n != 0 {
		t.Errorf("unchanged group notified %d times before repeat_interval, expected 0", n)
	}
	d.Flush(ctx, t0.Add(70*time.Second+time.Hour))
	if n := len(rec.take()); n != 1 {
		t.Errorf("notifications at repeat_interval = %d, expected 1", n)
	}
}

func TestDispatchResolve(t *testing.T) {
	d, rec := newTestDispatcher(t, "")
	ctx := context.Background()
	a := ruleAlert("root-user", "web")
	d.Fire(a, t0)
	d.Flush(ctx, t0.Add(10*time.Second))
	rec.take()

	if !d.Resolve(a.Fingerprint(), t0.Add(30*time.Second)) {
		t.Fatal("Resolve returned false for a firing alert")
	}
	d.Flush(ctx, t0.Add(70*time.Second))
	sent := rec.take()
	if len(sent) != 1 {
		t.Fatalf("resolve notifications = %d, expected 1", len(sent))
	}
	if sent[0].Status() != notify.StatusResolved {
		t.Errorf("status = %s, expected resolved", sent[0].Status())
	}
	if got := sent[0].Alerts[0].EndsAt; !got.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("EndsAt = %s, expected the resolve time", got)
	}
	if s := d.Stats(); s.Groups != 0 {
		t.Errorf("groups after resolve = %d, expected 0", s.Groups)
	}
	d.Flush(ctx, t0.Add(3*time.Hour))
	if n := len(rec.take()); n != 0 {
		t.Errorf("notified %d times after the group resolved, expected 0", n)
	}
}

func TestDispatchResolveBeforeFirstFlush(t *testing.T) {
	d, rec := newTestDispatcher(t, "")
	a := ruleAlert("root-user", "web")
	d.Fire(a, t0)
	d.Resolve(a.Fingerprint(), t0.Add(time.Second))
	d.Flush(context.Background(), t0.Add(10*time.Second))
	if n := len(rec.take()); n != 0 {
		t.Errorf("notified %d times for an alert that cleared within group_wait, expected 0", n)
	}
}

func TestDispatchCooldown(t *testing.T) {
	d, rec := newTestDispatcher(t, "cooldown: 5m\n")
	ctx := context.Background()
	a := ruleAlert("root-user", "web")
	d.Fire(a, t0)
	d.Flush(ctx, t0.Add(10*time.Second))
	rec.take()

	d.Resolve(a.Fingerprint(), t0.Add(20*time.Second))
	d.Flush(ctx, t0.Add(70*time.Second))
	if n := len(rec.take()); n != 0 {
		t.Errorf("resolve sent within the cooldown: %d notifications", n)
	}
	d.Fire(a, t0.Add(2*time.Minute))
	d.Flush(ctx, t0.Add(10*time.Minute))
	if n := len(rec.take()); n != 0 {
		t.Errorf("a flap within the cooldown sent %d notifications, expected 0", n)
	}
	if s := d.Stats(); s.Deduplicated != 1 {
		t.Errorf("Deduplicated = %d, expected 1", s.Deduplicated)
	}
}

func TestDispatchSilenceExpires(t *testing.T) {
	d, rec := newTestDispatcher(t, "")
	ctx := context.Background()
	_, err := d.AddSilence(Silence{Matchers: map[string]string{"container": "web"}, EndsAt: t0.Add(30 * time.Minute), CreatedBy: "oncall"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	d.Fire(ruleAlert("root-user", "web"), t0)
	d.Flush(ctx, t0.Add(10*time.Second))
	if n := len(rec.take()); n != 0 {
		t.Errorf("silenced alert sent %d notifications, expected 0", n)
	}
	if s := d.Stats(); s.Silenced == 0 {
		t.Error("Silenced = 0, expected the muted alert to be counted")
	}
	d.Flush(ctx, t0.Add(31*time.Minute))
	if n := len(rec.take()); n != 1 {
		t.Errorf("notifications after the silence expired = %d, expected 1", n)
	}
	if got := d.Silences(t0.Add(31 * time.Minute)); len(got) != 0 {
		t.Errorf("silences after expiry = %v, expected none", got)
	}
}

func TestSilenceRejectsEmptyMatchers(t *testing.T) {
	d, _ := newTestDispatcher(t, "")
	_, err := d.AddSilence(Silence{EndsAt: t0.Add(time.Hour)}, t0)
	if err == nil || !strings.Contains(err.Error(), "matchers") {
		t.Errorf("AddSilence without matchers: err = %v, expected a missing matchers error", err)
	}
	_, err = d.AddSilence(Silence{Matchers: map[string]string{"a": "b"}}, t0)
	if err == nil || !strings.Contains(err.Error(), "endsAt") {
		t.Errorf("AddSilence without EndsAt: err = %v, expected an endsAt error", err)
	}
}

func TestDispatchRateLimitPerRule(t *testing.T) {
	cfg, err := route.Parse("routing.yaml", []byte(strings.Replace(testRouting, "[alertname]", "[alertname, container]", 1)+
		"rate_limit: {max: 3, per: 1h}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	cfg.Receivers["team"].Integrations = []notify.Notifier{rec}
	d := New(cfg, nil, nil)
	ctx := context.Background()
	for i := range 100 {
		d.Fire(ruleAlert("noisy", fmt.Sprintf("c%03d", i)), t0)
	}
	d.Fire(ruleAlert("quiet", "web"), t0)
	d.Flush(ctx, t0.Add(10*time.Second))
	sent := rec.take()
	noisy := 0
	quiet := 0
	for _, n := range sent {
		switch n.GroupLabels["alertname"] {
		case "noisy":
			noisy++
		case "quiet":
			quiet++
		}
	}
	if noisy != 3 {
		t.Errorf("noisy rule sent %d notifications, expected the limit of 3", noisy)
	}
	if quiet != 1 {
		t.Errorf("quiet rule sent %d notifications, expected 1", quiet)
	}
	if s := d.Stats(); s.RateLimited != 97 {
		t.Errorf("RateLimited = %d, expected 97", s.RateLimited)
	}
}

func TestDispatchRoutesContinue(t *testing.T) {
	cfg, err := route.Parse("routing.yaml", []byte(`
route:
  receiver: team
  group_wait: 0s
  routes:
    - match: {severity: critical}
      receiver: pager
      continue: true
    - match_re: {container: "web|api"}
      receiver: web
receivers:
  - name: team
    webhook: {url: "http://127.0.0.1:1/a"}
  - name: pager
    webhook: {url: "http://127.0.0.1:1/b"}
  - name: web
    webhook: {url: "http://127.0.0.1:1/c"}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := map[string]*recorder{}
	for name, r := range cfg.Receivers {
		recs[name] = &recorder{}
		r.Integrations = []notify.Notifier{recs[name]}
	}
	d := New(cfg, nil, nil)
	crit := ruleAlert("root-user", "web")
	crit.Labels["severity"] = "critical"
	d.Fire(crit, t0)
	d.Fire(ruleAlert("old-image", "db"), t0)
	d.Flush(context.Background(), t0)

	if n := len(recs["pager"].take()); n != 1 {
		t.Errorf("pager got %d notifications, expected 1", n)
	}
	if n := len(recs["web"].take()); n != 1 {
		t.Errorf("web got %d notifications, expected 1 through continue", n)
	}
	team := recs["team"].take()
	if len(team) != 1 || team[0].Alerts[0].Labels["container"] != "db" {
		t.Errorf("team got %v, expected only the db alert", team)
	}
}
