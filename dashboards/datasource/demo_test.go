package datasource

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
	"github.com/harrierhq/harrier/storage/storagetest"
)

// repoRoot returns the repository root, two folders above this file.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Every query type returns rows on the data `harrier demo` writes: the demo
// runs as a subprocess against the embedded broker and the test's
// ClickHouse database.
func TestQueryTypesOnDemoData(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs harrier demo")
	}
	root := repoRoot(t)
	binary := filepath.Join(t.TempDir(), "harrier")
	build := exec.Command("go", "build", "-o", binary, "./cmd/harrier")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build harrier: %v\n%s", err, out)
	}

	// The demo migrates the database itself and rejects one with tables.
	store := storagetest.NewUnmigrated(t)
	brokers := kafkatest.StartTestBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	demo := exec.CommandContext(ctx, binary, "demo",
		"--kafka", strings.Join(brokers, ","),
		"--clickhouse", store.Addr(),
		"--clickhouse.database", store.Database(),
		"--data", filepath.Join(root, "testdata", "demo"),
		"--no-host")
	demo.Dir = root
	out, err := demo.CombinedOutput()
	if err != nil {
		t.Fatalf("harrier demo: %v\n%s", err, out)
	}
	t.Logf("demo output:\n%s", lastLines(string(out), 15))

	d := newDatasource(t, store, Settings{})
	// The demo's records carry the timestamps of the bundled hour, so the
	// range covers every time the bundle may use.
	from, to := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Now().Add(24*time.Hour)
	query := func(model map[string]any) backend.DataResponse {
		raw, _ := json.Marshal(model)
		resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{{
			RefID: "A", Interval: time.Hour, TimeRange: backend.TimeRange{From: from, To: to}, JSON: raw,
		}}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Responses["A"]
	}

	top := singleFrame(t, query(map[string]any{"queryType": QueryTypeTopContainers, "limit": 3}))
	if top.Rows() == 0 {
		t.Fatal("top containers: no rows; the demo wrote no scores")
	}
	idField, _ := top.FieldByName("container_id")
	topID := idField.At(0).(string)

	for _, model := range []map[string]any{
		{"queryType": QueryTypeAlerts},
		{"queryType": QueryTypeScores},
		{"queryType": QueryTypeScores, "containerId": topID},
		{"queryType": QueryTypeVulnerabilities},
		{"queryType": QueryTypeSQL, "rawSql": "SELECT $__timeGroup(time) AS time, count() AS lines FROM events WHERE $__timeFilter(time) GROUP BY time ORDER BY time"},
	} {
		f := singleFrame(t, query(model))
		t.Logf("%v: %d rows, fields %v", model, f.Rows(), fieldNames(f))
		if f.Rows() == 0 {
			t.Errorf("%v: no rows on the demo data", model)
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
