// Package collectors ties the collectors of one host together: the Agent
// reads host facts, Docker and CRI containers and their logs, cgroup
// samples and scan reports, wraps each record in an envelope and writes it
// to Kafka.
package collectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/harrierhq/harrier/collectors/cgroup"
	"github.com/harrierhq/harrier/collectors/cri"
	"github.com/harrierhq/harrier/collectors/docker"
	"github.com/harrierhq/harrier/collectors/host"
	"github.com/harrierhq/harrier/collectors/internal/emit"
	"github.com/harrierhq/harrier/collectors/internal/jsonenc"
	"github.com/harrierhq/harrier/collectors/internal/tail"
	"github.com/harrierhq/harrier/collectors/multiline"
	"github.com/harrierhq/harrier/collectors/posture"
	"github.com/harrierhq/harrier/collectors/redact"
	"github.com/harrierhq/harrier/collectors/scan"
	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/metrics"
	"github.com/harrierhq/harrier/internal/record"
)

// Defaults of AgentConfig.
const (
	// DefaultInterval is the time between two passes of Run.
	DefaultInterval = 10 * time.Second
	// BatchSize is the maximum number of messages per Emitter.Write call.
	BatchSize = 1000
	// hostInterval is the maximum time between two host records in Run.
	// A change of the host facts is sent at the next check.
	hostInterval = time.Hour
	// DefaultHostCheckInterval is the time between two reads of the host
	// facts, which are sent when they changed.
	DefaultHostCheckInterval = time.Minute
	// postureInterval is the maximum time between two posture passes.
	// A pass replaces the previous one as a whole, so an unchanged posture
	// is sent again only to survive a lost write and to bound its age.
	postureInterval = 24 * time.Hour
	// DefaultMaxRecordBytes is the default of AgentConfig.MaxRecordBytes.
	// It stays under Kafka's default message.max.bytes of 1048588 bytes
	// with room for the record batch's overhead.
	DefaultMaxRecordBytes = 1000000
)

// AgentConfig configures an Agent. An empty directory disables its source.
type AgentConfig struct {
	// HostID is the host id written into every envelope. Empty means
	// /etc/machine-id under HostRoot, or a hash of the hostname.
	HostID string
	// DockerRoot is the Docker container directory, normally
	// /var/lib/docker/containers.
	DockerRoot string
	// CRIRoot is the directory that holds kubelet's pods/ and containers/
	// log directories, normally /var/log.
	CRIRoot string
	// CgroupRoot is the live cgroup mount, normally /sys/fs/cgroup.
	CgroupRoot string
	// CgroupReplayDir holds recorded cgroup snapshots,
	// <dir>/<unix seconds>/<tree>. Each sample is stamped with its
	// snapshot's time. It can be set together with CgroupRoot.
	CgroupReplayDir string
	// ScanDir holds Trivy JSON reports (*.json, searched recursively).
	ScanDir string
	// HostRoot is the root filesystem whose /etc and /proc describe the
	// host, normally "/".
	HostRoot string
	// StateDir keeps one checkpoint per log file and the CRI container
	// log folders seen (cri.LifecycleStateFile). Empty means that a new
	// agent reads every log file from the start and reports every CRI
	// container as created again, under the same record ids.
	StateDir string
	// Interval is the time between two passes of Run. Zero means
	// DefaultInterval.
	Interval time.Duration
	// MaxCgroups caps the cgroups of one sample. Zero means
	// cgroup.DefaultMaxCgroups.
	MaxCgroups int
	// DisableRedaction sends log messages as read. By default the agent
	// replaces private keys, bearer tokens, AWS keys, password values and
	// URL passwords with redact.Placeholder before a record leaves the
	// host, and counts them in AgentStats.Redacted.
	DisableRedaction bool
	// Multiline groups the lines of a stack trace into one log record.
	// Nil sends each line as its own record.
	Multiline *multiline.Config
	// HostCheckInterval is the time between two reads of the host facts
	// under HostRoot. The host record is sent when the facts changed
	// (uptime aside, unless it went down, which means a reboot), and at
	// least once an hour. Reading the listening sockets walks every
	// /proc/<pid>/fd, so this is kept longer than Interval. Zero means
	// DefaultHostCheckInterval.
	HostCheckInterval time.Duration
	// DockerSocket is the Docker Engine API socket, normally
	// /var/run/docker.sock. When it is set and exists, Run follows its
	// GET /events stream for container lifecycle events, and while the
	// stream is connected the events derived from config.v2.json changes
	// are left out. Empty derives lifecycle events from DockerRoot only.
	// RunOnce does not read the socket.
	DockerSocket string
	// Posture sends the security settings of the host under HostRoot and
	// of its running Docker containers under DockerRoot (see package
	// posture) every HostCheckInterval when they changed, and at least
	// once a day. It needs HostRoot.
	Posture bool
	// PostureFirewallFile is a file holding iptables-save or nft list
	// ruleset output, read before the rule sets saved under HostRoot.
	// Empty reads only those, because the collector runs no commands.
	PostureFirewallFile string
	// MaxRecordBytes caps the size of one encoded record. A larger record
	// is not sent, because the broker would reject it and the spool would
	// retry it without end. It is counted in AgentStats.TooLarge and
	// logged. Zero means DefaultMaxRecordBytes.
	// The Docker and CRI decoders cut a long log line into messages of
	// 256 KiB (docker.MaxMessageBytes, cri.MaxMessageBytes), so a log
	// record exceeds the default only when JSON escapes more than
	// triple its message.
	MaxRecordBytes int
	// Metrics receives the agent's metrics: records out per topic, the
	// size and write time of each batch, and records dropped as
	// "parse_error" (AgentStats.ParseErrors), "engine_queue_full"
	// (AgentStats.EngineEventsDropped) or "too_large"
	// (AgentStats.TooLarge). Nil records none.
	Metrics *metrics.Role
}

