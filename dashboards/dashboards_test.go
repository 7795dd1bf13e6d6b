package dashboards

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func TestDashboardsAreValid(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no dashboards bundled")
	}
	for name, d := range all {
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: missing uid or title", name)
		}
		if len(d.Panels) == 0 {
			t.Errorf("%s: no panels", name)
		}
		for _, p := range d.Panels {
			if len(p.Targets) == 0 || p.Targets[0].RawSQL == "" {
				t.Errorf("%s: panel %q has no SQL", name, p.Title)
			}
		}
	}
}

// Every panel's SQL runs against the real ClickHouse server on a migrated
// schema.
func TestPanelQueriesRun(t *testing.T) {
	store := storagetest.New(t)
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	for name, d := range all {
		for _, p := range d.Panels {
			for _, target := range p.Targets {
				sql := ExpandMacros(target.RawSQL, now-7*86400, now)
				sql = strings.ReplaceAll(sql, "harrier.", store.Database()+".")
				if _, _, err := store.Query(context.Background(), sql); err != nil {
					t.Errorf("%s: panel %q: %v", name, p.Title, err)
				}
			}
		}
	}
}
