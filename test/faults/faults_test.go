package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/storage"
)

// faultEnv is what a fault function can break and restart.
type faultEnv struct {
	t          *testing.T
	clickHouse *clickHouse
	// broker is nil when the test runs against Apache Kafka.
	broker      *embeddedBroker
	brokers     string
	topicPrefix string
	db          string
	store       *storage.Store
	norm        *normalizer
	logPath     string
}

func (e *faultEnv) startNormalizer() {
	e.norm = startNormalizer(e.t, e.brokers, e.topicPrefix, e.clickHouse.addr(), e.db, e.logPath)
}

// newFaultEnv starts ClickHouse, a broker (or uses KAFKA_TEST_BROKERS when
// realKafka is set) and the normalizer.
func newFaultEnv(t *testing.T, realKafka bool) *faultEnv {
	e := &faultEnv{t: t, db: "faults", logPath: filepath.Join(t.TempDir(), "normalize.log")}
	e.clickHouse = startClickHouse(t)
	e.store = openStore(t, e.clickHouse, e.db)
	if realKafka {
		e.brokers = os.Getenv("KAFKA_TEST_BROKERS")
		// A fresh prefix keeps this run's topics apart from earlier runs
		// on the same Kafka.
		e.topicPrefix = fmt.Sprintf("faults%d.", time.Now().UnixNano())
	} else {
		e.broker = startBroker(t)
		e.brokers = e.broker.addr()
		e.topicPrefix = "harrier."
	}
	e.startNormalizer()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("normalizer log tail:\n%s", logTail(e.logPath, 40))
		}
	})
	return e
}

// runFault streams n records through the normalizer, calls inject once a
// quarter of them is stored, and then checks that all n are stored once.
func runFault(t *testing.T, realKafka bool, inject func(e *faultEnv)) {
	n := recordCount(t)
	e := newFaultEnv(t, realKafka)
	runID := fmt.Sprintf("r%d", time.Now().UnixNano())
	start := time.Now()

	p := kafka.NewProducer(strings.Split(e.brokers, ","), e.topicPrefix)
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	produced := make(chan error, 1)
	go func() { produced <- produce(ctx, t, p, runID, 0, n, 0) }()

	timeout := 3*time.Minute + time.Duration(n/1000)*time.Second
	if got := waitStored(t, e.store, e.norm, uint64(n/4), timeout); got < uint64(n/4) {
		t.Fatalf("only %d of %d records stored before the fault within %s", got, n/4, timeout)
	}
	select {
	case err := <-produced:
		produced <- err
		t.Logf("producer had finished when the fault started")
	default:
		t.Logf("producer was still sending when the fault started")
	}
	faultAt := time.Now()
	inject(e)
	t.Logf("fault injected and recovered from in %s", time.Since(faultAt).Round(time.Millisecond))

	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	t.Logf("produced %d records in %s", n, time.Since(start).Round(time.Millisecond))
	if got := waitStored(t, e.store, e.norm, uint64(n), timeout); got < uint64(n) {
		t.Fatalf("only %d of %d records stored within %s", got, n, timeout)
	}
	elapsed := time.Since(start)
	t.Logf("stored %d records in %s (%.0f records/s end to end, fault included)", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	checkExactlyOnce(t, e.store, n)
}

// killAndRestart kills the normalizer with SIGKILL, so it neither flushes
// nor commits, and starts a new one in the same consumer group.
func killAndRestart(e *faultEnv) {
	e.t.Logf("sending SIGKILL to normalizer pid %d", e.norm.pid())
	e.norm.signal(syscall.SIGKILL, 10*time.Second)
	e.startNormalizer()
}

func TestNormalizerSIGKILL(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { runFault(t, false, killAndRestart) })
	t.Run("kafka", func(t *testing.T) {
		if os.Getenv("KAFKA_TEST_BROKERS") == "" {
			t.Skip("KAFKA_TEST_BROKERS is not set; scripts/kafka/start.sh starts Apache Kafka")
		}
		runFault(t, true, killAndRestart)
	})
}

func TestClickHouseRestart(t *testing.T) {
	runFault(t, false, func(e *faultEnv) {
		e.t.Logf("stopping clickhouse-server pid %d", e.clickHouse.server.PID)
		e.clickHouse.stop()
		// Long enough for several failed inserts and retries.
		time.Sleep(3 * time.Second)
		e.clickHouse.start()
		if !e.norm.running() {
			e.t.Fatalf("normalizer exited while ClickHouse was down; log:\n%s", logTail(e.logPath, 30))
		}
	})
}

func TestBrokerRestart(t *testing.T) {
	runFault(t, false, func(e *faultEnv) {
		e.t.Logf("stopping the embedded broker on %s", e.broker.addr())
		e.broker.stop()
		time.Sleep(3 * time.Second)
		e.broker.start()
		if !e.norm.running() {
			e.t.Fatalf("normalizer exited while the broker was down; log:\n%s", logTail(e.logPath, 30))
		}
	})
}