// Emitter writes messages to Kafka. *kafka.Producer implements it. The
// agent reuses the bytes of the messages' keys and values for its next
// batch, so Write must copy what it keeps after it returns.
type Emitter interface {
	Write(ctx context.Context, msgs ...kafka.Message) error
}

// AgentStats counts what an agent collected and produced since it started.
type AgentStats struct {
	// Hosts, Containers, Logs, Metrics, Scans and Postures count the
	// records collected of each kind.
	Hosts      int64
	Containers int64
	Logs       int64
	Metrics    int64
	Scans      int64
	Postures   int64
	// Produced counts the messages the Emitter acknowledged.
	Produced int64
	// ParseErrors counts invalid input: log lines, cgroup files, scan
	// reports, container configs and host files that could not be parsed.
	// None of them is sent, but the log of a container whose config is
	// invalid is still followed under the id from its folder name.
	ParseErrors int64
	// Redacted counts the secrets replaced in log messages.
	Redacted int64
	// Lifecycle counts the container lifecycle events collected.
	Lifecycle int64
	// EngineEventsDropped counts the Docker Engine API events dropped
	// because maxQueuedEngineEvents were waiting for the next pass.
	EngineEventsDropped int64
	// TooLarge counts the records not sent because their encoding was
	// larger than AgentConfig.MaxRecordBytes.
	TooLarge int64
}

// maxQueuedEngineEvents caps the Docker Engine API events kept between two
// passes. At the default 10 s interval it allows 1,000 events a second.
const maxQueuedEngineEvents = 10000

// Agent collects the records of one host and writes them to Kafka.
type Agent struct {
	cfg    AgentConfig
	out    Emitter
	logger *slog.Logger
	now    func() time.Time

	hostID    string
	store     *tail.Store
	followers map[string]*tail.Follower
	sent      map[string]string
	scanTimes map[string]time.Time
	// invalidScans maps the path of each invalid scan report to the size
	// and modification time it was reported with.
	invalidScans map[string]string
	lastReplay   time.Time
	lastHost     time.Time
	// lastHostCheck, hostFingerprint and hostUptime describe the last
	// host facts read, so that a change is sent at once.
	lastHostCheck   time.Time
	hostFingerprint string
	hostUptime      int64
	// lastPosture and postureFingerprint describe the last posture sent.
	lastPosture        time.Time
	postureFingerprint string
	lifecycle          *docker.LifecycleTracker
	// criLifecycle derives the lifecycle events of CRI containers from
	// their log folders.
	criLifecycle *cri.LifecycleTracker
	oom          *cgroup.OOMTracker
	// containerInfo maps a Docker container id to its metadata from the
	// last pass, to add the image and name to cgroup OOM events.
	containerInfo map[string]record.Container
	// engine follows the Docker Engine API events in Run, and
	// engineEvents keeps the events read since the last pass, under mu.
	engine       *docker.EventStream
	engineEvents []record.Lifecycle
	sampler      *cgroup.Sampler
	batch        []kafka.Message
	scratch      []byte
	// arena holds the keys and log values of the batch being built. The
	// messages of a.batch point into it, and flush empties it once the
	// Emitter has written them.
	arena []byte
	// once is set by RunOnce, whose single pass sends the multi-line
	// records still waiting for a line at the end of a file.
	once bool

	mu    sync.Mutex
	stats AgentStats
}

