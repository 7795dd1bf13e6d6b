// Package kafkatest starts an embedded Kafka-protocol broker for tests.
package kafkatest

import (
	"testing"

	"github.com/harrierhq/harrier/internal/broker"
)

// StartTestBroker starts an embedded broker on a free port of 127.0.0.1 and
// stops it when the test ends. It returns the bootstrap addresses.
func StartTestBroker(t testing.TB) []string {
	t.Helper()
	b, err := broker.Start(broker.Config{Port: 0, Partitions: 3}, nil)
	if err != nil {
		t.Fatalf("start test broker: %v", err)
	}
	t.Cleanup(b.Close)
	return []string{b.Addr()}
}
