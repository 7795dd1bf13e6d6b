package normalize_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestHandleBatchStoresPortsAndMounts(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	n := normalize.New(normalize.Config{}, store, &recordingWriter{}, testLogger())

	const at = int64(1764493200000000000) // 2025-11-30T09:00:00Z
	container := record.Container{
		TimeNs: at, ContainerID: containerID, Name: "api", Runtime: "docker", ImageRef: "app:1", ImageID: imageID, Running: true, StartedNs: at,
		Ports: []record.Port{
			{ContainerPort: 80, Protocol: "tcp", HostIP: "0.0.0.0", HostPort: 8080},
			{ContainerPort: 80, Protocol: "tcp", HostIP: "::", HostPort: 8080},
			{ContainerPort: 53, Protocol: "udp", HostIP: "127.0.0.1", HostPort: 5353},
		},
		Mounts: []record.Mount{
			{Source: "/var/run/docker.sock", Destination: "/var/run/docker.sock", ReadWrite: true},
			{Source: "/srv/config", Destination: "/etc/app", ReadWrite: false},
		},
	}
	bare := record.Container{TimeNs: at, ContainerID: "bare", Name: "bare", Runtime: "docker", Running: true, StartedNs: at}
	batch := []kafka.Message{
		{Topic: record.TopicInventory, Offset: 1, Value: encode(t, record.KindContainer, "c1", container)},
		{Topic: record.TopicInventory, Offset: 2, Value: encode(t, record.KindContainer, "c2", bare)},
	}
	if err := n.HandleBatch(ctx, batch); err != nil {
		t.Fatalf("HandleBatch: %v", err)
	}

	_, rows, err := store.Query(ctx, "SELECT container_id, ports, mounts FROM containers FINAL ORDER BY container_id")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("containers rows = %v, expected 2", rows)
	}
	want := []string{
		fmt.Sprintf("[%s [tcp 0.0.0.0:8080->80 tcp [::]:8080->80 udp 127.0.0.1:5353->53] [/var/run/docker.sock:/var/run/docker.sock:rw /srv/config:/etc/app:ro]]", containerID),
		"[bare [] []]",
	}
	for i := range want {
		if got := fmt.Sprint(rows[i]); got != want[i] {
			t.Errorf("row %d = %s, expected %s", i, got, want[i])
		}
	}
}
