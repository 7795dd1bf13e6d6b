package docker

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/harrierhq/harrier/collectors/internal/emit"
	"github.com/harrierhq/harrier/collectors/internal/logtime"
	"github.com/harrierhq/harrier/collectors/internal/tail"
	"github.com/harrierhq/harrier/internal/record"
)

// MaxMessageBytes caps a message joined from partial lines. When a writer
// never ends its line, the joined message is sent once it reaches this size
// and the rest starts a new message. 256 KiB keeps the encoded record under
// the collector's default record limit of 1,000,000 bytes.
const MaxMessageBytes = 256 << 10

// Line is one line of a Docker json-file log.
type Line struct {
	// Log is the text the container wrote. It ends with "\n" unless the
	// runtime split a longer line, in which case the next line of the same
	// stream continues it.
	Log string
	// Stream is "stdout" or "stderr". A line without a stream is stdout.
	Stream string
	// Time is the time the runtime received the text.
	Time time.Time
	// RawTime is the time field as written.
	RawTime string
}

// Partial reports whether the next line of the same stream continues l.
func (l Line) Partial() bool {
	return !strings.HasSuffix(l.Log, "\n")
}

type jsonLine struct {
	Log    *string `json:"log"`
	Stream string  `json:"stream"`
	Time   *string `json:"time"`
}

// ParseLine parses one json-file line such as
// {"log":"hello\n","stream":"stdout","time":"2019-04-01T17:58:33.598656444Z"}.
// It rejects a line without a log or time field (or with null in one),
// because stamping it with the time it was read would misplace it.
func ParseLine(b []byte) (Line, error) {
	var raw jsonLine
	if log, stream, ts, ok := parseFields(b); ok {
		raw = jsonLine{Log: &log, Stream: stream, Time: &ts}
	} else if err := json.Unmarshal(b, &raw); err != nil {
		return Line{}, fmt.Errorf("invalid json-file line: %w", err)
	}
	if raw.Log == nil {
		return Line{}, errors.New("missing json-file field log")
	}
	if raw.Time == nil {
		return Line{}, errors.New("missing json-file field time")
	}

	l := Line{Log: *raw.Log, Stream: raw.Stream, RawTime: *raw.Time}
	switch l.Stream {
	case "":
		l.Stream = "stdout"
	case "stdout", "stderr":
	default:
		return Line{}, fmt.Errorf("invalid json-file field stream=%q: expected stdout or stderr", raw.Stream)
	}

	t, err := logtime.Parse(l.RawTime)
	if err != nil {
		return Line{}, fmt.Errorf("invalid json-file field time=%q: %w", l.RawTime, err)
	}
	l.Time = t
	return l, nil
}

// Target names the container whose log a decoder reads.
type Target struct {
	ContainerID   string
	ContainerName string
}

type pendingMessage struct {
	path    string
	start   int64
	end     int64
	time    time.Time
	rawTime string
	text    strings.Builder
}

// Decoder joins the partial lines of a json-file log into record.Log
// entries. Partial lines are joined per stream, because the runtime writes
// stdout and stderr records independently.
type Decoder struct {
	target  Target
	pending map[string]*pendingMessage
}

// NewDecoder returns a decoder for the log of target.
func NewDecoder(target Target) *Decoder {
	return &Decoder{target: target, pending: make(map[string]*pendingMessage)}
}

// Decode implements tail.Decoder.
func (d *Decoder) Decode(path string, b []byte, start, end int64) ([]tail.Entry, error) {
	l, err := ParseLine(b)
	if err != nil {
		return nil, fmt.Errorf("offset %d: %w", start, err)
	}

	p := d.pending[l.Stream]
	if p == nil && !l.Partial() {
		// A whole line with nothing pending: no joining needed.
		return []tail.Entry{d.newEntry(path, l.Stream, start, end, l.Time, l.RawTime, l.Log)}, nil
	}
	if p == nil {
		p = &pendingMessage{path: path, start: start, time: l.Time, rawTime: l.RawTime}
		d.pending[l.Stream] = p
	}
	p.text.WriteString(l.Log)
	p.end = end

	if l.Partial() && p.text.Len() < MaxMessageBytes {
		return nil, nil
	}
	delete(d.pending, l.Stream)
	return []tail.Entry{d.entry(l.Stream, p, end)}, nil
}

// PendingStart implements tail.Decoder.
func (d *Decoder) PendingStart() int64 {
	start := int64(-1)
	for _, p := range d.pending {
		if start < 0 || p.start < start {
			start = p.start
		}
	}
	return start
}

// Flush implements tail.Decoder.
func (d *Decoder) Flush() []tail.Entry {
	var entries []tail.Entry
	for _, stream := range []string{"stdout", "stderr"} {
		if p := d.pending[stream]; p != nil {
			entries = append(entries, d.entry(stream, p, p.end))
		}
	}
	clear(d.pending)
	return entries
}

func (d *Decoder) entry(stream string, p *pendingMessage, end int64) tail.Entry {
	return d.newEntry(p.path, stream, p.start, end, p.time, p.rawTime, p.text.String())
}

func (d *Decoder) newEntry(path, stream string, start, end int64, t time.Time, rawTime, text string) tail.Entry {
	msg := strings.TrimSuffix(text, "\n")
	offset := strconv.FormatInt(start, 10)
	rec := emit.Record{
		Kind: record.KindLog,
		Key:  d.target.ContainerID,
		// The time of the first line distinguishes the lines that a file
		// created after a rotation writes at the same offsets.
		ID:     record.NewID(path, offset, rawTime),
		Source: "docker:" + path + ":" + offset,
		Payload: record.Log{
			TimeNs:        t.UnixNano(),
			Runtime:       "docker",
			ContainerID:   d.target.ContainerID,
			ContainerName: d.target.ContainerName,
			Stream:        stream,
			Message:       msg,
		},
	}
	return tail.Entry{Record: rec, Start: start, End: end}
}
