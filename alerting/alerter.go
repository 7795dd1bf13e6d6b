// Package alerting is the alert role. It reads candidate alerts from the
// alerts topic and evaluates policy rules as SQL over ClickHouse. It drops
// repeats of an alert within a dedup period, stores each raised alert in the
// alerts table and prints it.
package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/harrierhq/harrier/alerting/dispatch"
	"github.com/harrierhq/harrier/alerting/route"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/harrierhq/harrier/internal/record"
	"github.com/harrierhq/harrier/storage"
)

// Defaults of Config.
const (
	DefaultGroup        = "harrier-alert"
	DefaultEvalInterval = 30 * time.Second
	DefaultDedup        = time.Hour
)

// alertColumns are the columns of the alerts table that raise writes.
var alertColumns = []string{
	"alert_id", "fingerprint", "raised_at", "raised_ns", "event_at", "event_ns", "source", "name", "severity",
	"container_id", "container_name", "host_id", "image_id", "image_ref",
	"score", "threshold", "summary", "drivers", "query",
}

// alertDetailColumns are the columns of the alert_details table that raise
// writes, one row per row of alerts.
var alertDetailColumns = []string{
	"alert_id", "fingerprint", "raised_at", "rule_version", "window_start", "window_end", "condition", "link",
}

// Config configures the alert role.
type Config struct {
	// Brokers are the Kafka bootstrap addresses. Run needs at least one.
	Brokers []string
	// TopicPrefix is prepended to record.TopicAlerts, for example "harrier.".
	TopicPrefix string
	// Group is the consumer group id. Default "harrier-alert".
	Group string
	// RulesFile is the path of a YAML rules file. Empty means the rules
	// embedded from rules/default.yaml.
	RulesFile string
	// EvalInterval is the time between two evaluations of the rules.
	// Default 30 s.
	EvalInterval time.Duration
	// Dedup is the period after raising an alert during which an alert with
	// the same fingerprint is dropped. Default 1 h.
	Dedup time.Duration
	// Routing sends alerts through the routing tree to receivers. Nil
	// stores and prints alerts without notifying anyone.
	Routing *route.Config
	// LinkTemplate is a text/template of the Grafana URL that each
	// notification links to; see linkData for its fields. Empty sends no
	// link.
	LinkTemplate string
	// ModelWindow is the scoring window of model alerts. Default 1 min.
	ModelWindow time.Duration
	// ModelNormalWindows is how many windows a model alert must stay quiet
	// before it resolves. Default 3.
	ModelNormalWindows int
	// Clock returns the evaluation time of the rules and the raise time of
	// alerts. Default time.Now. `harrier rules test` sets it to the time of
	// the last recorded event.
	Clock func() time.Time
	// Metrics records the alerts read and stored; nil records nothing.
	Metrics *metrics.Role
	// PostureFile is the path of a YAML file of posture policies (rules of
	// kind posture), loaded beside the rules. Empty means the pack
	// embedded from rules/posture.yaml, and "none" loads no pack.
	PostureFile string
	// PostureOverridesFile is the path of a YAML file that disables
	// posture policies, changes their severity and excepts entities; see
	// LoadPostureOverrides. Empty changes nothing.
	PostureOverridesFile string
	// PostureOverrides replaces PostureOverridesFile when set.
	PostureOverrides *PostureOverrides
}

// Stats counts the work of an Alerter since it was created.
type Stats struct {
	// Received counts messages read from the alerts topic.
	Received int64
	// Invalid counts messages skipped because their envelope or alert
	// payload failed validation.
	Invalid int64
	// Raised counts alerts stored and printed.
	Raised int64
	// Deduplicated counts alerts dropped because the same fingerprint was
	// raised within the dedup period.
	Deduplicated int64
	// RuleEvaluations counts rule runs, successful or not.
	RuleEvaluations int64
	// RuleErrors counts rule runs that failed.
	RuleErrors int64
	// RaisedBySource counts raised alerts by source ("model" or "rule").
	RaisedBySource map[string]int64
}

