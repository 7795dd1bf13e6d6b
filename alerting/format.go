package alerting

import (
	"fmt"
	"strings"
	"time"
)

// formatAlert renders an alert as the block printed to stdout:
//
//	ALERT high  isolation-forest  container sshd (3f2a9c0d11e4…)  2026-11-30 10:45:00 UTC
//	  Container sshd behaves unlike its baseline: ...
//	  score 0.71 (threshold 0.62)
//	  why: log lines 14.2 times its baseline median (312 vs 22)
//	       error lines ...
//	  rows: harrier sql "SELECT ..."
//
// The time is the alert's own time, or raisedAt when the alert has none.
func formatAlert(c candidate, raisedAt time.Time) string {
	at := raisedAt
	if c.TimeNs != 0 {
		at = time.Unix(0, c.TimeNs)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "ALERT %s  %s  %s  %s\n", c.Severity, oneLine(c.Name), subject(c), at.UTC().Format("2006-01-02 15:04:05 UTC"))
	if c.Summary != "" {
		fmt.Fprintf(&b, "  %s\n", oneLine(c.Summary))
	}
	if c.Source == "model" || c.Score != 0 || c.Threshold != 0 {
		fmt.Fprintf(&b, "  score %.2f (threshold %.2f)\n", c.Score, c.Threshold)
	}
	for i, d := range c.Drivers {
		label := "       "
		if i == 0 {
			label = "  why: "
		}
		fmt.Fprintf(&b, "%s%s\n", label, oneLine(d))
	}
	if c.Query != "" {
		fmt.Fprintf(&b, "  rows: harrier sql %s\n", shellQuote(oneLine(c.Query)))
	}
	return b.String()
}

// subject names what the alert is about: "container web (3f2a9c0d11e4…)",
// or the host when the alert has no container.
func subject(c candidate) string {
	switch {
	case c.ContainerID != "" && c.ContainerName != "":
		return fmt.Sprintf("container %s (%s)", oneLine(c.ContainerName), abbreviate(c.ContainerID))
	case c.ContainerID != "":
		return "container " + abbreviate(c.ContainerID)
	case c.HostID != "":
		return "host " + abbreviate(c.HostID)
	}
	return "-"
}

// abbreviate shortens an id to 12 characters followed by an ellipsis.
func abbreviate(id string) string {
	short := shortID(id)
	if short == id {
		return oneLine(id)
	}
	return oneLine(short) + "…"
}

// oneLine collapses runs of whitespace, including newlines, to single
// spaces, so that a value cannot break the block's layout.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// shellQuote quotes s for a POSIX shell in double quotes, so that the SQL's
// own single quotes stay readable.
func shellQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\', '$', '`':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
