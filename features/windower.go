package features

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/harrierhq/harrier/features/drain"
	"github.com/harrierhq/harrier/internal/record"
)

// Defaults of WindowConfig.
const (
	DefaultWindowSize      = time.Minute
	DefaultAllowedLateness = 30 * time.Second
)

// errorPattern selects the log lines counted as error_lines: a message that
// contains error, fail, fatal, denied, invalid, exception or panic anywhere,
// in any case. Substrings count, so "Failed password", "ERRORS: 0" and
// "NullPointerException" all match.
var errorPattern = regexp.MustCompile(`(?i)error|fail|fatal|denied|invalid|exception|panic`)

// errorWords are the words of errorPattern.
var errorWords = []string{"error", "fail", "fatal", "denied", "invalid", "exception", "panic"}

// IsErrorLine reports whether a log message counts as an error line. It
// matches as errorPattern does, without the regular expression engine.
func IsErrorLine(msg string) bool {
	return containsFold(msg, errorWords)
}

// warningPattern selects the log lines counted in warning_ratio: a message
// that contains warn anywhere, in any case, such as "WARN", "[warning]" or
// "Warning:".
var warningPattern = regexp.MustCompile(`(?i)warn`)

// warningWords are the words of warningPattern.
var warningWords = []string{"warn"}

// IsWarningLine reports whether a log message counts as a warning line. It
// matches as warningPattern does, without the regular expression engine.
func IsWarningLine(msg string) bool {
	return containsFold(msg, warningWords)
}

// containsFold reports whether s contains one of words, which are lower
// case ASCII, in any case. It folds ASCII letters only, which matches
// Go's (?i) for these words: none of their letters has a case variant
// outside ASCII, as K and S do (the Kelvin sign and the long s).
func containsFold(s string, words []string) bool {
	for i := 0; i < len(s); i++ {
		c := lowerASCII(s[i])
		for _, w := range words {
			if c == w[0] && hasPrefixFold(s[i:], w) {
				return true
			}
		}
	}
	return false
}

