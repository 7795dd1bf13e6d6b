// Package agentrun runs the collector agent from a loaded configuration.
// It is the body of 'harrier collect' and of the harrier-agent binary,
// which links only the collector so that the agent on every node stays
// small.
package agentrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/harrierhq/harrier/collectors"
	"github.com/harrierhq/harrier/collectors/multiline"
	"github.com/harrierhq/harrier/collectors/produce"
	"github.com/harrierhq/harrier/collectors/scanpush"
	"github.com/harrierhq/harrier/collectors/spool"
	"github.com/harrierhq/harrier/internal/config"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/harrierhq/harrier/internal/record"
)

// Groups are the config key groups the collector reads.
var Groups = []string{"kafka", "collect", "http"}

// FlushTimeout bounds how long a run with Once waits for the spool to reach
// Kafka.
const FlushTimeout = 2 * time.Minute

// Options are the settings of Run that are not config keys.
type Options struct {
	// Once reads what is there now, sends it and returns instead of
	// following, and prints the agent's counters as JSON to Stdout.
	Once   bool
	Stdout io.Writer
	Logger *slog.Logger
}

// Run checks the Kafka brokers, creates the topics, and runs the collector
// agent until ctx is done, serving /healthz, /readyz, /metrics and, with a
// scan push token, POST /v1/scans on http.addr. When Kafka is unreachable
// at the start, Run fails unless the spool is on: then it starts anyway,
// the spool keeps the records, and the topics are created in the
// background once Kafka is reachable, before the spool sends anything.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	logger := opts.Logger
	var gate *topicGate
	if err := PrepareTopics(ctx, cfg); err != nil {
		if !spoolEnabled(cfg) {
			return err
		}
		logger.Warn("Kafka not reachable at start, spooling records until the topics are created", "component", "collector",
			"brokers", cfg.Kafka.Brokers, "retry_interval", topicRetryInterval, "err", err)
		gate = &topicGate{}
		runCtx, stopRetry := context.WithCancel(ctx)
		retryDone := make(chan struct{})
		go func() {
			defer close(retryDone)
			gate.prepareUntilDone(runCtx, cfg, logger)
		}()
		defer func() {
			stopRetry()
			<-retryDone
		}()
	}
	out, err := newOutput(cfg, logger, gate)
	if err != nil {
		return err
	}
	defer out.Close()

	WarnMissingSources(cfg, logger)
	agent := collectors.NewAgent(AgentConfig(cfg), out.Emitter(), logger)

	handlers := map[string]http.Handler{}
	push, err := NewScanPush(cfg, out.Emitter(), logger)
	if err != nil {
		return err
	}
	if push != nil {
		handlers[scanpush.Path] = push
	}
	ServeHTTP(ctx, cfg, logger, handlers)

	if opts.Once {
		err := agent.RunOnce(ctx)
		if flushErr := out.Flush(ctx); err == nil {
			err = flushErr
		}
		stats, _ := json.Marshal(onceStats{AgentStats: agent.Stats(), PeakRSSKiB: peakRSSKiB()})
		fmt.Fprintln(opts.Stdout, string(stats))
		return err
	}
	return agent.Run(ctx)
}

// onceStats is the JSON line a run with Once prints last.
type onceStats struct {
	collectors.AgentStats
	// PeakRSSKiB is VmHWM of /proc/self/status, the process's peak
	// resident set size in KiB, or 0 where /proc is missing. The rusage a
	// parent gets for this process is no substitute, because on Linux its
	// ru_maxrss also counts the parent's pages that the child shared until
	// exec (54 MiB there against 33 MiB VmHWM in one measured run).
	PeakRSSKiB int64 `json:"peak_rss_kib"`
}

func peakRSSKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kib
		}
	}
	return 0
}

// PrepareTopics checks that a Kafka broker accepts connections and creates Harrier's
// topics that are missing.
func PrepareTopics(ctx context.Context, cfg *config.Config) error {
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := kafka.Ping(pctx, cfg.Kafka.Brokers); err != nil {
		return fmt.Errorf("%w; start one with 'harrier broker' or set --kafka", err)
	}
	return kafka.EnsureTopics(pctx, cfg.Kafka.Brokers, cfg.Kafka.TopicPrefix, cfg.Kafka.Partitions, record.Topics...)
}