// Alerter is the alert role.
type Alerter struct {
	cfg    Config
	store  *storage.Store
	rules  []Rule
	logger *slog.Logger
	now    func() time.Time

	// raiseMu serialises raising, so that the consumer and the rule
	// evaluation of one Alerter do not raise the same fingerprint twice. It
	// guards out, lastRaised and dedupLoaded.
	//
	// NOTE: the dedup state is per process. Two alert processes that
	// evaluate the same rules both raise each rule alert once per period.
	raiseMu     sync.Mutex
	out         io.Writer
	lastRaised  map[string]int64 // fingerprint to raised_ns
	dedupLoaded bool

	statsMu sync.Mutex
	stats   Stats

	// dispatcher is nil without Config.Routing.
	dispatcher *dispatch.Dispatcher
	link       *template.Template
	// modelSeen holds when each firing model alert was last raised, by
	// notification fingerprint. Guarded by raiseMu.
	modelSeen map[string]time.Time

	skippedMu sync.Mutex
	// skipped holds the rules skipped because the database lacks a column
	// they read.
	skipped map[string]bool
	// silenceVersions holds the updated_ns of each stored silence loaded
	// into the dispatcher. Only evaluateLoop uses it.
	silenceVersions map[string]int64

	// postureMu guards the posture evaluation state: whether the policies
	// were registered, the inputs and time of the last evaluation, and the
	// latest status of each result.
	postureMu             sync.Mutex
	posturePoliciesStored bool
	postureInputs         string
	postureEvaluatedAt    time.Time
	postureState          map[string]postureState
}

// New loads the rules and returns an Alerter that stores alerts in store and
// prints them to out.
func New(cfg Config, store *storage.Store, out io.Writer, logger *slog.Logger) (*Alerter, error) {
	if store == nil {
		return nil, errors.New("missing store: the alert role needs ClickHouse")
	}
	if out == nil {
		out = io.Discard
	}
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.EvalInterval < 0 {
		return nil, fmt.Errorf("invalid alert eval interval %s: expected a positive duration", cfg.EvalInterval)
	}
	if cfg.EvalInterval == 0 {
		cfg.EvalInterval = DefaultEvalInterval
	}
	if cfg.Dedup < 0 {
		return nil, fmt.Errorf("invalid alert dedup period %s: expected a positive duration", cfg.Dedup)
	}
	if cfg.Dedup == 0 {
		cfg.Dedup = DefaultDedup
	}

	var rules []Rule
	var err error
	if cfg.RulesFile == "" {
		rules, err = DefaultRules()
	} else {
		rules, err = LoadRules(cfg.RulesFile)
	}
	if err != nil {
		return nil, err
	}
	if rules, err = AddPosturePack(rules, cfg.PostureFile); err != nil {
		return nil, err
	}
	if cfg.PostureOverrides == nil && cfg.PostureOverridesFile != "" {
		if cfg.PostureOverrides, err = LoadPostureOverrides(cfg.PostureOverridesFile, rules); err != nil {
			return nil, err
		}
	}

	if cfg.ModelWindow <= 0 {
		cfg.ModelWindow = DefaultModelWindow
	}
	if cfg.ModelNormalWindows <= 0 {
		cfg.ModelNormalWindows = DefaultModelNormalWindows
	}
	link, err := parseLinkTemplate(cfg.LinkTemplate)
	if err != nil {
		return nil, err
	}
	var dispatcher *dispatch.Dispatcher
	if cfg.Routing != nil {
		dispatcher = dispatch.New(cfg.Routing, DeadLetterTable{Store: store}, logger)
	}

	now := time.Now
	if cfg.Clock != nil {
		now = cfg.Clock
	}
	return &Alerter{
		skipped:         make(map[string]bool),
		silenceVersions: make(map[string]int64),
		dispatcher:      dispatcher,
		link:            link,
		modelSeen:       make(map[string]time.Time),
		cfg:             cfg,
		store:           store,
		rules:           rules,
		logger:          logger.With("component", "alerter"),
		now:             now,
		out:             out,
		lastRaised:      make(map[string]int64),
		stats:           Stats{RaisedBySource: make(map[string]int64)},
	}, nil
}

// Rules returns the loaded rules.
func (a *Alerter) Rules() []Rule { return slices.Clone(a.rules) }

// Stats returns a copy of the counters.
func (a *Alerter) Stats() Stats {
	a.statsMu.Lock()
	defer a.statsMu.Unlock()
	s := a.stats
	s.RaisedBySource = maps.Clone(a.stats.RaisedBySource)
	return s
}

