package alerting

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/storage"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

const (
	webID     = "3f2a9c0d11e4b5a6c7d8e9f00112233445566778899aabbccddeeff001122334"
	stoppedID = "7b1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
	unfixedID = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
	sshdID    = "5d5d5d5d0000111122223333444455556666777788889999aaaabbbbccccdddd"
	imageWeb  = "sha256:a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	imageOld  = "sha256:0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld0"
	hostID    = "4c4c4544004d3510804bb4c04f563432"
)

var (
	containerColumns = []string{"container_id", "name", "host_id", "runtime", "image_ref", "image_id",
		"privileged", "user", "running", "started_at", "seen_at", "record_id"}
	vulnColumns = []string{"image_id", "image_ref", "vuln_id", "package", "installed_version",
		"fixed_version", "severity", "title", "scanner", "scanned_at", "record_id"}
)

func containerRow(id, name, imageRef, imageID string, running uint8, seen time.Time) []any {
	return []any{id, name, hostID, "docker", imageRef, imageID, uint8(0), "", running, seen.Add(-time.Hour), seen, record.NewID(id, seen.String())}
}

func vulnRow(imageID, imageRef, vulnID, pkg, installed, fixed, severity string, scanned time.Time) []any {
	return []any{imageID, imageRef, vulnID, pkg, installed, fixed, severity, "", "trivy", scanned, record.NewID(imageID, vulnID, pkg, scanned.String())}
}

// insertInventory stores a running container "web" whose image has a fixable
// CRITICAL finding, a container of the same image whose latest state is
// stopped, and a running container whose image has only unfixed CRITICAL
// findings plus a fixable HIGH one.
func insertInventory(t *testing.T, store *storage.Store) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	containers := [][]any{
		containerRow(webID, "web", "nginx:1.17", imageWeb, 1, now.Add(-time.Minute)),
		containerRow(stoppedID, "batch", "nginx:1.17", imageWeb, 1, now.Add(-2*time.Hour)),
		containerRow(stoppedID, "batch", "nginx:1.17", imageWeb, 0, now.Add(-time.Minute)),
		containerRow(unfixedID, "cache", "redis:5.0.7", imageOld, 1, now.Add(-time.Minute)),
	}
	if err := store.Insert(ctx, "containers", containerColumns, containers); err != nil {
		t.Fatal(err)
	}
	scanned := now.Add(-30 * time.Minute)
	vulns := [][]any{
		vulnRow(imageWeb, "nginx:1.17", "CVE-2019-1549", "openssl", "1.1.1c-1", "1.1.1d-0+deb10u1", "CRITICAL", scanned),
		vulnRow(imageWeb, "nginx:1.17", "CVE-2019-1563", "openssl", "1.1.1c-1", "1.1.1d-0+deb10u1", "HIGH", scanned),
		vulnRow(imageWeb, "nginx:1.17", "CVE-2019-9999", "zlib1g", "1:1.2.11.dfsg-1", "", "CRITICAL", scanned),
		vulnRow(imageOld, "redis:5.0.7", "CVE-2019-3462", "apt", "1.8.2", "", "CRITICAL", scanned),
		vulnRow(imageOld, "redis:5.0.7", "CVE-2019-5010", "python3.7", "3.7.3-2", "3.7.3-2+deb10u1", "HIGH", scanned),
	}
	if err := store.Insert(ctx, "vulnerabilities", vulnColumns, vulns); err != nil {
		t.Fatal(err)
	}
}

