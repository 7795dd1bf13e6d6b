package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/harrierhq/harrier/internal/config"
	"github.com/harrierhq/harrier/internal/kafka"
)

// applyKafkaSecurity sets the TLS and SASL setup of every Kafka connection
// of this process from the kafka.tls* and kafka.sasl_* keys.
func applyKafkaSecurity(cfg *config.Config) error {
	k := cfg.Kafka
	if !k.TLS && k.SASLMechanism == "" {
		return nil
	}
	sec := &kafka.Security{}
	if k.TLS {
		t, err := kafka.LoadTLSConfig(k.TLSCAFile, k.TLSCertFile, k.TLSKeyFile, k.TLSServerName, k.TLSInsecureSkipVerify)
		if err != nil {
			return err
		}
		sec.TLS = t
	}
	if k.SASLMechanism != "" {
		password, err := kafka.ReadSecret("kafka.sasl_password", k.SASLPassword, k.SASLPasswordFile)
		if err != nil {
			return err
		}
		if k.SASLUsername == "" {
			return fmt.Errorf("missing kafka.sasl_username: kafka.sasl_mechanism %s needs a user name", k.SASLMechanism)
		}
		sec.SASL = kafka.SASL{Mechanism: k.SASLMechanism, Username: k.SASLUsername, Password: password}
	}
	return kafka.SetProcessSecurity(sec)
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