func (a *Alerter) count(f func(s *Stats)) {
	a.statsMu.Lock()
	f(&a.stats)
	a.statsMu.Unlock()
}

// Run consumes the alerts topic and evaluates the rules every EvalInterval,
// starting at once, until ctx is done. It returns nil on cancellation.
func (a *Alerter) Run(ctx context.Context) error {
	if len(a.cfg.Brokers) == 0 {
		return errors.New("missing kafka brokers: the alert role reads the alerts topic")
	}
	a.logger.Info("Alerter started", "rules", len(a.rules), "eval_interval", a.cfg.EvalInterval, "dedup", a.cfg.Dedup)
	defer func() { a.logger.Info("Alerter stopped", "stats", a.Stats()) }()

	a.raiseMu.Lock()
	err := a.loadDedup(ctx)
	a.raiseMu.Unlock()
	if err != nil {
		// The first raise retries the load and fails until it succeeds.
		a.logger.Warn("Loading recent alert fingerprints failed, retrying on the first alert", "err", err)
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.evaluateLoop(ctx)
	}()
	if a.dispatcher != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = a.dispatcher.Run(ctx, dispatch.DefaultTick)
		}()
	}

	err = kafka.Consume(ctx, kafka.ConsumerConfig{
		Brokers:     a.cfg.Brokers,
		TopicPrefix: a.cfg.TopicPrefix,
		Group:       a.cfg.Group,
		Topics:      []string{record.TopicAlerts},
		Logger:      a.logger,
		Role:        a.cfg.Metrics,
	}, a.HandleBatch)
	wg.Wait()
	return err
}