// NewAgent returns an agent that writes to out. A nil logger discards logs.
func NewAgent(cfg AgentConfig, out Emitter, logger *slog.Logger) *Agent {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.HostCheckInterval <= 0 {
		cfg.HostCheckInterval = DefaultHostCheckInterval
	}
	if cfg.MaxRecordBytes <= 0 {
		cfg.MaxRecordBytes = DefaultMaxRecordBytes
	}
	return &Agent{
		cfg:       cfg,
		out:       out,
		logger:    logger.With("component", "collector"),
		now:       time.Now,
		followers: make(map[string]*tail.Follower),
		sent:      make(map[string]string),
		scanTimes: make(map[string]time.Time),
		lifecycle: docker.NewLifecycleTracker(),
		oom:       cgroup.NewOOMTracker(),
	}
}

// Stats returns a copy of the agent's counters.
func (a *Agent) Stats() AgentStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// RunOnce reads everything present now and writes it: host facts and
// containers first, then scan reports, then every log line not sent
// before, then one sample of the live cgroup tree and every replay
// snapshot not sent before. Log checkpoints are committed after the lines
// before them are written.
func (a *Agent) RunOnce(ctx context.Context) error {
	if err := a.init(); err != nil {
		return err
	}
	a.once = true
	defer a.closeFollowers()
	return a.pass(ctx)
}

