package main

import (
	"context"
	"testing"

	"github.com/harrierhq/harrier/storage"
)

func openTestStore(t *testing.T, addr, database string) *storage.Store {
	t.Helper()
	store, err := storage.Open(context.Background(), storage.Config{Addr: addr, Database: database})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}
