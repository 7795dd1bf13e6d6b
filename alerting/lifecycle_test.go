package alerting

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harrierhq/harrier/alerting/route"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/storage/storagetest"
)

// webhookBodies is a webhook receiver that keeps each body.
type webhookBodies struct {
	mu     sync.Mutex
	bodies []map[string]any
}

func (w *webhookBodies) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	w.mu.Lock()
	w.bodies = append(w.bodies, m)
	w.mu.Unlock()
}

func (w *webhookBodies) take() []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.bodies
	w.bodies = nil
	return out
}

func TestRuleAlertResolvesWhenCleared(t *testing.T) {
	store := storagetest.New(t)
	insertInventory(t, store)
	hook := &webhookBodies{}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	routing, err := route.Parse("routing.yaml", []byte(`
route:
  receiver: team
  group_by: [alertname, container_id]
  group_wait: 0s
  group_interval: 1m
receivers:
  - name: team
    webhook: {url: "`+srv.URL+`/hook"}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := newAlerter(t, store, Config{Routing: routing,
		LinkTemplate: "http://127.0.0.1:3000/d/harrier?var-container={{.ContainerID | urlquery}}&from={{.FromMs}}&to={{.ToMs}}"})
	now := time.Now()
	a.now = func() time.Time { return now }
	ctx := context.Background()

	if err := a.EvaluateRules(ctx); err != nil {
		t.Fatal(err)
	}
	a.Dispatcher().Flush(ctx, now)
	fired := hook.take()
	if len(fired) != 1 || fired[0]["status"] != "firing" {
		t.Fatalf("webhook bodies after the first evaluation = %v, expected one firing message", fired)
	}
	alert := fired[0]["alerts"].([]any)[0].(map[string]any)
	if url, _ := alert["generatorURL"].(string); !strings.Contains(url, "var-container="+webID) {
		t.Errorf("generatorURL = %q, expected the Grafana link of container web", url)
	}
	annotations := alert["annotations"].(map[string]any)
	for _, key := range []string{"summary", "explanation", "query", "container", "image", "window_start"} {
		if annotations[key] == "" || annotations[key] == nil {
			t.Errorf("annotation %s is empty: %v", key, annotations)
		}
	}

	// The same finding on the next evaluation is a repeat, not a new page.
	now = now.Add(30 * time.Second)
	if err := a.EvaluateRules(ctx); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	a.Dispatcher().Flush(ctx, now)
	if got := hook.take(); len(got) != 0 {
		t.Errorf("repeat evaluation sent %d notifications, expected 0", len(got))
	}

	// The container stops, so the rule no longer returns it.
	row := containerRow(webID, "web", "nginx:1.17", imageWeb, 0, time.Now().Add(time.Minute).Truncate(time.Second))
	if err := store.Insert(ctx, "containers", containerColumns, [][]any{row}); err != nil {
		t.Fatal(err)
	}
	if err := a.EvaluateRules(ctx); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	a.Dispatcher().Flush(ctx, now)
	resolved := hook.take()
	if len(resolved) != 1 || resolved[0]["status"] != "resolved" {
		t.Errorf("webhook bodies after the container stopped = %v, expected one resolved message", resolved)
	}
}

func TestModelAlertResolvesAfterQuietWindows(t *testing.T) {
	store := storagetest.New(t)
	insertSSHD(t, store)
	routing, err := route.Parse("routing.yaml", []byte(`
route: {receiver: team, group_wait: 0s}
receivers: [{name: team, webhook: {url: "http://127.0.0.1:1/unused"}}]
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := newAlerter(t, store, Config{Routing: routing, ModelWindow: time.Minute, ModelNormalWindows: 3})
	now := time.Now()
	a.now = func() time.Time { return now }
	ctx := context.Background()
	if err := a.HandleBatch(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.HandleBatch(ctx, []kafka.Message{modelAlertMessage(t, 1, "")}); err != nil {
		t.Fatal(err)
	}
	if n := len(a.Dispatcher().Firing()); n != 1 {
		t.Fatalf("firing alerts after a model alert = %d, expected 1", n)
	}

	now = now.Add(2 * time.Minute)
	a.resolveCleared(map[string]bool{}, nil)
	if n := len(a.Dispatcher().Firing()); n != 1 {
		t.Errorf("model alert resolved after 2 quiet windows, expected it to fire until 3")
	}
	now = now.Add(time.Minute)
	a.resolveCleared(map[string]bool{}, nil)
	if n := len(a.Dispatcher().Firing()); n != 0 {
		t.Errorf("firing alerts after 3 quiet windows = %d, expected 0", n)
	}
}
