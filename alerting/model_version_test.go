package alerting

import (
	"context"
	"testing"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestModelAlertStoresModelVersion(t *testing.T) {
	store := storagetest.New(t)
	insertSSHD(t, store)
	a, _ := newAlerter(t, store, Config{})
	if err := a.HandleBatch(context.Background(), []kafka.Message{modelAlertMessage(t, 1, "fp-sshd")}); err != nil {
		t.Fatal(err)
	}

	_, rows, err := store.Query(context.Background(),
		"SELECT a.source, rule_version FROM alerts AS a ALL INNER JOIN alert_details AS d USING alert_id")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("%d alerts with details, expected 1", len(rows))
	}
	if rows[0][0] != "model" {
		t.Errorf("source = %v, expected model", rows[0][0])
	}
	if rows[0][1] != "iforest-0123456789ab" {
		t.Errorf("rule_version = %v, expected iforest-0123456789ab", rows[0][1])
	}
}
