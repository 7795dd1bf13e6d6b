package datasource

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/harrierhq/harrier/storage"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// demoStart is the first minute of the rows insertDemoRows writes.
var demoStart = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

const (
	webID    = "c4dd52f960e2c4dd52f960e2"
	sshID    = "5a1b2c3d4e5f5a1b2c3d4e5f"
	hostID   = "host-demo-1"
	webImage = "sha256:" + "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"
	sshImage = "sha256:" + "d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3"
)

// insertDemoRows writes the rows of the demo's SSH brute-force hour: two
// running containers, an hour of scores with the sshd container anomalous
// from minute 45 to 49, two alerts and the images' vulnerabilities.
func insertDemoRows(t *testing.T, store *storage.Store) {
	t.Helper()
	ctx := context.Background()
	seen := demoStart.Add(time.Hour)

	must := func(table string, columns []string, rows [][]any) {
		t.Helper()
		if err := store.Insert(ctx, table, columns, rows); err != nil {
			t.Fatalf("insert %s: %v", table, err)
		}
	}
	must("containers", []string{"container_id", "name", "host_id", "runtime", "image_ref", "image_id", "running", "started_at", "seen_at", "record_id"}, [][]any{
		{webID, "web", hostID, "docker", "nginx:1.25", webImage, uint8(1), demoStart, seen, "r1"},
		{sshID, "sshd", hostID, "docker", "linuxserver/openssh-server:9.3", sshImage, uint8(1), demoStart, seen, "r2"},
	})

	var scores [][]any
	for m := 0; m < 60; m++ {
		window := demoStart.Add(time.Duration(m) * time.Minute)
		sshScore, anomalous := 0.42, uint8(0)
		if m >= 45 && m <= 49 {
			sshScore, anomalous = 0.81, 1
		}
		scores = append(scores,
			[]any{webID, hostID, webImage, window, "iforest", 0.40, 0.65, uint8(0), "", seen},
			[]any{sshID, hostID, sshImage, window, "iforest", sshScore, 0.65, anomalous, "", seen},
		)
	}
	must("scores", []string{"container_id", "host_id", "image_id", "window_start", "model", "score", "threshold", "anomalous", "explanation", "scored_at"}, scores)

	alertColumns := []string{"alert_id", "fingerprint", "raised_at", "raised_ns", "event_at", "event_ns", "source", "name", "severity",
		"container_id", "container_name", "host_id", "image_id", "image_ref", "score", "threshold", "summary", "drivers", "query"}
	raised := demoStart.Add(46 * time.Minute)
	must("alerts", alertColumns, [][]any{
		{"a1", "f1", raised, raised.UnixNano(), raised, raised.UnixNano(), "model", "anomalous-container", "high",
			sshID, "sshd", hostID, sshImage, "linuxserver/openssh-server:9.3", 0.81, 0.65, "sshd scored 0.81 over 0.65", []string{"new_shapes"}, ""},
		{"a2", "f2", raised.Add(time.Minute), raised.UnixNano(), raised, raised.UnixNano(), "rule", "ssh-brute-force", "critical",
			sshID, "sshd", hostID, sshImage, "linuxserver/openssh-server:9.3", 0, 0, "40 failed logins in 1 minute", []string{}, ""},
	})

	must("vulnerabilities", []string{"image_id", "image_ref", "vuln_id", "package", "installed_version", "fixed_version", "severity", "title", "scanner", "scanned_at", "record_id"}, [][]any{
		{sshImage, "linuxserver/openssh-server:9.3", "CVE-2024-6387", "openssh-server", "1:9.3p1", "1:9.3p1-r1", "CRITICAL", "regreSSHion", "trivy", demoStart, "v1"},
		{sshImage, "linuxserver/openssh-server:9.3", "CVE-2023-38408", "openssh-client", "1:9.3p1", "1:9.3p2", "CRITICAL", "ssh-agent", "trivy", demoStart, "v2"},
		{webImage, "nginx:1.25", "CVE-2023-44487", "nghttp2", "1.55.1", "1.57.0", "HIGH", "HTTP/2 rapid reset", "trivy", demoStart, "v3"},
	})
}

