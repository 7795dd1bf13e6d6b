package features

import (
	"strings"
	"testing"

	"github.com/harrierhq/harrier/internal/record"
)

func TestWindowerLogRatesAndRatios(t *testing.T) {
	w := NewWindower(WindowConfig{})
	mustAddLog(t, w, "l1", logAt("c1", 0, 1, "WARN disk almost full"))
	mustAddLog(t, w, "l2", logAt("c1", 0, 2, "error: open failed"))
	mustAddLog(t, w, "l3", logAt("c1", 0, 3, "ok"))
	mustAddLog(t, w, "l4", logAt("c1", 0, 4, "Warning: retry after error"))
	out := w.Flush()
	if len(out) != 1 {
		t.Fatalf("Flush returned %d windows, want 1", len(out))
	}
	win := out[0]
	if v := win.Feature(FeatureLogLinesPerSec); !near(v, 4.0/60) {
		t.Errorf("log_lines_per_s = %v, want %v", v, 4.0/60)
	}
	if v := win.Feature(FeatureErrorRatio); v != 0.5 {
		t.Errorf("error_ratio = %v, want 0.5", v)
	}
	if v := win.Feature(FeatureWarningRatio); v != 0.5 {
		t.Errorf("warning_ratio = %v, want 0.5", v)
	}
}

func TestWindowerRatiosOfWindowWithoutLines(t *testing.T) {
	w := NewWindower(WindowConfig{})
	mustAddMetric(t, w, "m1", metricAt("c1", 0, 10, 1e9, 0, 1<<20))
	win := w.Flush()[0]
	if v := win.Feature(FeatureErrorRatio); v != 0 {
		t.Errorf("error_ratio without lines = %v, want 0", v)
	}
	if v := win.Feature(FeatureLogLinesPerSec); v != 0 {
		t.Errorf("log_lines_per_s without lines = %v, want 0", v)
	}
}

func TestWindowerNetworkRates(t *testing.T) {
	w := NewWindower(WindowConfig{})
	m := metricAt("c1", 0, 0, 0, 0, 1<<20)
	m.NetRxBytes, m.NetTxBytes = 1000, 500
	mustAddMetric(t, w, "m1", m)
	m = metricAt("c1", 0, 30, 0, 0, 1<<20)
	m.NetRxBytes, m.NetTxBytes = 31000, 3500
	mustAddMetric(t, w, "m2", m)
	// A sample without network counters is skipped.
	m = metricAt("c1", 0, 40, 0, 0, 1<<20)
	m.NetRxBytes, m.NetTxBytes = -1, -1
	mustAddMetric(t, w, "m3", m)
	win := w.Flush()[0]
	if v := win.Feature(FeatureNetRxRate); v != 1000 {
		t.Errorf("net_rx_bytes_per_s = %v, want 1000", v)
	}
	if v := win.Feature(FeatureNetTxRate); v != 100 {
		t.Errorf("net_tx_bytes_per_s = %v, want 100", v)
	}
}

func scanOf(imageID string, scannedNs int64, vulns ...record.Vulnerability) record.Scan {
	return record.Scan{Scanner: "trivy", ImageRef: "img:1", ImageID: imageID, ScannedNs: scannedNs, Vulnerabilities: vulns}
}

