//go:build chdb

package shipped

import (
	"strings"
	"testing"

	"github.com/chdb-io/chdb-go/chdb"
)

// TestChDBStatements runs every shipped statement on chDB, the embedded
// build of a current ClickHouse. TestStatementsRunOnCurrentClickHouse
// starts it with the library path set. Sample rows from generateRandom go
// into every table between the schema and the queries, so that the
// queries also read values and not only an empty schema.
func TestChDBStatements(t *testing.T) {
	session, err := chdb.NewSession(t.TempDir())
	if err != nil {
		t.Fatalf("open chDB session: %v", err)
	}
	defer session.Close()

	version, err := session.Query("SELECT version()", "TabSeparated")
	if err != nil {
		t.Fatalf("read chDB version: %v", err)
	}
	t.Logf("chDB ClickHouse version %s", strings.TrimSpace(string(version.Buf())))

	for _, setup := range []string{"CREATE DATABASE IF NOT EXISTS harrier", "USE harrier"} {
		if _, err := session.Query(setup); err != nil {
			t.Fatalf("%s: %v", setup, err)
		}
	}

	statements, err := Statements()
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	seeded := false
	for _, s := range statements {
		if !s.Schema && !seeded {
			seedTables(t, session)
			seeded = true
		}
		if _, err := session.Query(s.SQL, "Null"); err != nil {
			t.Errorf("%s: %v\n%s", s.Source, err, s.SQL)
			continue
		}
		ran++
	}
	t.Logf("%d of %d statements ran on chDB", ran, len(statements))
}

// seedTables inserts random rows into every table of the harrier database.
func seedTables(t *testing.T, session *chdb.Session) {
	t.Helper()
	res, err := session.Query("SELECT name FROM system.tables WHERE database = 'harrier' AND engine LIKE '%MergeTree'", "TabSeparated")
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	tables := strings.Fields(string(res.Buf()))
	if len(tables) == 0 {
		t.Fatal("no MergeTree tables in database harrier after the migrations")
	}
	for _, table := range tables {
		q := "INSERT INTO harrier." + table + " SELECT * FROM generateRandom() LIMIT 50"
		if _, err := session.Query(q); err != nil {
			t.Errorf("seed %s: %v", table, err)
		}
	}
}