func newDatasource(t *testing.T, store *storage.Store, settings Settings) *Datasource {
	t.Helper()
	settings.Addr = store.Addr()
	settings.Database = store.Database()
	if settings.MaxRows == 0 {
		settings.MaxRows = DefaultMaxRows
	}
	if settings.QueryTimeoutSeconds == 0 {
		settings.QueryTimeoutSeconds = 30
	}
	d, err := New(context.Background(), settings, nil)
	if err != nil {
		t.Fatalf("new data source: %v", err)
	}
	t.Cleanup(d.Dispose)
	return d
}

func dataQuery(t *testing.T, refID string, model map[string]any) backend.DataQuery {
	t.Helper()
	raw, err := json.Marshal(model)
	if err != nil {
		t.Fatal(err)
	}
	return backend.DataQuery{
		RefID:     refID,
		Interval:  time.Minute,
		TimeRange: backend.TimeRange{From: demoStart, To: demoStart.Add(time.Hour)},
		JSON:      raw,
	}
}

func runQuery(t *testing.T, d *Datasource, model map[string]any) backend.DataResponse {
	t.Helper()
	resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{dataQuery(t, "A", model)}})
	if err != nil {
		t.Fatalf("QueryData: %v", err)
	}
	return resp.Responses["A"]
}

func singleFrame(t *testing.T, r backend.DataResponse) *data.Frame {
	t.Helper()
	if r.Error != nil {
		t.Fatalf("query failed: %v", r.Error)
	}
	if len(r.Frames) != 1 {
		t.Fatalf("got %d frames, want 1", len(r.Frames))
	}
	return r.Frames[0]
}

func fieldNames(f *data.Frame) []string {
	var names []string
	for _, field := range f.Fields {
		names = append(names, field.Name)
	}
	return names
}

