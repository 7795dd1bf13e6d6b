package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/harrierhq/harrier/collectors/internal/emit"
	"github.com/harrierhq/harrier/internal/record"
)

// DefaultSocket is the Docker Engine API socket of a default install.
const DefaultSocket = "/var/run/docker.sock"

// engineActions maps the Action of a Docker Engine API container event to
// a lifecycle event. Other actions (attach, exec_start, kill, destroy, ...)
// are not lifecycle events of this schema.
var engineActions = map[string]string{
	"create":  record.EventCreated,
	"start":   record.EventStarted,
	"die":     record.EventExited,
	"oom":     record.EventOOMKilled,
	"restart": record.EventRestarted,
}

// engineEvent is one message of the Docker Engine API's GET /events stream.
type engineEvent struct {
	Type   string `json:"Type"`
	Action string `json:"Action"`
	Actor  struct {
		ID         string            `json:"ID"`
		Attributes map[string]string `json:"Attributes"`
	} `json:"Actor"`
	Time     int64 `json:"time"`
	TimeNano int64 `json:"timeNano"`
}

// ParseEngineEvent converts one JSON message of the Docker Engine API's
// GET /events stream to a lifecycle event. It returns false, and no error,
// for a valid message that is no container lifecycle event. The error names
// the field and the value that failed.
func ParseEngineEvent(b []byte) (record.Lifecycle, bool, error) {
	var ev engineEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		return record.Lifecycle{}, false, fmt.Errorf("invalid Docker event JSON: %w", err)
	}
	if ev.Type != "container" {
		return record.Lifecycle{}, false, nil
	}
	kind, ok := engineActions[ev.Action]
	if !ok {
		return record.Lifecycle{}, false, nil
	}
	if ev.Actor.ID == "" {
		return record.Lifecycle{}, false, fmt.Errorf("missing Docker event field Actor.ID (action %q)", ev.Action)
	}
	timeNs := ev.TimeNano
	if timeNs == 0 {
		timeNs = ev.Time * int64(time.Second)
	}
	if timeNs <= 0 {
		return record.Lifecycle{}, false, fmt.Errorf("missing Docker event field timeNano of container %s", ev.Actor.ID)
	}

	l := record.Lifecycle{
		TimeNs:        timeNs,
		ContainerID:   ev.Actor.ID,
		ContainerName: ev.Actor.Attributes["name"],
		Event:         kind,
		Detail:        "docker events " + ev.Action,
	}
	if kind == record.EventExited {
		code, err := strconv.Atoi(ev.Actor.Attributes["exitCode"])
		if err != nil {
			return record.Lifecycle{}, false, fmt.Errorf("invalid Docker event field Actor.Attributes.exitCode=%q of container %s: %w", ev.Actor.Attributes["exitCode"], ev.Actor.ID, err)
		}
		l.ExitCode = code
	}
	return l, true, nil
}

// EngineEventRecord wraps l, an event read from the Engine API at socket,
// in an inventory record keyed by the container id.
func EngineEventRecord(l record.Lifecycle, socket string) emit.Record {
	return emit.Record{
		Kind:    record.KindLifecycle,
		Key:     l.ContainerID,
		ID:      record.NewID("lifecycle", l.ContainerID, l.Event, "engine", strconv.FormatInt(l.TimeNs, 10)),
		Source:  "docker-events:" + socket,
		Payload: l,
	}
}

// EventStreamStats counts what an EventStream read since it started.
type EventStreamStats struct {
	// Connects counts the successful GET /events requests.
	Connects int64
	// Events counts the lifecycle events passed to the handler.
	Events int64
	// ParseErrors counts the messages that could not be parsed.
	ParseErrors int64
}

// EventStream follows the Docker Engine API's GET /events stream over a
// unix socket and passes each container lifecycle event to a handler. It
// reconnects after a failure, asking for the events since the last one it
// read, so an engine restart loses none that the engine still keeps.
type EventStream struct {
	// Retry is the time between a failure and the next request. It
	// defaults to 5 seconds and is read by Run.
	Retry time.Duration

	socket  string
	client  *http.Client
	logger  *slog.Logger
	handle  func(record.Lifecycle)
	mu      sync.Mutex
	stats   EventStreamStats
	live    bool
	sinceNs int64
}

// NewEventStream returns a stream of the engine at socket that calls
// handle for each event, from Run's goroutine. A nil logger discards logs.
func NewEventStream(socket string, handle func(record.Lifecycle), logger *slog.Logger) *EventStream {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}
	return &EventStream{
		socket: socket,
		client: &http.Client{Transport: transport},
		logger: logger.With("component", "docker-events", "socket", socket),
		Retry:  5 * time.Second,
		handle: handle,
	}
}

// Stats returns a copy of the stream's counters.
func (s *EventStream) Stats() EventStreamStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Live reports whether the stream is connected now, so that a caller can
// leave out the events it derives from the container folders meanwhile.
func (s *EventStream) Live() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live
}

// Run reads the stream until ctx is done, reconnecting Retry after a
// failure. It returns nil when ctx is done.
func (s *EventStream) Run(ctx context.Context) error {
	s.logger.Info("Docker event stream started")
	defer s.logger.Info("Docker event stream stopped")
	for {
		err := s.follow(ctx)
		s.setLive(false)
		if ctx.Err() != nil {
			return nil
		}
		s.logger.Warn("Docker event stream failed, reconnecting", "err", err, "retry", s.Retry)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.Retry):
		}
	}
}

func (s *EventStream) setLive(live bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = live
}

// follow makes one GET /events request and reads it until it ends.
func (s *EventStream) follow(ctx context.Context) error {
	query := url.Values{}
	query.Set("filters", `{"type":["container"]}`)
	if s.sinceNs > 0 {
		// since takes seconds with a fractional part; an event at exactly
		// that time is repeated and keeps its record id.
		query.Set("since", fmt.Sprintf("%d.%09d", s.sinceNs/1e9, s.sinceNs%1e9))
	}
	// The host part is ignored because the transport dials the socket.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/events?"+query.Encode(), nil)
	if err != nil {
		return fmt.Errorf("build events request: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET /events on %s: %w", s.socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET /events on %s: status %d: %s", s.socket, resp.StatusCode, body)
	}
	s.mu.Lock()
	s.stats.Connects++
	s.live = true
	s.mu.Unlock()

	dec := json.NewDecoder(resp.Body)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("engine closed the event stream")
			}
			return fmt.Errorf("read /events: %w", err)
		}
		l, ok, err := ParseEngineEvent(raw)
		if err != nil {
			s.mu.Lock()
			s.stats.ParseErrors++
			s.mu.Unlock()
			s.logger.Warn("Skipped invalid Docker event", "err", err)
			continue
		}
		if !ok {
			continue
		}
		s.sinceNs = l.TimeNs
		s.mu.Lock()
		s.stats.Events++
		s.mu.Unlock()
		s.handle(l)
	}
}
