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

func TestHandleBatchStoresLifecycleAndHostFacts(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	dlq := &recordingWriter{}
	n := normalize.New(normalize.Config{}, store, dlq, testLogger())

	const at = int64(1764493200000000000) // 2025-11-30T09:00:00Z
	container := record.Container{TimeNs: at, ContainerID: containerID, Name: "api", Runtime: "docker", ImageRef: "app:1", ImageID: imageID, Running: true, StartedNs: at}
	started := record.Lifecycle{TimeNs: at, ContainerID: containerID, Event: record.EventStarted, Detail: "config.v2.json State.StartedAt"}
	exited := record.Lifecycle{TimeNs: at + 5e9, ContainerID: containerID, ContainerName: "api", ImageID: imageID, Event: record.EventExited, ExitCode: 137, Detail: "config.v2.json State.FinishedAt"}
	badEvent := record.Lifecycle{TimeNs: at, ContainerID: containerID, Event: "paused"}
	host := record.Host{
		TimeNs: at, HostID: hostID, Hostname: "node-7", OSID: "ubuntu", OSVersion: "22.04",
		Arch: "x86_64", OSEOLDate: "2027-04-30", Runtime: "docker", RuntimeVersion: "27.3.1",
		Listeners: []record.Listener{
			{Protocol: "tcp", Address: "127.0.0.1", Port: 22, PID: 812, Process: "sshd"},
			{Protocol: "tcp6", Address: "::", Port: 80},
		},
	}

	batch := []kafka.Message{
		{Topic: record.TopicInventory, Offset: 1, Value: encode(t, record.KindContainer, "c1", container)},
		{Topic: record.TopicInventory, Offset: 2, Value: encode(t, record.KindLifecycle, "l1", started)},
		{Topic: record.TopicInventory, Offset: 3, Value: encode(t, record.KindLifecycle, "l2", exited)},
		{Topic: record.TopicInventory, Offset: 4, Value: encode(t, record.KindHost, "h1", host)},
		{Topic: record.TopicInventory, Offset: 5, Value: encode(t, record.KindLifecycle, "l3", badEvent)},
	}
	if err := n.HandleBatch(ctx, batch); err != nil {
		t.Fatalf("HandleBatch: %v", err)
	}

	_, rows, err := store.Query(ctx, "SELECT event, exit_code, container_name, image_id, host_id, detail FROM container_events FINAL ORDER BY time_ns")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("[started 0 api %s %s config.v2.json State.StartedAt]", imageID, hostID),
		fmt.Sprintf("[exited 137 api %s %s config.v2.json State.FinishedAt]", imageID, hostID),
	}
	if len(rows) != len(want) {
		t.Fatalf("container_events rows = %v, expected %d", rows, len(want))
	}
	for i := range want {
		if got := fmt.Sprint(rows[i]); got != want[i] {
			t.Errorf("row %d = %s, expected %s", i, got, want[i])
		}
	}

	_, rows, err = store.Query(ctx, "SELECT arch, os_eol_date, runtime, runtime_version, listeners FROM hosts FINAL")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("hosts rows = %v, expected 1", rows)
	}
	if got := fmt.Sprint(rows[0]); got != "[x86_64 2027-04-30 docker 27.3.1 [tcp 127.0.0.1:22 sshd tcp6 [::]:80]]" {
		t.Errorf("host row = %s", got)
	}

	if len(dlq.msgs) != 1 {
		t.Fatalf("dead letters = %d, expected the invalid event", len(dlq.msgs))
	}
	if got := n.Stats().Stored[normalize.TableContainerEvents]; got != 2 {
		t.Errorf("stored container_events = %d, expected 2", got)
	}
}
