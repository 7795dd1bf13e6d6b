package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/storage"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func runSQL(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	store := storagetest.New(t)
	var stdout, stderr bytes.Buffer
	full := append([]string{"sql", "--clickhouse", store.Addr(), "--clickhouse.database", store.Database()}, args...)
	code := mainWithArgs(full, &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestSQLFormats(t *testing.T) {
	query := "SELECT number AS n, toString(number) AS s FROM system.numbers LIMIT 2"

	out, errOut, code := runSQL(t, query)
	if code != 0 {
		t.Fatalf("table: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "(2 rows)") {
		t.Errorf("table output lacks the row count:\n%s", out)
	}

	out, errOut, code = runSQL(t, "--format", "csv", query)
	if code != 0 {
		t.Fatalf("csv: exit %d: %s", code, errOut)
	}
	if out != "n,s\n0,0\n1,1\n" {
		t.Errorf("csv output = %q", out)
	}

	out, errOut, code = runSQL(t, "--format", "json", query)
	if code != 0 {
		t.Fatalf("json: exit %d: %s", code, errOut)
	}
	var objects []map[string]any
	if err := json.Unmarshal([]byte(out), &objects); err != nil {
		t.Fatalf("json output is not JSON: %v\n%s", err, out)
	}
	if len(objects) != 2 || objects[1]["s"] != "1" || objects[1]["n"] != "1" {
		t.Errorf("json objects = %v", objects)
	}
}

func TestSQLRejectsUnknownFormat(t *testing.T) {
	_, errOut, code := runSQL(t, "--format", "xml", "SELECT 1")
	if code == 0 {
		t.Fatal("format xml accepted")
	}
	if !strings.Contains(errOut, `"xml"`) {
		t.Errorf("error does not name the value: %s", errOut)
	}
}

func TestSQLTimeout(t *testing.T) {
	_, errOut, code := runSQL(t, "--timeout", "1s", "SELECT count() FROM system.numbers")
	if code == 0 {
		t.Fatal("an endless query returned without error")
	}
	if !strings.Contains(errOut, "time limit of 1s") {
		t.Errorf("error does not name the time limit: %s", errOut)
	}
	// The server, not the client's later timer, ends the query.
	if !strings.Contains(errOut, "code: 159") {
		t.Errorf("error is not the server's TIMEOUT_EXCEEDED: %s", errOut)
	}
}

func TestSQLSendsTimeoutToServer(t *testing.T) {
	out, errOut, code := runSQL(t, "--timeout", "3s", "--format", "csv", "SELECT value FROM system.settings WHERE name = 'max_execution_time'")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != "value\n3\n" {
		t.Errorf("max_execution_time on the server = %q, want 3", out)
	}
}

// runSQLOn runs harrier sql against the database of store.
func runSQLOn(t *testing.T, store *storage.Store, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	full := append([]string{"sql", "--clickhouse", store.Addr(), "--clickhouse.database", store.Database()}, args...)
	code := mainWithArgs(full, &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

func tableExists(t *testing.T, store *storage.Store, table string) bool {
	t.Helper()
	_, rows, err := store.Query(context.Background(), "SELECT count() FROM system.tables WHERE database = ? AND name = ?", store.Database(), table)
	if err != nil {
		t.Fatal(err)
	}
	return rows[0][0].(uint64) == 1
}

func TestSQLReadOnlyByDefault(t *testing.T) {
	store := storagetest.New(t)

	_, errOut, code := runSQLOn(t, store, "DROP TABLE events")
	if code == 0 {
		t.Fatal("DROP TABLE without --write succeeded")
	}
	if !strings.Contains(errOut, "add --write") {
		t.Errorf("error does not say to add --write: %s", errOut)
	}
	if !tableExists(t, store, "events") {
		t.Fatal("DROP TABLE without --write dropped the table")
	}

	_, errOut, code = runSQLOn(t, store, "CREATE TABLE scratch (x UInt8) ENGINE = Memory")
	if code == 0 {
		t.Error("CREATE TABLE without --write succeeded")
	}
	if !strings.Contains(errOut, "add --write") {
		t.Errorf("error does not say to add --write: %s", errOut)
	}
	if tableExists(t, store, "scratch") {
		t.Error("CREATE TABLE without --write created the table")
	}

	out, errOut, code := runSQLOn(t, store, "--format", "csv", "SELECT value FROM system.settings WHERE name = 'readonly'")
	if code != 0 {
		t.Fatalf("SELECT exited %d: %s", code, errOut)
	}
	if out != "value\n2\n" {
		t.Errorf("readonly setting = %q, want 2", out)
	}
}

func TestSQLWriteAllowsChanges(t *testing.T) {
	store := storagetest.New(t)

	out, errOut, code := runSQLOn(t, store, "--write", "CREATE TABLE scratch (x UInt8) ENGINE = Memory")
	if code != 0 {
		t.Fatalf("CREATE TABLE with --write exited %d: %s", code, errOut)
	}
	if out != "OK\n" {
		t.Errorf("output = %q, want OK", out)
	}
	if !tableExists(t, store, "scratch") {
		t.Fatal("CREATE TABLE with --write did not create the table")
	}

	if _, errOut, code := runSQLOn(t, store, "DROP TABLE scratch", "--write"); code != 0 {
		t.Fatalf("DROP TABLE with --write exited %d: %s", code, errOut)
	}
	if tableExists(t, store, "scratch") {
		t.Error("DROP TABLE with --write left the table")
	}
}
