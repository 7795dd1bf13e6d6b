package normalize_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestHandleBatchStoresPostureFacts(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	n := normalize.New(normalize.Config{}, store, &recordingWriter{}, testLogger())

	const at = int64(1764493200000000000) // 2025-11-30T09:00:00Z
	hostPosture := record.Posture{TimeNs: at, Entity: record.PostureHost, EntityID: hostID, EntityName: "node-7", Facts: []record.PostureFact{
		{Key: "daemon.icc", Values: []string{"true"}, Source: "default"},
		{Key: "daemon.insecure_registries", Values: nil, Source: "/etc/docker/daemon.json"},
	}}
	containerPosture := record.Posture{TimeNs: at, Entity: record.PostureContainer, EntityID: containerID, EntityName: "api", Facts: []record.PostureFact{
		{Key: "container.cap_add", Values: []string{"NET_ADMIN", "SYS_ADMIN"}, Source: "hostconfig.json"},
	}}
	batch := []kafka.Message{
		{Topic: record.TopicInventory, Offset: 1, Value: encode(t, record.KindPosture, "p1", hostPosture)},
		{Topic: record.TopicInventory, Offset: 2, Value: encode(t, record.KindPosture, "p2", containerPosture)},
		{Topic: record.TopicInventory, Offset: 3, Value: encode(t, record.KindPosture, "p3", record.Posture{TimeNs: at, Entity: "pod", EntityID: "x"})},
		{Topic: record.TopicInventory, Offset: 4, Value: encode(t, record.KindPosture, "p4", record.Posture{TimeNs: at, Entity: record.PostureHost, EntityID: hostID, Facts: []record.PostureFact{{Values: []string{"1"}}}})},
		{Topic: record.TopicLogs, Offset: 5, Value: encode(t, record.KindPosture, "p5", hostPosture)},
	}
	if err := n.HandleBatch(ctx, batch); err != nil {
		t.Fatalf("HandleBatch: %v", err)
	}

	_, rows, err := store.Query(ctx, "SELECT entity_kind, entity_name, fact, fact_values, source, collected_ns FROM posture_facts ORDER BY entity_kind, fact")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("[container api container.cap_add [NET_ADMIN SYS_ADMIN] hostconfig.json %d]", at),
		fmt.Sprintf("[host node-7 daemon.icc [true] default %d]", at),
		fmt.Sprintf("[host node-7 daemon.insecure_registries [] /etc/docker/daemon.json %d]", at),
	}
	if len(rows) != len(want) {
		t.Fatalf("posture_facts rows = %v, want %d", rows, len(want))
	}
	for i := range want {
		if got := fmt.Sprint(rows[i]); got != want[i] {
			t.Errorf("row %d = %s, want %s", i, got, want[i])
		}
	}

	_, dead, err := store.Query(ctx, "SELECT offset, reason FROM dead_letters ORDER BY offset")
	if err != nil {
		t.Fatal(err)
	}
	wantReasons := []string{
		`invalid posture field entity="pod"`,
		"missing posture field facts[0].key",
		`invalid envelope field kind="posture" on topic logs`,
	}
	if len(dead) != len(wantReasons) {
		t.Fatalf("dead letters = %v, want %d", dead, len(wantReasons))
	}
	for i, want := range wantReasons {
		if reason := fmt.Sprint(dead[i][1]); !strings.Contains(reason, want) {
			t.Errorf("dead letter %d reason = %q, want one containing %q", i, reason, want)
		}
	}
}
