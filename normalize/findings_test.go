package normalize_test

import (
	"context"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/harrierhq/harrier/collectors/scan"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestHandleBatchStoresFindings(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	n := normalize.New(normalize.Config{}, store, nil, testLogger())

	b, err := os.ReadFile("../collectors/scan/testdata/trivy-secrets-misconfig.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := scan.ParseTrivy(b)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []kafka.Message{{Topic: record.TopicScans, Offset: 0, Value: encode(t, record.KindScan, "scan-1", s)}}
	if err := n.HandleBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}

	_, rows, err := store.Query(ctx, `SELECT image_id, image_ref, kind, finding_id, severity, title, target, status,
		location, scanner, scanned_at, record_id FROM findings FINAL ORDER BY kind, finding_id`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(s.Findings) {
		t.Fatalf("got %d findings rows, want %d", len(rows), len(s.Findings))
	}
	scanned := time.Unix(0, s.ScannedNs).UTC().Truncate(time.Second)
	want := []any{s.ImageID, s.ImageRef, "misconfiguration", "DS002", "HIGH", "Image user should not be 'root'",
		"Dockerfile", "FAIL", "", "trivy", scanned, "scan-1"}
	got := rows[0]
	if ts, ok := got[10].(time.Time); ok {
		got[10] = ts.UTC()
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("first findings row = %v, want %v", got, want)
	}
	last := rows[len(rows)-1]
	if last[2] != "secret" || last[3] != "private-key" || last[8] != "lines 1-28" || last[7] != "" {
		t.Errorf("last findings row = %v, want the private-key secret at lines 1-28 without a status", last)
	}
}

func TestHandleBatchRejectsInvalidFinding(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	n := normalize.New(normalize.Config{}, store, nil, testLogger())

	s := record.Scan{Scanner: "trivy", ImageID: "sha256:1", ScannedNs: 1554141513700000000, Vulnerabilities: []record.Vulnerability{},
		Findings: []record.Finding{{Kind: "license", ID: "GPL-3.0", Severity: "LOW"}}}
	msgs := []kafka.Message{{Topic: record.TopicScans, Offset: 0, Value: encode(t, record.KindScan, "scan-bad", s)}}
	if err := n.HandleBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if got := queryCount(t, store, "SELECT count() FROM findings"); got != 0 {
		t.Errorf("findings rows = %d, want 0", got)
	}
	if got := queryCount(t, store, "SELECT count() FROM dead_letters WHERE reason LIKE '%findings[0].kind%'"); got != 1 {
		t.Errorf("dead letters naming findings[0].kind = %d, want 1", got)
	}
}