func (a *Alerter) evaluateLoop(ctx context.Context) {
	ticker := time.NewTicker(a.cfg.EvalInterval)
	defer ticker.Stop()
	for {
		if err := a.syncSilences(ctx); err != nil && ctx.Err() == nil {
			a.logger.Error("Loading silences failed, keeping the loaded ones", "err", err)
		}
		if err := a.EvaluateRules(ctx); err != nil && ctx.Err() == nil {
			a.logger.Error("Rule evaluation failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// HandleBatch validates the alert envelopes of a batch and raises the valid
// ones. A message that fails validation is counted in Stats.Invalid and
// skipped, so it is not retried. HandleBatch returns an error only when
// storage fails, and then nothing of the batch is marked as raised.
func (a *Alerter) HandleBatch(ctx context.Context, batch []kafka.Message) error {
	var valid []candidate
	var invalid int
	var firstErr error
	var firstMsg kafka.Message
	for _, msg := range batch {
		alert, err := decodeAlert(msg.Value)
		if err != nil {
			if invalid == 0 {
				firstErr, firstMsg = err, msg
			}
			invalid++
			continue
		}
		valid = append(valid, candidate{Alert: alert})
	}
	a.count(func(s *Stats) {
		s.Received += int64(len(batch))
		s.Invalid += int64(invalid)
	})
	if invalid > 0 {
		a.logger.Warn("Skipped invalid alert messages", "count", invalid,
			"first_topic", firstMsg.Topic, "first_partition", firstMsg.Partition, "first_offset", firstMsg.Offset, "first_err", firstErr)
	}
	return a.raise(ctx, valid)
}

// decodeAlert parses and checks one message of the alerts topic. An alert
// without a fingerprint gets one from its source, name and container.
func decodeAlert(value []byte) (record.Alert, error) {
	var alert record.Alert
	env, err := record.Decode(value)
	if err != nil {
		return alert, err
	}
	if env.Kind != record.KindAlert {
		return alert, fmt.Errorf("invalid envelope field kind=%q on the alerts topic: expected alert", env.Kind)
	}
	if err := json.Unmarshal(env.Payload, &alert); err != nil {
		return alert, fmt.Errorf("invalid alert payload of record %s: %w", env.ID, err)
	}
	alert.Severity = strings.ToLower(alert.Severity)
	switch {
	case alert.Source != "model" && alert.Source != "rule":
		return alert, fmt.Errorf("invalid alert field source=%q in record %s: expected model or rule", alert.Source, env.ID)
	case alert.Name == "":
		return alert, fmt.Errorf("missing alert field name in record %s", env.ID)
	case !slices.Contains(alertSeverities, alert.Severity):
		return alert, fmt.Errorf("invalid alert field severity=%q in record %s: expected one of %s", alert.Severity, env.ID, strings.Join(alertSeverities, ", "))
	}
	if alert.HostID == "" {
		alert.HostID = env.HostID
	}
	if alert.TimeNs == 0 {
		alert.TimeNs = env.CollectedNs
	}
	if alert.Fingerprint == "" {
		alert.Fingerprint = record.NewID(alert.Source, alert.Name, alert.ContainerID)
	}
	return alert, nil
}

// EvaluateRules runs every rule once and raises what they find. A failing
// rule is counted and logged, the other rules still run, and the returned
// error joins the failures.
func (a *Alerter) EvaluateRules(ctx context.Context) error {
	nowNs := a.now().UnixNano()
	var found []candidate
	var errs []error
	evaluated := make(map[string]bool)
	// Posture results are written first, so that the posture-failure
	// rules of the same pass read them.
	if err := a.evaluatePosture(ctx, nowNs); err != nil {
		errs = append(errs, err)
	}
	for _, rule := range a.rules {
		if rule.Kind == KindPosture {
			continue
		}
		alerts, err := a.evaluateRule(ctx, rule, nowNs)
		a.count(func(s *Stats) {
			s.RuleEvaluations++
			if err != nil {
				s.RuleErrors++
			}
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		evaluated[rule.Name] = true
		if rule.Kind == KindPostureFailure {
			// Posture alerts are named after their policy.
			for _, r := range a.rules {
				if r.Kind == KindPosture {
					evaluated[r.Name] = true
				}
			}
		}
		found = append(found, alerts...)
	}
	if err := a.raise(ctx, found); err != nil {
		errs = append(errs, err)
	}
	a.resolveCleared(evaluated, found)
	return errors.Join(errs...)
}

// raise drops repeats, fills in container facts, stores the remaining
// alerts in one insert and then prints them. When the insert fails nothing
// is marked as raised, so a retry raises the same alerts.
func (a *Alerter) raise(ctx context.Context, alerts []candidate) error {
	if len(alerts) == 0 {
		return nil
	}
	a.raiseMu.Lock()
	defer a.raiseMu.Unlock()

	a.notify(alerts)
	if err := a.loadDedup(ctx); err != nil {
		return err
	}

	raisedAt := a.now()
	raisedNs := raisedAt.UnixNano()
	a.pruneDedup(raisedNs)
	var fresh []candidate
	inBatch := make(map[string]bool)
	for _, c := range alerts {
		last, seen := a.lastRaised[c.Fingerprint]
		if inBatch[c.Fingerprint] || (seen && raisedNs-last < int64(a.cfg.Dedup)) {
			continue
		}
		inBatch[c.Fingerprint] = true
		fresh = append(fresh, c)
	}
	if dropped := len(alerts) - len(fresh); dropped > 0 {
		a.count(func(s *Stats) { s.Deduplicated += int64(dropped) })
	}
	if len(fresh) == 0 {
		return nil
	}

	if err := a.enrich(ctx, fresh); err != nil {
		return err
	}

	rows := make([][]any, len(fresh))
	detailRows := make([][]any, len(fresh))
	for i := range fresh {
		a.fillDetails(&fresh[i])
	}
	for i, c := range fresh {
		alertID := record.NewID(c.Fingerprint, strconv.FormatInt(raisedNs, 10))
		detailRows[i] = []any{
			alertID, c.Fingerprint, raisedAt,
			c.details.Version, c.details.WindowStart, c.details.WindowEnd, c.details.Condition, c.details.Link,
		}
		rows[i] = []any{
			alertID, c.Fingerprint, raisedAt, raisedNs,
			time.Unix(0, c.TimeNs).UTC(), c.TimeNs,
			c.Source, c.Name, c.Severity,
			c.ContainerID, c.ContainerName, c.HostID, c.ImageID, c.ImageRef,
			c.Score, c.Threshold, c.Summary, nonNil(c.Drivers), c.Query,
		}
	}
	if err := a.store.Insert(ctx, "alerts", alertColumns, rows); err != nil {
		return fmt.Errorf("store %d alerts: %w", len(rows), err)
	}
	a.cfg.Metrics.Out("alerts", len(rows))
	// NOTE: the two inserts are not atomic. When the second fails, the
	// alerts are stored without details and are not raised again.
	if err := a.store.Insert(ctx, "alert_details", alertDetailColumns, detailRows); err != nil {
		a.logger.Error("Storing alert details failed", "alerts", len(detailRows), "err", err)
	}

	for _, c := range fresh {
		a.lastRaised[c.Fingerprint] = raisedNs
		if _, err := io.WriteString(a.out, formatAlert(c, raisedAt)); err != nil {
			a.logger.Warn("Printing alert failed", "fingerprint", c.Fingerprint, "err", err)
		}
	}
	a.count(func(s *Stats) {
		s.Raised += int64(len(fresh))
		for _, c := range fresh {
			s.RaisedBySource[c.Source]++
		}
	})
	return nil
}

// loadDedup reads the fingerprints raised within the dedup period from the
// alerts table, once, so that a restart does not raise them again.
func (a *Alerter) loadDedup(ctx context.Context) error {
	if a.dedupLoaded {
		return nil
	}
	since := a.now().Add(-a.cfg.Dedup)
	query := fmt.Sprintf("SELECT fingerprint, max(raised_ns) AS last_raised_ns FROM alerts"+
		" WHERE raised_at >= toDateTime(%d) AND raised_ns >= %d GROUP BY fingerprint", since.Unix(), since.UnixNano())
	_, rows, err := a.store.Query(ctx, query)
	if err != nil {
		return fmt.Errorf("load recent alert fingerprints: %w", err)
	}
	for _, row := range rows {
		ns, ok := row[1].(int64)
		if !ok {
			return fmt.Errorf("load recent alert fingerprints: invalid raised_ns value %v of type %T", row[1], row[1])
		}
		a.lastRaised[toString(row[0])] = ns
	}
	a.dedupLoaded = true
	a.logger.Info("Loaded recent alert fingerprints", "count", len(rows), "since", since.UTC())
	return nil
}

// pruneDedup deletes the fingerprints raised before the dedup period.
func (a *Alerter) pruneDedup(nowNs int64) {
	for fp, ns := range a.lastRaised {
		if nowNs-ns >= int64(a.cfg.Dedup) {
			delete(a.lastRaised, fp)
		}
	}
}

// enrich fills in the container name, image reference, host id and image
// id of alerts that lack them, from the latest row of the containers table.
func (a *Alerter) enrich(ctx context.Context, alerts []candidate) error {
	var ids []string
	for _, c := range alerts {
		missing := c.ContainerName == "" || c.ImageRef == "" || c.HostID == "" || c.ImageID == ""
		if c.ContainerID != "" && missing && !slices.Contains(ids, c.ContainerID) {
			ids = append(ids, c.ContainerID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	_, rows, err := a.store.Query(ctx, containerInfoQuery(ids))
	if err != nil {
		return fmt.Errorf("look up containers of alerts: %w", err)
	}
	type info struct{ name, host, ref, image string }
	byID := make(map[string]info, len(rows))
	for _, row := range rows {
		byID[toString(row[0])] = info{name: toString(row[1]), host: toString(row[2]), ref: toString(row[3]), image: toString(row[4])}
	}
	for i := range alerts {
		c := &alerts[i]
		in, ok := byID[c.ContainerID]
		if !ok {
			continue
		}
		c.ContainerName = firstNonEmpty(c.ContainerName, in.name)
		c.HostID = firstNonEmpty(c.HostID, in.host)
		c.ImageRef = firstNonEmpty(c.ImageRef, in.ref)
		c.ImageID = firstNonEmpty(c.ImageID, in.image)
	}
	return nil
}

// fillDetails sets the details that the evaluators leave empty: the
// window, condition and version of model alerts and the link of every
// alert.
func (a *Alerter) fillDetails(c *candidate) {
	at := time.Unix(0, c.TimeNs).UTC()
	if c.details.WindowStart.IsZero() {
		c.details.WindowStart = at
		c.details.WindowEnd = at
		if c.Source == "model" {
			c.details.WindowEnd = at.Add(a.cfg.ModelWindow)
		}
	}
	if c.details.Condition == "" && c.Source == "model" {
		c.details.Condition = fmt.Sprintf("score %.4g >= threshold %.4g", c.Score, c.Threshold)
	}
	if c.details.Version == "" && c.Source == "model" {
		c.details.Version = c.ModelVersion
	}
	c.details.Link = alertLink(a.link, *c, a.cfg.ModelWindow)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
