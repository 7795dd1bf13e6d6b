// Package broker runs the embedded Kafka-protocol broker, franz-go's kfake,
// so that Harrier works with nothing else installed. It is a single node
// without replication: use Apache Kafka for production.
package broker

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Config sets up the embedded broker.
type Config struct {
	// Port is the TCP port on 127.0.0.1; 0 picks a free port.
	Port int
	// DataDir keeps topics and committed offsets across restarts. Empty
	// keeps everything in memory.
	DataDir string
	// Partitions is the partition count of auto-created topics, default 3.
	Partitions int
}

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
}

// Start starts the broker and returns once it accepts connections.
func Start(cfg Config, logger *slog.Logger) (*Broker, error) {
	if cfg.Partitions <= 0 {
		cfg.Partitions = 3
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(cfg.Port),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.Partitions),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker on port %d: %w", cfg.Port, err)
	}
	addrs := cluster.ListenAddrs()
	if len(addrs) == 0 {
		cluster.Close()
		return nil, fmt.Errorf("start embedded broker: no listen address")
	}
	b := &Broker{cluster: cluster, addr: addrs[0]}
	if logger != nil {
		logger.With("component", "broker").Info("Embedded broker started", "addr", b.addr, "data_dir", cfg.DataDir)
	}
	return b, nil
}

// Addr returns the broker's host:port.
func (b *Broker) Addr() string { return b.addr }

// Addrs returns the bootstrap addresses as a comma-separated list.
func (b *Broker) Addrs() string { return strings.Join(b.cluster.ListenAddrs(), ",") }

// Close stops the broker. Data in memory is lost unless DataDir was set.
func (b *Broker) Close() { b.cluster.Close() }
