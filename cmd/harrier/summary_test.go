package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestPluralCounts(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 hosts"},
		{1, "1 host"},
		{2, "2 hosts"},
	}
	for _, tt := range tests {
		if got := plural(tt.n, "host", "hosts"); got != tt.want {
			t.Errorf("plural(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
	if got := plural(uint64(1), "vulnerability", "vulnerabilities"); got != "1 vulnerability" {
		t.Errorf("plural of a uint64 1 = %q", got)
	}
}

func TestQueryHintNeedsRunningServer(t *testing.T) {
	store := storagetest.New(t)

	var stopped bytes.Buffer
	printQueryHint(&stopped, store, false)
	if strings.Contains(stopped.String(), "harrier sql") {
		t.Errorf("hint names a query for a server that stops:\n%s", stopped.String())
	}
	if !strings.Contains(stopped.String(), "--keep") {
		t.Errorf("hint does not mention --keep:\n%s", stopped.String())
	}

	var running bytes.Buffer
	printQueryHint(&running, store, true)
	if want := "harrier sql --clickhouse " + store.Addr() + " --clickhouse.database " + store.Database(); !strings.Contains(running.String(), want) {
		t.Errorf("hint lacks %q:\n%s", want, running.String())
	}
}
