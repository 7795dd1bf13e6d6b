package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Notifier sends one notification to one integration.
type Notifier interface {
	// Notify sends n. A returned *Error reports whether a retry can succeed.
	Notify(ctx context.Context, n Notification) error
	// Integration names the kind of receiver: alertmanager, pagerduty,
	// slack or webhook.
	Integration() string
}

// maxResponseBytes caps how much of a response body is read into an error.
const maxResponseBytes = 512

// DefaultTimeout bounds one HTTP request of a notifier.
const DefaultTimeout = 10 * time.Second

// Error is a failed notification attempt.
type Error struct {
	// Retryable is true for network errors, HTTP 429 and HTTP 5xx.
	Retryable bool
	// StatusCode is the HTTP status, or 0 when no response arrived.
	StatusCode int
	err        error
}

// Error returns the cause, which never contains the receiver's URL.
func (e *Error) Error() string { return e.err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.err }

// IsRetryable reports whether err is worth another attempt. Errors other
// than *Error, such as context cancellation, are not.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// post sends body to target with the given headers and checks for a 2xx
// status. Errors name the integration and a redacted target, never the
// full URL, because webhook URLs carry tokens.
func post(ctx context.Context, client *http.Client, integration, target string, body []byte, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return &Error{err: fmt.Errorf("build %s request to %s: %w", integration, RedactURL(target), redactErr(err, target))}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "harrier-alerting")
	for k, v := range header {
		req.Header[k] = v
	}
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("send %s notification to %s: %w", integration, RedactURL(target), ctx.Err())
		}
		return &Error{Retryable: true, err: fmt.Errorf("send %s notification to %s: %w", integration, RedactURL(target), redactErr(err, target))}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 == 2 {
		return nil
	}
	retryable := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	return &Error{
		Retryable:  retryable,
		StatusCode: resp.StatusCode,
		err: fmt.Errorf("send %s notification to %s: HTTP %d: %s", integration, RedactURL(target), resp.StatusCode,
			strings.Join(strings.Fields(redactText(string(snippet), target)), " ")),
	}
}

// RedactURL returns scheme://host of raw, with "/<redacted>" when raw has a
// path, query or user info, so that logs and errors can name a receiver
// without its token. An unparsable value becomes "<redacted>".
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<redacted>"
	}
	out := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		out += "/<redacted>"
	}
	return out
}

// redactErr drops the URL that net/http puts into a *url.Error and any
// other copy of target from err's text.
func redactErr(err error, target string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return errors.New(redactText(err.Error(), target))
}

// redactText replaces target and its path and query with "<redacted>".
func redactText(s, target string) string {
	if target == "" {
		return s
	}
	s = strings.ReplaceAll(s, target, "<redacted>")
	if u, err := url.Parse(target); err == nil {
		if u.Path != "" && u.Path != "/" {
			s = strings.ReplaceAll(s, u.Path, "<redacted>")
		}
		if u.RawQuery != "" {
			s = strings.ReplaceAll(s, u.RawQuery, "<redacted>")
		}
	}
	return s
}