// Run calls RunOnce's pass, then keeps following the log files, sampling
// the cgroups and picking up new containers, snapshots and reports every
// Interval until ctx is done. A failed pass is logged and the next pass
// resumes from the last committed checkpoints. Run returns nil when ctx is
// done.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.init(); err != nil {
		return err
	}
	defer a.closeFollowers()

	a.logger.Info("Collector started", "host_id", a.hostID, "interval", a.cfg.Interval)
	defer a.logger.Info("Collector stopped")

	if a.cfg.DockerSocket != "" {
		if _, err := os.Stat(a.cfg.DockerSocket); err == nil {
			a.engine = docker.NewEventStream(a.cfg.DockerSocket, a.queueEngineEvent, a.logger)
			streamCtx, stopStream := context.WithCancel(ctx)
			streamDone := make(chan struct{})
			go func() {
				defer close(streamDone)
				a.engine.Run(streamCtx)
			}()
			defer func() {
				stopStream()
				<-streamDone
			}()
		} else {
			a.logger.Info("Docker socket not found, lifecycle events come from the container folders", "socket", a.cfg.DockerSocket)
		}
	}

	ticker := time.NewTicker(a.cfg.Interval)
	defer ticker.Stop()
	for {
		if err := a.pass(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a.logger.Warn("Collection pass failed, retrying at the next interval", "err", err)
			a.batch = a.batch[:0]
			// Send the inventory again, since its write may have failed.
			clear(a.sent)
			a.lastHost = time.Time{}
			a.lastHostCheck = time.Time{}
			a.lastPosture = time.Time{}
			// Reopen the files at their committed checkpoints, so that the
			// lines of the failed write are read again.
			a.closeFollowers()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

func (a *Agent) init() error {
	if a.cfg.Multiline != nil {
		if err := a.cfg.Multiline.Validate(); err != nil {
			return err
		}
	}
	if a.store == nil {
		store, err := tail.NewStore(a.cfg.StateDir)
		if err != nil {
			return err
		}
		a.store = store
	}
	if a.criLifecycle == nil && a.cfg.CRIRoot != "" {
		tracker, err := cri.NewLifecycleTracker(a.cfg.StateDir)
		if err != nil {
			return err
		}
		a.criLifecycle = tracker
	}
	if a.hostID == "" {
		a.hostID = a.resolveHostID()
	}
	return nil
}

func (a *Agent) resolveHostID() string {
	if a.cfg.HostID != "" {
		return a.cfg.HostID
	}
	if a.cfg.HostRoot != "" {
		h, _ := host.Collect(a.cfg.HostRoot, a.now())
		return h.HostID
	}
	name, _ := os.Hostname()
	return record.NewID("hostname", name)
}

func (a *Agent) pass(ctx context.Context) error {
	dockerContainers, criFiles := a.discover()

	steps := []func(context.Context) error{
		func(ctx context.Context) error { return a.collectInventory(ctx, dockerContainers, criFiles) },
		a.collectScans,
		func(ctx context.Context) error { return a.collectLogs(ctx, dockerContainers, criFiles) },
		a.collectMetrics,
	}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (a *Agent) discover() ([]docker.Container, []cri.LogFile) {
	var containers []docker.Container
	if a.cfg.DockerRoot != "" {
		found, invalid, err := docker.Discover(a.cfg.DockerRoot, a.now())
		if err != nil {
			a.logger.Warn("Docker containers not read", "root", a.cfg.DockerRoot, "err", err)
		}
		a.reportInvalid("Skipped invalid Docker containers", invalid, "root", a.cfg.DockerRoot)
		containers = found
	}

	var files []cri.LogFile
	if a.cfg.CRIRoot != "" {
		found, invalid, err := cri.Discover(a.cfg.CRIRoot)
		if err != nil {
			a.logger.Warn("CRI log files not read", "root", a.cfg.CRIRoot, "err", err)
		}
		a.reportInvalid("Skipped invalid CRI log directories", invalid, "root", a.cfg.CRIRoot)
		files = found
	}
	return containers, files
}

// reportInvalid logs one line for a group of invalid inputs and counts them.
func (a *Agent) reportInvalid(msg string, invalid []error, attrs ...any) {
	if len(invalid) == 0 {
		return
	}
	a.addParseErrors(int64(len(invalid)))
	attrs = append(attrs, "count", len(invalid), "first_error", invalid[0])
	a.logger.Warn(msg, attrs...)
}

func (a *Agent) collectInventory(ctx context.Context, containers []docker.Container, files []cri.LogFile) error {
	now := a.now()
	if err := a.collectHost(ctx, now); err != nil {
		return err
	}

	a.containerInfo = make(map[string]record.Container, len(containers))
	live := make(map[string]bool, len(containers))
	var observed []docker.Container
	for _, c := range containers {
		live[c.Info.ContainerID] = true
		// A container whose config could not be read has only its id, and
		// its logs are still followed. Sending its empty metadata would
		// replace the good row stored before.
		if c.MetadataErr != nil {
			continue
		}
		a.containerInfo[c.Info.ContainerID] = c.Info
		if err := a.addIfChanged(ctx, c.Record()); err != nil {
			return err
		}
		// While the engine's event stream is connected it reports these
		// events, and the tracker only follows the state.
		if a.engine == nil || !a.engine.Live() {
			for _, event := range a.lifecycle.Diff(c) {
				if err := a.add(ctx, docker.LifecycleRecord(event, c.Dir)); err != nil {
					return err
				}
			}
		}
		observed = append(observed, c)
	}
	engineEvents := a.takeEngineEvents()
	for _, event := range engineEvents {
		if info, known := a.containerInfo[event.ContainerID]; known {
			event.ImageID = info.ImageID
			if event.ContainerName == "" {
				event.ContainerName = info.Name
			}
		}
		if err := a.add(ctx, docker.EngineEventRecord(event, a.cfg.DockerSocket)); err != nil {
			a.requeueEngineEvents(engineEvents)
			return err
		}
	}
	seen := map[string]bool{}
	for _, f := range files {
		if seen[f.Target.ContainerID] {
			continue
		}
		seen[f.Target.ContainerID] = true
		if err := a.addIfChanged(ctx, f.Record(now)); err != nil {
			return err
		}
	}
	if a.criLifecycle != nil {
		for _, rec := range a.criLifecycle.Diff(files, now) {
			if err := a.add(ctx, rec); err != nil {
				return err
			}
		}
	}
	if err := a.flush(ctx); err != nil {
		a.requeueEngineEvents(engineEvents)
		return err
	}

	// The events are written, so the next pass compares with this state.
	for _, c := range observed {
		a.lifecycle.Commit(c)
	}
	a.lifecycle.Forget(live)
	if a.criLifecycle != nil {
		if err := a.criLifecycle.Commit(); err != nil {
			return fmt.Errorf("commit CRI lifecycle state: %w", err)
		}
	}
	return nil
}

// queueEngineEvent keeps an event of the Docker Engine API for the next
// pass. It runs on the event stream's goroutine.
func (a *Agent) queueEngineEvent(l record.Lifecycle) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.engineEvents) >= maxQueuedEngineEvents {
		a.stats.EngineEventsDropped++
		a.cfg.Metrics.Dropped("engine_queue_full", 1)
		return
	}
	a.engineEvents = append(a.engineEvents, l)
}

func (a *Agent) takeEngineEvents() []record.Lifecycle {
	a.mu.Lock()
	defer a.mu.Unlock()
	events := a.engineEvents
	a.engineEvents = nil
	return events
}

// requeueEngineEvents puts back events whose write failed, before the
// events queued meanwhile, so the next pass sends them in order.
func (a *Agent) requeueEngineEvents(events []record.Lifecycle) {
	if len(events) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.engineEvents = append(events, a.engineEvents...)
}

// collectHost reads the host facts every HostCheckInterval and sends them
// when they changed, or when the last record is older than hostInterval.
// The uptime is left out of the comparison unless it went down, which
// means that the host rebooted.
func (a *Agent) collectHost(ctx context.Context, now time.Time) error {
	if a.cfg.HostRoot == "" {
		return nil
	}
	if !a.lastHostCheck.IsZero() && now.Sub(a.lastHostCheck) < a.cfg.HostCheckInterval {
		return nil
	}
	h, invalid := host.Collect(a.cfg.HostRoot, now)
	a.reportInvalid("Skipped invalid host files", invalid, "root", a.cfg.HostRoot)
	h.HostID = a.hostID
	a.lastHostCheck = now
	if err := a.collectPosture(ctx, now, h.Hostname); err != nil {
		return err
	}

	facts := h
	facts.TimeNs, facts.UptimeS = 0, 0
	b, err := json.Marshal(facts)
	if err != nil {
		return fmt.Errorf("encode host %s: %w", h.HostID, err)
	}
	fingerprint := string(b)
	rebooted := h.UptimeS < a.hostUptime
	due := a.lastHost.IsZero() || now.Sub(a.lastHost) >= hostInterval
	a.hostUptime = h.UptimeS
	if !due && !rebooted && fingerprint == a.hostFingerprint {
		return nil
	}

	if err := a.add(ctx, host.Record(h, a.cfg.HostRoot)); err != nil {
		return err
	}
	if err := a.flush(ctx); err != nil {
		return err
	}
	if !due && fingerprint != a.hostFingerprint {
		a.logger.Info("Host facts changed", "host_id", h.HostID)
	}
	a.lastHost = now
	a.hostFingerprint = fingerprint
	return nil
}

// collectPosture reads the posture of the host and its containers and
// sends it when it changed or the last one is older than postureInterval.
// Every record of one pass has the same time, so that storage can select
// a host's latest pass.
func (a *Agent) collectPosture(ctx context.Context, now time.Time, hostname string) error {
	if !a.cfg.Posture {
		return nil
	}
	postures, invalid := posture.Collect(posture.Options{
		Root: a.cfg.HostRoot, DockerRoot: a.cfg.DockerRoot, FirewallFile: a.cfg.PostureFirewallFile,
		HostID: a.hostID, HostName: hostname,
	}, now)
	a.reportInvalid("Skipped invalid posture files", invalid, "root", a.cfg.HostRoot)

	fingerprint := make([]record.Posture, len(postures))
	for i, p := range postures {
		p.TimeNs = 0
		fingerprint[i] = p
	}
	b, err := json.Marshal(fingerprint)
	if err != nil {
		return fmt.Errorf("encode posture of host %s: %w", a.hostID, err)
	}
	due := a.lastPosture.IsZero() || now.Sub(a.lastPosture) >= postureInterval
	if !due && string(b) == a.postureFingerprint {
		return nil
	}
	for _, p := range postures {
		if err := a.add(ctx, posture.Record(p, a.hostID, a.cfg.HostRoot)); err != nil {
			return err
		}
	}
	if err := a.flush(ctx); err != nil {
		return err
	}
	if !due {
		a.logger.Info("Posture changed", "host_id", a.hostID, "entities", len(postures))
	}
	a.lastPosture = now
	a.postureFingerprint = string(b)
	return nil
}

// addIfChanged adds a container record unless the same container was
// already sent with the same metadata.
func (a *Agent) addIfChanged(ctx context.Context, rec emit.Record) error {
	info, ok := rec.Payload.(record.Container)
	if !ok {
		return a.add(ctx, rec)
	}
	info.TimeNs = 0
	fingerprint, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode container %s: %w", info.ContainerID, err)
	}
	if a.sent[rec.Key] == string(fingerprint) {
		return nil
	}
	if err := a.add(ctx, rec); err != nil {
		return err
	}
	a.sent[rec.Key] = string(fingerprint)
	return nil
}

