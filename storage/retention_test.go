package storage_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/storage"
	"github.com/harrierhq/harrier/storage/storagetest"
)

func TestDropOldPartitions(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	now := time.Date(2024, 4, 10, 15, 0, 0, 0, time.UTC)

	// One row at noon on each of the ten days before now, and one today.
	var rows [][]any
	for back := 0; back <= 10; back++ {
		at := time.Date(2024, 4, 10-back, 12, 0, 0, 0, time.UTC)
		rows = append(rows, []any{at, at.UnixNano(), fmt.Sprintf("r%d", back), "c1", "m"})
	}
	if err := store.Insert(ctx, "events", []string{"time", "time_ns", "record_id", "container_id", "message"}, rows); err != nil {
		t.Fatal(err)
	}

	// Three days back from 2024-04-10 15:00 is 2024-04-07 15:00, so the
	// days up to 2024-04-06 ended before the cutoff and 2024-04-07 stays.
	dropped, err := store.DropOldPartitions(ctx, "events", 3*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"20240331", "20240401", "20240402", "20240403", "20240404", "20240405", "20240406"}
	if !slices.Equal(dropped, want) {
		t.Errorf("dropped = %v, want %v", dropped, want)
	}
	_, left, err := store.Query(ctx, "SELECT toString(toDate(min(time))), count() FROM events")
	if err != nil {
		t.Fatal(err)
	}
	if left[0][0] != "2024-04-07" {
		t.Errorf("oldest remaining day = %v, want 2024-04-07", left[0][0])
	}
	if left[0][1] != uint64(4) {
		t.Errorf("remaining rows = %v, want 4", left[0][1])
	}

	again, err := store.DropOldPartitions(ctx, "events", 3*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Errorf("second run dropped %v, want nothing", again)
	}
}

func TestDropOldPartitionsUnpartitioned(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	if err := store.Insert(ctx, "hosts", []string{"host_id"}, [][]any{{"h1"}}); err != nil {
		t.Fatal(err)
	}
	_, err := store.DropOldPartitions(ctx, "hosts", 30*24*time.Hour, time.Now())
	if err == nil || !strings.Contains(err.Error(), "toYYYYMMDD") {
		t.Errorf("err = %v, want an error saying the table is not partitioned by day", err)
	}
}

func TestParseRetention(t *testing.T) {
	got, err := storage.ParseRetention("events=30d, metrics=336h")
	if err != nil {
		t.Fatal(err)
	}
	want := []storage.Retention{{Table: "events", MaxAge: 30 * 24 * time.Hour}, {Table: "metrics", MaxAge: 14 * 24 * time.Hour}}
	if !slices.Equal(got, want) {
		t.Errorf("ParseRetention = %v, want %v", got, want)
	}
	for _, bad := range []string{"events", "events=0d", "events=12h", "events=abc", "ev-ents=3d", "events=3d,events=4d"} {
		if _, err := storage.ParseRetention(bad); err == nil {
			t.Errorf("ParseRetention(%q) returned no error", bad)
		}
	}
}
