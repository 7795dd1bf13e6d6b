package normalize_test

import (
	"context"
	"testing"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage/storagetest"
)

// TestHandleBatchStoresCollectorRejects checks that input the collector
// rejected lands in dead_letters under its file path, offset and reason,
// and that a reject without a reason is itself dead-lettered.
func TestHandleBatchStoresCollectorRejects(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	n := normalize.New(normalize.Config{}, store, nil, testLogger())

	line := record.Reject{TimeNs: 1554141513700000000, Path: "/var/lib/docker/containers/c1/c1-json.log", Offset: 82,
		Reason: "missing json-file field time", Raw: `{"log":"x\n","stream":"stdout"}`}
	file := record.Reject{TimeNs: 1554141513700000000, Path: "/scans/broken.json", Offset: -1,
		Reason: "invalid Trivy report: unexpected end of JSON input", Raw: `{"SchemaVersion": 2`}
	noReason := record.Reject{TimeNs: 1554141513700000000, Path: "/scans/other.json", Offset: -1}
	msgs := []kafka.Message{
		{Topic: record.TopicInventory, Offset: 0, Value: encode(t, record.KindReject, "reject-1", line)},
		{Topic: record.TopicInventory, Offset: 1, Value: encode(t, record.KindReject, "reject-2", file)},
		{Topic: record.TopicInventory, Offset: 2, Value: encode(t, record.KindReject, "reject-3", noReason)},
	}
	if err := n.HandleBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}

	_, rows, err := store.Query(ctx, "SELECT topic, partition, offset, reason, raw, record_id FROM dead_letters FINAL ORDER BY topic")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("dead_letters rows = %d, want 3: %v", len(rows), rows)
	}
	byTopic := map[string][]any{}
	for _, r := range rows {
		byTopic[r[0].(string)] = r
	}
	got := byTopic["collector:"+line.Path]
	if got == nil || got[1] != int32(-1) || got[2] != int64(82) || got[4] != line.Raw || got[5] != "reject-1" {
		t.Errorf("row of the rejected line = %v, want partition -1, offset 82, the raw line and record id reject-1", got)
	}
	if got != nil && got[3] != "rejected by the collector on host "+hostID+": missing json-file field time" {
		t.Errorf("reason = %q", got[3])
	}
	if got := byTopic["collector:"+file.Path]; got == nil || got[2] != int64(-1) {
		t.Errorf("row of the rejected file = %v, want offset -1", got)
	}
	if got := byTopic[record.TopicInventory]; got == nil || got[3] != "missing reject field reason" {
		t.Errorf("row of the reject without a reason = %v, want it dead-lettered as missing reject field reason", got)
	}
}
