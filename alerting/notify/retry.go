package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Defaults of RetryConfig.
const (
	DefaultAttempts   = 5
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// RetryConfig bounds the attempts of a Retrier.
type RetryConfig struct {
	// Attempts is the maximum number of sends of one notification,
	// including the first. Default 5.
	Attempts int
	// MinBackoff is the wait before the second attempt. Each further wait
	// doubles, up to MaxBackoff, and a random jitter of up to half the wait
	// is added so that receivers recovering from an outage are not hit in
	// step. Default 500 ms.
	MinBackoff time.Duration
	// MaxBackoff caps one wait. Default 30 s.
	MaxBackoff time.Duration
}

// DeadLetter is a notification that failed every attempt.
type DeadLetter struct {
	FailedAt    time.Time
	Receiver    string
	Integration string
	GroupKey    string
	Status      string
	Attempts    int
	// Error is the last error, with the receiver's URL redacted.
	Error string
	// Notification is the notification as JSON. It holds the alerts, not
	// the request body, so it carries no routing key or token.
	Notification []byte
}

// DeadLetterSink stores notifications that failed every attempt.
type DeadLetterSink interface {
	DeadLetter(ctx context.Context, d DeadLetter) error
}

// RetryStats counts the work of a Retrier.
type RetryStats struct {
	// Sent counts notifications delivered.
	Sent int64
	// Retries counts attempts after the first.
	Retries int64
	// DeadLettered counts notifications that failed every attempt, or
	// failed with an error that a retry cannot fix.
	DeadLettered int64
	// DeadLetterErrors counts dead letters that could not be stored.
	DeadLetterErrors int64
}

// Retrier sends through a Notifier with retries and hands final failures
// to a DeadLetterSink.
type Retrier struct {
	notifier Notifier
	cfg      RetryConfig
	sink     DeadLetterSink
	logger   *slog.Logger
	sleep    func(ctx context.Context, d time.Duration) error

	mu    sync.Mutex
	stats RetryStats
}

// NewRetrier wraps notifier. sink may be nil, and then final failures are
// only logged and counted.
func NewRetrier(notifier Notifier, cfg RetryConfig, sink DeadLetterSink, logger *slog.Logger) *Retrier {
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Retrier{notifier: notifier, cfg: cfg, sink: sink, logger: logger.With("component", "notify"), sleep: sleepContext}
}

// Stats returns a copy of the counters.
func (r *Retrier) Stats() RetryStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Integration returns the wrapped notifier's integration.
func (r *Retrier) Integration() string { return r.notifier.Integration() }

// Notify sends n, retrying retryable errors with backoff. After the last
// attempt, or on an error that a retry cannot fix, it stores a dead letter
// and returns the error. It returns ctx's error when ctx ends first, and
// then stores no dead letter.
func (r *Retrier) Notify(ctx context.Context, n Notification) error {
	var err error
	attempt := 0
	for attempt < r.cfg.Attempts {
		attempt++
		err = r.notifier.Notify(ctx, n)
		if err == nil {
			r.count(func(s *RetryStats) { s.Sent++ })
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !IsRetryable(err) || attempt == r.cfg.Attempts {
			break
		}
		wait := Backoff(r.cfg.MinBackoff, r.cfg.MaxBackoff, attempt)
		r.logger.Warn("Notification failed, retrying", "receiver", n.Receiver, "integration", r.notifier.Integration(),
			"group_key", n.GroupKey, "attempt", attempt, "wait", wait, "err", err)
		r.count(func(s *RetryStats) { s.Retries++ })
		if serr := r.sleep(ctx, wait); serr != nil {
			return serr
		}
	}

	r.count(func(s *RetryStats) { s.DeadLettered++ })
	r.logger.Error("Notification failed, storing it as a dead letter", "receiver", n.Receiver, "integration", r.notifier.Integration(),
		"group_key", n.GroupKey, "attempts", attempt, "err", err)
	if r.sink != nil {
		body, _ := json.Marshal(n)
		d := DeadLetter{FailedAt: time.Now(), Receiver: n.Receiver, Integration: r.notifier.Integration(), GroupKey: n.GroupKey,
			Status: n.Status(), Attempts: attempt, Error: err.Error(), Notification: body}
		if serr := r.sink.DeadLetter(ctx, d); serr != nil {
			r.count(func(s *RetryStats) { s.DeadLetterErrors++ })
			r.logger.Error("Storing a dead-letter notification failed", "receiver", n.Receiver, "group_key", n.GroupKey, "err", serr)
		}
	}
	return fmt.Errorf("notify receiver %s after %d attempts: %w", n.Receiver, attempt, err)
}

func (r *Retrier) count(f func(s *RetryStats)) {
	r.mu.Lock()
	f(&r.stats)
	r.mu.Unlock()
}

// Backoff returns the wait after the given failed attempt (1 for the
// first): min doubled attempt-1 times, capped at max, plus a random jitter
// of up to half of that.
func Backoff(min, max time.Duration, attempt int) time.Duration {
	wait := min
	for i := 1; i < attempt && wait < max; i++ {
		wait *= 2
	}
	wait = minDuration(wait, max)
	return wait + rand.N(wait/2+1)
}

func minDuration(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