func (a *Agent) collectScans(ctx context.Context) error {
	if a.cfg.ScanDir == "" {
		return nil
	}
	reports, invalid, err := scan.ReadDir(a.cfg.ScanDir)
	if err != nil {
		a.logger.Warn("Scan reports not read", "dir", a.cfg.ScanDir, "err", err)
		return nil
	}
	if err := a.reportInvalidScans(ctx, invalid); err != nil {
		return err
	}

	for _, r := range reports {
		if t, ok := a.scanTimes[r.Path]; ok && t.Equal(r.ModTime) {
			continue
		}
		if err := a.add(ctx, r.Record()); err != nil {
			return err
		}
	}
	if err := a.flush(ctx); err != nil {
		return err
	}
	for _, r := range reports {
		a.scanTimes[r.Path] = r.ModTime
	}
	return nil
}

// reportInvalidScans logs and counts each invalid scan report once per
// version, its path, size and modification time, since ReadDir returns it
// again on every pass until the file changes or is removed.
func (a *Agent) reportInvalidScans(ctx context.Context, invalid []error) error {
	seen := make(map[string]string, len(invalid))
	newCount := 0
	for _, err := range invalid {
		var bad *scan.InvalidFile
		if !errors.As(err, &bad) {
			newCount++
			a.logger.Warn("Skipped invalid scan report", "dir", a.cfg.ScanDir, "err", err)
			continue
		}
		version := fmt.Sprintf("%d/%d", bad.Size, bad.ModTime.UnixNano())
		seen[bad.Path] = version
		if a.invalidScans[bad.Path] == version {
			continue
		}
		newCount++
		a.logger.Warn("Skipped invalid scan report", "path", bad.Path, "bytes", bad.Size, "err", bad.Err)
		if err := a.addReject(ctx, bad.Path, -1, bad.Err, readHead(bad.Path, record.MaxRejectRawBytes)); err != nil {
			return err
		}
	}
	// Forgetting the files that are gone or valid now bounds the map, and
	// reports a file again when it turns invalid again.
	a.invalidScans = seen
	if newCount > 0 {
		a.addParseErrors(int64(newCount))
	}
	return nil
}

