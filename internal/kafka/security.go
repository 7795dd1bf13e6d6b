package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	kg "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// SASL mechanisms accepted in SASL.Mechanism, spelled as Kafka's
// sasl.enabled.mechanisms spells them.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// Security is the TLS and SASL setup of every connection to the brokers.
// The zero value, like a nil *Security, means plaintext without
// authentication.
type Security struct {
	// TLS enables TLS with this client config; nil means plaintext.
	// LoadTLSConfig builds one from PEM files.
	TLS *tls.Config
	// SASL authenticates the client after the connection (and TLS) is up.
	SASL SASL
}

// SASL holds the mechanism and credentials. Its String and LogValue
// methods leave out the password, so a SASL value can be logged.
type SASL struct {
	// Mechanism is "", PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. Empty turns
	// SASL off. PLAIN sends the password as is, so use it only with TLS.
	Mechanism string
	Username  string
	Password  string
}

// String returns the mechanism and user name, without the password.
func (s SASL) String() string {
	if s.Mechanism == "" {
		return "none"
	}
	return s.Mechanism + " as " + s.Username
}

// LogValue implements slog.LogValuer so that slog never prints the password.
func (s SASL) LogValue() slog.Value { return slog.StringValue(s.String()) }

// mechanism returns the kafka-go SASL mechanism, or nil when SASL is off.
func (s SASL) mechanism() (sasl.Mechanism, error) {
	switch strings.ToUpper(s.Mechanism) {
	case "":
		return nil, nil
	case MechanismPlain:
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case MechanismSCRAMSHA256:
		return scram.Mechanism(scram.SHA256, s.Username, s.Password)
	case MechanismSCRAMSHA512:
		return scram.Mechanism(scram.SHA512, s.Username, s.Password)
	}
	return nil, fmt.Errorf("invalid SASL mechanism %q: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
}

// dialer returns the kafka-go dialer of consumers and admin connections.
func (s *Security) dialer() (*kg.Dialer, error) {
	d := &kg.Dialer{Timeout: 10 * time.Second, DualStack: true}
	if s == nil {
		return d, nil
	}
	m, err := s.SASL.mechanism()
	if err != nil {
		return nil, err
	}
	d.TLS = s.TLS
	d.SASLMechanism = m
	return d, nil
}

// transport returns the kafka-go transport of producers and admin clients.
func (s *Security) transport() (*kg.Transport, error) {
	t := &kg.Transport{DialTimeout: 10 * time.Second}
	if s == nil {
		return t, nil
	}
	m, err := s.SASL.mechanism()
	if err != nil {
		return nil, err
	}
	t.TLS = s.TLS
	t.SASL = m
	return t, nil
}

// LoadTLSConfig builds a client TLS config from PEM files. caFile, when
// set, replaces the system roots. certFile and keyFile, set together, give
// a client certificate for mutual TLS. serverName overrides the name
// checked in the server certificate (empty uses the dialed host).
// insecureSkipVerify turns certificate checks off and is meant for tests.
func LoadTLSConfig(caFile, certFile, keyFile, serverName string, insecureSkipVerify bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName, InsecureSkipVerify: insecureSkipVerify}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read TLS CA file %q: %w", caFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("invalid TLS CA file %q: no PEM certificate found", caFile)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, fmt.Errorf("incomplete TLS client certificate: cert file %q and key file %q must be set together", certFile, keyFile)
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load TLS client certificate %q with key %q: %w", certFile, keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// ReadSecret returns the secret from file when file is set, with one
// trailing newline removed, and value otherwise. Setting both is an error,
// because one of them would be silently ignored. The error names the file
// but never the secret.
func ReadSecret(name, value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	if value != "" {
		return "", fmt.Errorf("both %s and %s_file are set: keep one", name, name)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read %s_file %q: %w", name, file, err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}

// processSecurity is the Security of every connection made without one of
// its own: NewProducer, EnsureTopics, GroupLag and Consume when
// ConsumerConfig.Security is nil. The harrier command sets it once from
// its configuration, before any role starts.
var processSecurity *Security

// SetProcessSecurity sets the TLS and SASL setup of every connection of
// this process that does not name its own. It checks the SASL mechanism,
// so later connections cannot fail on it. Call it before starting roles.
func SetProcessSecurity(sec *Security) error {
	if _, err := sec.transport(); err != nil {
		return err
	}
	processSecurity = sec
	return nil
}

// ProcessTransport returns the kafka-go transport with the TLS and SASL
// setup of SetProcessSecurity, for producers built outside this package.
func ProcessTransport() (*kg.Transport, error) { return processSecurity.transport() }
