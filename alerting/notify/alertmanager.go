package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Alertmanager posts alerts to the Alertmanager v2 API
// (POST /api/v2/alerts), which then groups, silences and routes them on
// its own.
type Alertmanager struct {
	// URL is the Alertmanager base URL, such as http://127.0.0.1:9093.
	URL    string
	Client *http.Client
}

// postableAlert is one element of the body of POST /api/v2/alerts, as
// defined by the Alertmanager OpenAPI spec (api/v2/openapi.yaml).
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Integration returns "alertmanager".
func (a *Alertmanager) Integration() string { return "alertmanager" }

// Notify posts every alert of n. Firing alerts get endsAt = n.ExpiresAt,
// so that Alertmanager keeps them until the next repeat and resolves them
// on its own if Harrier stops. Resolved alerts keep their own endsAt.
func (a *Alertmanager) Notify(ctx context.Context, n Notification) error {
	body, err := json.Marshal(AlertmanagerBody(n))
	if err != nil {
		return fmt.Errorf("encode alertmanager alerts: %w", err)
	}
	return post(ctx, a.Client, a.Integration(), strings.TrimRight(a.URL, "/")+"/api/v2/alerts", body, nil)
}

// AlertmanagerBody returns the body of POST /api/v2/alerts for n.
// Empty labels and annotations are left out, as Prometheus does, because
// Alertmanager treats an empty label as absent.
func AlertmanagerBody(n Notification) []postableAlert {
	out := make([]postableAlert, 0, len(n.Alerts))
	for _, al := range n.Alerts {
		p := postableAlert{
			Labels:       nonEmpty(al.Labels),
			Annotations:  nonEmpty(al.Annotations),
			StartsAt:     al.StartsAt.UTC().Format(time.RFC3339Nano),
			GeneratorURL: al.GeneratorURL,
		}
		switch {
		case al.Status(n.SentAt) == StatusResolved:
			p.EndsAt = al.EndsAt.UTC().Format(time.RFC3339Nano)
		case !n.ExpiresAt.IsZero():
			p.EndsAt = n.ExpiresAt.UTC().Format(time.RFC3339Nano)
		}
		out = append(out, p)
	}
	return out
}

func nonEmpty(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v != "" {
			out[k] = v
		}
	}
	return out
}
