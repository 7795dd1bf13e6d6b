package storage_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/storage"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func TestMigrateTwice(t *testing.T) {
	ctx := context.Background()
	store := storagetest.NewUnmigrated(t)

	applied, err := store.Migrate(ctx)
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	ms, err := storage.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(ms) {
		t.Errorf("first Migrate applied %v, want all %d migrations", applied, len(ms))
	}
	if !slices.IsSorted(applied) {
		t.Errorf("first Migrate applied %v out of order", applied)
	}

	again, err := store.Migrate(ctx)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(again) != 0 {
		t.Errorf("second Migrate applied %v, want none", again)
	}

	versions, err := store.AppliedVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != len(ms) || versions[len(versions)-1] != storage.LatestVersion() {
		t.Errorf("schema_migrations versions = %v, want 1..%d", versions, storage.LatestVersion())
	}
	_, rows, err := store.Query(ctx, "SELECT count() FROM schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	if got := rows[0][0].(uint64); got != uint64(len(ms)) {
		t.Errorf("schema_migrations has %d rows, want %d", got, len(ms))
	}
}

func TestMigrateCreatesTables(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	_, rows, err := store.Query(ctx, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", store.Database())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rows {
		names = append(names, r[0].(string))
	}
	for _, want := range []string{"alerts", "containers", "dead_letters", "events", "features", "hosts", "images",
		"metrics", "running_vulnerable_containers", "schema_migrations", "scores", "vulnerabilities"} {
		if !slices.Contains(names, want) {
			t.Errorf("table %s missing; tables: %v", want, names)
		}
	}
}