// addReject adds a reject record for input the collector could not parse:
// a line at offset of path, or the whole file when offset is -1. The
// normalizer stores it in dead_letters with reason.
func (a *Agent) addReject(ctx context.Context, path string, offset int64, reason error, raw []byte) error {
	at := strconv.FormatInt(offset, 10)
	return a.add(ctx, emit.Record{
		Kind:   record.KindReject,
		Key:    a.hostID,
		ID:     record.NewID("reject", a.hostID, path, at),
		Source: "reject:" + path + ":" + at,
		Payload: record.Reject{
			TimeNs: a.now().UnixNano(),
			Path:   path,
			Offset: offset,
			Reason: reason.Error(),
			Raw:    string(raw[:min(len(raw), record.MaxRejectRawBytes)]),
		},
	})
}

// readHead returns up to max bytes from the start of the file at path, or
// nil when it cannot be read.
func readHead(path string, max int) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	buf := make([]byte, max)
	n, _ := io.ReadFull(f, buf)
	return buf[:n]
}

func (a *Agent) collectLogs(ctx context.Context, containers []docker.Container, files []cri.LogFile) error {
	live := map[string]bool{}
	for _, c := range containers {
		live[c.LogPath] = true
		if _, ok := a.followers[c.LogPath]; !ok {
			dec := docker.NewDecoder(docker.Target{ContainerID: c.Info.ContainerID, ContainerName: c.Info.Name})
			a.followers[c.LogPath] = a.newFollower(c.LogPath, dec, docker.RotatedPaths)
		}
	}
	for _, f := range files {
		live[f.Path] = true
		if _, ok := a.followers[f.Path]; !ok {
			dec := cri.NewDecoder(f.Target)
			a.followers[f.Path] = a.newFollower(f.Path, dec, cri.RotatedPaths)
		}
	}

	paths := make([]string, 0, len(a.followers))
	for path := range a.followers {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		f := a.followers[path]
		if err := a.drain(ctx, f); err != nil {
			return err
		}
		// A container that is gone was drained above and is not followed
		// any more.
		if !live[path] {
			f.Close()
			delete(a.followers, path)
		}
	}
	return nil
}

// newFollower returns a follower of path that decodes with dec, wrapped
// in a multi-line grouper when AgentConfig.Multiline is set.
func (a *Agent) newFollower(path string, dec tail.Decoder, rotated func(string) []string) *tail.Follower {
	if a.cfg.Multiline != nil {
		// init validated the pattern, so NewDecoder returns no error here.
		if grouped, err := multiline.NewDecoder(dec, *a.cfg.Multiline, a.now); err == nil {
			dec = grouped
		}
	}
	f := tail.NewFollower(path, a.store, dec, rotated)
	if a.once {
		f.ExpireAll()
	}
	return f
}

