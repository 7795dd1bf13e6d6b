package drain

import (
	"context"
	"testing"

	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// TestClickHouseStoreSharesTemplates saves templates from one miner and
// loads them in a second one, as a normalizer and a scorer, or one process
// before and after a restart, share them through the templates table.
func TestClickHouseStoreSharesTemplates(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)

	first, err := NewMiner(ctx, Config{}, NewClickHouseStore(store), nil)
	if err != nil {
		t.Fatal(err)
	}
	const key = "sha256:aa"
	idA, _, _ := first.Match(key, "Accepted password for alice from 10.0.0.1 port 5022 ssh2")
	idB, _, _ := first.Match(key, "Connection closed by 10.0.0.9 port 4022")
	if err := first.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A later version of template A, with a wildcard for the user, must
	// replace the first one.
	idA2, widened, _ := first.Match(key, "Accepted password for bob from 10.0.0.2 port 5023 ssh2")
	if idA2 != idA {
		t.Fatalf("second message got template %d, want %d", idA2, idA)
	}
	if err := first.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	loaded, err := NewClickHouseStore(store).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 2 {
		t.Fatalf("loaded %d templates, want 2: %+v", len(loaded), loaded)
	}

	second, err := NewMiner(ctx, Config{}, NewClickHouseStore(store), nil)
	if err != nil {
		t.Fatal(err)
	}
	id, text, isNew := second.Match(key, "Accepted password for carol from 10.0.0.3 port 5024 ssh2")
	if id != idA {
		t.Errorf("after reload the message got template %d, want %d", id, idA)
	}
	if isNew {
		t.Error("after reload the message opened a new template")
	}
	if text != widened {
		t.Errorf("after reload the template is %q, want %q", text, widened)
	}
	if id, _, isNew := second.Match(key, "Connection closed by 10.0.0.7 port 4100"); id != idB || isNew {
		t.Errorf("after reload the second message got template %d (new %v), want %d", id, isNew, idB)
	}
}

func TestClickHouseStoreEmptyTable(t *testing.T) {
	loaded, err := NewClickHouseStore(storagetest.New(t)).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 0 {
		t.Errorf("loaded %d templates from an empty table", len(loaded))
	}
}
