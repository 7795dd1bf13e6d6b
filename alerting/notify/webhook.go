package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// DefaultSignatureHeader is the header that carries a webhook's signature.
const DefaultSignatureHeader = "X-Harrier-Signature"

// Webhook posts the notification in the JSON format of Alertmanager's
// webhook receiver (version 4), signed with HMAC-SHA256 over the exact
// request body. The signature header is "sha256=" followed by the hex
// digest, so a receiver recomputes it over the raw body and compares with
// hmac.Equal.
type Webhook struct {
	URL string
	// Secret is the HMAC key. Empty sends the request unsigned. It is never
	// logged.
	Secret []byte
	// Header names the signature header. Default DefaultSignatureHeader.
	Header string
	Client *http.Client
}

// webhookMessage follows Alertmanager's webhook payload, version 4.
type webhookMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	Alerts            []webhookAlert    `json:"alerts"`
}

type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Integration returns "webhook".
func (w *Webhook) Integration() string { return "webhook" }

// Notify posts the signed message of n.
func (w *Webhook) Notify(ctx context.Context, n Notification) error {
	body, err := json.Marshal(WebhookBody(n))
	if err != nil {
		return fmt.Errorf("encode webhook message: %w", err)
	}
	header := http.Header{}
	if len(w.Secret) > 0 {
		name := w.Header
		if name == "" {
			name = DefaultSignatureHeader
		}
		header.Set(name, Sign(w.Secret, body))
	}
	return post(ctx, w.Client, w.Integration(), w.URL, body, header)
}

// Sign returns "sha256=" and the hex HMAC-SHA256 of body under secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether signature is Sign(secret, body), in
// constant time.
func VerifySignature(secret, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}

// WebhookBody returns the webhook message of n.
func WebhookBody(n Notification) webhookMessage {
	m := webhookMessage{
		Version: "4", GroupKey: n.GroupKey, Status: n.Status(), Receiver: n.Receiver,
		GroupLabels: nonNilMap(n.GroupLabels), CommonLabels: n.CommonLabels(), CommonAnnotations: n.CommonAnnotations(),
	}
	for _, a := range n.Alerts {
		ends := "0001-01-01T00:00:00Z"
		if !a.EndsAt.IsZero() {
			ends = a.EndsAt.UTC().Format(time.RFC3339Nano)
		}
		m.Alerts = append(m.Alerts, webhookAlert{
			Status: a.Status(n.SentAt), Labels: nonNilMap(a.Labels), Annotations: nonNilMap(a.Annotations),
			StartsAt: a.StartsAt.UTC().Format(time.RFC3339Nano), EndsAt: ends,
			GeneratorURL: a.GeneratorURL, Fingerprint: a.Fingerprint(),
		})
	}
	return m
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
