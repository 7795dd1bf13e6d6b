package normalize_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/harrierhq/harrier/features/drain"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage"
	"github.com/harrierhq/harrier/storage/storagetest"
)

// newTemplateNormalizer starts a normalizer whose miner loads its templates
// from, and saves them to, the templates table of store, as a normalizer
// process does on start.
func newTemplateNormalizer(t *testing.T, store *storage.Store) (*normalize.Normalizer, *drain.Miner) {
	t.Helper()
	miner, err := drain.NewMiner(context.Background(), drain.Config{}, drain.NewClickHouseStore(store), nil)
	if err != nil {
		t.Fatal(err)
	}
	return normalize.New(normalize.Config{Templates: miner}, store, nil, testLogger()), miner
}

func sshdLog(t *testing.T, id string, offset int64, user string, port int) kafka.Message {
	t.Helper()
	msg := fmt.Sprintf("Failed password for invalid user %s from 203.0.113.7 port %d ssh2", user, port)
	value := encode(t, record.KindLog, id, record.Log{TimeNs: 1554141513598656444 + offset, ContainerID: containerID, Stream: "stdout", Message: msg})
	return kafka.Message{Topic: record.TopicLogs, Offset: offset, Value: value}
}

func eventTemplates(t *testing.T, store *storage.Store) map[string][2]any {
	t.Helper()
	_, rows, err := store.Query(context.Background(), "SELECT record_id, template_id, template FROM events FINAL")
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][2]any, len(rows))
	for _, r := range rows {
		out[r[0].(string)] = [2]any{r[1], r[2]}
	}
	return out
}

// TestTemplateIDSurvivesRestart stores the same kind of message before and
// after a normalizer restart and expects one template id for both, because
// the second miner loads the templates the first one saved.
func TestTemplateIDSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	container := encode(t, record.KindContainer, "inv-1", record.Container{
		ContainerID: containerID, Name: "sshd", ImageID: imageID, ImageRef: "sshd:1", Running: true, TimeNs: 1554141513000000000,
	})

	first, _ := newTemplateNormalizer(t, store)
	batch := []kafka.Message{
		{Topic: record.TopicInventory, Offset: 0, Value: container},
		sshdLog(t, "log-1", 1, "admin", 50022),
		sshdLog(t, "log-2", 2, "oracle", 50023),
	}
	if err := first.HandleBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}

	// HandleBatch returned nil, so the templates are already in the table
	// although the miner's Run never ran.
	saved, err := drain.NewClickHouseStore(store).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(saved) != 1 {
		t.Fatalf("templates table has %d templates after the first batch, want 1: %+v", len(saved), saved)
	}
	if saved[0].Key != imageID {
		t.Errorf("template key = %q, want the image id %s", saved[0].Key, imageID)
	}

	second, miner := newTemplateNormalizer(t, store)
	if err := second.HandleBatch(ctx, []kafka.Message{sshdLog(t, "log-3", 3, "test", 50024)}); err != nil {
		t.Fatal(err)
	}
	if n := miner.Stats().NewTemplates; n != 0 {
		t.Errorf("the restarted miner created %d templates, want 0", n)
	}

	events := eventTemplates(t, store)
	if len(events) != 3 {
		t.Fatalf("events has %d rows, want 3", len(events))
	}
	want := events["log-1"]
	if want[0] == uint64(0) {
		t.Fatalf("log-1 has template_id 0")
	}
	if want[0] != saved[0].ID {
		t.Errorf("log-1 template_id = %v, want the stored id %d", want[0], saved[0].ID)
	}
	if events["log-2"][0] != want[0] {
		t.Errorf("log-2 template_id = %v, want %v", events["log-2"][0], want[0])
	}
	if events["log-3"][0] != want[0] {
		t.Errorf("template_id after restart = %v, want %v", events["log-3"][0], want[0])
	}
	if tpl := events["log-3"][1]; tpl != "Failed password for invalid user <*> from <*> port <*> ssh2" {
		t.Errorf("template after restart = %q", tpl)
	}
}

// TestTemplateKeyWithoutImage mines the logs of a container whose image
// is unknown under the container id.
func TestTemplateKeyWithoutImage(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	n, miner := newTemplateNormalizer(t, store)
	if err := n.HandleBatch(ctx, []kafka.Message{sshdLog(t, "log-1", 1, "admin", 50022)}); err != nil {
		t.Fatal(err)
	}
	if got := miner.Templates(containerID); len(got) != 1 {
		t.Errorf("templates under the container id = %d, want 1", len(got))
	}
	if got := normalize.TemplateKey("", containerID); got != containerID {
		t.Errorf("TemplateKey without image = %q, want %q", got, containerID)
	}
}

// failingMatcher fails every Flush, as a miner does when ClickHouse is
// down. It wraps a real miner.
type failingMatcher struct{ *drain.Miner }

func (failingMatcher) Flush(context.Context) error { return fmt.Errorf("templates table unavailable") }

func TestTemplateFlushFailureFailsBatch(t *testing.T) {
	store := storagetest.New(t)
	n := normalize.New(normalize.Config{Templates: failingMatcher{drain.NewInMemory(nil)}}, store, nil, testLogger())
	if err := n.HandleBatch(context.Background(), []kafka.Message{sshdLog(t, "log-1", 1, "admin", 50022)}); err == nil {
		t.Fatal("HandleBatch returned nil although the templates were not stored, so the offsets would be committed")
	}
}
