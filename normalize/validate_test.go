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