func TestMigrateRejectsNewerSchema(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	newer := storage.LatestVersion() + 1
	err := store.Insert(ctx, "schema_migrations", []string{"version", "name", "applied_at"},
		[][]any{{uint32(newer), "future", time.Now()}})
	if err != nil {
		t.Fatal(err)
	}

	_, err = store.Migrate(ctx)
	if err == nil {
		t.Fatal("Migrate succeeded on a database with a newer schema version")
	}
	for _, want := range []string{"schema version", "newer than this binary", "upgrade harrier"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestInsertQueryRoundTrip(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	at := time.Date(2024, 3, 1, 12, 30, 0, 0, time.UTC)
	columns := []string{"alert_id", "fingerprint", "raised_at", "raised_ns", "source", "name", "severity",
		"container_id", "container_name", "host_id", "image_id", "image_ref", "score", "threshold",
		"summary", "drivers", "query"}
	row := []any{"a1", "fp1", at, at.UnixNano(), "rule", "privileged-container", "high",
		"c1", "web", "h1", "sha256:abc", "nginx:1.25", 0.9, 0.5,
		"privileged container running", []string{"privileged", "root user"}, "SELECT 1"}
	if err := store.Insert(ctx, "alerts", columns, [][]any{row, row}); err != nil {
		t.Fatal(err)
	}

	cols, rows, err := store.Query(ctx, "SELECT alert_id, raised_at, raised_ns, severity, score, drivers FROM alerts FINAL")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"alert_id", "raised_at", "raised_ns", "severity", "score", "drivers"}; !slices.Equal(cols, want) {
		t.Errorf("columns = %v, want %v", cols, want)
	}
	if len(rows) != 1 {
		t.Fatalf("got %d rows with FINAL, want 1 (duplicates collapse): %v", len(rows), rows)
	}
	got := rows[0]
	if got[0] != "a1" {
		t.Errorf("alert_id = %v", got[0])
	}
	if ts, ok := got[1].(time.Time); !ok || !ts.Equal(at) {
		t.Errorf("raised_at = %v, want %v", got[1], at)
	}
	if got[2] != at.UnixNano() {
		t.Errorf("raised_ns = %v, want %d", got[2], at.UnixNano())
	}
	if got[3] != "high" {
		t.Errorf("severity = %v", got[3])
	}
	if got[4] != 0.9 {
		t.Errorf("score = %v", got[4])
	}
	if d, ok := got[5].([]string); !ok || !slices.Equal(d, []string{"privileged", "root user"}) {
		t.Errorf("drivers = %#v", got[5])
	}
}

func TestInsertRejectsShortRow(t *testing.T) {
	store := storagetest.New(t)
	err := store.Insert(context.Background(), "hosts", []string{"host_id", "hostname"}, [][]any{{"h1"}})
	if err == nil || !strings.Contains(err.Error(), "row 0 has 1 values for 2 columns") {
		t.Errorf("error = %v, want a column count mismatch", err)
	}
}

func TestRunningVulnerableContainersView(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	containerCols := []string{"container_id", "name", "host_id", "runtime", "image_ref", "image_id", "namespace",
		"pod", "labels", "privileged", "user", "running", "started_at", "seen_at", "record_id"}
	err := store.Insert(ctx, "containers", containerCols, [][]any{
		{"c1", "web", "h1", "docker", "nginx:1.25", "sha256:img1", "", "", "{}", uint8(0), "", uint8(1), t0, t0, "r1"},
		// c2 ran, then stopped: the later row wins.
		{"c2", "db", "h1", "docker", "nginx:1.25", "sha256:img1", "", "", "{}", uint8(0), "", uint8(1), t0, t0, "r2"},
		{"c2", "db", "h1", "docker", "nginx:1.25", "sha256:img1", "", "", "{}", uint8(0), "", uint8(0), t0, t0.Add(time.Minute), "r3"},
	})
	if err != nil {
		t.Fatal(err)
	}
	vulnCols := []string{"image_id", "image_ref", "vuln_id", "package", "installed_version", "fixed_version",
		"severity", "title", "scanner", "scanned_at", "record_id"}
	err = store.Insert(ctx, "vulnerabilities", vulnCols, [][]any{
		{"sha256:img1", "nginx:1.25", "CVE-2024-0001", "openssl", "3.0.1", "3.0.2", "HIGH", "t", "trivy", t0, "s1"},
		{"sha256:img1", "nginx:1.25", "CVE-2024-0002", "zlib", "1.2", "", "LOW", "no fix", "trivy", t0, "s1"},
	})
	if err != nil {
		t.Fatal(err)
	}

	_, rows, err := store.Query(ctx, "SELECT container_id, container_name, vuln_id, fixed_version FROM running_vulnerable_containers")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("got %d rows, want 1 (running c1, fixable CVE): %v", len(rows), rows)
	}
	if rows[0][0] != "c1" || rows[0][1] != "web" || rows[0][2] != "CVE-2024-0001" || rows[0][3] != "3.0.2" {
		t.Errorf("row = %v", rows[0])
	}
}

func TestFormatTable(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	err := storage.FormatTable(&buf, []string{"id", "name", "at", "tags"}, [][]any{
		{uint64(1), "web", at, []string{"a", "b"}},
		{uint64(1234), "line\nbreak", at, []string(nil)},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"id    name         at                    tags\n" +
		"----  -----------  --------------------  -----\n" +
		"1     web          2024-03-01T12:00:00Z  [a b]\n" +
		"1234  line\\nbreak  2024-03-01T12:00:00Z  []\n" +
		"(2 rows)\n"
	if buf.String() != want {
		t.Errorf("FormatTable output:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestFormatTableEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := storage.FormatTable(&buf, []string{"count()"}, nil); err != nil {
		t.Fatal(err)
	}
	if want := "count()\n-------\n(0 rows)\n"; buf.String() != want {
		t.Errorf("FormatTable output %q, want %q", buf.String(), want)
	}
}

func TestOpenRejectsBadDatabaseName(t *testing.T) {
	_, err := storage.Open(context.Background(), storage.Config{Addr: "127.0.0.1:1", Database: "x; DROP"})
	if err == nil || !strings.Contains(err.Error(), `"x; DROP"`) {
		t.Errorf("error = %v, want invalid database name", err)
	}
}
