package redact_test

import (
	"strings"
	"testing"

	"github.com/harrierhq/harrier/collectors/redact"
)

const jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

const rsaKey = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\naFDrBz9vFqU4yNmTdAAmyTUN4ovgbfyTBCvJHrfhBbCLSbp3ZbxLkHnrKFnfXa8I\n-----END RSA PRIVATE KEY-----"

func TestMessage(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		want  string
		count int
	}{
		{"no secret", "GET /healthz 200 0.3ms", "GET /healthz 200 0.3ms", 0},
		{"rsa key block", "loaded key " + rsaKey + " from env",
			"loaded key -----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY----- from env", 1},
		{"openssh key cut off", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
			"-----BEGIN OPENSSH PRIVATE KEY-----[REDACTED]-----END OPENSSH PRIVATE KEY-----", 1},
		{"pkcs8 key", "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIC8s\n-----END PRIVATE KEY-----",
			"-----BEGIN PRIVATE KEY-----[REDACTED]-----END PRIVATE KEY-----", 1},
		{"pgp key block", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGV0\n-----END PGP PRIVATE KEY BLOCK-----",
			"-----BEGIN PGP PRIVATE KEY BLOCK-----[REDACTED]-----END PGP PRIVATE KEY BLOCK-----", 1},
		{"public key kept", "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----",
			"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----", 0},
		{"bearer header", "> Authorization: Bearer " + jwt, "> Authorization: Bearer [REDACTED]", 1},
		{"bearer lower case json", `{"headers":{"authorization":"bearer ` + jwt + `"}}`, `{"headers":{"authorization":"bearer [REDACTED]"}}`, 1},
		{"basic auth header", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic [REDACTED]", 1},
		{"aws access key id", "using credentials AKIAIOSFODNN7EXAMPLE for s3", "using credentials [REDACTED] for s3", 1},
		{"aws session key id", "key=ASIAY34FZKBOKMUTVV7A", "key=[REDACTED]", 1},
		{"aws secret env", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_SECRET_ACCESS_KEY=[REDACTED]", 1},
		{"aws secret cli config", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = [REDACTED]", 1},
		{"aws secret json", `{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`, `{"SecretAccessKey": "[REDACTED]"}`, 1},
		{"password query", "POST /login?user=bob&password=hunter2&next=/", "POST /login?user=bob&password=[REDACTED]&next=/", 1},
		{"passwd and pwd", "passwd=s3cr3t pwd=abc123", "passwd=[REDACTED] pwd=[REDACTED]", 2},
		{"password json", `{"user":"bob","password":"p@ss w0rd"}`, `{"user":"bob","password":"[REDACTED]"}`, 1},
		{"password yaml", "  password: 'Tr0ub4dor&3'", "  password: '[REDACTED]'", 1},
		{"db password env", "DB_PASSWORD=changeme", "DB_PASSWORD=[REDACTED]", 1},
		{"password word in prose", "password reset requested for bob", "password reset requested for bob", 0},
		{"url basic auth", "connecting to postgres://app:S3cr3t!@db.internal:5432/orders", "connecting to postgres://app:[REDACTED]@db.internal:5432/orders", 1},
		{"url without password", "GET https://example.com/a:b@c", "GET https://example.com/a:b@c", 0},
		{"two kinds", "curl -H 'Authorization: Bearer abc.def' https://u:p@h/", "curl -H 'Authorization: Bearer [REDACTED]' https://u:[REDACTED]@h/", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, n := redact.Message(c.in)
			if got != c.want {
				t.Errorf("Message(%q) = %q, want %q", c.in, got, c.want)
			}
			if n != c.count {
				t.Errorf("Message(%q) count = %d, want %d", c.in, n, c.count)
			}
		})
	}
}

func FuzzMessage(f *testing.F) {
	for _, s := range []string{rsaKey, "Authorization: Bearer " + jwt, "AKIAIOSFODNN7EXAMPLE", "password=x", "https://a:b@c/", "plain"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, n := redact.Message(s)
		if n == 0 && got != s {
			t.Errorf("Message(%q) changed the text without counting a secret: %q", s, got)
		}
		if n > 0 && !strings.Contains(got, redact.Placeholder) {
			t.Errorf("Message(%q) counted %d secrets but has no placeholder: %q", s, n, got)
		}
		if again, _ := redact.Message(got); strings.Count(again, redact.Placeholder) < strings.Count(got, redact.Placeholder) {
			t.Errorf("redacting %q again lost placeholders: %q", got, again)
		}
	})
}
