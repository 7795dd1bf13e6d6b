// Package broker runs the embedded Kafka-protocol broker, franz-go's kfake,
// so that Harrier works with nothing else installed. It is a single node
// without replication: use Apache Kafka for production.
package broker

import (
	"crypto/tls"
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
	// Users turns SASL authentication on: every client must log in as one
	// of them. Empty leaves SASL off.
	Users []User
	// TLS, when set, makes the broker accept only TLS connections, with
	// this server config.
	TLS *tls.Config
}

// User is a SASL user of the embedded broker.
type User struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string
	Name      string
	Password  string
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
	if len(cfg.Users) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range cfg.Users {
			switch u.Mechanism {
			case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
			default:
				return nil, fmt.Errorf("invalid SASL mechanism %q for broker user %q: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", u.Mechanism, u.Name)
			}
			opts = append(opts, kfake.Superuser(u.Mechanism, u.Name, u.Password))
		}
	}
	if cfg.TLS != nil {
		opts = append(opts, kfake.TLS(cfg.TLS))
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
		logger.With("component", "broker").Info("Embedded broker started", "addr", b.addr, "data_dir", cfg.DataDir,
			"sasl_users", len(cfg.Users), "tls", cfg.TLS != nil)
	}
	return b, nil
}

// Addr returns the broker's host:port.
func (b *Broker) Addr() string { return b.addr }

// Addrs returns the bootstrap addresses as a comma-separated list.
func (b *Broker) Addrs() string { return strings.Join(b.cluster.ListenAddrs(), ",") }

// Close stops the broker. Data in memory is lost unless DataDir was set.
func (b *Broker) Close() { b.cluster.Close() }
