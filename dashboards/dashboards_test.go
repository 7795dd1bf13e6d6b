package dashboards

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/harrierhq/harrier/dashboards/datasource"
	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

var wantFiles = []string{"container-drill-down.json", "fleet-vulnerabilities.json", "pipeline-health.json", "soc-overview.json"}

func TestBuildFourDashboards(t *testing.T) {
	files, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(wantFiles) {
		t.Fatalf("got %d dashboards, want %d", len(files), len(wantFiles))
	}
	uids := map[string]string{}
	for _, name := range wantFiles {
		data, ok := files[name]
		if !ok {
			t.Errorf("dashboard %s missing", name)
			continue
		}
		if !json.Valid(data) {
			t.Errorf("%s: invalid JSON", name)
		}
		var d Dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: missing uid or title", name)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %s", name, other, d.UID)
		}
		uids[d.UID] = name
		if len(d.Panels) < 4 {
			t.Errorf("%s: %d panels, want at least 4", name, len(d.Panels))
		}
		for _, p := range d.Panels {
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no targets", name, p.Title)
			}
			for _, target := range p.Targets {
				if target.RefID == "" || target.Datasource.UID == "" {
					t.Errorf("%s: panel %q: target without refId or data source: %+v", name, p.Title, target)
				}
				if !target.Harrier() && target.Expr == "" {
					t.Errorf("%s: panel %q: target %s has no query", name, p.Title, target.RefID)
				}
			}
		}
	}
}

func TestEndOfLifePanelFollowsSchema(t *testing.T) {
	hasEOL, err := schemaHasColumn("os_eol_date")
	if err != nil {
		t.Fatal(err)
	}
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range all["fleet-vulnerabilities.json"].Panels {
		if p.Title == "Hosts past end of support" {
			found = true
		}
	}
	if found != hasEOL {
		t.Errorf("end-of-life panel present = %v, hosts.os_eol_date in the schema = %v", found, hasEOL)
	}
}

// The files in json/ are what docker-compose.yml provisions, so they
// must match the code.
func TestExportedFilesAreCurrent(t *testing.T) {
	files, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("json", name))
		if err != nil {
			t.Errorf("%v: run harrier dashboards export dashboards/json", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("json/%s differs from the code: run harrier dashboards export dashboards/json", name)
		}
	}
	entries, err := os.ReadDir("json")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok {
			t.Errorf("json/%s is not built by the code: remove it", e.Name())
		}
	}
}

func TestExportWritesFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	paths, err := Export(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(wantFiles) {
		t.Fatalf("wrote %v, want %d files", paths, len(wantFiles))
	}
	for i, name := range wantFiles {
		if paths[i] != filepath.Join(dir, name) {
			t.Errorf("path %d = %s, want %s", i, paths[i], name)
		}
		data, err := os.ReadFile(paths[i])
		if err != nil || !json.Valid(data) {
			t.Errorf("%s: unreadable or invalid JSON (%v)", paths[i], err)
		}
	}
}

// insertSampleRows gives every panel rows to read: a container with
// features, scores, events, an alert, a vulnerability, a host and a dead
// letter.
func insertSampleRows(t *testing.T, ctx context.Context, insert func(string, []string, [][]any) error, at time.Time) {
	t.Helper()
	const id, image, host = "c4dd52f960e2c4dd52f960e2", "sha256:c2", "host-1"
	tables := []struct {
		table   string
		columns []string
		row     []any
	}{
		{"containers", []string{"container_id", "name", "host_id", "image_ref", "image_id", "running", "started_at", "seen_at"}, []any{id, "sshd", host, "openssh:9.3", image, uint8(1), at, at}},
		{"features", []string{"container_id", "host_id", "image_id", "window_start", "window_s", "cpu_cores", "log_lines", "new_shapes", "computed_at"}, []any{id, host, image, at, uint32(60), 0.5, 40.0, 2.0, at}},
		{"scores", []string{"container_id", "host_id", "image_id", "window_start", "model", "score", "threshold", "anomalous", "scored_at"}, []any{id, host, image, at, "iforest", 0.8, 0.65, uint8(1), at}},
		{"events", []string{"time", "time_ns", "record_id", "host_id", "container_id", "message", "template_id", "template", "collected_ns"}, []any{at, at.UnixNano(), "e1", host, id, "Failed password for root", uint64(7), "Failed password for <*>", at.UnixNano() + 1e9}},
		{"metrics", []string{"time", "time_ns", "record_id", "host_id", "container_id"}, []any{at, at.UnixNano(), "m1", host, id}},
		{"alerts", []string{"alert_id", "fingerprint", "raised_at", "severity", "name", "source", "container_id", "container_name", "host_id", "image_id"}, []any{"a1", "f1", at, "critical", "ssh-brute-force", "rule", id, "sshd", host, image}},
		{"vulnerabilities", []string{"image_id", "image_ref", "vuln_id", "package", "fixed_version", "severity", "scanned_at"}, []any{image, "openssh:9.3", "CVE-2024-6387", "openssh-server", "1:9.3p1-r1", "CRITICAL", at}},
		{"hosts", []string{"host_id", "hostname", "os_pretty", "seen_at"}, []any{host, "node-1", "Debian 10", at}},
		{"dead_letters", []string{"topic", "partition", "offset", "reason", "raw", "received_at"}, []any{"harrier.logs", int32(0), int64(4), "invalid time", "{}", at}},
	}
	for _, tb := range tables {
		if err := insert(tb.table, tb.columns, [][]any{tb.row}); err != nil {
			t.Fatalf("insert %s: %v", tb.table, err)
		}
	}
}

