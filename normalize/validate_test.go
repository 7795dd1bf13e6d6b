package normalize

import (
	"strings"
	"testing"

	"github.com/harrierhq/harrier/internal/record"
)

func TestDecodeRecordErrors(t *testing.T) {
	mustEncode := func(kind record.Kind, payload any) []byte {
		b, err := record.Encode(kind, "id-1", "host-1", "test", 1, payload)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	goodLog := record.Log{TimeNs: 1, ContainerID: "c", Stream: "stdout"}
	cases := []struct {
		name  string
		topic string
		value []byte
		want  string
	}{
		{"alert kind", record.TopicLogs, mustEncode(record.KindAlert, record.Alert{}), `invalid envelope field kind="alert": alerts belong on topic alerts`},
		{"kind on wrong topic", record.TopicMetrics, mustEncode(record.KindLog, goodLog), `invalid envelope field kind="log" on topic metrics`},
		{"payload type", record.TopicLogs, []byte(`{"v":1,"kind":"log","id":"x","payload":{"time_ns":"soon"}}`), "invalid log payload JSON"},
		{"unknown stream", record.TopicLogs, mustEncode(record.KindLog, record.Log{TimeNs: 1, ContainerID: "c", Stream: "stdin"}), `invalid log field stream="stdin"`},
		{"missing stream", record.TopicLogs, mustEncode(record.KindLog, record.Log{TimeNs: 1, ContainerID: "c"}), "missing log field stream"},
		{"time after 2106", record.TopicLogs, mustEncode(record.KindLog, record.Log{TimeNs: maxTimeNs + 1, ContainerID: "c", Stream: "stdout"}), "must not be after 2106-02-07"},
		{"metric counter", record.TopicMetrics, mustEncode(record.KindMetric, record.Metric{TimeNs: 1, CgroupPath: "a", CgroupMode: "v2", OOMKills: -2}), "invalid metric field oom_kills=-2"},
		{"metric cgroup mode", record.TopicMetrics, mustEncode(record.KindMetric, record.Metric{TimeNs: 1, CgroupPath: "a", CgroupMode: "v3"}), `invalid metric field cgroup_mode="v3"`},
		{"scan without image", record.TopicScans, mustEncode(record.KindScan, record.Scan{Scanner: "trivy", ScannedNs: 1}), "missing scan field image_id"},
		{"vulnerability without id", record.TopicScans, mustEncode(record.KindScan, record.Scan{Scanner: "trivy", ImageID: "i", ScannedNs: 1,
			Vulnerabilities: []record.Vulnerability{{Package: "p", Severity: "LOW"}}}), "missing scan field vulnerabilities[0].id"},
		{"metric io read ops", record.TopicMetrics, mustEncode(record.KindMetric, record.Metric{TimeNs: 1, CgroupPath: "a", CgroupMode: "v2", IOReadOps: -2}), "invalid metric field io_read_ops=-2"},
		{"metric io write ops", record.TopicMetrics, mustEncode(record.KindMetric, record.Metric{TimeNs: 1, CgroupPath: "a", CgroupMode: "v2", IOWriteOps: -2}), "invalid metric field io_write_ops=-2"},
		{"metric memory failures", record.TopicMetrics, mustEncode(record.KindMetric, record.Metric{TimeNs: 1, CgroupPath: "a", CgroupMode: "v1", MemoryFailures: -3}), "invalid metric field memory_failures=-3"},
		{"cvss score above 10", record.TopicScans, mustEncode(record.KindScan, record.Scan{Scanner: "grype", ImageID: "i", ScannedNs: 1,
			Vulnerabilities: []record.Vulnerability{{ID: "CVE-1", Package: "p", Severity: "LOW", CVSSScore: 10.5}}}), "invalid scan field vulnerabilities[0].cvss_score=10.5"},
		{"cvss score negative", record.TopicScans, mustEncode(record.KindScan, record.Scan{Scanner: "grype", ImageID: "i", ScannedNs: 1,
			Vulnerabilities: []record.Vulnerability{{ID: "CVE-1", Package: "p", Severity: "LOW", CVSSScore: -1}}}), "invalid scan field vulnerabilities[0].cvss_score=-1"},
		{"host cpu count", record.TopicInventory, mustEncode(record.KindHost, record.Host{TimeNs: 1, CPUCount: -1}), "invalid host field cpu_count=-1"},
		{"container started", record.TopicInventory, mustEncode(record.KindContainer, record.Container{TimeNs: 1, ContainerID: "c", StartedNs: -1}), "invalid container field started_ns=-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeRecord(c.topic, c.value, DefaultMaxMessageBytes)
			if err == nil {
				t.Fatalf("decodeRecord accepted %s", c.value)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestDecodeRecordDefaults(t *testing.T) {
	b, err := record.Encode(record.KindHost, "id-1", "host-1", "test", 1, record.Host{TimeNs: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := decodeRecord(record.TopicInventory, b, DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	if p.host.HostID != "host-1" {
		t.Errorf("host_id = %q, want the envelope host_id", p.host.HostID)
	}

	b, err = record.Encode(record.KindScan, "id-2", "host-1", "test", 1, record.Scan{Scanner: "grype", ImageID: "i", ScannedNs: 1,
		Vulnerabilities: []record.Vulnerability{{ID: "CVE-1", Package: "p", Severity: "High"}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err = decodeRecord(record.TopicScans, b, DefaultMaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.scan.Vulnerabilities[0].Severity; got != "HIGH" {
		t.Errorf("severity = %q, want HIGH", got)
	}
}

func TestValidateMetricPressureAndNetwork(t *testing.T) {
	base := func() record.Metric {
		return record.Metric{
			TimeNs: 1, CgroupPath: "a", CgroupMode: "v2",
			CPUPressureSomeAvg10: -1, CPUPressureFullAvg10: -1, CPUPressureSomeTotalUs: -1, CPUPressureFullTotalUs: -1,
			MemoryPressureSomeAvg10: -1, MemoryPressureFullAvg10: -1, MemoryPressureSomeTotalUs: -1, MemoryPressureFullTotalUs: -1,
			IOPressureSomeAvg10: -1, IOPressureFullAvg10: -1, IOPressureSomeTotalUs: -1, IOPressureFullTotalUs: -1,
			NetRxBytes: -1, NetTxBytes: -1,
		}
	}
	cases := []struct {
		name   string
		change func(m *record.Metric)
		want   string // empty when the metric is valid
	}{
		{"all not provided", func(m *record.Metric) {}, ""},
		{"avg10 zero", func(m *record.Metric) { m.CPUPressureSomeAvg10 = 0 }, ""},
		{"avg10 hundred", func(m *record.Metric) { m.IOPressureFullAvg10 = 100 }, ""},
		{"avg10 fraction", func(m *record.Metric) { m.MemoryPressureSomeAvg10 = 12.34 }, ""},
		{"avg10 above hundred", func(m *record.Metric) { m.MemoryPressureFullAvg10 = 100.5 }, "invalid metric field memory_pressure_full_avg10=100.5"},
		{"avg10 negative", func(m *record.Metric) { m.CPUPressureFullAvg10 = -0.5 }, "invalid metric field cpu_pressure_full_avg10=-0.5"},
		{"avg10 minus two", func(m *record.Metric) { m.IOPressureSomeAvg10 = -2 }, "invalid metric field io_pressure_some_avg10=-2"},
		{"total zero", func(m *record.Metric) { m.IOPressureSomeTotalUs = 0 }, ""},
		{"total negative", func(m *record.Metric) { m.MemoryPressureSomeTotalUs = -5 }, "invalid metric field memory_pressure_some_total_us=-5"},
		{"net rx negative", func(m *record.Metric) { m.NetRxBytes = -2 }, "invalid metric field net_rx_bytes=-2"},
		{"net tx negative", func(m *record.Metric) { m.NetTxBytes = -3 }, "invalid metric field net_tx_bytes=-3"},
		{"net counted", func(m *record.Metric) {
			m.NetRxBytes, m.NetTxBytes = 10, 20
			m.NetInterfaces = []record.NetInterface{{Name: "lo", RxBytes: 0, TxBytes: 0}, {Name: "eth0", RxBytes: 10, TxBytes: 20}}
		}, ""},
		{"interface without name", func(m *record.Metric) {
			m.NetInterfaces = []record.NetInterface{{Name: "eth0"}, {RxBytes: 1}}
		}, "missing metric field net_interfaces[1].name"},
		{"interface rx negative", func(m *record.Metric) {
			m.NetInterfaces = []record.NetInterface{{Name: "eth0", RxBytes: -1}}
		}, `invalid metric field net_interfaces[0].rx_bytes=-1 (interface "eth0")`},
		{"interface tx negative", func(m *record.Metric) {
			m.NetInterfaces = []record.NetInterface{{Name: "eth0", TxBytes: -7}}
		}, `invalid metric field net_interfaces[0].tx_bytes=-7 (interface "eth0")`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := base()
			c.change(&m)
			b, err := record.Encode(record.KindMetric, "id-1", "host-1", "test", 1, m)
			if err != nil {
				t.Fatal(err)
			}
			_, err = decodeRecord(record.TopicMetrics, b, DefaultMaxMessageBytes)
			if c.want == "" {
				if err != nil {
					t.Fatalf("decodeRecord rejected a valid metric: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("decodeRecord accepted %s", b)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
}
