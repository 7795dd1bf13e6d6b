package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

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
}
