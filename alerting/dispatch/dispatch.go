// Package dispatch carries alerts through their lifecycle in the
// Alertmanager model. It deduplicates repeats of a firing alert by
// fingerprint and groups alerts by route and group_by labels. Each group
// is notified after group_wait, again after group_interval when it
// changed, and after repeat_interval when it did not. The package also
// resolves alerts, mutes silenced ones and caps the notifications of each
// rule.
package dispatch

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/harrierhq/harrier/alerting/notify"
	"github.com/harrierhq/harrier/alerting/route"
)

// DefaultTick is how often Run flushes due groups.
const DefaultTick = 100 * time.Millisecond

// Stats counts the work of a Dispatcher.
type Stats struct {
	// Received counts firing alerts passed to Fire, repeats included.
	Received int64
	// Deduplicated counts Fire calls for an alert that was already firing.
	Deduplicated int64
	// Resolved counts alerts marked resolved.
	Resolved int64
	// Silenced counts alerts left out of a notification by a silence.
	Silenced int64
	// RateLimited counts notifications held back by the per-rule limit.
	RateLimited int64
	// Notifications counts notifications sent, by receiver name.
	Notifications map[string]int64
	// NotifyErrors counts integration sends that failed for good.
	NotifyErrors int64
	// Groups is the number of groups with alerts.
	Groups int
}

// entry is the state of one alert, shared by the groups it is in.
type entry struct {
	alert notify.Alert
	fp    string
	// groups counts the groups that hold the entry.
	groups int
}

// group is an aggregation group: the alerts of one route with the same
// group_by label values.
type group struct {
	key       string
	route     *route.Route
	labels    map[string]string
	alerts    map[string]*entry
	nextFlush time.Time
	// lastNotified is the time of the last notification, zero before it.
	lastNotified time.Time
	// notifiedFiring holds the fingerprints that the last notification
	// reported as firing.
	notifiedFiring map[string]bool
}

// Dispatcher is the alert lifecycle. Its methods are safe for concurrent
// use. Time comes from the callers (Fire, Resolve, Flush take now), so
// that tests can drive the timers without sleeping.
type Dispatcher struct {
	cfg       *route.Config
	receivers map[string][]notify.Notifier
	logger    *slog.Logger

	mu       sync.Mutex
	alerts   map[string]*entry
	groups   map[string]*group
	silences map[string]Silence
	// sentByRule holds the times of recent notifications per alertname,
	// for the rate limit.
	sentByRule map[string][]time.Time
	stats      Stats
}

// New returns a Dispatcher for the routing config. Every integration is
// wrapped in a notify.Retrier that stores final failures in sink, which
// may be nil.
func New(cfg *route.Config, sink notify.DeadLetterSink, logger *slog.Logger) *Dispatcher {
	if logger == nil {
		logger = slog.Default()
	}
	d := &Dispatcher{
		cfg:        cfg,
		receivers:  map[string][]notify.Notifier{},
		logger:     logger.With("component", "dispatcher"),
		alerts:     map[string]*entry{},
		groups:     map[string]*group{},
		silences:   map[string]Silence{},
		sentByRule: map[string][]time.Time{},
		stats:      Stats{Notifications: map[string]int64{}},
	}
	for name, r := range cfg.Receivers {
		for _, n := range r.Integrations {
			d.receivers[name] = append(d.receivers[name], notify.NewRetrier(n, cfg.Retry, sink, logger))
		}
	}
	return d
}

// Stats returns a copy of the counters.
func (d *Dispatcher) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.Notifications = maps.Clone(d.stats.Notifications)
	s.Groups = len(d.groups)
	return s
}

// RetryStats returns the counters of each integration, by receiver.
func (d *Dispatcher) RetryStats() map[string][]notify.RetryStats {
	out := map[string][]notify.RetryStats{}
	for name, list := range d.receivers {
		for _, n := range list {
			if r, ok := n.(*notify.Retrier); ok {
				out[name] = append(out[name], r.Stats())
			}
		}
	}
	return out
}

