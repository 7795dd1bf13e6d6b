package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveRole serves one role's metrics on a free 127.0.0.1 port, as a
// role's /metrics does, and returns the host:port.
func serveRole(t *testing.T, role string) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := m.ForRole(role)
	r.In("harrier.logs", 7)
	r.Out("events", 7)
	r.Batch(7, 0.01)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Debian's prometheus scrapes one endpoint per role, and each role's
// series arrive through Prometheus's HTTP API.
func TestPrometheusScrapesEveryRole(t *testing.T) {
	binary, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (Debian package prometheus)")
	}
	dir := t.TempDir()

	var config strings.Builder
	config.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n")
	for _, role := range Roles {
		fmt.Fprintf(&config, "  - job_name: %s\n    static_configs:\n      - targets: [%q]\n        labels: {harrier_role: %s}\n", role, serveRole(t, role), role)
	}
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configFile, []byte(config.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	listen := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary,
		"--config.file="+configFile,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen,
	)
	logFile, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			if log, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("prometheus log:\n%s", log)
			}
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	var roles []string
	for time.Now().Before(deadline) {
		roles = queryRoles(t, listen, `harrier_role_up == 1`)
		if len(roles) == len(Roles) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	want := append([]string(nil), Roles...)
	sort.Strings(want)
	if strings.Join(roles, ",") != strings.Join(want, ",") {
		t.Fatalf("roles with harrier_role_up = 1: %v, want %v", roles, want)
	}
	for _, query := range []string{
		`harrier_records_in_total == 7`,
		`harrier_records_out_total == 7`,
		`harrier_batch_size_records_count == 1`,
		`up{harrier_role!=""} == 1`,
	} {
		if got := queryRoles(t, listen, query); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: roles %v, want %v", query, got, want)
		}
	}
}

// queryRoles runs an instant query and returns the sorted harrier_role
// labels of the result.
func queryRoles(t *testing.T, addr, query string) []string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return nil // not listening yet
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode query %s: %v", query, err)
	}
	var roles []string
	for _, r := range body.Data.Result {
		roles = append(roles, r.Metric["harrier_role"])
	}
	sort.Strings(roles)
	return roles
}
