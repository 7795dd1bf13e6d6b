// Package multiline groups the log records of a stack trace, or of any
// record that a program writes over several lines, into one record. It
// wraps the decoder of a log format, so that grouping works the same for
// Docker json-file and Kubernetes CRI logs.
package multiline

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/harrierhq/harrier/collectors/internal/tail"
	"github.com/harrierhq/harrier/internal/record"
)

// Defaults of Config.
const (
	DefaultMaxLines = 500
	DefaultMaxBytes = 64 << 10
	DefaultMaxWait  = 2 * time.Second
)

// Config sets up grouping.
type Config struct {
	// StartPattern is a regular expression that matches the first line of
	// a record; every other line continues the record before it. Empty
	// means the default: a line starts a record unless it is empty, starts
	// with white space or is a known continuation of a Java, Python or Go
	// stack trace (see continuation).
	StartPattern string
	// MaxLines caps the lines of one record. Zero means DefaultMaxLines.
	MaxLines int
	// MaxBytes caps the message of one record, in bytes. A line that would
	// pass it starts a new record. Zero means DefaultMaxBytes.
	MaxBytes int
	// MaxWait caps the time a record waits for its next line, measured
	// from the time its first line was read. Zero means DefaultMaxWait.
	MaxWait time.Duration
}

// Validate returns an error naming StartPattern when it is not a valid
// regular expression.
func (c Config) Validate() error {
	if c.StartPattern == "" {
		return nil
	}
	if _, err := regexp.Compile(c.StartPattern); err != nil {
		return fmt.Errorf("invalid multiline start pattern %q: %w", c.StartPattern, err)
	}
	return nil
}

// continuation matches the lines of Java, Python and Go stack traces that
// start at column 0 but continue the record before them.
var continuation = regexp.MustCompile(`^(?:` +
	// Java: "Caused by: …", "Suppressed: …", "... 12 more".
	`Caused by: |Suppressed: |\.\.\. \d+ (?:more|common frames omitted)` +
	// Java and Python exception lines: "java.lang.IllegalStateException: …",
	// "ValueError: …", "KeyboardInterrupt".
	`|(?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*(?:Exception|Error|Throwable|Warning|Exit|Interrupt)(?::|$)` +
	// Python: the traceback header and the lines between chained tracebacks.
	`|Traceback \(most recent call last\):` +
	`|During handling of the above exception, another exception occurred:` +
	`|The above exception was the direct cause of the following exception:` +
	// Go: goroutine headers, "created by …", signal lines and function
	// frames such as "main.main()" or "net/http.(*conn).serve(0xc000…)".
	`|goroutine \d+ \[|created by |\[signal ` +
	`|[\w./\-]+\.(?:\(\*?\w+\)\.)?[\w.\[\]]+\(.*\)$` +
	`)`)

// Decoder groups the entries of an inner decoder per stream.
type Decoder struct {
	inner    tail.Decoder
	start    *regexp.Regexp
	maxLines int
	maxBytes int
	maxWait  time.Duration
	now      func() time.Time
	groups   map[string]*group
}

type group struct {
	first   tail.Entry
	last    tail.Entry
	lines   []string
	bytes   int
	started time.Time
}

// NewDecoder wraps inner, whose entries carry record.Log payloads. now,
// which may be nil, gives the time for MaxWait. It returns an error naming
// StartPattern when the pattern is not a valid regular expression.
func NewDecoder(inner tail.Decoder, cfg Config, now func() time.Time) (*Decoder, error) {
	d := &Decoder{inner: inner, maxLines: cfg.MaxLines, maxBytes: cfg.MaxBytes, maxWait: cfg.MaxWait, now: now, groups: map[string]*group{}}
	if cfg.StartPattern != "" {
		re, err := regexp.Compile(cfg.StartPattern)
		if err != nil {
			return nil, fmt.Errorf("invalid multiline start pattern %q: %w", cfg.StartPattern, err)
		}
		d.start = re
	}
	if d.maxLines <= 0 {
		d.maxLines = DefaultMaxLines
	}
	if d.maxBytes <= 0 {
		d.maxBytes = DefaultMaxBytes
	}
	if d.maxWait <= 0 {
		d.maxWait = DefaultMaxWait
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d, nil
}

// IsStart reports whether line starts a record under the default rule.
func IsStart(line string) bool {
	if line == "" || line[0] == ' ' || line[0] == '\t' {
		return false
	}
	return !continuation.MatchString(line)
}

func (d *Decoder) isStart(line string) bool {
	if d.start != nil {
		return d.start.MatchString(line)
	}
	return IsStart(line)
}

// Decode implements tail.Decoder.
func (d *Decoder) Decode(path string, line []byte, start, end int64) ([]tail.Entry, error) {
	entries, err := d.inner.Decode(path, line, start, end)
	if err != nil {
		return nil, err
	}
	now := d.now()
	var out []tail.Entry
	for _, e := range entries {
		l, ok := e.Record.Payload.(record.Log)
		if !ok {
			out = append(out, e)
			continue
		}
		g := d.groups[l.Stream]
		if g != nil && (d.isStart(l.Message) || len(g.lines) >= d.maxLines || g.bytes+1+len(l.Message) > d.maxBytes || now.Sub(g.started) >= d.maxWait) {
			out = append(out, g.entry())
			g = nil
		}
		if g == nil {
			d.groups[l.Stream] = &group{first: e, last: e, lines: []string{l.Message}, bytes: len(l.Message), started: now}
			continue
		}
		g.last = e
		g.lines = append(g.lines, l.Message)
		g.bytes += 1 + len(l.Message)
	}
	return out, nil
}

// Expire returns the records that waited MaxWait or longer for their next
// line, or all pending records when all is true. The follower calls it
// when it reaches the end of the file.
func (d *Decoder) Expire(all bool) []tail.Entry {
	now := d.now()
	var out []tail.Entry
	for _, stream := range []string{"stdout", "stderr"} {
		if g := d.groups[stream]; g != nil && (all || now.Sub(g.started) >= d.maxWait) {
			out = append(out, g.entry())
			delete(d.groups, stream)
		}
	}
	return out
}

// PendingStart implements tail.Decoder.
func (d *Decoder) PendingStart() int64 {
	start := d.inner.PendingStart()
	for _, g := range d.groups {
		if start < 0 || g.first.Start < start {
			start = g.first.Start
		}
	}
	return start
}

// Flush implements tail.Decoder.
func (d *Decoder) Flush() []tail.Entry {
	entries := d.inner.Flush()
	var out []tail.Entry
	for _, stream := range []string{"stdout", "stderr"} {
		if g := d.groups[stream]; g != nil {
			out = append(out, g.entry())
		}
	}
	clear(d.groups)
	// The inner decoder's pending entries are parts of lines that start
	// after every grouped line, so they follow the groups.
	return append(out, entries...)
}

// entry returns the grouped record: the first line's time, source and
// payload fields with the lines joined by "\n". Its id is the last line's
// id, so that when a crash makes the collector read the lines again and
// group them differently, the lines are sent twice rather than dropped as
// repeats by id.
func (g *group) entry() tail.Entry {
	e := g.first
	if len(g.lines) == 1 {
		return e
	}
	l := e.Record.Payload.(record.Log)
	l.Message = strings.Join(g.lines, "\n")
	e.Record.Payload = l
	e.Record.ID = g.last.Record.ID
	e.End = g.last.End
	return e
}
