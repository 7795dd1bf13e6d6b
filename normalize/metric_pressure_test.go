package normalize_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/harrierhq/harrier/internal/kafka"

	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestMetricPressureAndNetColumns(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	n := normalize.New(normalize.Config{}, store, nil, testLogger())

	m := record.Metric{
		TimeNs: 1554141513700000000, ContainerID: containerID, CgroupPath: "system.slice/docker-" + containerID + ".scope", CgroupMode: "v2",
		CPUUsageNs: 1, CPUThrottledNs: 0, CPUThrottledPeriods: 0, MemoryUsageBytes: 10, MemoryWorkingSetBytes: 5,
		MemoryLimitBytes: -1, OOMKills: 0, PidsCurrent: 3, PidsMax: 100, IOReadBytes: 7, IOWriteBytes: 8,
		CPUPressureSomeAvg10: 1.25, CPUPressureFullAvg10: -1, CPUPressureSomeTotalUs: 293391454, CPUPressureFullTotalUs: -1,
		MemoryPressureSomeAvg10: 0.5, MemoryPressureFullAvg10: 0.25, MemoryPressureSomeTotalUs: 250773, MemoryPressureFullTotalUs: 250662,
		IOPressureSomeAvg10: 0, IOPressureFullAvg10: 0, IOPressureSomeTotalUs: 185162400, IOPressureFullTotalUs: 184607952,
		NetRxBytes: 688678307, NetTxBytes: 2428382,
		NetInterfaces: []record.NetInterface{{Name: "lo", RxBytes: 9, TxBytes: 9}, {Name: "eth0", RxBytes: 688678307, TxBytes: 2428382}},
	}
	// The second record lacks every pressure and network field, as records
	// from older collectors do, and must store -1, not 0.
	old := []byte(`{"v":1,"kind":"metric","id":"old-metric","host_id":"` + hostID + `","source":"test","collected_ns":1,` +
		`"payload":{"time_ns":1554141513800000000,"cgroup_path":"system.slice","cgroup_mode":"v2","cpu_usage_ns":1,` +
		`"cpu_throttled_ns":0,"cpu_throttled_periods":0,"memory_usage_bytes":1,"memory_working_set_bytes":1,` +
		`"memory_limit_bytes":1,"oom_kills":0,"pids_current":1,"pids_max":1,"io_read_bytes":1,"io_write_bytes":1}}`)
	msgs := []kafka.Message{
		{Topic: record.TopicMetrics, Offset: 0, Value: encode(t, record.KindMetric, "new-metric", m)},
		{Topic: record.TopicMetrics, Offset: 1, Value: old},
	}
	if err := n.HandleBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}

	_, rows, err := store.Query(ctx, `SELECT cpu_pressure_some_avg10, cpu_pressure_full_avg10, cpu_pressure_some_total_us,
		memory_pressure_full_avg10, memory_pressure_full_total_us, io_pressure_some_total_us,
		net_rx_bytes, net_tx_bytes, net_interfaces, net_interface_rx_bytes, net_interface_tx_bytes
		FROM metrics FINAL ORDER BY time_ns`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d metrics rows, want 2", len(rows))
	}
	want := []any{1.25, -1.0, int64(293391454), 0.25, int64(250662), int64(185162400),
		int64(688678307), int64(2428382), []string{"lo", "eth0"}, []int64{9, 688678307}, []int64{9, 2428382}}
	if !reflect.DeepEqual(rows[0], want) {
		t.Errorf("new metric row = %v, want %v", rows[0], want)
	}
	wantOld := []any{-1.0, -1.0, int64(-1), -1.0, int64(-1), int64(-1), int64(-1), int64(-1), []string{}, []int64{}, []int64{}}
	if !reflect.DeepEqual(rows[1], wantOld) {
		t.Errorf("metric row without the fields = %v, want %v", rows[1], wantOld)
	}
}
