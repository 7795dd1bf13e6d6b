// Package notify sends alert notifications to receivers: the Alertmanager
// v2 API, PagerDuty Events API v2, Slack incoming webhooks and a generic
// webhook signed with HMAC-SHA256. A Retrier wraps any of them with
// retries, backoff with jitter and a dead-letter sink.
package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Alert statuses.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Well-known label names.
const (
	// LabelAlertName is the rule or model name, as in Prometheus.
	LabelAlertName = "alertname"
	// LabelSeverity is critical, high, medium, low or info.
	LabelSeverity = "severity"
)

// Alert is one alert in the Alertmanager model: a label set that
// identifies it, annotations that describe it, and the time span it fired.
type Alert struct {
	// Labels identify the alert. Two alerts with the same labels are the
	// same alert.
	Labels map[string]string `json:"labels"`
	// Annotations describe the alert: summary, description, explanation,
	// query, link. They do not take part in the fingerprint.
	Annotations map[string]string `json:"annotations,omitempty"`
	// StartsAt is when the alert first fired.
	StartsAt time.Time `json:"startsAt"`
	// EndsAt is when the alert resolved, or zero while it fires.
	EndsAt time.Time `json:"endsAt,omitzero"`
	// GeneratorURL links to what produced the alert, such as a Grafana view.
	GeneratorURL string `json:"generatorURL,omitempty"`
}

// Fingerprint returns the alert's identity: a hash of its sorted labels.
func (a Alert) Fingerprint() string { return Fingerprint(a.Labels) }

// Status returns StatusResolved when EndsAt is set and not after now, else
// StatusFiring.
func (a Alert) Status(now time.Time) string {
	if !a.EndsAt.IsZero() && !a.EndsAt.After(now) {
		return StatusResolved
	}
	return StatusFiring
}

// Fingerprint hashes a label set independently of map order. Label names
// and values are separated by bytes that cannot occur in UTF-8 text, so
// that {a="b,c"} and {a="b", c=""} differ.
func Fingerprint(labels map[string]string) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(labels)) {
		h.Write([]byte(name))
		h.Write([]byte{0xff})
		h.Write([]byte(labels[name]))
		h.Write([]byte{0xfe})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Notification is the message a receiver gets: the alerts of one group,
// firing and just resolved, at one flush of the group.
type Notification struct {
	// Receiver is the name of the receiver in the routing config.
	Receiver string `json:"receiver"`
	// GroupKey identifies the group across flushes: the route and the
	// values of its group_by labels.
	GroupKey string `json:"groupKey"`
	// GroupLabels are the group_by labels and their values.
	GroupLabels map[string]string `json:"groupLabels"`
	// Alerts are the group's alerts, firing first.
	Alerts []Alert `json:"alerts"`
	// SentAt is the flush time. Alerts whose EndsAt is not after SentAt are
	// resolved.
	SentAt time.Time `json:"sentAt"`
	// ExpiresAt is the time until which the firing alerts are known to
	// fire without a further notification (the next repeat plus one group
	// interval). The Alertmanager receiver sends it as endsAt of firing
	// alerts, so that Alertmanager resolves them only if Harrier stops.
	ExpiresAt time.Time `json:"expiresAt"`
}

// Status returns StatusFiring when any alert fires, else StatusResolved.
func (n Notification) Status() string {
	for _, a := range n.Alerts {
		if a.Status(n.SentAt) == StatusFiring {
			return StatusFiring
		}
	}
	return StatusResolved
}

// Firing returns the alerts that fire at SentAt.
func (n Notification) Firing() []Alert {
	var out []Alert
	for _, a := range n.Alerts {
		if a.Status(n.SentAt) == StatusFiring {
			out = append(out, a)
		}
	}
	return out
}

// CommonLabels returns the labels that every alert has with the same value.
func (n Notification) CommonLabels() map[string]string {
	return common(n.Alerts, func(a Alert) map[string]string { return a.Labels })
}

// CommonAnnotations returns the annotations that every alert has with the
// same value.
func (n Notification) CommonAnnotations() map[string]string {
	return common(n.Alerts, func(a Alert) map[string]string { return a.Annotations })
}

func common(alerts []Alert, get func(Alert) map[string]string) map[string]string {
	out := map[string]string{}
	if len(alerts) == 0 {
		return out
	}
	maps.Copy(out, get(alerts[0]))
	for _, a := range alerts[1:] {
		m := get(a)
		for k, v := range out {
			if m[k] != v {
				delete(out, k)
			}
		}
	}
	return out
}

// title returns a one-line headline such as
// "[FIRING:3] critical-fixable-vulnerability-running (critical)".
func title(n Notification) string {
	status := strings.ToUpper(n.Status())
	count := len(n.Alerts)
	if n.Status() == StatusFiring {
		count = len(n.Firing())
	}
	var b strings.Builder
	b.WriteString("[" + status + ":" + strconv.Itoa(count) + "]")
	labels := n.GroupLabels
	if len(labels) == 0 {
		labels = n.CommonLabels()
	}
	for _, name := range slices.Sorted(maps.Keys(labels)) {
		b.WriteString(" " + labels[name])
	}
	return b.String()
}

// summaryOf returns the alert's summary annotation, or its name.
func summaryOf(a Alert) string {
	if s := a.Annotations["summary"]; s != "" {
		return s
	}
	return a.Labels[LabelAlertName]
}