// drain reads f to its end in chunks of BatchSize, writing each chunk
// before its checkpoint is committed.
func (a *Agent) drain(ctx context.Context, f *tail.Follower) error {
	defer func() {
		if n, err := f.TakeBadLines(); n > 0 {
			a.addParseErrors(n)
			a.logger.Warn("Skipped invalid log lines", "path", f.Path(), "count", n, "last_error", err)
		}
	}()

	for {
		entries, commit, err := f.Read(BatchSize)
		if err != nil {
			a.logger.Warn("Log file not read", "path", f.Path(), "err", err)
			f.Close()
			return nil
		}
		for _, e := range entries {
			if err := a.add(ctx, e.Record); err != nil {
				return err
			}
		}
		// Rejected lines go out before the checkpoint moves past them.
		for _, r := range f.TakeRejected() {
			if err := a.addReject(ctx, f.Path(), r.Offset, r.Err, r.Line); err != nil {
				return err
			}
		}
		if err := a.flush(ctx); err != nil {
			return err
		}
		if err := commit(); err != nil {
			return fmt.Errorf("commit checkpoint of %q: %w", f.Path(), err)
		}
		if len(entries) < BatchSize {
			return nil
		}
	}
}

func (a *Agent) collectMetrics(ctx context.Context) error {
	opts := cgroup.Options{MaxCgroups: a.cfg.MaxCgroups}

	if a.cfg.CgroupReplayDir != "" {
		snaps, err := cgroup.ListSnapshots(a.cfg.CgroupReplayDir)
		if err != nil {
			a.logger.Warn("Cgroup replay not read", "dir", a.cfg.CgroupReplayDir, "err", err)
		}
		for _, snap := range snaps {
			if !snap.Time.After(a.lastReplay) {
				continue
			}
			s, err := snap.Sampler(opts)
			if err != nil {
				a.logger.Warn("Cgroup snapshot not read", "dir", snap.Dir, "err", err)
				continue
			}
			if err := a.sample(ctx, s, snap.Time); err != nil {
				return err
			}
			if err := a.flush(ctx); err != nil {
				return err
			}
			a.lastReplay = snap.Time
		}
	}

	if a.cfg.CgroupRoot != "" {
		if a.sampler == nil {
			s, err := cgroup.NewSampler(a.cfg.CgroupRoot, opts)
			if err != nil {
				a.logger.Warn("Cgroup tree not read", "root", a.cfg.CgroupRoot, "err", err)
				return nil
			}
			a.sampler = s
		}
		if err := a.sample(ctx, a.sampler, a.now()); err != nil {
			return err
		}
	}
	return a.flush(ctx)
}

func (a *Agent) sample(ctx context.Context, s *cgroup.Sampler, t time.Time) error {
	metrics, stats, err := s.Sample(t)
	if err != nil {
		a.logger.Warn("Cgroup sample failed", "root", s.Root(), "err", err)
		return nil
	}
	if stats.ParseErrors > 0 {
		a.addParseErrors(int64(stats.ParseErrors))
		a.logger.Warn("Skipped invalid cgroup files", "root", s.Root(), "count", stats.ParseErrors, "first_error", stats.FirstError)
	}
	if stats.Skipped > 0 {
		a.logger.Warn("Cgroups left out of the sample", "root", s.Root(), "count", stats.Skipped, "max_cgroups", a.cfg.MaxCgroups)
	}
	for _, m := range metrics {
		if err := a.add(ctx, cgroup.Record(m, s.Root(), a.hostID)); err != nil {
			return err
		}
		event, ok := a.oom.Diff(m)
		if !ok {
			continue
		}
		if info, known := a.containerInfo[m.ContainerID]; known {
			event.ContainerName, event.ImageID = info.Name, info.ImageID
		}
		if err := a.add(ctx, cgroup.OOMRecord(event, s.Root(), m.CgroupPath)); err != nil {
			return err
		}
	}
	if err := a.flush(ctx); err != nil {
		return err
	}

	// The events are written, so the next sample compares with this one.
	live := make(map[string]bool, len(metrics))
	for _, m := range metrics {
		a.oom.Commit(m)
		live[m.CgroupPath] = true
	}
	// Replay snapshots and the live tree share the tracker, so only the
	// live tree, sampled last, drops the cgroups that are gone.
	if s == a.sampler {
		a.oom.Forget(live)
	}
	return nil
}