func newAlerter(t *testing.T, store *storage.Store, cfg Config) (*Alerter, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	a, err := New(cfg, store, &out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return a, &out
}

func queryAlerts(t *testing.T, store *storage.Store) [][]any {
	t.Helper()
	_, rows, err := store.Query(context.Background(),
		"SELECT source, name, severity, container_id, container_name, host_id, image_id, image_ref, summary, drivers, query, fingerprint, alert_id, raised_ns FROM alerts ORDER BY raised_ns, name")
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestEvaluateRulesRaisesFixableVuln(t *testing.T) {
	store := storagetest.New(t)
	insertInventory(t, store)
	a, out := newAlerter(t, store, Config{})
	ctx := context.Background()

	if err := a.EvaluateRules(ctx); err != nil {
		t.Fatal(err)
	}

	rows := queryAlerts(t, store)
	if len(rows) != 1 {
		t.Fatalf("got %d alerts, want 1: %v", len(rows), rows)
	}
	row := rows[0]
	checks := []struct {
		field string
		got   any
		want  any
	}{
		{"source", row[0], "rule"},
		{"name", row[1], "critical-fixable-vulnerability-running"},
		{"severity", row[2], "critical"},
		{"container_id", row[3], webID},
		{"container_name", row[4], "web"},
		{"host_id", row[5], hostID},
		{"image_id", row[6], imageWeb},
		{"image_ref", row[7], "nginx:1.17"},
		{"summary", row[8], "Container web runs image nginx:1.17 with 1 critical vulnerability that has a fix"},
		{"fingerprint", row[11], record.NewID("critical-fixable-vulnerability-running", webID)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
		}
	}
	drivers, _ := row[9].([]string)
	wantDrivers := []string{"CVE-2019-1549 in openssl 1.1.1c-1: CRITICAL, fixed in 1.1.1d-0+deb10u1"}
	if strings.Join(drivers, "|") != strings.Join(wantDrivers, "|") {
		t.Errorf("drivers = %q, want %q", drivers, wantDrivers)
	}
	raisedNs := row[13].(int64)
	if want := record.NewID(row[11].(string), itoa(raisedNs)); row[12] != want {
		t.Errorf("alert_id = %v, want %v", row[12], want)
	}

	// The alert's query lists the finding behind it.
	_, vulnRows, err := store.Query(ctx, row[10].(string))
	if err != nil {
		t.Fatalf("alert query failed: %v", err)
	}
	if len(vulnRows) != 1 || vulnRows[0][0] != "CVE-2019-1549" {
		t.Errorf("alert query rows = %v, want the one CVE-2019-1549 finding", vulnRows)
	}

	printed := out.String()
	for _, want := range []string{
		"ALERT critical  critical-fixable-vulnerability-running  container web (3f2a9c0d11e4…)",
		"  Container web runs image nginx:1.17 with 1 critical vulnerability that has a fix\n",
		"  why: CVE-2019-1549 in openssl 1.1.1c-1: CRITICAL, fixed in 1.1.1d-0+deb10u1\n",
		`  rows: harrier sql "SELECT vuln_id`,
	} {
		if !strings.Contains(printed, want) {
			t.Errorf("output lacks %q:\n%s", want, printed)
		}
	}

	stats := a.Stats()
	if stats.RuleEvaluations != 3 {
		t.Errorf("RuleEvaluations = %d, want 3 (one per default rule and one for the posture pack's failure rule)", stats.RuleEvaluations)
	}
	if stats.RuleErrors != 0 {
		t.Errorf("RuleErrors = %d, want 0", stats.RuleErrors)
	}
	if stats.RaisedBySource["rule"] != 1 {
		t.Errorf("RaisedBySource[rule] = %d, want 1", stats.RaisedBySource["rule"])
	}

	// A second evaluation within the dedup period raises nothing new.
	if err := a.EvaluateRules(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(queryAlerts(t, store)); got != 1 {
		t.Errorf("after second evaluation got %d alerts, want 1", got)
	}
	if got := a.Stats().Deduplicated; got != 1 {
		t.Errorf("Deduplicated = %d, want 1", got)
	}
}

func TestEvaluateRulesLatestScanOnly(t *testing.T) {
	store := storagetest.New(t)
	insertInventory(t, store)
	// A newer scan of the web image no longer reports the CRITICAL finding.
	rescan := time.Now().Truncate(time.Second)
	if err := store.Insert(context.Background(), "vulnerabilities", vulnColumns, [][]any{
		vulnRow(imageWeb, "nginx:1.17", "CVE-2019-1563", "openssl", "1.1.1c-1", "1.1.1d-0+deb10u1", "HIGH", rescan),
	}); err != nil {
		t.Fatal(err)
	}
	a, _ := newAlerter(t, store, Config{})
	if err := a.EvaluateRules(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(queryAlerts(t, store)); got != 0 {
		t.Errorf("got %d alerts, want 0 after the rescan", got)
	}
}

func TestFixableVulnRowsQueryQuotesLiterals(t *testing.T) {
	store := storagetest.New(t)
	ctx := context.Background()
	odd := `sha256:it's a \ "test"`
	scanned := time.Now().Truncate(time.Second)
	if err := store.Insert(ctx, "vulnerabilities", vulnColumns, [][]any{
		vulnRow(odd, "odd", "CVE-1", "pkg", "1", "2", "CRITICAL", scanned),
		vulnRow("sha256:other", "other", "CVE-2", "pkg", "1", "2", "CRITICAL", scanned),
	}); err != nil {
		t.Fatal(err)
	}
	_, rows, err := store.Query(ctx, fixableVulnRowsQuery(odd, []string{"CRITICAL"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0][0] != "CVE-1" {
		t.Errorf("rows = %v, want only CVE-1", rows)
	}
}

func TestSQLRuleRaisesPrivileged(t *testing.T) {
	store := storagetest.New(t)
	now := time.Now().Truncate(time.Second)
	row := containerRow(sshdID, "sshd", "alpine:3.10", imageOld, 1, now)
	row[6] = uint8(1) // privileged
	row[7] = "root's" // user, quoted in the rule's driver
	if err := store.Insert(context.Background(), "containers", containerColumns, [][]any{row}); err != nil {
		t.Fatal(err)
	}

	a, out := newAlerter(t, store, Config{})
	if err := a.EvaluateRules(context.Background()); err != nil {
		t.Fatal(err)
	}

	rows := queryAlerts(t, store)
	if len(rows) != 1 {
		t.Fatalf("got %d alerts, want 1: %v", len(rows), rows)
	}
	if rows[0][1] != "privileged-container-running" {
		t.Errorf("name = %v, want privileged-container-running", rows[0][1])
	}
	if rows[0][8] != "Container sshd runs privileged" {
		t.Errorf("summary = %q", rows[0][8])
	}
	if d, _ := rows[0][9].([]string); len(d) != 1 || d[0] != "privileged: true, user: 'root's'" {
		t.Errorf("drivers = %q", d)
	}
	if rows[0][7] != "alpine:3.10" {
		t.Errorf("image_ref = %v, want alpine:3.10 from enrichment", rows[0][7])
	}

	_, listed, err := store.Query(context.Background(), rows[0][10].(string))
	if err != nil {
		t.Fatalf("alert query failed: %v", err)
	}
	if len(listed) != 1 {
		t.Errorf("alert query returned %d rows, want 1", len(listed))
	}
	if !strings.Contains(out.String(), "container sshd (5d5d5d5d0000…)") {
		t.Errorf("output lacks the container:\n%s", out.String())
	}
}

func TestSQLRuleWithoutContainerIDFails(t *testing.T) {
	store := storagetest.New(t)
	a, _ := newAlerter(t, store, Config{})
	a.rules = []Rule{{Name: "no-container", Severity: "low", Kind: KindSQL, Query: "SELECT 1 AS x"}}
	err := a.EvaluateRules(context.Background())
	if err == nil || !strings.Contains(err.Error(), "missing column container_id") {
		t.Errorf("err = %v, want missing column container_id", err)
	}
	if got := a.Stats().RuleErrors; got != 1 {
		t.Errorf("RuleErrors = %d, want 1", got)
	}
}

func modelAlertMessage(t *testing.T, offset int64, fingerprint string) kafka.Message {
	t.Helper()
	alert := record.Alert{
		TimeNs:      time.Date(2026, 11, 30, 10, 45, 0, 0, time.UTC).UnixNano(),
		Source:      "model",
		Name:        "isolation-forest",
		Severity:    "high",
		ContainerID: sshdID,
		Score:       0.71,
		Threshold:   0.62,
		Summary:     "Container sshd behaves unlike its baseline: log lines 14.2 times its baseline median (312 vs 22)",
		Drivers: []string{
			"log lines 14.2 times its baseline median (312 vs 22)",
			"error lines 9.0 times its baseline median (45 vs 5)",
		},
		Query:        "SELECT * FROM features WHERE container_id = '" + sshdID + "' ORDER BY window_start DESC LIMIT 10",
		Fingerprint:  fingerprint,
		ModelVersion: "iforest-0123456789ab",
	}
	value, err := record.Encode(record.KindAlert, record.NewID("score", itoa(offset)), hostID, "score", alert.TimeNs, alert)
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Message{Topic: record.TopicAlerts, Offset: offset, Key: []byte(sshdID), Value: value}
}

func insertSSHD(t *testing.T, store *storage.Store) {
	t.Helper()
	row := containerRow(sshdID, "sshd", "alpine:3.10", imageOld, 1, time.Now().Truncate(time.Second))
	if err := store.Insert(context.Background(), "containers", containerColumns, [][]any{row}); err != nil {
		t.Fatal(err)
	}
}

func TestHandleBatchStoresModelAlert(t *testing.T) {
	store := storagetest.New(t)
	insertSSHD(t, store)
	a, out := newAlerter(t, store, Config{})

	if err := a.HandleBatch(context.Background(), []kafka.Message{modelAlertMessage(t, 1, "fp-sshd")}); err != nil {
		t.Fatal(err)
	}

	rows := queryAlerts(t, store)
	if len(rows) != 1 {
		t.Fatalf("got %d alerts, want 1", len(rows))
	}
	row := rows[0]
	if row[0] != "model" {
		t.Errorf("source = %v, want model", row[0])
	}
	if row[1] != "isolation-forest" {
		t.Errorf("name = %v, want isolation-forest", row[1])
	}
	if row[2] != "high" {
		t.Errorf("severity = %v, want high", row[2])
	}
	if row[4] != "sshd" {
		t.Errorf("container_name = %v, want sshd from the containers table", row[4])
	}
	if row[5] != hostID {
		t.Errorf("host_id = %v, want %s", row[5], hostID)
	}
	if row[6] != imageOld {
		t.Errorf("image_id = %v, want %s", row[6], imageOld)
	}
	if row[7] != "alpine:3.10" {
		t.Errorf("image_ref = %v, want alpine:3.10", row[7])
	}

	want := "ALERT high  isolation-forest  container sshd (5d5d5d5d0000…)  2026-11-30 10:45:00 UTC\n" +
		"  Container sshd behaves unlike its baseline: log lines 14.2 times its baseline median (312 vs 22)\n" +
		"  score 0.71 (threshold 0.62)\n" +
		"  why: log lines 14.2 times its baseline median (312 vs 22)\n" +
		"       error lines 9.0 times its baseline median (45 vs 5)\n" +
		"  rows: harrier sql \"SELECT * FROM features WHERE container_id = '" + sshdID + "' ORDER BY window_start DESC LIMIT 10\"\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}

	stats := a.Stats()
	if stats.Received != 1 {
		t.Errorf("Received = %d, want 1", stats.Received)
	}
	if stats.Raised != 1 {
		t.Errorf("Raised = %d, want 1", stats.Raised)
	}
	if stats.RaisedBySource["model"] != 1 {
		t.Errorf("RaisedBySource[model] = %d, want 1", stats.RaisedBySource["model"])
	}
}

func TestHandleBatchDeduplicates(t *testing.T) {
	store := storagetest.New(t)
	insertSSHD(t, store)
	a, out := newAlerter(t, store, Config{Dedup: time.Hour})
	clock := time.Now()
	a.now = func() time.Time { return clock }
	ctx := context.Background()

	// Two repeats in one batch and one in the next batch raise one alert.
	batch := []kafka.Message{modelAlertMessage(t, 1, "fp-repeat"), modelAlertMessage(t, 2, "fp-repeat")}
	if err := a.HandleBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(30 * time.Minute)
	if err := a.HandleBatch(ctx, []kafka.Message{modelAlertMessage(t, 3, "fp-repeat")}); err != nil {
		t.Fatal(err)
	}
	if got := len(queryAlerts(t, store)); got != 1 {
		t.Errorf("got %d alerts, want 1", got)
	}
	stats := a.Stats()
	if stats.Raised != 1 {
		t.Errorf("Raised = %d, want 1", stats.Raised)
	}
	if stats.Deduplicated != 2 {
		t.Errorf("Deduplicated = %d, want 2", stats.Deduplicated)
	}
	if n := strings.Count(out.String(), "ALERT "); n != 1 {
		t.Errorf("printed %d alerts, want 1", n)
	}

	// A new alerter on the same database loads the fingerprint, as after a
	// restart.
	restarted, _ := newAlerter(t, store, Config{Dedup: time.Hour})
	restarted.now = func() time.Time { return clock }
	if err := restarted.HandleBatch(ctx, []kafka.Message{modelAlertMessage(t, 4, "fp-repeat")}); err != nil {
		t.Fatal(err)
	}
	stats = restarted.Stats()
	if stats.Raised != 0 {
		t.Errorf("after restart Raised = %d, want 0", stats.Raised)
	}
	if stats.Deduplicated != 1 {
		t.Errorf("after restart Deduplicated = %d, want 1", stats.Deduplicated)
	}

	// Once the dedup period has passed the alert is raised again.
	clock = clock.Add(31 * time.Minute)
	if err := a.HandleBatch(ctx, []kafka.Message{modelAlertMessage(t, 5, "fp-repeat")}); err != nil {
		t.Fatal(err)
	}
	if got := len(queryAlerts(t, store)); got != 2 {
		t.Errorf("got %d alerts after the dedup period, want 2", got)
	}
}

func TestHandleBatchSkipsInvalid(t *testing.T) {
	store := storagetest.New(t)
	a, _ := newAlerter(t, store, Config{})

	encode := func(kind record.Kind, payload any) []byte {
		b, err := record.Encode(kind, "id-1", hostID, "test", 1, payload)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	batch := []kafka.Message{
		{Offset: 1, Value: []byte("not json")},
		{Offset: 2, Value: []byte(`{"v":9,"kind":"alert","id":"x","payload":{}}`)},
		{Offset: 3, Value: encode(record.KindLog, record.Log{Message: "hello"})},
		{Offset: 4, Value: []byte(`{"v":1,"kind":"alert","id":"x","payload":"a string"}`)},
		{Offset: 5, Value: encode(record.KindAlert, record.Alert{Source: "model", Severity: "high"})},
		{Offset: 6, Value: encode(record.KindAlert, record.Alert{Source: "model", Name: "m", Severity: "urgent"})},
		{Offset: 7, Value: encode(record.KindAlert, record.Alert{Source: "oracle", Name: "m", Severity: "low"})},
		modelAlertMessage(t, 8, "fp-valid"),
	}
	if err := a.HandleBatch(context.Background(), batch); err != nil {
		t.Fatalf("HandleBatch returned %v, want nil so that the batch is committed", err)
	}
	stats := a.Stats()
	if stats.Received != 8 {
		t.Errorf("Received = %d, want 8", stats.Received)
	}
	if stats.Invalid != 7 {
		t.Errorf("Invalid = %d, want 7", stats.Invalid)
	}
	if stats.Raised != 1 {
		t.Errorf("Raised = %d, want 1", stats.Raised)
	}
}

func TestHandleBatchFingerprintDefault(t *testing.T) {
	store := storagetest.New(t)
	a, _ := newAlerter(t, store, Config{})
	msg := modelAlertMessage(t, 1, "")
	if err := a.HandleBatch(context.Background(), []kafka.Message{msg}); err != nil {
		t.Fatal(err)
	}
	rows := queryAlerts(t, store)
	if len(rows) != 1 {
		t.Fatalf("got %d alerts, want 1", len(rows))
	}
	if want := record.NewID("model", "isolation-forest", sshdID); rows[0][11] != want {
		t.Errorf("fingerprint = %v, want %s", rows[0][11], want)
	}
}

// syncBuffer is a bytes.Buffer that Run's goroutines can write while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunConsumesAndEvaluates(t *testing.T) {
	store := storagetest.New(t)
	insertInventory(t, store)
	insertSSHD(t, store)
	brokers := kafkatest.StartTestBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	producer := kafka.NewProducer(brokers, "harrier.")
	defer producer.Close()
	if err := producer.Write(ctx, modelAlertMessage(t, 0, "fp-run")); err != nil {
		t.Fatal(err)
	}

	var out syncBuffer
	a, err := New(Config{Brokers: brokers, TopicPrefix: "harrier.", EvalInterval: time.Hour}, store, &out,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()

	for a.Stats().Raised < 2 && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v", err)
	}

	stats := a.Stats()
	if stats.RaisedBySource["model"] != 1 || stats.RaisedBySource["rule"] != 1 {
		t.Errorf("RaisedBySource = %v, want one model and one rule alert", stats.RaisedBySource)
	}
	if n := strings.Count(out.String(), "ALERT "); n != 2 {
		t.Errorf("printed %d alerts, want 2:\n%s", n, out.String())
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	store := storagetest.New(t)
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative interval", Config{EvalInterval: -time.Second}, "invalid alert eval interval -1s"},
		{"negative dedup", Config{Dedup: -time.Minute}, "invalid alert dedup period -1m0s"},
		{"missing rules file", Config{RulesFile: "testdata/does-not-exist.yaml"}, "open rules file"},
		{"invalid rules file", Config{RulesFile: "testdata/invalid.yaml"}, "testdata/invalid.yaml:6: rules[0].severity"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg, store, io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
