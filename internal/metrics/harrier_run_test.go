package metrics

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// startProcess starts cmd with its output in logPath and stops it by PID
// (SIGINT, then SIGKILL after 15 s) when the test ends. On failure the
// log is printed.
func startProcess(t *testing.T, name string, cmd *exec.Cmd, logPath string) {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logFile.Close()
		if t.Failed() {
			if log, err := os.ReadFile(logPath); err == nil {
				t.Logf("%s log:\n%s", name, log)
			}
		}
	})
}

// A real 'harrier run' replays the demo's Docker logs while Debian's
// prometheus scrapes its /metrics, and every role's series arrive through
// Prometheus's HTTP API.
func TestPrometheusScrapesHarrierRun(t *testing.T) {
	prometheusBinary, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (Debian package prometheus)")
	}
	if testing.Short() {
		t.Skip("builds and runs harrier; skipped with -short")
	}
	dir := t.TempDir()

	harrier := filepath.Join(dir, "harrier")
	build := exec.Command("go", "build", "-o", harrier, "../../cmd/harrier")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build harrier: %v\n%s", err, out)
	}
	dockerRoot := filepath.Join(dir, "containers")
	if err := os.CopyFS(dockerRoot, os.DirFS("../../testdata/demo/docker/containers")); err != nil {
		t.Fatal(err)
	}

	store := storagetest.New(t)
	harrierAddr := freePort(t)
	run := exec.Command(harrier, "run",
		"--http.addr", harrierAddr,
		"--broker.port", "0",
		"--clickhouse", storagetest.Server(t).Addr,
		"--clickhouse.database", store.Database(),
		"--collect.docker_root", dockerRoot,
		"--collect.cri_root", "",
		"--collect.cgroup_root", "",
		"--collect.interval", "1s",
	)
	startProcess(t, "harrier run", run, filepath.Join(dir, "harrier.log"))

	config := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"+
		"  - job_name: harrier\n    static_configs:\n      - targets: [%q]\n", harrierAddr)
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	prometheusAddr := freePort(t)
	prom := exec.Command(prometheusBinary,
		"--config.file="+configFile,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+prometheusAddr,
	)
	startProcess(t, "prometheus", prom, filepath.Join(dir, "prometheus.log"))

	// Each query returns one series per role once the data has flowed: the
	// collector wrote the demo's logs, the normalizer and the scorer read
	// them, and the normalizer stored rows.
	checks := []struct {
		query string
		roles []string
	}{
		{`harrier_role_up == 1`, []string{"collect", "normalize", "score", "alert"}},
		{`sum by (role) (harrier_records_out_total{role="collect"}) > 0`, []string{"collect"}},
		{`sum by (role) (harrier_records_in_total{role=~"normalize|score"}) > 0`, []string{"normalize", "score"}},
		{`sum by (role) (harrier_records_out_total{role="normalize"}) > 0`, []string{"normalize"}},
		{`sum by (role) (harrier_batch_size_records_count{role=~"collect|normalize|score"}) > 0`, []string{"collect", "normalize", "score"}},
		{`sum by (role) (harrier_consumer_lag_records{role=~"normalize|score"})`, []string{"normalize", "score"}},
	}
	deadline := time.Now().Add(120 * time.Second)
	for _, c := range checks {
		var got map[string]float64
		for {
			got = queryByRole(t, prometheusAddr, c.query)
			if hasRoles(got, c.roles) || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Logf("%s: %v", c.query, got)
		if !hasRoles(got, c.roles) {
			t.Errorf("%s: got %v, want a series for each of %v", c.query, got, c.roles)
		}
	}

	resp, err := http.Get("http://" + harrierAddr + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz: status %d, want 200", resp.StatusCode)
	}
}

func hasRoles(got map[string]float64, roles []string) bool {
	for _, r := range roles {
		if _, ok := got[r]; !ok {
			return false
		}
	}
	return true
}

// queryByRole runs an instant query and returns each result's value by
// its role label. It returns nil while Prometheus is not listening yet.
func queryByRole(t *testing.T, addr, query string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode query %s: %v", query, err)
	}
	values := map[string]float64{}
	for _, r := range body.Data.Result {
		var v float64
		if s, ok := r.Value[1].(string); ok {
			fmt.Sscan(s, &v)
		}
		values[r.Metric["role"]] = v
	}
	return values
}
