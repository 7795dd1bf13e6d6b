package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// DefaultPagerDutyURL is the PagerDuty Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// maxPagerDutySummary is the longest payload.summary that PagerDuty
// accepts: 1024 characters.
const maxPagerDutySummary = 1024

// PagerDuty sends one Events API v2 event per notification: trigger while
// any alert of the group fires, resolve when all have resolved. The
// dedup_key is derived from the group key, so the trigger and the resolve
// of one group address the same PagerDuty incident.
type PagerDuty struct {
	// URL is the events endpoint. Default DefaultPagerDutyURL.
	URL string
	// RoutingKey is the integration key of the PagerDuty service. It is a
	// secret and is never logged.
	RoutingKey string
	// Source is payload.source when the first alert has no host or
	// container annotation and no host_id or container_id label. Default
	// "harrier".
	Source string
	Client *http.Client
}

// pagerDutyEvent is the body of an Events API v2 request, as documented at
// https://developer.pagerduty.com/docs/events-api-v2/trigger-events/.
type pagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"`
	DedupKey    string            `json:"dedup_key"`
	Client      string            `json:"client,omitempty"`
	ClientURL   string            `json:"client_url,omitempty"`
	Payload     *pagerDutyPayload `json:"payload,omitempty"`
	Links       []pagerDutyLink   `json:"links,omitempty"`
}

type pagerDutyPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type pagerDutyLink struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// Integration returns "pagerduty".
func (p *PagerDuty) Integration() string { return "pagerduty" }

// Notify sends the trigger or resolve event of n.
func (p *PagerDuty) Notify(ctx context.Context, n Notification) error {
	body, err := json.Marshal(p.Event(n))
	if err != nil {
		return fmt.Errorf("encode pagerduty event: %w", err)
	}
	target := p.URL
	if target == "" {
		target = DefaultPagerDutyURL
	}
	err = post(ctx, p.Client, p.Integration(), target, body, nil)
	if err != nil {
		return &Error{Retryable: IsRetryable(err), err: fmt.Errorf("%s", redactText(err.Error(), p.RoutingKey))}
	}
	return nil
}

// PagerDutyDedupKey returns the dedup_key of a group: a SHA-256 of the
// group key, as Alertmanager's own PagerDuty integration does.
func PagerDutyDedupKey(groupKey string) string {
	sum := sha256.Sum256([]byte(groupKey))
	return hex.EncodeToString(sum[:])
}

// Event builds the Events API v2 body of n.
func (p *PagerDuty) Event(n Notification) pagerDutyEvent {
	ev := pagerDutyEvent{RoutingKey: p.RoutingKey, DedupKey: PagerDutyDedupKey(n.GroupKey), Client: "Harrier"}
	if n.Status() == StatusResolved {
		ev.EventAction = "resolve"
		return ev
	}
	ev.EventAction = "trigger"

	firing := n.Firing()
	first := firing[0]
	summary := summaryOf(first)
	if len(firing) > 1 {
		summary = fmt.Sprintf("%s (and %d more alerts)", summary, len(firing)-1)
	}
	source := firstNonEmpty(first.Annotations["host"], first.Annotations["container"], first.Labels["host_id"],
		first.Labels["container_id"], p.Source, "harrier")
	details := map[string]any{"firing": len(firing), "group": n.GroupLabels}
	var explanations []string
	for _, a := range firing {
		if e := a.Annotations["explanation"]; e != "" {
			explanations = append(explanations, e)
		}
	}
	if len(explanations) > 0 {
		details["explanation"] = explanations
	}
	if q := first.Annotations["query"]; q != "" {
		details["query"] = q
	}
	ev.Payload = &pagerDutyPayload{
		Summary:       truncate(summary, maxPagerDutySummary),
		Source:        source,
		Severity:      PagerDutySeverity(first.Labels[LabelSeverity]),
		Timestamp:     first.StartsAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		Component:     first.Annotations["image"],
		Group:         first.Annotations["container"],
		Class:         first.Labels[LabelAlertName],
		CustomDetails: details,
	}
	if first.GeneratorURL != "" {
		ev.ClientURL = first.GeneratorURL
		ev.Links = []pagerDutyLink{{Href: first.GeneratorURL, Text: "Evidence in Grafana"}}
	}
	return ev
}

// PagerDutySeverity maps a Harrier severity to one of the four PagerDuty
// accepts: critical, error, warning or info.
func PagerDutySeverity(severity string) string {
	switch strings.ToLower(severity) {
	case "critical":
		return "critical"
	case "high":
		return "error"
	case "medium":
		return "warning"
	}
	return "info"
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// truncate cuts s to at most n runes, ending in "…" when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
