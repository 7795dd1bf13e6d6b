package datasource

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/storage/storagetest"
)

// injections are SQL-injection attempts. Each is put into every string
// field of every query type.
var injections = []string{
	`'; DROP TABLE alerts; --`,
	`' OR 1=1 --`,
	`\'; DROP TABLE alerts; --`,
	`"; DROP TABLE alerts; --`,
	"`; DROP TABLE alerts; --",
	`x') UNION ALL SELECT name FROM system.tables --`,
	`?`,
	`$__fromTime`,
	`$__timeFilter(raised_at) OR 1=1) --`,
	"'\x00; DROP TABLE alerts",
	`\`,
	`1; DROP TABLE alerts`,
}

// leaks reports whether msg shows the statement the data source built.
// A validation error may quote the rejected value, so that is cut first.
func leaks(msg, injected string) bool {
	msg = strings.ReplaceAll(msg, strings.Trim(fmt.Sprintf("%q", injected), `"`), "")
	msg = strings.ReplaceAll(msg, injected, "")
	upper := strings.ToUpper(msg)
	for _, part := range []string{"SELECT", "DROP", "FROM ", "WHERE", "FINAL", "TODATETIME", "GROUP BY", "LIMIT"} {
		if strings.Contains(upper, part) {
			return true
		}
	}
	return false
}

// usedFields lists the string fields each query type filters on.
var usedFields = map[string][]string{
	QueryTypeAlerts:          {"containerId", "hostId", "imageId", "severity", "rule"},
	QueryTypeScores:          {"containerId", "hostId", "imageId", "model"},
	QueryTypeTopContainers:   {"hostId", "imageId", "model"},
	QueryTypeVulnerabilities: {"containerId", "hostId", "imageId", "severity"},
}

func TestSQLInjectionInEveryField(t *testing.T) {
	store := storagetest.New(t)
	insertDemoRows(t, store)
	d := newDatasource(t, store, Settings{})
	ctx := context.Background()

	tablesBefore := tableCount(t, d)
	_, alertRows, err := store.Query(ctx, "SELECT count() FROM alerts")
	if err != nil {
		t.Fatal(err)
	}

	var stringFields []string
	queryType := reflect.TypeOf(Query{})
	for i := 0; i < queryType.NumField(); i++ {
		field := queryType.Field(i)
		if field.Type.Kind() == reflect.String {
			stringFields = append(stringFields, strings.Split(field.Tag.Get("json"), ",")[0])
		}
	}

	for _, kind := range QueryTypes {
		for _, field := range stringFields {
			for _, injected := range injections {
				model := map[string]any{"queryType": kind, field: injected}
				if field == "queryType" {
					model = map[string]any{"queryType": injected}
				}
				if kind == QueryTypeSQL && field != "rawSql" && field != "queryType" {
					model["rawSql"] = "SELECT count() FROM alerts"
				}
				r := runQuery(t, d, model)
				if r.Error != nil {
					if leaks(r.Error.Error(), injected) {
						t.Errorf("%s.%s = %q: error shows SQL or the value: %v", kind, field, injected, r.Error)
					}
					continue
				}
				// A bound value only matches rows that hold it, and no
				// row does. Fields a query type does not use are ignored.
				if slices.Contains(usedFields[kind], field) && r.Frames[0].Rows() != 0 {
					t.Errorf("%s.%s = %q: got %d rows, want 0", kind, field, injected, r.Frames[0].Rows())
				}
			}
		}
	}

	if got := tableCount(t, d); got != tablesBefore {
		t.Errorf("tables: %d before, %d after the injection attempts", tablesBefore, got)
	}
	_, after, err := store.Query(ctx, "SELECT count() FROM alerts")
	if err != nil {
		t.Fatalf("alerts table after the injection attempts: %v", err)
	}
	if after[0][0] != alertRows[0][0] {
		t.Errorf("alerts: %v rows before, %v after", alertRows[0][0], after[0][0])
	}
}

func TestRawSQLIsReadOnly(t *testing.T) {
	store := storagetest.New(t)
	insertDemoRows(t, store)
	d := newDatasource(t, store, Settings{})

	for _, sql := range []string{
		"DROP TABLE alerts",
		"TRUNCATE TABLE alerts",
		"CREATE TABLE intruder (a UInt8) ENGINE = Memory",
		"ALTER TABLE alerts DELETE WHERE 1",
		"SELECT 1; DROP TABLE alerts",
	} {
		r := runQuery(t, d, map[string]any{"queryType": "sql", "rawSql": sql})
		if r.Error == nil {
			t.Errorf("%q: no error", sql)
			continue
		}
		if leaks(r.Error.Error(), sql) {
			t.Errorf("%q: error shows SQL: %v", sql, r.Error)
		}
	}
	_, rows, err := store.Query(context.Background(), "SELECT count() FROM alerts")
	if err != nil {
		t.Fatalf("alerts table after the write attempts: %v", err)
	}
	if rows[0][0] != uint64(2) {
		t.Errorf("alerts rows = %v, want 2", rows[0][0])
	}
	if _, rows, _ := store.Query(context.Background(), "SELECT count() FROM system.tables WHERE database = ? AND name = 'intruder'", store.Database()); rows[0][0] != uint64(0) {
		t.Error("raw SQL created a table")
	}
}

func TestInjectedDatabaseSetting(t *testing.T) {
	store := storagetest.New(t)
	for _, db := range []string{"harrier; DROP TABLE alerts", "harrier`", "x' OR '1'='1"} {
		_, err := New(context.Background(), Settings{Addr: store.Addr(), Database: db, MaxRows: 1, QueryTimeoutSeconds: 1}, nil)
		if err == nil {
			t.Errorf("database %q: no error", db)
		}
	}
}

func tableCount(t *testing.T, d *Datasource) uint64 {
	t.Helper()
	_, rows, err := d.store.Query(context.Background(), "SELECT count() FROM system.tables WHERE database = ?", d.store.Database())
	if err != nil {
		t.Fatal(err)
	}
	return rows[0][0].(uint64)
}