func TestQueryTypesOnDemoRows(t *testing.T) {
	store := storagetest.New(t)
	insertDemoRows(t, store)
	d := newDatasource(t, store, Settings{})

	t.Run("alerts", func(t *testing.T) {
		f := singleFrame(t, runQuery(t, d, map[string]any{"queryType": "alerts"}))
		if f.Rows() != 2 {
			t.Fatalf("alerts: got %d rows, want 2", f.Rows())
		}
		f = singleFrame(t, runQuery(t, d, map[string]any{"queryType": "alerts", "severity": "critical"}))
		if f.Rows() != 1 {
			t.Fatalf("critical alerts: got %d rows, want 1", f.Rows())
		}
		name, _ := f.FieldByName("name")
		if got := name.At(0); got != "ssh-brute-force" {
			t.Errorf("critical alert name = %v, want ssh-brute-force", got)
		}
	})

	t.Run("scores of one container", func(t *testing.T) {
		f := singleFrame(t, runQuery(t, d, map[string]any{"queryType": "scores", "containerId": sshID}))
		if f.Rows() != 60 {
			t.Fatalf("got %d rows, want 60 one-minute buckets", f.Rows())
		}
		if got := fieldNames(f); !reflect.DeepEqual(got, []string{"time", "score", "threshold"}) {
			t.Fatalf("fields = %v, want time, score, threshold", got)
		}
		score, _ := f.FieldByName("score")
		if got := score.At(46); got != 0.81 {
			t.Errorf("score at minute 46 = %v, want 0.81", got)
		}
		threshold, _ := f.FieldByName("threshold")
		if got := threshold.At(46); got != 0.65 {
			t.Errorf("threshold at minute 46 = %v, want 0.65", got)
		}
	})

	t.Run("scores per container in 5 minute buckets", func(t *testing.T) {
		q := dataQuery(t, "A", map[string]any{"queryType": "scores"})
		q.Interval = 5 * time.Minute
		resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
		if err != nil {
			t.Fatal(err)
		}
		f := singleFrame(t, resp.Responses["A"])
		if f.Rows() != 12 {
			t.Errorf("got %d rows, want 12 buckets", f.Rows())
		}
		if len(f.Fields) != 5 {
			t.Errorf("got fields %v, want time plus score and threshold of 2 containers", fieldNames(f))
		}
	})

	t.Run("top containers", func(t *testing.T) {
		f := singleFrame(t, runQuery(t, d, map[string]any{"queryType": "topContainers", "limit": 1}))
		if f.Rows() != 1 {
			t.Fatalf("got %d rows, want 1", f.Rows())
		}
		id, _ := f.FieldByName("container_id")
		if got := id.At(0); got != sshID {
			t.Errorf("top container = %v, want %s", got, sshID)
		}
		windows, _ := f.FieldByName("anomalous_windows")
		if got := windows.At(0); got != uint64(5) {
			t.Errorf("anomalous windows = %v (%T), want 5", got, got)
		}
	})

	t.Run("vulnerabilities", func(t *testing.T) {
		f := singleFrame(t, runQuery(t, d, map[string]any{"queryType": "vulnerabilities", "severity": "CRITICAL", "hostId": hostID}))
		if f.Rows() != 1 {
			t.Fatalf("got %d rows, want 1", f.Rows())
		}
		count, _ := f.FieldByName("vulnerabilities")
		if got := count.At(0); got != uint64(2) {
			t.Errorf("critical vulnerabilities = %v (%T), want 2", got, got)
		}
	})

	t.Run("raw SQL with macros", func(t *testing.T) {
		f := singleFrame(t, runQuery(t, d, map[string]any{
			"queryType": "sql",
			"rawSql":    "SELECT $__timeGroup(window_start) AS time, count() AS windows FROM scores WHERE $__timeFilter(window_start) AND window_start < $__toTime AND window_start >= $__fromTime AND $__interval_s = 60 GROUP BY time ORDER BY time",
		}))
		if f.Rows() != 60 {
			t.Fatalf("got %d rows, want 60", f.Rows())
		}
		windows, _ := f.FieldByName("windows")
		if got := windows.At(0); got != uint64(2) {
			t.Errorf("windows in the first minute = %v, want 2", got)
		}
	})

	t.Run("empty result keeps typed fields", func(t *testing.T) {
		f := singleFrame(t, runQuery(t, d, map[string]any{"queryType": "alerts", "containerId": "no-such-container"}))
		if f.Rows() != 0 {
			t.Fatalf("got %d rows, want 0", f.Rows())
		}
		timeField, _ := f.FieldByName("time")
		if timeField == nil || timeField.Type() != data.FieldTypeTime {
			t.Errorf("time field missing or not a time field: %v", fieldNames(f))
		}
	})
}

func TestRowLimitCutsResult(t *testing.T) {
	store := storagetest.New(t)
	insertDemoRows(t, store)
	d := newDatasource(t, store, Settings{MaxRows: 10})

	r := runQuery(t, d, map[string]any{"queryType": "sql", "rawSql": "SELECT * FROM scores"})
	f := singleFrame(t, r)
	if f.Rows() != 10 {
		t.Fatalf("got %d rows, want the limit 10", f.Rows())
	}
	if f.Meta == nil || len(f.Meta.Notices) != 1 {
		t.Fatalf("want one notice about the cut result, got meta %+v", f.Meta)
	}

	f = singleFrame(t, runQuery(t, d, map[string]any{"queryType": "topContainers", "limit": 1}))
	if f.Rows() != 1 {
		t.Errorf("limit 1: got %d rows", f.Rows())
	}
}