// Fire records a firing alert at now. A repeat of an alert that is firing,
// or that cleared less than the cooldown ago, updates its annotations and
// keeps its StartsAt, and adds no notification of its own.
func (d *Dispatcher) Fire(a notify.Alert, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stats.Received++
	fp := a.Fingerprint()
	if e := d.alerts[fp]; e != nil {
		if e.alert.EndsAt.IsZero() || now.Before(e.alert.EndsAt.Add(d.cfg.Cooldown)) {
			d.stats.Deduplicated++
			e.alert.Annotations = a.Annotations
			e.alert.GeneratorURL = a.GeneratorURL
			e.alert.EndsAt = time.Time{}
			return
		}
		// The alert cleared and its cooldown passed: this is a new firing.
		// The old entry leaves its groups at their next flush.
		e.alert.StartsAt = firstTime(a.StartsAt, now)
		e.alert.EndsAt = time.Time{}
		e.alert.Annotations = a.Annotations
		return
	}
	a.StartsAt = firstTime(a.StartsAt, now)
	a.EndsAt = time.Time{}
	e := &entry{alert: a, fp: fp}
	d.alerts[fp] = e
	for _, r := range d.cfg.Root.Match(a.Labels) {
		labels := r.GroupLabels(a.Labels)
		key := r.GroupKey(labels)
		g := d.groups[key]
		if g == nil {
			g = &group{key: key, route: r, labels: labels, alerts: map[string]*entry{}, nextFlush: now.Add(r.GroupWait), notifiedFiring: map[string]bool{}}
			d.groups[key] = g
		}
		g.alerts[fp] = e
		e.groups++
	}
}

// Resolve marks the alert with the given fingerprint as cleared at now.
// It returns false when no such alert fires.
func (d *Dispatcher) Resolve(fp string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.alerts[fp]
	if e == nil || !e.alert.EndsAt.IsZero() {
		return false
	}
	e.alert.EndsAt = now
	d.stats.Resolved++
	return true
}

// Firing returns the fingerprints of the alerts that fire, with their
// labels.
func (d *Dispatcher) Firing() map[string]map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]map[string]string{}
	for fp, e := range d.alerts {
		if e.alert.EndsAt.IsZero() {
			out[fp] = maps.Clone(e.alert.Labels)
		}
	}
	return out
}

// AddSilence validates s and adds it, replacing a silence with the same
// ID. It returns the ID. A zero StartsAt starts the silence at now.
func (d *Dispatcher) AddSilence(s Silence, now time.Time) (string, error) {
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	if s.ID == "" {
		s.ID = newSilenceID(s, now)
	}
	if err := s.Validate(); err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.silences[s.ID] = s
	d.logger.Info("Silence added", "silence_id", s.ID, "matchers", s.Matchers, "ends_at", s.EndsAt, "created_by", s.CreatedBy)
	return s.ID, nil
}

// ExpireSilence ends the silence with the given ID at once. It returns
// false when there is no such silence.
func (d *Dispatcher) ExpireSilence(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.silences[id]
	delete(d.silences, id)
	return ok
}

// Silences returns the silences not yet expired at now.
func (d *Dispatcher) Silences(now time.Time) []Silence {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Silence
	for _, s := range d.silences {
		if now.Before(s.EndsAt) {
			out = append(out, s)
		}
	}
	return out
}

// Run flushes due groups every tick until ctx is done, then returns nil.
// A tick of zero or less uses DefaultTick.
func (d *Dispatcher) Run(ctx context.Context, tick time.Duration) error {
	if tick <= 0 {
		tick = DefaultTick
	}
	d.logger.Info("Dispatcher started", "receivers", len(d.receivers), "tick", tick)
	defer func() { d.logger.Info("Dispatcher stopped", "stats", d.Stats()) }()
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-ticker.C:
			d.Flush(ctx, now)
		}
	}
}

// pending is a notification decided under the lock and sent after it.
type pending struct {
	n         notify.Notification
	notifiers []notify.Notifier
}

// Flush notifies every group whose timer is due at now, and waits for the
// sends. It returns the notifications sent.
func (d *Dispatcher) Flush(ctx context.Context, now time.Time) []notify.Notification {
	d.mu.Lock()
	d.pruneSilences(now)
	var batch []pending
	for _, key := range slices.Sorted(maps.Keys(d.groups)) {
		g := d.groups[key]
		if now.Before(g.nextFlush) {
			continue
		}
		if p, ok := d.flushGroup(g, now); ok {
			batch = append(batch, p)
		}
	}
	d.mu.Unlock()

	var wg sync.WaitGroup
	var errMu sync.Mutex
	var failures int64
	for _, p := range batch {
		for _, n := range p.notifiers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := n.Notify(ctx, p.n); err != nil {
					errMu.Lock()
					failures++
					errMu.Unlock()
				}
			}()
		}
	}
	wg.Wait()

	out := make([]notify.Notification, len(batch))
	for i, p := range batch {
		out[i] = p.n
	}
	if failures > 0 {
		d.mu.Lock()
		d.stats.NotifyErrors += failures
		d.mu.Unlock()
	}
	return out
}

