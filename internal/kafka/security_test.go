package kafka_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/harrierhq/harrier/internal/broker"
	"github.com/harrierhq/harrier/internal/kafka"
)

// syncBuffer is a log sink that the consumer goroutine and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// roundTrip produces three messages with sec and consumes them back, and
// returns the consumer's log.
func roundTrip(t *testing.T, addr string, sec *kafka.Security) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := []string{addr}
	if err := kafka.EnsureTopicsSecure(ctx, brokers, sec, "sec.", 1, "logs"); err != nil {
		t.Fatalf("EnsureTopicsSecure: %v", err)
	}
	p, err := kafka.NewSecureProducer(brokers, "sec.", sec)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 3 {
		if err := p.Write(ctx, kafka.Message{Topic: "logs", Value: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}

	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	consumeCtx, stop := context.WithCancel(ctx)
	var mu sync.Mutex
	got := 0
	done := make(chan error, 1)
	go func() {
		done <- kafka.Consume(consumeCtx, kafka.ConsumerConfig{
			Brokers: brokers, TopicPrefix: "sec.", Group: "sec", Topics: []string{"logs"}, Security: sec, Logger: logger,
		}, func(ctx context.Context, batch []kafka.Message) error {
			mu.Lock()
			defer mu.Unlock()
			got += len(batch)
			if got >= 3 {
				stop()
			}
			return nil
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Consume: %v", err)
		}
	case <-ctx.Done():
		stop()
		t.Fatalf("consumed %d of 3 messages within 30 s; log:\n%s", got, logs.String())
	}
	return logs.String()
}

func TestSASLMechanisms(t *testing.T) {
	for _, mech := range []string{kafka.MechanismPlain, kafka.MechanismSCRAMSHA256, kafka.MechanismSCRAMSHA512} {
		t.Run(mech, func(t *testing.T) {
			const password = "s3cret-Pa55word-never-logged"
			b, err := broker.Start(broker.Config{Users: []broker.User{{Mechanism: mech, Name: "harrier", Password: password}}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			sec := &kafka.Security{SASL: kafka.SASL{Mechanism: mech, Username: "harrier", Password: password}}
			log := roundTrip(t, b.Addr(), sec)
			if strings.Contains(log, password) {
				t.Errorf("consumer log contains the SASL password:\n%s", log)
			}
			if !strings.Contains(log, "sasl=\""+mech+" as harrier\"") {
				t.Errorf("consumer log does not name the mechanism and user:\n%s", log)
			}
		})
	}
}

func TestSASLWrongPassword(t *testing.T) {
	b, err := broker.Start(broker.Config{Users: []broker.User{{Mechanism: kafka.MechanismSCRAMSHA256, Name: "harrier", Password: "right"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sec := &kafka.Security{SASL: kafka.SASL{Mechanism: kafka.MechanismSCRAMSHA256, Username: "harrier", Password: "wrong"}}
	if err := kafka.EnsureTopicsSecure(ctx, []string{b.Addr()}, sec, "sec.", 1, "logs"); err == nil {
		t.Error("EnsureTopicsSecure with a wrong password returned no error")
	}
}

func TestInvalidMechanism(t *testing.T) {
	_, err := kafka.NewSecureProducer([]string{"127.0.0.1:1"}, "", &kafka.Security{SASL: kafka.SASL{Mechanism: "GSSAPI"}})
	if err == nil || !strings.Contains(err.Error(), `"GSSAPI"`) {
		t.Errorf("err = %v, want an error naming the mechanism", err)
	}
}

// selfSigned returns a server certificate for 127.0.0.1 and its PEM form.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "harrier-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pemBlock("CERTIFICATE", der)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, pemBlock("EC PRIVATE KEY", keyDER))
	if err != nil {
		t.Fatal(err)
	}
	return cert, certPEM
}

func TestTLSWithSCRAM(t *testing.T) {
	cert, certPEM := selfSigned(t)
	b, err := broker.Start(broker.Config{
		TLS:   &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Users: []broker.User{{Mechanism: kafka.MechanismSCRAMSHA512, Name: "harrier", Password: "pw"}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := kafka.LoadTLSConfig(caFile, "", "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	sec := &kafka.Security{TLS: tlsCfg, SASL: kafka.SASL{Mechanism: kafka.MechanismSCRAMSHA512, Username: "harrier", Password: "pw"}}
	roundTrip(t, b.Addr(), sec)
}

func TestLoadTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]string{
		"missing CA file":  {filepath.Join(dir, "missing.pem"), "", ""},
		"CA not PEM":       {notPEM, "", ""},
		"cert without key": {"", notPEM, ""},
	}
	for name, c := range cases {
		if _, err := kafka.LoadTLSConfig(c[0], c[1], c[2], "", false); err == nil {
			t.Errorf("%s: LoadTLSConfig returned no error", name)
		}
	}
}

func TestReadSecret(t *testing.T) {
	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := kafka.ReadSecret("kafka.sasl.password", "", file)
	if err != nil {
		t.Fatal(err)
	}
	if got != "from-file" {
		t.Errorf("ReadSecret from file = %q, want %q", got, "from-file")
	}
	if got, _ := kafka.ReadSecret("kafka.sasl.password", "inline", ""); got != "inline" {
		t.Errorf("ReadSecret without file = %q, want %q", got, "inline")
	}
	_, err = kafka.ReadSecret("kafka.sasl.password", "inline", file)
	if err == nil || strings.Contains(err.Error(), "inline") {
		t.Errorf("err = %v, want an error that names both keys and not the secret", err)
	}
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}