func TestQueryTimeLimit(t *testing.T) {
	store := storagetest.New(t)
	d := newDatasource(t, store, Settings{QueryTimeoutSeconds: 1})

	start := time.Now()
	r := runQuery(t, d, map[string]any{"queryType": "sql", "rawSql": "SELECT count() FROM system.numbers"})
	if r.Error == nil {
		t.Fatal("endless query returned no error")
	}
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Errorf("query stopped after %v, want about 1 s", elapsed)
	}
	t.Logf("error after %v: %v", time.Since(start), r.Error)
}

func TestInvalidQueries(t *testing.T) {
	store := storagetest.New(t)
	d := newDatasource(t, store, Settings{})
	cases := []struct {
		name  string
		model map[string]any
		want  string
	}{
		{"missing type", map[string]any{}, "missing queryType"},
		{"unknown type", map[string]any{"queryType": "graph"}, `invalid queryType "graph"`},
		{"negative limit", map[string]any{"queryType": "alerts", "limit": -1}, "invalid limit -1"},
		{"limit as text", map[string]any{"queryType": "alerts", "limit": "ten"}, "invalid query JSON"},
		{"empty SQL", map[string]any{"queryType": "sql", "rawSql": " "}, "missing rawSql"},
		{"macro on expression", map[string]any{"queryType": "sql", "rawSql": "SELECT 1 WHERE $__timeFilter(now())"}, "invalid column"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runQuery(t, d, c.model)
			if r.Error == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(r.Error.Error(), c.want) {
				t.Errorf("error %q does not contain %q", r.Error, c.want)
			}
			if r.Status != backend.StatusBadRequest {
				t.Errorf("status = %v, want bad request", r.Status)
			}
		})
	}
}

func TestCheckHealth(t *testing.T) {
	store := storagetest.New(t)
	d := newDatasource(t, store, Settings{})
	result, err := d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if result.Status != backend.HealthStatusOk {
		t.Fatalf("status = %v (%s), want OK", result.Status, result.Message)
	}
	want := fmt.Sprintf("schema version %d", storage.LatestVersion())
	if !strings.Contains(result.Message, want) {
		t.Errorf("message %q does not contain %q", result.Message, want)
	}
	var details struct {
		Applied []int `json:"applied"`
		Latest  int   `json:"latest"`
	}
	if err := json.Unmarshal(result.JSONDetails, &details); err != nil {
		t.Fatalf("details %s: %v", result.JSONDetails, err)
	}
	if details.Latest != storage.LatestVersion() || len(details.Applied) == 0 {
		t.Errorf("details = %+v", details)
	}

	t.Run("database without schema", func(t *testing.T) {
		bare := storagetest.NewUnmigrated(t)
		d := newDatasource(t, bare, Settings{})
		result, err := d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if result.Status != backend.HealthStatusError {
			t.Errorf("status = %v, want error", result.Status)
		}
		if !strings.Contains(result.Message, "harrier migrate") {
			t.Errorf("message %q does not say to migrate", result.Message)
		}
	})

	t.Run("server gone", func(t *testing.T) {
		d := newDatasource(t, store, Settings{})
		d.store.Close()
		result, err := d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if result.Status != backend.HealthStatusError {
			t.Errorf("status = %v, want error", result.Status)
		}
		if !strings.Contains(result.Message, "unreachable") {
			t.Errorf("message %q does not say unreachable", result.Message)
		}
	})
}

