package cri

import (
	"bytes"
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

// MaxMessageBytes caps a message joined from partial lines. A longer one is
// sent when it reaches this size and the rest starts a new message. 256 KiB
// keeps the encoded record under the collector's default record limit of
// 1,000,000 bytes.
const MaxMessageBytes = 256 << 10

// Line is one line of a CRI log file, as kubelet and the container runtime
// write it: "<RFC3339Nano time> <stream> <tags> <message>".
type Line struct {
	Time    time.Time
	RawTime string
	// Stream is "stdout" or "stderr".
	Stream string
	// Partial is true for the tag "P": the next line of the same stream
	// continues the message. The tag "F" ends a message.
	Partial bool
	Message string
}

// ParseLine parses one CRI log line, such as
// "2016-10-06T00:17:09.669794202Z stdout F hello".
func ParseLine(b []byte) (Line, error) {
	fields := bytes.SplitN(b, []byte{' '}, 4)
	if len(fields) < 3 {
		return Line{}, fmt.Errorf("invalid CRI log line %q: expected time, stream, tags and message", truncate(b))
	}

	var l Line
	l.RawTime = string(fields[0])
	if l.RawTime == "" {
		return Line{}, errors.New("missing CRI log field time: the line starts with a space")
	}
	t, err := logtime.Parse(l.RawTime)
	if err != nil {
		return Line{}, fmt.Errorf("invalid CRI log field time=%q: %w", l.RawTime, err)
	}
	l.Time = t

	l.Stream = string(fields[1])
	if l.Stream != "stdout" && l.Stream != "stderr" {
		return Line{}, fmt.Errorf("invalid CRI log field stream=%q: expected stdout or stderr", l.Stream)
	}

	// Tags are separated by ":"; the first one is "P" or "F".
	tags := string(fields[2])
	tag, _, _ := strings.Cut(tags, ":")
	switch tag {
	case "P":
		l.Partial = true
	case "F":
	default:
		return Line{}, fmt.Errorf("invalid CRI log field tags=%q: expected P or F", tags)
	}

	if len(fields) == 4 {
		l.Message = string(fields[3])
	}
	return l, nil
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// Target names the container whose log a decoder reads.
type Target struct {
	ContainerID   string
	ContainerName string
	Namespace     string
	Pod           string
}

type pendingMessage struct {
	path    string
	start   int64
	end     int64
	time    time.Time
	rawTime string
	text    strings.Builder
}

// Decoder joins the partial lines of a CRI log into record.Log entries,
// per stream.
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
	if p == nil {
		p = &pendingMessage{path: path, start: start, time: l.Time, rawTime: l.RawTime}
		d.pending[l.Stream] = p
	}
	p.text.WriteString(l.Message)
	p.end = end

	if l.Partial && p.text.Len() < MaxMessageBytes {
		return nil, nil
	}
	delete(d.pending, l.Stream)
	return []tail.Entry{d.entry(l.Stream, p)}, nil
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
			entries = append(entries, d.entry(stream, p))
		}
	}
	clear(d.pending)
	return entries
}

func (d *Decoder) entry(stream string, p *pendingMessage) tail.Entry {
	offset := strconv.FormatInt(p.start, 10)
	rec := emit.Record{
		Kind: record.KindLog,
		Key:  d.target.ContainerID,
		// The time of the first line distinguishes the lines that a file
		// created after a rotation writes at the same offsets.
		ID:     record.NewID(p.path, offset, p.rawTime),
		Source: "cri:" + p.path + ":" + offset,
		Payload: record.Log{
			TimeNs:        p.time.UnixNano(),
			Runtime:       "cri",
			ContainerID:   d.target.ContainerID,
			ContainerName: d.target.ContainerName,
			Namespace:     d.target.Namespace,
			Pod:           d.target.Pod,
			Stream:        stream,
			Message:       p.text.String(),
		},
	}
	return tail.Entry{Record: rec, Start: p.start, End: p.end}
}