// topicRetryInterval is the time between two attempts to create the topics
// after Kafka was unreachable at the start.
var topicRetryInterval = 10 * time.Second

// errTopicsNotReady is the error the spool's emitter returns until the
// topics are created, so that the spool keeps its records and retries.
var errTopicsNotReady = errors.New("Kafka topics not created yet: Kafka was unreachable at start")

// topicGate holds back the spool's writes until the topics exist, so that
// Kafka's automatic topic creation does not create them with the broker's
// default partition count.
type topicGate struct {
	ready atomic.Bool
}

// prepareUntilDone calls PrepareTopics every topicRetryInterval until it
// succeeds or ctx is done, and then opens the gate.
func (g *topicGate) prepareUntilDone(ctx context.Context, cfg *config.Config, logger *slog.Logger) {
	ticker := time.NewTicker(topicRetryInterval)
	defer ticker.Stop()
	attempts := 1
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		attempts++
		err := PrepareTopics(ctx, cfg)
		if err == nil {
			g.ready.Store(true)
			logger.Info("Kafka topics created, sending the spooled records", "component", "collector", "attempts", attempts)
			return
		}
		if ctx.Err() != nil {
			return
		}
		logger.Debug("Kafka topics not created, retrying", "component", "collector", "attempts", attempts, "err", err)
	}
}

// gatedEmitter passes writes to next once its gate is open.
type gatedEmitter struct {
	gate *topicGate
	next spool.Emitter
}

func (e gatedEmitter) Write(ctx context.Context, msgs ...kafka.Message) error {
	if !e.gate.ready.Load() {
		return errTopicsNotReady
	}
	return e.next.Write(ctx, msgs...)
}

// spoolEnabled reports whether NewOutput puts the spool in front of Kafka.
func spoolEnabled(cfg *config.Config) bool {
	return cfg.Collect.Spool && cfg.Collect.StateDir != ""
}

// ApplyKafkaSecurity sets the TLS and SASL setup of every Kafka connection
// of this process from the kafka.tls* and kafka.sasl_* keys.
func ApplyKafkaSecurity(cfg *config.Config) error {
	k := cfg.Kafka
	if !k.TLS && k.SASLMechanism == "" {
		return nil
	}
	sec := &kafka.Security{}
	if k.TLS {
		t, err := kafka.LoadTLSConfig(k.TLSCAFile, k.TLSCertFile, k.TLSKeyFile, k.TLSServerName, k.TLSInsecureSkipVerify)
		if err != nil {
			return err
		}
		sec.TLS = t
	}
	if k.SASLMechanism != "" {
		password, err := kafka.ReadSecret("kafka.sasl_password", k.SASLPassword, k.SASLPasswordFile)
		if err != nil {
			return err
		}
		if k.SASLUsername == "" {
			return fmt.Errorf("missing kafka.sasl_username: kafka.sasl_mechanism %s needs a user name", k.SASLMechanism)
		}
		sec.SASL = kafka.SASL{Mechanism: k.SASLMechanism, Username: k.SASLUsername, Password: password}
	}
	return kafka.SetProcessSecurity(sec)
}

// WarnMissingSources logs each configured source folder that does not
// exist, since the collector would otherwise read nothing from it silently.
func WarnMissingSources(cfg *config.Config, logger *slog.Logger) {
	sources := []struct{ key, path string }{
		{"collect.docker_root", cfg.Collect.DockerRoot},
		{"collect.cri_root", cfg.Collect.CRIRoot},
		{"collect.cgroup_root", cfg.Collect.CgroupRoot},
		{"collect.scan_dir", cfg.Collect.ScanDir},
		{"collect.host_root", cfg.Collect.HostRoot},
	}
	for _, s := range sources {
		if s.path == "" {
			continue
		}
		if _, err := os.Stat(s.path); err != nil {
			logger.Warn("Source folder not found; nothing is read from it until it exists", "key", s.key, "path", s.path, "err", err)
		}
	}
}

