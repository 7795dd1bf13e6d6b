// Package spool puts a bounded on-disk queue between the collector and
// Kafka. Write appends messages to segment files and returns, and Run sends
// them to Kafka in the order they were written, keeping them on disk while
// Kafka is unreachable. A restarted collector resends what its predecessor
// left in the spool. When the spool is full, the configured Policy drops the
// oldest or the newest messages, counting them, or blocks the writer.
package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/harrierhq/harrier/internal/kafka"
)

// Policy selects what Write does when the spool is full.
type Policy string

// Policies for a full spool.
const (
	// Block makes Write wait until the sender frees space or its context is
	// done. Nothing is dropped, and the collector stops reading meanwhile.
	Block Policy = "block"
	// DropOldest deletes the oldest unsent segment to make room, and counts
	// its messages in Stats.DroppedOldest.
	DropOldest Policy = "drop-oldest"
	// DropNewest rejects the messages that do not fit and counts them in
	// Stats.DroppedNewest. Write still returns nil for them.
	DropNewest Policy = "drop-newest"
)

// ParsePolicy returns the Policy named s.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case Block, DropOldest, DropNewest:
		return p, nil
	}
	return "", fmt.Errorf("invalid spool policy %q: use block, drop-oldest or drop-newest", s)
}

// Defaults of Config.
const (
	DefaultMaxBytes      = 256 << 20
	DefaultSegmentBytes  = 8 << 20
	DefaultMaxBatch      = 1000
	DefaultMaxBatchBytes = 1 << 20
	DefaultRetryMin      = 100 * time.Millisecond
	DefaultRetryMax      = 10 * time.Second
)

// Config configures a Spool.
type Config struct {
	// Dir holds the segment files and the cursor. It is created if missing.
	// Required.
	Dir string
	// MaxBytes caps the size of the segment files on disk, default
	// DefaultMaxBytes (256 MiB). A message whose frame is larger than
	// MaxBytes can never be spooled and is counted in DroppedNewest under
	// every policy.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file starts, default
	// DefaultSegmentBytes (8 MiB), at most MaxBytes/4. DropOldest frees
	// space one segment at a time.
	SegmentBytes int64
	// Policy selects what Write does when the spool is full, default Block.
	Policy Policy
	// MaxBatch caps the messages of one write to Kafka, default 1000.
	MaxBatch int
	// MaxBatchBytes caps the bytes read from the spool for one write to
	// Kafka, default 1 MiB. A single larger message is still sent alone.
	MaxBatchBytes int
	// RetryMin and RetryMax bound the exponential backoff between two
	// attempts of a failed write to Kafka, default 100 ms and 10 s.
	RetryMin, RetryMax time.Duration
	// NoSync skips fsync after each Write and each cursor update. A crash
	// of the host, not only of the process, may then lose or resend the
	// last writes.
	NoSync bool
	// OnDrop, when set, receives every drop as it is counted: the reason
	// (DropReasonNewest, DropReasonOldest or DropReasonTooLarge) and the
	// number of messages. It is called with the spool's lock held, so it
	// must return quickly and must not call the spool.
	OnDrop func(reason string, n int)
}

// Reasons passed to Config.OnDrop.
const (
	// DropReasonNewest is a message rejected by DropNewest, counted in
	// Stats.DroppedNewest.
	DropReasonNewest = "spool_full_newest"
	// DropReasonOldest is an unsent message deleted by DropOldest, counted
	// in Stats.DroppedOldest.
	DropReasonOldest = "spool_full_oldest"
	// DropReasonTooLarge is a message larger than MaxBytes, counted in
	// Stats.DroppedNewest, or one the broker rejected as too large, counted
	// in Stats.DroppedTooLarge.
	DropReasonTooLarge = "too_large"
)