func TestNewInstanceSettings(t *testing.T) {
	store := storagetest.New(t)
	settings := backend.DataSourceInstanceSettings{
		UID:                     "harrier",
		JSONData:                []byte(fmt.Sprintf(`{"addr":%q,"database":%q,"maxRows":5}`, store.Addr(), store.Database())),
		DecryptedSecureJSONData: map[string]string{"password": ""},
	}
	instance, err := NewInstance(context.Background(), settings)
	if err != nil {
		t.Fatalf("NewInstance: %v", err)
	}
	d := instance.(*Datasource)
	defer d.Dispose()
	if d.settings.MaxRows != 5 || d.settings.QueryTimeoutSeconds != int(DefaultQueryTimeout/time.Second) {
		t.Errorf("settings = %+v", d.settings)
	}

	for _, bad := range []string{`{}`, `{"addr":"x","maxRows":-1}`, `{"addr":"x","queryTimeoutSeconds":-5}`, `{"addr":`} {
		if _, err := NewInstance(context.Background(), backend.DataSourceInstanceSettings{JSONData: []byte(bad)}); err == nil {
			t.Errorf("settings %s: no error", bad)
		}
	}
}

// resourceSender collects the responses of CallResource.
type resourceSender struct {
	responses []*backend.CallResourceResponse
}

func (s *resourceSender) Send(r *backend.CallResourceResponse) error {
	s.responses = append(s.responses, r)
	return nil
}

func callResource(t *testing.T, d *Datasource, path, rawQuery string) *backend.CallResourceResponse {
	t.Helper()
	var sender resourceSender
	req := &backend.CallResourceRequest{Path: path, Method: "GET", URL: path + "?" + rawQuery}
	if err := d.CallResource(context.Background(), req, &sender); err != nil {
		t.Fatalf("CallResource %s: %v", path, err)
	}
	if len(sender.responses) != 1 {
		t.Fatalf("CallResource %s: got %d responses, want 1", path, len(sender.responses))
	}
	return sender.responses[0]
}

func TestResources(t *testing.T) {
	store := storagetest.New(t)
	insertDemoRows(t, store)
	d := newDatasource(t, store, Settings{})

	r := callResource(t, d, "query-types", "")
	if r.Status != 200 {
		t.Fatalf("query-types: status %d: %s", r.Status, r.Body)
	}
	var types []string
	if err := json.Unmarshal(r.Body, &types); err != nil || !reflect.DeepEqual(types, QueryTypes) {
		t.Errorf("query-types = %s (%v)", r.Body, err)
	}

	r = callResource(t, d, "containers", "host_id="+hostID)
	if r.Status != 200 {
		t.Fatalf("containers: status %d: %s", r.Status, r.Body)
	}
	var containers []struct{ ID, Name string }
	if err := json.Unmarshal(r.Body, &containers); err != nil {
		t.Fatalf("containers body %s: %v", r.Body, err)
	}
	if len(containers) != 2 || containers[0].Name != "sshd" || containers[1].Name != "web" {
		t.Errorf("containers = %+v, want sshd and web", containers)
	}

	r = callResource(t, d, "containers", "host_id=%27%3B%20DROP%20TABLE%20containers%3B%20--")
	if r.Status != 200 || strings.TrimSpace(string(r.Body)) != "[]" {
		t.Errorf("containers of an injected host: status %d body %s, want 200 []", r.Status, r.Body)
	}

	r = callResource(t, d, "no-such-resource", "")
	if r.Status != 404 {
		t.Errorf("unknown resource: status %d, want 404", r.Status)
	}
}

func TestRawSQLLongSeriesBecomeWide(t *testing.T) {
	store := storagetest.New(t)
	insertDemoRows(t, store)
	d := newDatasource(t, store, Settings{})
	f := singleFrame(t, runQuery(t, d, map[string]any{
		"queryType": "sql",
		"rawSql":    "SELECT $__timeGroup(window_start) AS time, container_id, max(score) AS score FROM scores WHERE $__timeFilter(window_start) GROUP BY time, container_id ORDER BY time, container_id",
	}))
	if f.Rows() != 60 {
		t.Errorf("got %d rows, want 60", f.Rows())
	}
	if len(f.Fields) != 3 {
		t.Fatalf("fields %v, want time and one score per container", fieldNames(f))
	}
	if f.Fields[1].Labels["container_id"] == "" {
		t.Errorf("score field has no container_id label: %v", f.Fields[1].Labels)
	}
}
