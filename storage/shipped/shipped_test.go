package shipped

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// TestStatementsRunOnDebianServer runs every shipped statement on the
// Debian clickhouse-server that storagetest starts, on a database without
// tables: the schema statements in migration order, then the queries.
// Migrate applies each migration once, so an ALTER TABLE ... ADD COLUMN,
// which 18.16 cannot guard with IF NOT EXISTS, runs once here too.
func TestStatementsRunOnDebianServer(t *testing.T) {
	store := storagetest.NewUnmigrated(t)
	statements, err := Statements()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.CreateDatabase(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range statements {
		sql := strings.ReplaceAll(s.SQL, "harrier.", store.Database()+".")
		if s.Schema {
			if err := store.Exec(ctx, sql); err != nil {
				t.Errorf("%s: %v", s.Source, err)
			}
			continue
		}
		if _, _, err := store.Query(ctx, sql); err != nil {
			t.Errorf("%s: %v", s.Source, err)
		}
	}
}

func TestStatementsCoverEverySource(t *testing.T) {
	statements, err := Statements()
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"migration ", "dashboard ", "alerting.Queries", "models.WindowQuery", "investigation query ", "normalize."} {
		found := false
		for _, s := range statements {
			if strings.HasPrefix(s.Source, prefix) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no statement from %q", prefix)
		}
	}
}

// chdbInstallCommand is what installs the chDB engine where
// defaultChDBLibrary looks for it.
const chdbInstallCommand = "scripts/deps.sh --test"

// defaultChDBLibrary returns where scripts/deps.sh installs libchdb.so.
func defaultChDBLibrary() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "harrier", "chdb", "node_modules", "@chdb", "lib-linux-x64-gnu", "libchdb.so")
}

// TestStatementsRunOnCurrentClickHouse runs every shipped statement on a
// current ClickHouse through chDB. chdb-go loads libchdb.so when its package
// is initialised and panics when the library is missing, so the statements
// run in a child "go test -tags chdb" process that starts only once the
// library is known to exist.
func TestStatementsRunOnCurrentClickHouse(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: builds and runs a child test binary with chDB")
	}
	lib := os.Getenv("CHDB_LIB_PATH")
	if lib == "" {
		lib = defaultChDBLibrary()
	}
	if _, err := os.Stat(lib); err != nil {
		msg := "chDB library not found at " + lib + " (set CHDB_LIB_PATH or run " + chdbInstallCommand + ")"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	cmd := exec.Command(goCmd, "test", "-count=1", "-v", "-tags", "chdb", "-run", "^TestChDB", ".")
	cmd.Env = append(os.Environ(), "CHDB_LIB_PATH="+lib, "CGO_ENABLED=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("statements on chDB (%s) failed: %v\n%s", lib, err, out)
	}
	t.Logf("chDB run:\n%s", out)
}