func (c *Config) setDefaults() error {
	if c.Dir == "" {
		return errors.New("missing spool directory: set the spool directory or disable the spool")
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.SegmentBytes > c.MaxBytes/4 {
		c.SegmentBytes = max(c.MaxBytes/4, 1)
	}
	if c.Policy == "" {
		c.Policy = Block
	}
	if _, err := ParsePolicy(string(c.Policy)); err != nil {
		return err
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.MaxBatchBytes <= 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.RetryMin <= 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(DefaultRetryMax, c.RetryMin)
	}
	return nil
}

// Emitter writes messages to Kafka and returns once they are acknowledged.
// It must not keep the messages' byte slices after Write returns, because
// the spool reuses them for the next batch.
// *kafka.Producer and *produce.Producer implement it.
type Emitter interface {
	Write(ctx context.Context, msgs ...kafka.Message) error
}

// Stats counts what a spool accepted, sent and dropped since Open.
type Stats struct {
	// Spooled counts the messages Write appended to the spool.
	Spooled int64
	// Sent counts the messages the Emitter acknowledged.
	Sent int64
	// Recovered counts the unsent messages Open found on disk.
	Recovered int64
	// DroppedOldest counts unsent messages deleted to make room.
	DroppedOldest int64
	// DroppedNewest counts messages Write rejected because they did not fit.
	DroppedNewest int64
	// DroppedTooLarge counts messages the Emitter rejected with Kafka's
	// MESSAGE_TOO_LARGE even when sent alone. They are not retried.
	DroppedTooLarge int64
	// Corrupt counts segment bytes skipped because a frame was torn or
	// failed its checksum.
	Corrupt int64
	// BlockedWrites counts Write calls that waited for space.
	BlockedWrites int64
	// SendErrors counts failed writes to the Emitter. Each one is retried.
	SendErrors int64
	// PendingMessages and PendingBytes describe what is on disk and not yet
	// acknowledged. PendingBytes counts whole segment files.
	PendingMessages int64
	PendingBytes    int64
}

// Spool is a bounded on-disk queue in front of an Emitter. Write is safe for
// concurrent use, and one Run sends what was written.
type Spool struct {
	cfg    Config
	out    Emitter
	logger *slog.Logger

	mu sync.Mutex
	// segs lists the segment files oldest first. The last one is the tail
	// that Write appends to, and the first one holds the cursor.
	segs []*segment
	tail *os.File
	// cur is the position of the next frame to send, and sentInHead the
	// number of frames of the head segment before it.
	cur        cursor
	sentInHead int64
	diskBytes  int64
	// inflight describes the batch the sender is writing, so that dropping
	// its segment meanwhile counts each message exactly once.
	inflight *batch
	// space is closed, and replaced, whenever the sender frees disk space.
	space  chan struct{}
	notify chan struct{}
	buf    []byte
	// readBuf holds the frames of the batch in flight, which its messages
	// point into.
	readBuf []byte
	// topics interns the topic names of decoded frames.
	topics map[string]string
	// bufFrames is the number of frames in buf.
	bufFrames int64
	closed    bool
	stats     Stats

	// lastDropLog is the time of the last log line about drops,
	// unloggedDrops the drops counted after it, and drainDrops the drops
	// counted since the spool was last empty.
	lastDropLog   time.Time
	unloggedDrops int64
	drainDrops    int64
	// dropLogInterval is the minimum time between two log lines about
	// drops, defaultDropLogInterval outside tests.
	dropLogInterval time.Duration
}

// batch is a run of frames of one segment read for one write to Kafka.
type batch struct {
	seq        int64
	start, end int64
	msgs       []kafka.Message
	// tooLarge counts the messages of the batch dropped because the
	// broker rejected them as too large.
	tooLarge int
	// dropped is set when DropOldest deleted the batch's segment while the
	// batch was being sent.
	dropped bool
}

// Open opens or creates the spool in cfg.Dir and restores the messages a
// previous process left unsent. Call Run to send them and Close when done.
// A nil logger discards logs.
func Open(cfg Config, out Emitter, logger *slog.Logger) (*Spool, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spool directory %q: %w", cfg.Dir, err)
	}
	s := &Spool{
		cfg:    cfg,
		out:    out,
		logger: logger.With("component", "spool", "dir", cfg.Dir),
		space:  make(chan struct{}),
		notify: make(chan struct{}, 1),
		topics: make(map[string]string),

		dropLogInterval: defaultDropLogInterval,
	}
	if err := s.restore(); err != nil {
		return nil, err
	}
	if err := s.startSegment(); err != nil {
		return nil, err
	}
	s.logger.Info("Spool opened", "pending_messages", s.stats.Recovered, "pending_bytes", s.diskBytes,
		"max_bytes", cfg.MaxBytes, "policy", cfg.Policy)
	return s, nil
}

