package alerting

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/alerting/dispatch"
	"github.com/harrierhq/harrier/alerting/route"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestSilenceSaveLoadExpire(t *testing.T) {
	store := storagetest.New(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)

	id, err := SaveSilence(ctx, store, dispatch.Silence{
		Matchers: map[string]string{"alertname": "image-age", "severity": "low"},
		EndsAt:   now.Add(2 * time.Hour), CreatedBy: "oncall", Comment: "rebuild scheduled",
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	silences, err := LoadSilences(ctx, store, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(silences) != 1 {
		t.Fatalf("%d silences, expected 1", len(silences))
	}
	s := silences[0]
	if s.ID != id || s.Matchers["alertname"] != "image-age" || s.Matchers["severity"] != "low" {
		t.Errorf("silence %+v, expected id %s and both matchers", s, id)
	}
	if !s.EndsAt.Equal(now.Add(2 * time.Hour)) {
		t.Errorf("ends at %s, expected %s", s.EndsAt, now.Add(2*time.Hour))
	}
	if silences, _ := LoadSilences(ctx, store, now.Add(3*time.Hour)); len(silences) != 0 {
		t.Errorf("%d silences after the expiry, expected none", len(silences))
	}

	if err := ExpireSilence(ctx, store, id, now.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if silences, _ := LoadSilences(ctx, store, now.Add(11*time.Minute)); len(silences) != 0 {
		t.Errorf("%d silences after expiring it, expected none", len(silences))
	}
	err = ExpireSilence(ctx, store, "no-such-silence", now)
	if err == nil || !strings.Contains(err.Error(), `"no-such-silence" not found`) {
		t.Errorf("error %v, expected not found", err)
	}
}

func TestSilenceSaveRejectsInvalid(t *testing.T) {
	store := storagetest.New(t)
	now := time.Now()
	if _, err := SaveSilence(context.Background(), store, dispatch.Silence{EndsAt: now.Add(time.Hour)}, now); err == nil {
		t.Error("saved a silence without matchers")
	}
	_, err := SaveSilence(context.Background(), store, dispatch.Silence{Matchers: map[string]string{"bad-label": "x"}, EndsAt: now.Add(time.Hour)}, now)
	if err == nil {
		t.Error("saved a silence with an invalid label name")
	}
}

func TestSyncSilencesLoadsIntoDispatcher(t *testing.T) {
	store := storagetest.New(t)
	ctx := context.Background()
	routing, err := route.Parse("routing.yaml", []byte(`
route: {receiver: team, group_wait: 0s}
receivers: [{name: team, webhook: {url: "http://127.0.0.1:1/unused"}}]
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)
	a, _ := newAlerter(t, store, Config{Routing: routing, Clock: func() time.Time { return now }})

	id, err := SaveSilence(ctx, store, dispatch.Silence{Matchers: map[string]string{"alertname": "image-age"}, EndsAt: now.Add(time.Hour)}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.syncSilences(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.dispatcher.Silences(now); len(got) != 1 || got[0].ID != id {
		t.Fatalf("dispatcher silences %+v, expected %s", got, id)
	}

	if err := ExpireSilence(ctx, store, id, now); err != nil {
		t.Fatal(err)
	}
	if err := a.syncSilences(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.dispatcher.Silences(now); len(got) != 0 {
		t.Errorf("dispatcher silences %+v after expiring, expected none", got)
	}
}