// flushGroup decides whether g sends a notification at now, updates its
// state as if the notification was sent, and drops resolved alerts.
// Called with d.mu held.
func (d *Dispatcher) flushGroup(g *group, now time.Time) (pending, bool) {
	g.nextFlush = now.Add(g.route.GroupInterval)

	var alerts []notify.Alert
	firing := map[string]bool{}
	changed := false
	var resolvedFPs []string
	for _, fp := range slices.Sorted(maps.Keys(g.alerts)) {
		e := g.alerts[fp]
		a := e.alert
		a.Labels = maps.Clone(a.Labels)
		resolved := !a.EndsAt.IsZero() && !now.Before(a.EndsAt.Add(d.cfg.Cooldown))
		if !resolved {
			a.EndsAt = time.Time{}
		}
		if d.silenced(a.Labels, now) {
			d.stats.Silenced++
			if resolved {
				resolvedFPs = append(resolvedFPs, fp)
			}
			continue
		}
		if resolved {
			resolvedFPs = append(resolvedFPs, fp)
			if !g.notifiedFiring[fp] {
				continue // fired and cleared between two flushes, so no notification was sent
			}
			changed = true
		} else {
			firing[fp] = true
			if !g.notifiedFiring[fp] {
				changed = true
			}
		}
		alerts = append(alerts, a)
	}
	for fp := range g.notifiedFiring {
		if g.alerts[fp] == nil || (!firing[fp] && !slices.Contains(resolvedFPs, fp)) {
			changed = true // silenced since the last notification
		}
	}

	for _, fp := range resolvedFPs {
		d.removeFromGroup(g, fp)
	}
	if len(g.alerts) == 0 {
		delete(d.groups, g.key)
	}

	repeat := len(firing) > 0 && !g.lastNotified.IsZero() && !now.Before(g.lastNotified.Add(g.route.RepeatInterval))
	if len(alerts) == 0 || (!changed && !repeat) {
		g.notifiedFiring = firing
		return pending{}, false
	}
	if len(firing) > 0 && d.rateLimited(alerts, firing, now) {
		d.stats.RateLimited++
		for _, fp := range resolvedFPs {
			delete(g.notifiedFiring, fp)
		}
		d.logger.Warn("Notification held back by the per-rule rate limit", "group_key", g.key, "receiver", g.route.Receiver)
		return pending{}, false
	}

	slices.SortStableFunc(alerts, func(x, y notify.Alert) int {
		return boolRank(x.EndsAt.IsZero()) - boolRank(y.EndsAt.IsZero())
	})
	g.notifiedFiring = firing
	g.lastNotified = now
	d.stats.Notifications[g.route.Receiver]++
	n := notify.Notification{
		Receiver: g.route.Receiver, GroupKey: g.key, GroupLabels: maps.Clone(g.labels), Alerts: alerts, SentAt: now,
		ExpiresAt: now.Add(g.route.RepeatInterval + g.route.GroupInterval),
	}
	return pending{n: n, notifiers: d.receivers[g.route.Receiver]}, true
}

// boolRank orders firing alerts (true) before resolved ones.
func boolRank(firing bool) int {
	if firing {
		return 0
	}
	return 1
}

func (d *Dispatcher) removeFromGroup(g *group, fp string) {
	e := g.alerts[fp]
	delete(g.alerts, fp)
	e.groups--
	if e.groups <= 0 && d.alerts[fp] == e {
		delete(d.alerts, fp)
	}
}

// rateLimited reports whether sending the firing alerts would exceed the
// per-rule limit for any of their rules, and records the send otherwise.
func (d *Dispatcher) rateLimited(alerts []notify.Alert, firing map[string]bool, now time.Time) bool {
	limit := d.cfg.RateLimit
	if limit.Max <= 0 {
		return false
	}
	var rules []string
	for _, a := range alerts {
		name := a.Labels[notify.LabelAlertName]
		if firing[a.Fingerprint()] && !slices.Contains(rules, name) {
			rules = append(rules, name)
		}
	}
	for _, name := range rules {
		recent := d.sentByRule[name][:0]
		for _, t := range d.sentByRule[name] {
			if now.Sub(t) < limit.Per {
				recent = append(recent, t)
			}
		}
		d.sentByRule[name] = recent
		if len(recent) >= limit.Max {
			return true
		}
	}
	for _, name := range rules {
		d.sentByRule[name] = append(d.sentByRule[name], now)
	}
	return false
}

func (d *Dispatcher) silenced(labels map[string]string, now time.Time) bool {
	for _, s := range d.silences {
		if s.active(now) && s.mutes(labels) {
			return true
		}
	}
	return false
}

func (d *Dispatcher) pruneSilences(now time.Time) {
	for id, s := range d.silences {
		if !now.Before(s.EndsAt) {
			delete(d.silences, id)
			d.logger.Info("Silence expired", "silence_id", id, "matchers", s.Matchers)
		}
	}
}

func firstTime(t, fallback time.Time) time.Time {
	if t.IsZero() {
		return fallback
	}
	return t
}