// restore reads the segments and the cursor left on disk. Segments before
// the cursor were sent and are deleted, and a torn frame at the end of the
// newest segment, the trace of a crash mid-write, is cut off.
func (s *Spool) restore() error {
	seqs, err := listSegments(s.cfg.Dir)
	if err != nil {
		return err
	}
	cur, found, err := readCursor(s.cfg.Dir)
	if err != nil {
		return err
	}
	if !found && len(seqs) > 0 {
		cur = cursor{seq: seqs[0]}
	}

	for i, seq := range seqs {
		path := segmentPath(s.cfg.Dir, seq)
		if seq < cur.seq {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("remove sent spool segment: %w", err)
			}
			continue
		}
		mark := int64(0)
		if seq == cur.seq {
			mark = cur.offset
		}
		end, count, before, valid, err := scanSegment(path, mark)
		if err != nil {
			return err
		}
		if !valid {
			info, statErr := os.Stat(path)
			if statErr == nil {
				s.stats.Corrupt += info.Size() - end
			}
			s.logger.Warn("Spool segment cut at a torn or corrupt frame", "segment", path, "offset", end, "last", i == len(seqs)-1)
			if err := os.Truncate(path, end); err != nil {
				return fmt.Errorf("truncate spool segment %q to %d bytes: %w", path, end, err)
			}
		}
		if len(s.segs) == 0 {
			// The cursor names a segment already deleted, or none.
			if seq != cur.seq || mark > end {
				cur = cursor{seq: seq}
				before = 0
			}
			s.cur = cur
			s.sentInHead = before
		}
		s.segs = append(s.segs, &segment{seq: seq, size: end, count: count})
		s.diskBytes += end
		s.stats.Recovered += count
	}
	s.stats.Recovered -= s.sentInHead
	return nil
}

// startSegment closes the tail and starts a new, empty one. The caller
// holds mu or has not shared s yet.
func (s *Spool) startSegment() error {
	seq := int64(0)
	if n := len(s.segs); n > 0 {
		seq = s.segs[n-1].seq + 1
	}
	if s.tail != nil {
		if !s.cfg.NoSync {
			if err := s.tail.Sync(); err != nil {
				return fmt.Errorf("sync spool segment %q: %w", s.tail.Name(), err)
			}
		}
		if err := s.tail.Close(); err != nil {
			return fmt.Errorf("close spool segment %q: %w", s.tail.Name(), err)
		}
		s.tail = nil
	}
	path := segmentPath(s.cfg.Dir, seq)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("create spool segment: %w", err)
	}
	s.tail = f
	s.segs = append(s.segs, &segment{seq: seq})
	if len(s.segs) == 1 {
		s.cur = cursor{seq: seq}
		s.sentInHead = 0
	}
	return nil
}

// Stats returns a copy of the spool's counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.PendingBytes = s.diskBytes
	for _, seg := range s.segs {
		st.PendingMessages += seg.count
	}
	st.PendingMessages -= s.sentInHead
	return st
}

// Close closes the tail segment. Unsent messages stay on disk for the next
// Open. Call it after Run has returned.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.tail.Close()
	s.tail = nil
	if err != nil {
		return fmt.Errorf("close spool segment: %w", err)
	}
	return nil
}
