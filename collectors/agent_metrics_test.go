package collectors_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

func TestAgentMetricsDemoBundle(t *testing.T) {
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	out := &recordingEmitter{}
	agent := collectors.NewAgent(collectors.AgentConfig{
		HostID:          "demo-host",
		DockerRoot:      filepath.Join(demoDir, "docker", "containers"),
		CgroupReplayDir: filepath.Join(demoDir, "cgroup"),
		ScanDir:         filepath.Join(demoDir, "scans"),
		Metrics:         m.ForRole("collect"),
	}, out, nil)
	if err := agent.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}

	perTopic := map[string]float64{}
	for _, msg := range out.messages() {
		perTopic[msg.Topic]++
	}
	for topic, want := range perTopic {
		if got := testutil.ToFloat64(m.RecordsOut.WithLabelValues("collect", topic)); got != want {
			t.Errorf("records out to %s = %v, want %v", topic, got, want)
		}
	}
	if got := testutil.CollectAndCount(m.RecordsOut); got != len(perTopic) {
		t.Errorf("records-out series = %d, want %d (one per topic written)", got, len(perTopic))
	}

	var size dto.Metric
	if err := m.BatchSize.WithLabelValues("collect").(prometheus.Histogram).Write(&size); err != nil {
		t.Fatal(err)
	}
	if got := size.GetHistogram().GetSampleCount(); got != uint64(len(out.batches)) {
		t.Errorf("batch observations = %d, want %d writes", got, len(out.batches))
	}
	if got := size.GetHistogram().GetSampleSum(); got != float64(len(out.messages())) {
		t.Errorf("batch size sum = %v, want %d records", got, len(out.messages()))
	}
}

func TestAgentMetricsParseErrors(t *testing.T) {
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeDockerContainer(t, root, strings.Repeat("34", 32), jsonLine("one", 1), "not json", `{"stream":"stdout"}`, jsonLine("two", 2))
	out := &recordingEmitter{}
	agent := collectors.NewAgent(collectors.AgentConfig{HostID: "h", DockerRoot: root, Metrics: m.ForRole("collect")}, out, nil)
	if err := agent.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.Dropped.WithLabelValues("collect", "parse_error")); got != 2 {
		t.Errorf("dropped as parse_error = %v, want 2", got)
	}
	if got, want := testutil.ToFloat64(m.Dropped.WithLabelValues("collect", "parse_error")), float64(agent.Stats().ParseErrors); got != want {
		t.Errorf("dropped as parse_error = %v, AgentStats.ParseErrors = %v", got, want)
	}
}
