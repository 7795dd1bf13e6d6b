package faults

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/kafka"
)

// Backlog sent while ClickHouse is down: 40000 records of 4 KiB, about
// 160 MiB, several times the normalizer's memory limit below.
const (
	backlogRecords      = 40000
	backlogMessageBytes = 4096
)

// rssLimit bounds the normalizer's resident memory while ClickHouse is
// down. The consumer holds at most two batches of DefaultMaxBatchBytes of
// messages (one being stored, the next one prepared),
// DefaultQueueCapacity messages fetched ahead and one fetch response of
// DefaultFetchMaxBytes per partition (3 here). Decoding a batch into
// rows and Go's garbage collector (GOGC=100 lets the heap grow to twice the
// live data) multiply that, so the limit allows four times the held bytes
// on top of the memory the process had before the outage.
func rssLimit(baseline int64) int64 {
	held := int64(2*kafka.DefaultMaxBatchBytes + kafka.DefaultQueueCapacity*backlogMessageBytes + 3*kafka.DefaultFetchMaxBytes)
	return baseline + 4*held
}

func TestBackpressureWhileClickHouseDown(t *testing.T) {
	e := newFaultEnv(t, false)
	runID := fmt.Sprintf("b%d", time.Now().UnixNano())
	p := kafka.NewProducer(strings.Split(e.brokers, ","), e.topicPrefix)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// A first small batch proves the normalizer has joined the group and
	// stores records, so the outage hits a running consumer.
	const warmup = 1000
	if err := produce(ctx, t, p, runID, 0, warmup, backlogMessageBytes); err != nil {
		t.Fatal(err)
	}
	if got := waitStored(t, e.store, e.norm, warmup, 2*time.Minute); got < warmup {
		t.Fatalf("only %d of %d warm-up records stored", got, warmup)
	}
	baseline, err := processRSS(e.norm.pid())
	if err != nil {
		t.Fatal(err)
	}
	limit := rssLimit(baseline)

	e.clickHouse.stop()
	total := warmup + backlogRecords
	if err := produce(ctx, t, p, runID, warmup, total, backlogMessageBytes); err != nil {
		t.Fatal(err)
	}
	// Sample while the normalizer fetches the backlog and retries against
	// the stopped server.
	var peak int64
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		rss, err := processRSS(e.norm.pid())
		if err != nil {
			t.Fatalf("normalizer exited while ClickHouse was down: %v; log:\n%s", err, logTail(e.logPath, 30))
		}
		peak = max(peak, rss)
		time.Sleep(100 * time.Millisecond)
	}
	backlog := int64(backlogRecords * backlogMessageBytes)
	t.Logf("normalizer RSS: %d MiB before the outage, peak %d MiB during it, limit %d MiB, backlog %d MiB",
		baseline>>20, peak>>20, limit>>20, backlog>>20)
	if peak > limit {
		t.Errorf("normalizer peak RSS %d MiB is above the limit of %d MiB while ClickHouse was down", peak>>20, limit>>20)
	}
	if !e.norm.running() {
		t.Fatalf("normalizer exited while ClickHouse was down; log:\n%s", logTail(e.logPath, 30))
	}

	restarted := time.Now()
	e.clickHouse.start()
	if got := waitStored(t, e.store, e.norm, uint64(total), 5*time.Minute); got < uint64(total) {
		t.Fatalf("only %d of %d records stored after ClickHouse returned", got, total)
	}
	t.Logf("backlog stored %s after ClickHouse returned", time.Since(restarted).Round(time.Millisecond))
	checkExactlyOnce(t, e.store, total)
}