func hasPrefixFold(s, word string) bool {
	if len(s) < len(word) {
		return false
	}
	for j := 1; j < len(word); j++ {
		if lowerASCII(s[j]) != word[j] {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// WindowConfig configures a Windower.
type WindowConfig struct {
	// Size is the length of a tumbling window in event time. Default 1 minute.
	Size time.Duration
	// AllowedLateness is how far behind a container's newest event time a
	// record may arrive and still count. A window closes once the
	// container's watermark (newest event time minus AllowedLateness) passes
	// its end. Default 30 seconds. Zero uses the default; a negative value
	// means no lateness at all.
	AllowedLateness time.Duration
	// Templates is the log template miner that decides whether a message
	// opens a template never seen before for the container's image, for
	// the new_shapes feature. Share it with the normalizer so that both see
	// the same templates. When nil, new_shapes counts new masked shapes of
	// Shapes instead.
	//
	// The scorer's demo tests run the demo bundle with and without a miner
	// and expect only the sshd incident to alert in both.
	Templates *drain.Miner
	// Shapes is the masking miner used when Templates is nil. Default a
	// fresh NewShapes.
	Shapes *Shapes
}

// WindowStats counts what a Windower has seen. Tests and the scorer read it.
type WindowStats struct {
	// Records is the number of log, metric and container records accepted.
	Records int64
	// Late is the number of log and metric records whose window had already
	// closed; they are dropped from the features.
	Late int64
	// Duplicates is the number of records dropped because a record with
	// the same id was already counted in the same open window.
	Duplicates int64
	// Replayed is the number of log and metric records dropped because
	// their window was stored before a restart (see Resume): records that
	// Kafka delivers again, and records that arrive that late.
	Replayed int64
	// HostMetrics is the number of cgroup samples without a container id,
	// which belong to host cgroups and are not windowed.
	HostMetrics int64
	// WindowsClosed is the number of windows returned so far.
	WindowsClosed int64
	// OpenWindows is the number of windows currently open.
	OpenWindows int64
}

// Windower groups log records and cgroup samples per container into
// tumbling event-time windows and computes one feature vector per closed
// window.
//
// Each container has its own watermark: the newest event time seen for the
// container minus AllowedLateness. A per-container watermark keeps one
// container's stream, which stays on one Kafka partition, from making the
// records of a lagging partition late.
//
// NOTE: a container whose records stop keeps its last windows open until
// Flush, and a window in which a container produced no record at all is not
// emitted.
//
// A Windower is safe for concurrent use, but records of one container must
// arrive in roughly event-time order for the watermark to make sense.
type Windower struct {
	size      int64
	lateness  int64
	templates *drain.Miner
	shapes    *Shapes

	mu         sync.Mutex
	containers map[string]*containerState
	// images holds the newest scan of each image id, and hosts the facts
	// of each host id.
	images map[string]*imageScan
	hosts  map[string]hostFacts
	stats  WindowStats
}

type containerState struct {
	id       string
	name     string
	hostID   string
	imageID  string
	imageRef string

	maxEventNs int64
	// closedThrough is the end of event time already closed: a record whose
	// window ends at or before it is late.
	closedThrough int64
	// resumedThrough is the end of the newest window stored before a
	// restart, set by Resume: a record whose window ends at or before it
	// has been counted already.
	resumedThrough int64
	open           map[int64]*openWindow

	lastSample    *sample
	lastCPU       float64
	lastThrottled float64
	lastMemory    float64
	lastPids      float64
	lastIORead    float64
	lastIOWrite   float64
	lastNetRx     float64
	lastNetTx     float64

	// restoredVulns and restoredEOL are the vulnerability counts and the
	// end-of-life flag of the window stored last before a restart. They
	// apply until a scan of the image or a record of the host arrives.
	restoredVulns vulnCounts
	restoredEOL   float64
}

type openWindow struct {
	start        int64
	ids          map[string]struct{}
	logLines     int
	errorLines   int
	warningLines int
	// authFailures counts the lines IsAuthFailureLine selects.
	authFailures int
	// addresses holds the distinct IP addresses found in the window's
	// log lines, in their canonical text form.
	addresses map[string]struct{}
	// messages holds the distinct masked log messages of the window in
	// arrival order when a template miner is set. They are matched when
	// the window closes, once a late inventory record has set the image id.
	messages []string
	// seen counts the lines of each masked message in messages.
	seen map[string]int
	// shapes counts the lines of each shape id when no miner is set.
	shapes  map[uint64]int
	samples []sample
	// first holds the smallest Kafka offset of the window's records per
	// topic and partition, when their positions are known.
	first map[partitionKey]int64
}

type sample struct {
	timeNs    int64
	usage     int64
	throttled int64
	memory    int64
	oomKills  int64
	pids      int64
	ioRead    int64
	ioWrite   int64
	netRx     int64
	netTx     int64
	// pos is the Kafka position of the sample's record when positioned.
	pos        Position
	positioned bool
}

// NewWindower returns a Windower with cfg's defaults filled in.
func NewWindower(cfg WindowConfig) *Windower {
	if cfg.Size <= 0 {
		cfg.Size = DefaultWindowSize
	}
	switch {
	case cfg.AllowedLateness == 0:
		cfg.AllowedLateness = DefaultAllowedLateness
	case cfg.AllowedLateness < 0:
		cfg.AllowedLateness = 0
	}
	if cfg.Templates == nil && cfg.Shapes == nil {
		cfg.Shapes = NewShapes()
	}
	return &Windower{
		size:       int64(cfg.Size),
		lateness:   int64(cfg.AllowedLateness),
		templates:  cfg.Templates,
		shapes:     cfg.Shapes,
		containers: make(map[string]*containerState),
		images:     make(map[string]*imageScan),
		hosts:      make(map[string]hostFacts),
	}
}

// Size returns the window length.
func (w *Windower) Size() time.Duration {
	return time.Duration(w.size)
}

// Stats returns a copy of the counters.
func (w *Windower) Stats() WindowStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Watermark returns the watermark of a container and false when the
// container has sent no log or metric record yet.
func (w *Windower) Watermark(containerID string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()

	c := w.containers[containerID]
	if c == nil || c.maxEventNs == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, c.maxEventNs-w.lateness).UTC(), true
}

// AddEnvelope decodes the payload of a log, metric, container, scan or host
// envelope and adds it. Envelopes of other kinds are ignored. It returns
// the windows that the record closed.
func (w *Windower) AddEnvelope(env record.Envelope) ([]Window, error) {
	return w.addEnvelope(env, nil)
}

// AddEnvelopeAt is AddEnvelope for a record read from Kafka at pos. The
// open windows remember the first position of their records, so that
// CommitOffset keeps those records uncommitted until their window closes.
func (w *Windower) AddEnvelopeAt(env record.Envelope, pos Position) ([]Window, error) {
	return w.addEnvelope(env, &pos)
}

func (w *Windower) addEnvelope(env record.Envelope, pos *Position) ([]Window, error) {
	switch env.Kind {
	case record.KindLog:
		var l record.Log
		if err := json.Unmarshal(env.Payload, &l); err != nil {
			return nil, fmt.Errorf("invalid log payload of record %s: %w", env.ID, err)
		}
		return w.addLog(env.ID, env.HostID, l, pos)
	case record.KindMetric:
		var m record.Metric
		if err := json.Unmarshal(env.Payload, &m); err != nil {
			return nil, fmt.Errorf("invalid metric payload of record %s: %w", env.ID, err)
		}
		return w.addMetric(env.ID, env.HostID, m, pos)
	case record.KindContainer:
		var c record.Container
		if err := json.Unmarshal(env.Payload, &c); err != nil {
			return nil, fmt.Errorf("invalid container payload of record %s: %w", env.ID, err)
		}
		return nil, w.AddContainer(env.HostID, c)
	case record.KindScan:
		var sc record.Scan
		if err := json.Unmarshal(env.Payload, &sc); err != nil {
			return nil, fmt.Errorf("invalid scan payload of record %s: %w", env.ID, err)
		}
		return nil, w.AddScan(sc)
	case record.KindHost:
		var h record.Host
		if err := json.Unmarshal(env.Payload, &h); err != nil {
			return nil, fmt.Errorf("invalid host payload of record %s: %w", env.ID, err)
		}
		return nil, w.AddHost(env.HostID, h)
	}
	return nil, nil
}

// AddContainer records a container's name, host and image, which the
// container's windows carry from then on. It opens no window.
func (w *Windower) AddContainer(hostID string, c record.Container) error {
	if c.ContainerID == "" {
		return fmt.Errorf("missing container field container_id (name %q)", c.Name)
	}

	w.mu.Lock()
	defer w.mu.Unlock()

	st := w.container(c.ContainerID)
	if c.Name != "" {
		st.name = strings.TrimPrefix(c.Name, "/")
	}
	if hostID != "" {
		st.hostID = hostID
	}
	if c.ImageID != "" {
		st.imageID = c.ImageID
	}
	if c.ImageRef != "" {
		st.imageRef = c.ImageRef
	}
	w.stats.Records++
	return nil
}

// AddLog adds one log record with envelope id and host id and returns the
// windows it closed.
func (w *Windower) AddLog(id, hostID string, l record.Log) ([]Window, error) {
	return w.addLog(id, hostID, l, nil)
}

func (w *Windower) addLog(id, hostID string, l record.Log, pos *Position) ([]Window, error) {
	if l.ContainerID == "" {
		return nil, fmt.Errorf("missing log field container_id in record %s", id)
	}
	if l.TimeNs <= 0 {
		return nil, fmt.Errorf("invalid log field time_ns=%d in record %s: must be positive", l.TimeNs, id)
	}
	var masked string
	var shape uint64
	if w.templates != nil {
		masked = drain.Mask(l.Message)
	} else {
		shape = ShapeID(MaskMessage(l.Message))
	}
	isError := IsErrorLine(l.Message)
	isWarning := IsWarningLine(l.Message)
	isAuthFailure := IsAuthFailureLine(l.Message)
	addresses := SourceAddresses(l.Message)

	w.mu.Lock()
	defer w.mu.Unlock()

	st := w.container(l.ContainerID)
	if st.name == "" && l.ContainerName != "" {
		st.name = l.ContainerName
	}
	if st.hostID == "" {
		st.hostID = hostID
	}
	win := w.window(st, id, l.TimeNs, pos)
	if win != nil {
		win.logLines++
		if isError {
			win.errorLines++
		}
		if isWarning {
			win.warningLines++
		}
		if isAuthFailure {
			win.authFailures++
		}
		for _, a := range addresses {
			win.addresses[a] = struct{}{}
		}
		if w.templates == nil {
			win.shapes[shape]++
		} else {
			if win.seen[masked] == 0 {
				win.messages = append(win.messages, masked)
			}
			win.seen[masked]++
		}
	}
	return w.advance(st, l.TimeNs), nil
}

// AddMetric adds one cgroup sample with envelope id and host id and returns
// the windows it closed. A sample without a container id belongs to a host
// cgroup and is only counted.
func (w *Windower) AddMetric(id, hostID string, m record.Metric) ([]Window, error) {
	return w.addMetric(id, hostID, m, nil)
}

func (w *Windower) addMetric(id, hostID string, m record.Metric, pos *Position) ([]Window, error) {
	if m.TimeNs <= 0 {
		return nil, fmt.Errorf("invalid metric field time_ns=%d in record %s: must be positive", m.TimeNs, id)
	}

	w.mu.Lock()
	defer w.mu.Unlock()

	if m.ContainerID == "" {
		w.stats.HostMetrics++
		return nil, nil
	}
	st := w.container(m.ContainerID)
	if st.hostID == "" {
		st.hostID = hostID
	}
	memory := m.MemoryWorkingSetBytes
	if memory < 0 {
		memory = m.MemoryUsageBytes
	}
	s := sample{
		timeNs:    m.TimeNs,
		usage:     m.CPUUsageNs,
		throttled: m.CPUThrottledNs,
		memory:    memory,
		oomKills:  m.OOMKills,
		pids:      m.PidsCurrent,
		ioRead:    m.IOReadBytes,
		ioWrite:   m.IOWriteBytes,
		netRx:     m.NetRxBytes,
		netTx:     m.NetTxBytes,
	}
	if pos != nil {
		s.pos, s.positioned = *pos, true
	}
	if st.replays(m.TimeNs, w.size) && (st.lastSample == nil || s.timeNs > st.lastSample.timeNs) {
		// The sample's window was stored before a restart, but the sample
		// may be the one before the next window, which the CPU and I/O
		// rates start from.
		st.lastSample = &s
	}
	win := w.window(st, id, m.TimeNs, pos)
	if win != nil {
		win.samples = append(win.samples, s)
	}
	return w.advance(st, m.TimeNs), nil
}

// Flush closes every open window of every container, as at the end of a
// bounded replay, and returns them ordered by start time, then container id.
func (w *Windower) Flush() []Window {
	w.mu.Lock()
	defer w.mu.Unlock()

	ids := make([]string, 0, len(w.containers))
	for id := range w.containers {
		ids = append(ids, id)
	}
	sort.Strings(ids)

	var out []Window
	for _, id := range ids {
		st := w.containers[id]
		var end int64
		for start := range st.open {
			end = max(end, start+w.size)
		}
		// Later records of the flushed windows are late, but records of
		// later windows still count.
		out = append(out, w.closeThrough(st, end)...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].ContainerID < out[j].ContainerID
	})
	return out
}

func (w *Windower) container(id string) *containerState {
	st := w.containers[id]
	if st == nil {
		st = &containerState{id: id, open: make(map[int64]*openWindow)}
		w.containers[id] = st
	}
	return st
}

// window returns the open window that event time t falls in, opening it if
// needed, or nil when the record is late, replayed or a duplicate. pos is
// the record's Kafka position, or nil. The caller holds w.mu.
func (w *Windower) window(st *containerState, id string, t int64, pos *Position) *openWindow {
	w.stats.Records++
	start := t - t%w.size
	if st.replays(t, w.size) {
		w.stats.Replayed++
		return nil
	}
	if start+w.size <= st.closedThrough {
		w.stats.Late++
		return nil
	}
	win := st.open[start]
	if win == nil {
		win = &openWindow{
			start:     start,
			ids:       make(map[string]struct{}),
			addresses: make(map[string]struct{}),
			seen:      make(map[string]int),
			shapes:    make(map[uint64]int),
		}
		st.open[start] = win
		w.stats.OpenWindows++
	}
	if id != "" {
		if _, dup := win.ids[id]; dup {
			w.stats.Duplicates++
			return nil
		}
		win.ids[id] = struct{}{}
	}
	if pos != nil {
		win.notePosition(*pos)
	}
	return win
}

// advance moves the container's watermark to event time t if t is newer
// and closes the windows that end at or before the watermark.
func (w *Windower) advance(st *containerState, t int64) []Window {
	if t > st.maxEventNs {
		st.maxEventNs = t
	}
	return w.closeThrough(st, st.maxEventNs-w.lateness)
}

// closeThrough closes, in start order, every open window of st that ends at
// or before watermark.
func (w *Windower) closeThrough(st *containerState, watermark int64) []Window {
	var starts []int64
	for start := range st.open {
		if start+w.size <= watermark {
			starts = append(starts, start)
		}
	}
	slices.Sort(starts)

	out := make([]Window, 0, len(starts))
	for _, start := range starts {
		out = append(out, w.closeWindow(st, st.open[start]))
		delete(st.open, start)
		w.stats.OpenWindows--
		w.stats.WindowsClosed++
	}
	if watermark > st.closedThrough {
		st.closedThrough = watermark
	}
	return out
}
