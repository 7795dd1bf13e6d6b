package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// maxSlackAlerts caps the alerts listed in one Slack message.
const maxSlackAlerts = 10

// Slack posts to a Slack incoming webhook
// (https://api.slack.com/messaging/webhooks): a text fallback and one
// attachment colored by status.
type Slack struct {
	// WebhookURL is the incoming webhook URL. It carries a token and is
	// never logged.
	WebhookURL string
	// Channel overrides the webhook's default channel when set.
	Channel string
	Client  *http.Client
}

type slackMessage struct {
	Channel     string            `json:"channel,omitempty"`
	Text        string            `json:"text"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Color     string `json:"color"`
	Title     string `json:"title"`
	TitleLink string `json:"title_link,omitempty"`
	Text      string `json:"text"`
	Fallback  string `json:"fallback"`
}

// Integration returns "slack".
func (s *Slack) Integration() string { return "slack" }

// Notify posts the message of n.
func (s *Slack) Notify(ctx context.Context, n Notification) error {
	body, err := json.Marshal(s.Message(n))
	if err != nil {
		return fmt.Errorf("encode slack message: %w", err)
	}
	return post(ctx, s.Client, s.Integration(), s.WebhookURL, body, nil)
}

// Message builds the Slack message of n.
func (s *Slack) Message(n Notification) slackMessage {
	head := title(n)
	color := "danger"
	if n.Status() == StatusResolved {
		color = "good"
	}
	var lines []string
	for i, a := range n.Alerts {
		if i == maxSlackAlerts {
			lines = append(lines, fmt.Sprintf("… and %d more alerts", len(n.Alerts)-maxSlackAlerts))
			break
		}
		line := fmt.Sprintf("*%s* %s", a.Status(n.SentAt), summaryOf(a))
		if e := a.Annotations["explanation"]; e != "" {
			line += "\n> " + e
		}
		lines = append(lines, line)
	}
	link := ""
	if len(n.Alerts) > 0 {
		link = n.Alerts[0].GeneratorURL
	}
	return slackMessage{
		Channel: s.Channel,
		Text:    head,
		Attachments: []slackAttachment{{
			Color: color, Title: head, TitleLink: link, Text: strings.Join(lines, "\n"), Fallback: head,
		}},
	}
}
