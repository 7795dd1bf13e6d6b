package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/demodata"
	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

const bundle = "../../testdata/demo"

// summaryCount returns the number on the summary line that starts with
// label, such as "collected".
func summaryCount(t *testing.T, out, label string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  ` + label + `\s+(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("summary has no %q line:\n%s", label, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func runHarrier(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := mainWithArgs(args, &stdout, &stderr); code != 0 {
		t.Fatalf("harrier %v exited %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

// The demo as the README runs it: its own embedded broker and its own
// clickhouse-server, the bundled replay plus this host's cgroup tree.
func TestDemoEndToEnd(t *testing.T) {
	manifest, err := demodata.ReadManifest(bundle)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := runHarrier(t, "demo", "--data", bundle)

	collected := summaryCount(t, out, "collected")
	produced := summaryCount(t, out, "produced")
	consumed := summaryCount(t, out, "consumed")
	bundleRecords := manifest.LogRecords + manifest.MetricRecords + manifest.ContainerRecords + manifest.ScanRecords
	if collected < bundleRecords {
		t.Errorf("collected %d records, want at least the bundle's %d", collected, bundleRecords)
	}
	if produced != collected {
		t.Errorf("produced %d, collected %d: every collected record must reach Kafka", produced, collected)
	}
	if consumed != produced {
		t.Errorf("normalizer consumed %d, produced %d", consumed, produced)
	}
	if n := summaryCount(t, out, "dead-lettered"); n != 0 {
		t.Errorf("dead-lettered %d records of valid input", n)
	}
	if !strings.Contains(out, fmt.Sprintf("%d events,", manifest.LogRecords)) {
		t.Errorf("summary does not report %d stored events:\n%s", manifest.LogRecords, out)
	}
	if !strings.Contains(out, fmt.Sprintf("%d containers,", manifest.ContainerRecords)) {
		t.Errorf("summary does not report %d stored containers", manifest.ContainerRecords)
	}
	if n := summaryCount(t, out, "windows"); n < 5*manifest.Minutes {
		t.Errorf("closed %d windows, want at least %d", n, 5*manifest.Minutes)
	}

	if !regexp.MustCompile(`ALERT high\s+isolation-forest\s+container sshd`).MatchString(out) {
		t.Errorf("no model alert for sshd's failed-login burst:\n%s", out)
	}
	if !regexp.MustCompile(`ALERT critical\s+critical-fixable-vulnerability-running\s+container web`).MatchString(out) {
		t.Errorf("no rule alert for web's fixable critical CVE:\n%s", out)
	}
	for _, name := range []string{"web", "api", "batch", "ledger"} {
		if regexp.MustCompile(`isolation-forest\s+container ` + name + ` `).MatchString(out) {
			t.Errorf("model alert for %s, which has no incident", name)
		}
	}
	if !strings.Contains(out, "why:") || !strings.Contains(out, "rows: harrier sql") {
		t.Errorf("alerts lack their explanation or their query:\n%s", out)
	}
	// The demo's own ClickHouse stops on return, so no query is offered.
	if strings.Contains(out, "See every alert again") {
		t.Errorf("summary offers a query on the ClickHouse that the demo stopped:\n%s", out)
	}
	if !strings.Contains(out, "run the demo with --keep") {
		t.Errorf("summary does not point to --keep:\n%s", out)
	}
}

// The demo pointed at servers it did not start: a ClickHouse server and a
// broker (Apache Kafka when KAFKA_TEST_BROKERS is set, as scripts/test.sh
// does, else the embedded broker). Afterwards the alerts are read back from
// the database.
func TestDemoAgainstGivenServers(t *testing.T) {
	server := storagetest.Server(t)
	brokers := os.Getenv("KAFKA_TEST_BROKERS")
	if brokers == "" {
		t.Log("KAFKA_TEST_BROKERS is not set: using the embedded broker")
		brokers = kafkatest.StartTestBroker(t)[0]
	}
	database := fmt.Sprintf("demo_%d", time.Now().UnixNano())
	out, _ := runHarrier(t, "demo", "--data", bundle, "--no-host",
		"--kafka", brokers, "--clickhouse", server.Addr, "--clickhouse.database", database)
	if !strings.Contains(out, "Kafka:      "+brokers) {
		t.Errorf("demo did not use the given broker:\n%s", out)
	}
	if want := "See every alert again with: harrier sql --clickhouse " + server.Addr; !strings.Contains(out, want) {
		t.Errorf("summary lacks the query on the given ClickHouse, %q:\n%s", want, out)
	}

	store := openTestStore(t, server.Addr, database)
	ctx := context.Background()
	_, rows, err := store.Query(ctx, "SELECT container_name, source, toUnixTimestamp(min(event_at)) FROM alerts FINAL GROUP BY container_name, source ORDER BY container_name, source")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rows {
		got[r[0].(string)+"/"+r[1].(string)] = int64(r[2].(uint32))
	}
	manifest, _ := demodata.ReadManifest(bundle)
	from, to := manifest.Incident.From, manifest.Incident.To
	at, ok := got["sshd/model"]
	if !ok {
		t.Fatalf("no model alert for sshd; alerts: %v", got)
	}
	if at < from.Unix() || at > to.Unix() {
		t.Errorf("sshd alert at %s, outside the incident %s to %s", time.Unix(at, 0).UTC(), from, to)
	}
	if _, ok := got["web/rule"]; !ok {
		t.Errorf("no rule alert for web; alerts: %v", got)
	}
	for key := range got {
		if strings.HasSuffix(key, "/model") && key != "sshd/model" {
			t.Errorf("unexpected model alert %s", key)
		}
	}
	store.DropDatabase(ctx)
}