// add encodes rec into the batch and writes the batch when it is full. A
// record larger than MaxRecordBytes is counted and left out.
func (a *Agent) add(ctx context.Context, rec emit.Record) error {
	arenaLen := len(a.arena)
	value, err := a.encode(rec)
	if err != nil {
		a.addParseErrors(1)
		a.logger.Warn("Record not encoded", "source", rec.Source, "err", err)
		return nil
	}
	if len(value) > a.cfg.MaxRecordBytes {
		a.arena = a.arena[:arenaLen]
		a.mu.Lock()
		a.stats.TooLarge++
		a.mu.Unlock()
		a.cfg.Metrics.Dropped("too_large", 1)
		a.logger.Warn("Record larger than the maximum record size dropped", "source", rec.Source, "kind", rec.Kind,
			"id", rec.ID, "bytes", len(value), "max_record_bytes", a.cfg.MaxRecordBytes)
		return nil
	}
	start := len(a.arena)
	a.arena = append(a.arena, rec.Key...)
	key := a.arena[start:len(a.arena):len(a.arena)]
	a.batch = append(a.batch, kafka.Message{Topic: record.TopicFor(rec.Kind), Key: key, Value: value})
	a.count(rec.Kind)
	if len(a.batch) >= BatchSize {
		return a.flush(ctx)
	}
	return nil
}

// encode returns the envelope of rec. It redacts the secrets in a log
// message. Log records, the bulk of the traffic, are encoded without
// reflection into the same bytes that record.Encode writes.
func (a *Agent) encode(rec emit.Record) ([]byte, error) {
	l, ok := rec.Payload.(record.Log)
	if !ok {
		return record.Encode(rec.Kind, rec.ID, a.hostID, rec.Source, a.now().UnixNano(), rec.Payload)
	}
	if !a.cfg.DisableRedaction {
		if msg, n := redact.Message(l.Message); n > 0 {
			l.Message = msg
			a.mu.Lock()
			a.stats.Redacted += int64(n)
			a.mu.Unlock()
		}
	}
	a.scratch = jsonenc.AppendLog(a.scratch[:0], &l)
	// The value goes into the batch's arena. When the arena grows, the
	// values before stay valid in the old array.
	start := len(a.arena)
	a.arena = jsonenc.AppendEnvelope(a.arena, rec.Kind, rec.ID, a.hostID, rec.Source, a.now().UnixNano(), a.scratch)
	return a.arena[start:len(a.arena):len(a.arena)], nil
}

func (a *Agent) flush(ctx context.Context) error {
	if len(a.batch) == 0 {
		return nil
	}
	start := time.Now()
	if err := a.out.Write(ctx, a.batch...); err != nil {
		return fmt.Errorf("write %d records: %w", len(a.batch), err)
	}
	a.mu.Lock()
	a.stats.Produced += int64(len(a.batch))
	a.mu.Unlock()
	a.recordBatch(time.Since(start))
	clear(a.batch)
	a.batch = a.batch[:0]
	a.arena = a.arena[:0]
	return nil
}

func (a *Agent) count(kind record.Kind) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch kind {
	case record.KindHost:
		a.stats.Hosts++
	case record.KindContainer:
		a.stats.Containers++
	case record.KindLog:
		a.stats.Logs++
	case record.KindMetric:
		a.stats.Metrics++
	case record.KindScan:
		a.stats.Scans++
	case record.KindLifecycle:
		a.stats.Lifecycle++
	case record.KindPosture:
		a.stats.Postures++
	}
}

func (a *Agent) addParseErrors(n int64) {
	a.mu.Lock()
	a.stats.ParseErrors += n
	a.mu.Unlock()
	a.cfg.Metrics.Dropped("parse_error", int(n))
}

// recordBatch adds the written batch to the metrics: its records per
// topic, its size and the time its write took.
func (a *Agent) recordBatch(took time.Duration) {
	if a.cfg.Metrics == nil {
		return
	}
	perTopic := map[string]int{}
	for _, m := range a.batch {
		perTopic[m.Topic]++
	}
	for topic, n := range perTopic {
		a.cfg.Metrics.Out(topic, n)
	}
	a.cfg.Metrics.Batch(len(a.batch), took.Seconds())
}

func (a *Agent) closeFollowers() {
	var errs []error
	for _, f := range a.followers {
		errs = append(errs, f.Close())
	}
	if err := errors.Join(errs...); err != nil {
		a.logger.Warn("Log files not closed", "err", err)
	}
}
