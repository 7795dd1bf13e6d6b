// Package storagetest gives tests a migrated database on a real
// clickhouse-server: one server per test binary, one new database per test.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/harrierhq/harrier/storage"
)

var (
	mu     sync.Mutex
	server *storage.LocalServer
	dir    string
	// startErr is kept so that every test after a failed start fails with
	// the same cause instead of starting another server.
	startErr error
)

// Main runs the package's tests and then stops the shared server. Call it
// from TestMain:
//
//	func TestMain(m *testing.M) { storagetest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the shared server, if one was started, and removes its
// directory. Main calls it; call it yourself only when you do not use Main.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if server != nil {
		if err := server.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "storagetest: %v\n", err)
		}
		server = nil
	}
	if dir != "" {
		os.RemoveAll(dir)
		dir = ""
	}
}

// Server returns the shared server, starting it on first use. It fails
// the test when clickhouse-server cannot start, for example because the
// binary is missing.
func Server(t testing.TB) *storage.LocalServer {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if server != nil {
		return server
	}
	if startErr != nil {
		t.Fatalf("start clickhouse-server: %v", startErr)
	}
	// The server outlives any one test, so its directory is not t.TempDir().
	d, err := os.MkdirTemp("", "harrier-clickhouse-")
	if err != nil {
		startErr = err
		t.Fatalf("create clickhouse directory: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := storage.StartLocal(context.Background(), d, logger)
	if err != nil {
		startErr = err
		os.RemoveAll(d)
		t.Fatalf("start clickhouse-server: %v", err)
	}
	server, dir = s, d
	return server
}

// New returns a Store on a new database of the shared server, with every
// migration applied. The database is dropped and the store closed when the
// test ends.
func New(t testing.TB) *storage.Store {
	t.Helper()
	store := NewUnmigrated(t)
	if _, err := store.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate database %s: %v", store.Database(), err)
	}
	return store
}

// NewUnmigrated is New without the migrations: the database does not
// exist until the test calls Migrate.
func NewUnmigrated(t testing.TB) *storage.Store {
	t.Helper()
	srv := Server(t)
	db := databaseName(t)
	store, err := storage.Open(context.Background(), storage.Config{Addr: srv.Addr, Database: db})
	if err != nil {
		t.Fatalf("open database %s: %v", db, err)
	}
	t.Cleanup(func() {
		drop, err := storage.Open(context.Background(), storage.Config{Addr: srv.Addr, Database: "default"})
		if err == nil {
			_ = drop.Exec(context.Background(), "DROP DATABASE IF EXISTS `"+db+"`")
			drop.Close()
		}
		store.Close()
	})
	return store
}

// databaseName builds a unique, valid database name from the test name.
func databaseName(t testing.TB) string {
	var b strings.Builder
	b.WriteString("test_")
	for _, r := range strings.ToLower(t.Name()) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	b.WriteString("_")
	b.WriteString(hex.EncodeToString(suffix))
	return b.String()
}
