package alerting

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/harrierhq/harrier/alerting/notify"
	"github.com/harrierhq/harrier/internal/record"
)

// Defaults of the model alert resolution.
const (
	DefaultModelWindow        = time.Minute
	DefaultModelNormalWindows = 3
)

// linkData contains the fields of a LinkTemplate. FromMs and ToMs are the
// alert's window widened by one window on each side, in Unix milliseconds,
// the unit of Grafana's from and to URL parameters.
type linkData struct {
	Rule, Source, ContainerID, Container, HostID, ImageID, Image string
	FromMs, ToMs                                                 int64
}

// parseLinkTemplate parses a Grafana URL template. Values are inserted
// as they are, so a template should pass them through urlquery, as in
// "http://grafana:3000/d/harrier?var-container={{.ContainerID | urlquery}}".
func parseLinkTemplate(text string) (*template.Template, error) {
	if text == "" {
		return nil, nil
	}
	tmpl, err := template.New("link").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("invalid alert link template %q: %w", text, err)
	}
	if err := tmpl.Execute(&bytes.Buffer{}, linkData{}); err != nil {
		return nil, fmt.Errorf("invalid alert link template %q: %w", text, err)
	}
	return tmpl, nil
}

// alertLink fills the link template for c, or returns "" without one.
func alertLink(tmpl *template.Template, c candidate, window time.Duration) string {
	if tmpl == nil {
		return ""
	}
	at := time.Unix(0, c.TimeNs)
	data := linkData{
		Rule: c.Name, Source: c.Source, ContainerID: c.ContainerID, Container: c.ContainerName,
		HostID: c.HostID, ImageID: c.ImageID, Image: c.ImageRef,
		FromMs: at.Add(-window).UnixMilli(), ToMs: at.Add(2 * window).UnixMilli(),
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return ""
	}
	return b.String()
}

// toNotifyAlert converts a candidate to the labels and annotations of the
// alert lifecycle. The labels hold only what identifies the alert (rule or
// model, source, severity and the container or host id), so that filling
// in a container's name later does not change the fingerprint.
func toNotifyAlert(c candidate, link string, window time.Duration) notify.Alert {
	labels := map[string]string{
		notify.LabelAlertName: c.Name,
		notify.LabelSeverity:  c.Severity,
		"source":              c.Source,
	}
	switch {
	case c.ContainerID != "":
		labels["container_id"] = c.ContainerID
	case c.HostID != "":
		labels["host_id"] = c.HostID
	}
	at := time.Unix(0, c.TimeNs).UTC()
	annotations := map[string]string{
		"summary":      c.Summary,
		"explanation":  strings.Join(c.Drivers, "; "),
		"query":        c.Query,
		"container":    firstNonEmpty(c.ContainerName, shortID(c.ContainerID)),
		"host":         c.HostID,
		"image":        firstNonEmpty(c.ImageRef, c.ImageID),
		"window_start": at.Format(time.RFC3339),
	}
	if c.Source == "model" {
		annotations["window_end"] = at.Add(window).Format(time.RFC3339)
		annotations["score"] = strconv.FormatFloat(c.Score, 'f', 4, 64)
		annotations["threshold"] = strconv.FormatFloat(c.Threshold, 'f', 4, 64)
	}
	return notify.Alert{Labels: labels, Annotations: annotations, GeneratorURL: link}
}

// NotificationAlert converts an alert of the alerts topic, such as a line
// of a JSONL file, to the alert that the dispatcher routes. window is the
// scoring window of model alerts.
func NotificationAlert(alert record.Alert, window time.Duration) notify.Alert {
	return toNotifyAlert(candidate{Alert: alert}, "", window)
}