// AgentConfig returns the agent settings of the collect.* keys.
func AgentConfig(cfg *config.Config) collectors.AgentConfig {
	var grouping *multiline.Config
	if cfg.Collect.Multiline {
		grouping = &multiline.Config{
			StartPattern: cfg.Collect.MultilineStart,
			MaxLines:     cfg.Collect.MultilineMaxLines,
			MaxBytes:     cfg.Collect.MultilineMaxBytes,
			MaxWait:      cfg.Collect.MultilineMaxWait,
		}
	}
	// The CRI collector reads <root>/pods and <root>/containers; accept the
	// pods folder itself too, as users often name it.
	criRoot := cfg.Collect.CRIRoot
	if filepath.Base(criRoot) == "pods" {
		criRoot = filepath.Dir(criRoot)
	}
	return collectors.AgentConfig{
		DisableRedaction:    !cfg.Collect.Redact,
		HostCheckInterval:   cfg.Collect.HostCheckInterval,
		DockerSocket:        cfg.Collect.DockerSocket,
		Multiline:           grouping,
		HostID:              cfg.Collect.HostID,
		DockerRoot:          cfg.Collect.DockerRoot,
		CRIRoot:             criRoot,
		CgroupRoot:          cfg.Collect.CgroupRoot,
		ScanDir:             cfg.Collect.ScanDir,
		HostRoot:            cfg.Collect.HostRoot,
		Posture:             cfg.Collect.Posture,
		PostureFirewallFile: cfg.Collect.PostureFirewallFile,
		StateDir:            cfg.Collect.StateDir,
		Interval:            cfg.Collect.Interval,
		MaxCgroups:          cfg.Collect.MaxCgroups,
		MaxRecordBytes:      int(cfg.Collect.MaxRecordBytes),
		Metrics:             collectMetrics(),
	}
}

// collectMetrics returns the metrics of the collector role, shared by the
// agent, the spool and the scan push endpoint.
func collectMetrics() *metrics.Role {
	return metrics.Default().ForRole("collect")
}