func TestWindowerVulnerabilityCounts(t *testing.T) {
	w := NewWindower(WindowConfig{})
	if err := w.AddContainer("host-1", record.Container{ContainerID: "c1", ImageID: "sha256:a"}); err != nil {
		t.Fatal(err)
	}
	old := scanOf("sha256:a", 1, record.Vulnerability{ID: "CVE-OLD", Package: "p", Severity: "CRITICAL"})
	newer := scanOf("sha256:a", 2,
		record.Vulnerability{ID: "CVE-1", Package: "openssl", Severity: "CRITICAL", FixedVersion: "1.1"},
		// The same finding listed twice counts once.
		record.Vulnerability{ID: "CVE-1", Package: "openssl", Severity: "CRITICAL", FixedVersion: "1.1"},
		record.Vulnerability{ID: "CVE-1", Package: "libssl", Severity: "critical"},
		record.Vulnerability{ID: "CVE-2", Package: "zlib", Severity: "HIGH"},
		record.Vulnerability{ID: "CVE-3", Package: "bash", Severity: "LOW", FixedVersion: "5"},
		record.Vulnerability{ID: "CVE-4", Package: "x", Severity: "UNKNOWN"},
	)
	if err := w.AddScan(newer); err != nil {
		t.Fatal(err)
	}
	// An older report that arrives later does not replace the newer one.
	if err := w.AddScan(old); err != nil {
		t.Fatal(err)
	}
	mustAddLog(t, w, "l1", logAt("c1", 0, 1, "x"))
	win := w.Flush()[0]
	want := map[string]float64{
		FeatureVulnCriticalFixable: 1, FeatureVulnCriticalUnfixable: 1,
		FeatureVulnHighFixable: 0, FeatureVulnHighUnfixable: 1,
		FeatureVulnMediumFixable: 0, FeatureVulnMediumUnfixable: 0,
		FeatureVulnLowFixable: 1, FeatureVulnLowUnfixable: 0,
	}
	for name, v := range want {
		if got := win.Feature(name); got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
}

func TestWindowerHostEndOfLife(t *testing.T) {
	cases := []struct {
		eol  string
		want float64
	}{
		{"2020-06-30", 1},
		// The window ends on 2024-10-10, and support lasts through the EOL day.
		{"2024-10-10", 0},
		{"2024-10-09", 1},
		{"2030-01-01", 0},
		{"", 0},
	}
	for _, c := range cases {
		w := NewWindower(WindowConfig{})
		if err := w.AddHost("", record.Host{HostID: "host-1", OSID: "debian", OSEOLDate: c.eol}); err != nil {
			t.Fatal(err)
		}
		mustAddLog(t, w, "l1", logAt("c1", 0, 1, "x"))
		if got := w.Flush()[0].Feature(FeatureHostOSEndOfLife); got != c.want {
			t.Errorf("eol %q: host_os_end_of_life = %v, want %v", c.eol, got, c.want)
		}
	}
}

func TestWindowerContextRejectsBadInput(t *testing.T) {
	w := NewWindower(WindowConfig{})
	if err := w.AddScan(record.Scan{ImageRef: "img:1"}); err == nil || !strings.Contains(err.Error(), "image_id") {
		t.Errorf("scan without image id: err = %v, want one naming image_id", err)
	}
	err := w.AddHost("", record.Host{HostID: "h", OSEOLDate: "soon"})
	if err == nil || !strings.Contains(err.Error(), `"soon"`) {
		t.Errorf("bad EOL date: err = %v, want one naming the value", err)
	}
	if err := w.AddHost("", record.Host{Hostname: "box"}); err == nil || !strings.Contains(err.Error(), "host_id") {
		t.Errorf("host without id: err = %v, want one naming host_id", err)
	}
}

func TestWindowerResumeRestoresContext(t *testing.T) {
	w := NewWindower(WindowConfig{})
	extra := make([]float64, len(ExtraFeatureNames))
	extra[IndexVulnFirst] = 3
	extra[IndexHostOSEndOfLife] = 1
	w.Resume([]ResumePoint{{ContainerID: "c1", HostID: "host-1", ImageID: "sha256:a", End: base.Add(60e9), Extra: extra}})
	mustAddLog(t, w, "l1", logAt("c1", 1, 1, "x"))
	win := w.Flush()[0]
	if v := win.Feature(FeatureVulnCriticalFixable); v != 3 {
		t.Errorf("vulnerabilities_critical_fixable = %v, want 3 restored", v)
	}
	if v := win.Feature(FeatureHostOSEndOfLife); v != 1 {
		t.Errorf("host_os_end_of_life = %v, want 1 restored", v)
	}
}

// FuzzWindowerAddEnvelope checks that no payload makes AddEnvelope panic,
// and that a rejected record gets an error message.
func FuzzWindowerAddEnvelope(f *testing.F) {
	f.Add("host", `{"host_id":"h","os_eol_date":"2024-01-01"}`)
	f.Add("host", `{"host_id":"h","os_eol_date":"2024-13-45"}`)
	f.Add("scan", `{"image_id":"sha256:a","vulnerabilities":[{"id":"CVE-1","package":"p","severity":"HIGH"}]}`)
	f.Add("scan", `{"image_id":""}`)
	f.Add("log", `{"time_ns":1,"container_id":"c","message":"warn"}`)
	f.Add("metric", `{"time_ns":1,"container_id":"c","net_rx_bytes":-1}`)
	f.Fuzz(func(t *testing.T, kind, payload string) {
		w := NewWindower(WindowConfig{})
		env := record.Envelope{Version: 1, Kind: record.Kind(kind), ID: "r1", HostID: "h", Payload: []byte(payload)}
		if _, err := w.AddEnvelope(env); err != nil && err.Error() == "" {
			t.Fatal("empty error message")
		}
		w.Flush()
	})
}

// FuzzErrorAndWarningLines checks the keyword search against the regular
// expressions it replaces.
func FuzzErrorAndWarningLines(f *testing.F) {
	for _, seed := range []string{"ERROR", "Failed password", "NullPointerException", "warn", "WaRnInG", "\u212aelvin",
		"fa\u0131l", "err", "ok", "permission DENIED", "\xff\xfeerror", "inval\u0130d"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		if got, want := IsErrorLine(msg), errorPattern.MatchString(msg); got != want {
			t.Errorf("IsErrorLine(%q) = %v, errorPattern says %v", msg, got, want)
		}
		if got, want := IsWarningLine(msg), warningPattern.MatchString(msg); got != want {
			t.Errorf("IsWarningLine(%q) = %v, warningPattern says %v", msg, got, want)
		}
	})
}