// Every Harrier target of every panel runs through the data source's
// QueryData on the Debian clickhouse-server, and returns rows where the
// sample rows should show.
func TestPanelQueriesRunThroughDatasource(t *testing.T) {
	store := storagetest.New(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Minute).Add(-30 * time.Minute)
	insertSampleRows(t, ctx, func(table string, columns []string, rows [][]any) error {
		return store.Insert(ctx, table, columns, rows)
	}, at)

	d, err := datasource.New(ctx, datasource.Settings{Addr: store.Addr(), Database: store.Database(), MaxRows: 1000, QueryTimeoutSeconds: 30}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Dispose()

	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"container": "c4dd52f960e2c4dd52f960e2"}
	ran := 0
	for name, board := range all {
		for _, p := range board.Panels {
			for _, target := range p.Targets {
				if !target.Harrier() {
					continue
				}
				model, err := json.Marshal(substitute(target.Query, vars))
				if err != nil {
					t.Fatal(err)
				}
				resp, err := d.QueryData(ctx, &backend.QueryDataRequest{Queries: []backend.DataQuery{{
					RefID:     target.RefID,
					Interval:  time.Minute,
					TimeRange: backend.TimeRange{From: at.Add(-time.Hour), To: at.Add(time.Hour)},
					JSON:      model,
				}}})
				if err != nil {
					t.Fatalf("%s: panel %q: %v", name, p.Title, err)
				}
				r := resp.Responses[target.RefID]
				ran++
				if r.Error != nil {
					t.Errorf("%s: panel %q target %s: %v", name, p.Title, target.RefID, r.Error)
					continue
				}
				if len(r.Frames) != 1 || r.Frames[0].Rows() == 0 {
					if p.Title != "Hosts past end of support" && p.Title != "Failed notifications" {
						t.Errorf("%s: panel %q target %s returned no rows", name, p.Title, target.RefID)
					}
				}
			}
		}
	}
	if ran < 20 {
		t.Errorf("ran %d targets, want at least 20", ran)
	}
}

// Statements gives SQL that runs as text; storage/shipped runs the same
// statements on chDB.
func TestStatementsRunOnServer(t *testing.T) {
	store := storagetest.New(t)
	to := time.Now().UTC()
	stmts, err := Statements(to.Add(-7*24*time.Hour), to, map[string]string{"container": "c4dd52f960e2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) < 20 {
		t.Errorf("got %d statements, want at least 20", len(stmts))
	}
	for _, s := range stmts {
		if strings.Contains(s.SQL, "$") || strings.Contains(s.SQL, "?") {
			t.Errorf("%s: macro or placeholder left in %s", s.Source, s.SQL)
		}
		if _, _, err := store.Query(context.Background(), s.SQL); err != nil {
			t.Errorf("%s: %v", s.Source, err)
		}
	}
}

func TestInlineQuotesStrings(t *testing.T) {
	got, err := inline("SELECT ? , ?, ?", []any{`'; DROP TABLE alerts; --\`, int64(7), 3})
	if err != nil {
		t.Fatal(err)
	}
	want := `SELECT '\'; DROP TABLE alerts; --\\' , 7, 3`
	if got != want {
		t.Errorf("inline = %s, want %s", got, want)
	}
	if _, err := inline("SELECT ?", nil); err == nil {
		t.Error("missing argument: no error")
	}
	if _, err := inline("SELECT 1", []any{1}); err == nil {
		t.Error("extra argument: no error")
	}
	if _, err := inline("SELECT ?", []any{1.5}); err == nil {
		t.Error("float argument: no error")
	}
}

// Every metric a Prometheus panel reads is one the roles export.
func TestPrometheusPanelsUseExportedMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	// Vectors have no series until a label value is used.
	r := m.ForRole("normalize")
	r.In("harrier.logs", 1)
	r.Out("events", 1)
	r.DeadLettered("invalid_json", 1)
	r.Dropped("buffer_full", 1)
	r.Lag("harrier.logs", 0, 1)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range families {
		exported[f.GetName()] = true
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			exported[f.GetName()+suffix] = true
		}
	}

	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`harrier_[a-z_]+`)
	checked := 0
	for file, d := range all {
		for _, p := range d.Panels {
			for _, target := range p.Targets {
				for _, name := range names.FindAllString(target.Expr, -1) {
					checked++
					if !exported[name] {
						t.Errorf("%s: panel %q reads %s, which internal/metrics does not export", file, p.Title, name)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no Prometheus panel found")
	}
}