// Output is the collector's output: the compressing producer, behind the
// on-disk spool when the spool is on.
type Output struct {
	producer *produce.Producer
	spool    *spool.Spool
	emitter  collectors.Emitter

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewOutput opens the producer and, when collect.spool is on and
// collect.state_dir is set, the spool in front of it, and starts the
// spool's sender. Call Close when done.
func NewOutput(cfg *config.Config, logger *slog.Logger) (*Output, error) {
	return newOutput(cfg, logger, nil)
}

// newOutput is NewOutput with the spool's writes held back by gate until
// it opens. A nil gate holds back nothing.
func newOutput(cfg *config.Config, logger *slog.Logger, gate *topicGate) (*Output, error) {
	transport, err := kafka.ProcessTransport()
	if err != nil {
		return nil, err
	}
	p, err := produce.New(produce.Config{
		Brokers:     cfg.Kafka.Brokers,
		TopicPrefix: cfg.Kafka.TopicPrefix,
		Compression: cfg.Collect.Compression,
		Transport:   transport,
	})
	if err != nil {
		return nil, err
	}
	out := &Output{producer: p, emitter: p}
	if !spoolEnabled(cfg) {
		return out, nil
	}
	var next spool.Emitter = p
	if gate != nil {
		next = gatedEmitter{gate: gate, next: p}
	}

	policy, err := spool.ParsePolicy(cfg.Collect.SpoolPolicy)
	if err != nil {
		p.Close()
		return nil, err
	}
	role := collectMetrics()
	// Adding zero exports each drop series before the first drop, so that
	// a dashboard or alert reads 0 rather than no data.
	for _, reason := range []string{spool.DropReasonNewest, spool.DropReasonOldest, spool.DropReasonTooLarge} {
		role.Dropped(reason, 0)
	}
	s, err := spool.Open(spool.Config{
		Dir:      filepath.Join(cfg.Collect.StateDir, "spool"),
		MaxBytes: cfg.Collect.SpoolMaxBytes,
		Policy:   policy,
		OnDrop:   role.Dropped,
	}, next, logger)
	if err != nil {
		p.Close()
		return nil, err
	}
	out.spool, out.emitter = s, s

	ctx, cancel := context.WithCancel(context.Background())
	out.cancel = cancel
	out.wg.Add(1)
	go func() {
		defer out.wg.Done()
		if err := s.Run(ctx); err != nil && ctx.Err() == nil {
			logger.Error("Spool sender stopped", "component", "spool", "err", err)
		}
	}()
	return out, nil
}

// Emitter returns where the agent writes: the spool, or the producer when
// the spool is off.
func (o *Output) Emitter() collectors.Emitter { return o.emitter }

// Flush waits until the spool has handed everything to Kafka, at most
// FlushTimeout.
func (o *Output) Flush(ctx context.Context) error {
	if o.spool == nil {
		return nil
	}
	deadline := time.Now().Add(FlushTimeout)
	for o.spool.Stats().PendingMessages > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("spool not sent to Kafka after %s", FlushTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// Close stops the spool's sender and closes the spool and the producer.
// Unsent messages stay in the spool for the next start.
func (o *Output) Close() {
	if o.cancel != nil {
		o.cancel()
		o.wg.Wait()
	}
	if o.spool != nil {
		o.spool.Close()
	}
	o.producer.Close()
}

// NewScanPush returns the POST /v1/scans handler, or nil when no token is
// configured.
func NewScanPush(cfg *config.Config, out collectors.Emitter, logger *slog.Logger) (http.Handler, error) {
	token, err := kafka.ReadSecret("collect.scan_push_token", cfg.Collect.ScanPushToken, cfg.Collect.ScanPushTokenFile)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, nil
	}
	if cfg.HTTP.Addr == "" {
		logger.Warn("Scan push token set but http.addr is empty: POST /v1/scans is not served")
		return nil, nil
	}
	rejectDir := cfg.Collect.ScanRejectDir
	if rejectDir == "" && cfg.Collect.StateDir != "" {
		rejectDir = filepath.Join(cfg.Collect.StateDir, "rejected-scans")
	}
	return scanpush.New(scanpush.Config{
		Token:     token,
		MaxBytes:  cfg.Collect.ScanPushMaxBytes,
		RejectDir: rejectDir,
		HostID:    cfg.Collect.HostID,

		MaxRecordBytes: int(cfg.Collect.MaxRecordBytes),
		Metrics:        collectMetrics(),
	}, out, logger)
}

// ServeHTTP serves /healthz, /readyz, /metrics and the extra handlers,
// keyed by path, on http.addr until ctx is done. Every role calls it after
// its start-up checks (the ClickHouse schema, the Kafka topics), so /readyz
// only has to check that the Kafka brokers still accept connections.
func ServeHTTP(ctx context.Context, cfg *config.Config, logger *slog.Logger, extra ...map[string]http.Handler) {
	if cfg.HTTP.Addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) { serveReady(w, r, cfg.Kafka.Brokers) })
	mux.Handle("/metrics", promhttp.Handler())
	for _, handlers := range extra {
		for path, h := range handlers {
			mux.Handle(path, h)
		}
	}
	srv := &http.Server{Addr: cfg.HTTP.Addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("HTTP endpoint failed", "addr", cfg.HTTP.Addr, "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
}

// readyTimeout bounds the broker check of one /readyz request.
const readyTimeout = 2 * time.Second

// serveReady writes 200 "ready" when one of brokers accepts a TCP
// connection within readyTimeout, and 503 with the error otherwise.
// NOTE: ClickHouse is checked only at the role's start, not per request.
func serveReady(w http.ResponseWriter, r *http.Request, brokers []string) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := kafka.Ping(ctx, brokers); err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// NewLogger returns the logger of the log.level and log.format keys,
// writing to w.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
