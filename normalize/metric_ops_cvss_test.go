package normalize_test

import (
	"context"
	"os"
	"reflect"
	"testing"

	"github.com/harrierhq/harrier/collectors/scan"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestMetricIOOpsAndFailuresColumns(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	n := normalize.New(normalize.Config{}, store, nil, testLogger())

	m := record.Metric{
		TimeNs: 1554141513700000000, ContainerID: containerID, CgroupPath: "system.slice/docker-" + containerID + ".scope", CgroupMode: "v2",
		CPUUsageNs: 1, MemoryUsageBytes: 10, MemoryWorkingSetBytes: 5, MemoryLimitBytes: -1, PidsCurrent: 3, PidsMax: 100,
		IOReadBytes: 74526720, IOWriteBytes: 3789381632, IOReadOps: 2936, IOWriteOps: 181928, MemoryFailures: 4,
	}
	// The second record lacks the operation and failure fields, as records
	// from older collectors do, and must store -1, not 0.
	old := []byte(`{"v":1,"kind":"metric","id":"old-metric","host_id":"` + hostID + `","source":"test","collected_ns":1,` +
		`"payload":{"time_ns":1554141513800000000,"cgroup_path":"system.slice","cgroup_mode":"v1","cpu_usage_ns":1,` +
		`"cpu_throttled_ns":0,"cpu_throttled_periods":0,"memory_usage_bytes":1,"memory_working_set_bytes":1,` +
		`"memory_limit_bytes":1,"oom_kills":0,"pids_current":1,"pids_max":1,"io_read_bytes":1,"io_write_bytes":1}}`)
	msgs := []kafka.Message{
		{Topic: record.TopicMetrics, Offset: 0, Value: encode(t, record.KindMetric, "new-metric", m)},
		{Topic: record.TopicMetrics, Offset: 1, Value: old},
	}
	if err := n.HandleBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}

	_, rows, err := store.Query(ctx, `SELECT io_read_ops, io_write_ops, memory_failures FROM metrics FINAL ORDER BY time_ns`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d metrics rows, want 2", len(rows))
	}
	want := []any{int64(2936), int64(181928), int64(4)}
	if !reflect.DeepEqual(rows[0], want) {
		t.Errorf("new metric row = %v, want %v", rows[0], want)
	}
	wantOld := []any{int64(-1), int64(-1), int64(-1)}
	if !reflect.DeepEqual(rows[1], wantOld) {
		t.Errorf("metric row without the fields = %v, want %v", rows[1], wantOld)
	}
}

func TestVulnerabilityCVSSColumns(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	n := normalize.New(normalize.Config{}, store, nil, testLogger())

	b, err := os.ReadFile("../collectors/scan/testdata/grype-image.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Parse(b, scan.FormatGrype)
	if err != nil {
		t.Fatal(err)
	}
	res.Scan.ScannedNs = 1554141513700000000
	msgs := []kafka.Message{{Topic: record.TopicScans, Offset: 0, Value: encode(t, record.KindScan, "scan-cvss", res.Scan)}}
	if err := n.HandleBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}

	_, rows, err := store.Query(ctx, `SELECT vuln_id, cvss_version, cvss_vector, cvss_score
		FROM vulnerabilities FINAL ORDER BY vuln_id`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(res.Scan.Vulnerabilities) {
		t.Fatalf("got %d vulnerabilities rows, want %d", len(rows), len(res.Scan.Vulnerabilities))
	}
	want := []any{"CVE-1999-0001", "3.1", "CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:H", 8.2}
	if !reflect.DeepEqual(rows[0], want) {
		t.Errorf("first vulnerabilities row = %v, want %v", rows[0], want)
	}
	for i, row := range rows {
		v := res.Scan.Vulnerabilities[i]
		got := []any{v.ID, v.CVSSVersion, v.CVSSVector, v.CVSSScore}
		if !reflect.DeepEqual(row, got) {
			t.Errorf("vulnerabilities row %d = %v, want the parsed rating %v", i, row, got)
		}
	}
}
