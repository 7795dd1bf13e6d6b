package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/harrierhq/harrier/collectors/agentrun"
	"github.com/harrierhq/harrier/internal/config"
)

// applyKafkaSecurity sets the TLS and SASL setup of every Kafka connection
// of this process from the kafka.tls* and kafka.sasl_* keys.
func applyKafkaSecurity(cfg *config.Config) error {
	return agentrun.ApplyKafkaSecurity(cfg)
}

// clickHouseTLS returns the TLS config of the ClickHouse connection, or nil
// when clickhouse.tls is off.
func clickHouseTLS(cfg *config.Config) (*tls.Config, error) {
	c := cfg.ClickHouse
	if !c.TLS {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.TLSInsecureSkipVerify}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("read clickhouse.tls_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("invalid clickhouse.tls_ca_file %s: no PEM certificate found", c.TLSCAFile)
		}
		t.RootCAs = pool
	}
	return t, nil
}
