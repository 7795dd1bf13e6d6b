package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/harrierhq/harrier/internal/kafka"
)

// defaultDropLogInterval is the minimum time between two log lines about
// drops.
const defaultDropLogInterval = 10 * time.Second

// Write appends msgs to the spool, in order, and returns once they are on
// disk (synced unless Config.NoSync). When the spool is full, the policy
// decides: Block waits for space until ctx is done and then returns an
// error, and the messages before the one that did not fit stay spooled;
// DropOldest and DropNewest drop and count messages and return nil.
func (s *Spool) Write(ctx context.Context, msgs ...kafka.Message) error {
	for i, m := range msgs {
		if m.Topic == "" {
			return fmt.Errorf("spool message %d: missing topic", i)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("spool write: spool is closed")
	}

	s.buf = s.buf[:0]
	s.bufFrames = 0
	for _, m := range msgs {
		size := frameSize(m)
		if size > s.cfg.MaxBytes {
			s.stats.DroppedNewest++
			s.noteDrops(DropReasonTooLarge, 1, "Message larger than the whole spool dropped", "topic", m.Topic, "bytes", size)
			continue
		}
		fits, err := s.makeRoom(ctx, size)
		if err != nil {
			return err
		}
		if !fits {
			s.stats.DroppedNewest++
			s.noteDrops(DropReasonNewest, 1, "Spool full, newest messages dropped")
			continue
		}
		tailSeg := s.segs[len(s.segs)-1]
		if tailSeg.size+int64(len(s.buf)) > 0 && tailSeg.size+int64(len(s.buf))+size > s.cfg.SegmentBytes {
			if err := s.flushBuf(); err != nil {
				return err
			}
			if err := s.startSegment(); err != nil {
				return err
			}
		}
		s.buf = appendFrame(s.buf, m)
		s.bufFrames++
		s.stats.Spooled++
	}
	if err := s.flushBuf(); err != nil {
		return err
	}
	if !s.cfg.NoSync {
		if err := s.tail.Sync(); err != nil {
			return fmt.Errorf("sync spool segment %q: %w", s.tail.Name(), err)
		}
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

// makeRoom ensures that size more bytes fit under MaxBytes, applying the
// policy. It returns false when the message must be dropped. The caller
// holds mu, and Block releases it while it waits.
func (s *Spool) makeRoom(ctx context.Context, size int64) (bool, error) {
	waited := false
	for s.diskBytes+int64(len(s.buf))+size > s.cfg.MaxBytes {
		if err := s.flushBuf(); err != nil {
			return false, err
		}
		switch s.cfg.Policy {
		case DropNewest:
			return false, nil

		case DropOldest:
			if len(s.segs) == 1 {
				if err := s.startSegment(); err != nil {
					return false, err
				}
			}
			if err := s.dropHead(); err != nil {
				return false, err
			}

		case Block:
			if !waited {
				s.stats.BlockedWrites++
				s.logger.Warn("Spool full, writer blocked until Kafka accepts more", "pending_bytes", s.diskBytes, "max_bytes", s.cfg.MaxBytes)
				waited = true
			}
			space := s.space
			select {
			case s.notify <- struct{}{}:
			default:
			}
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				s.mu.Lock()
				return false, fmt.Errorf("spool write: spool full at %d of %d bytes while Kafka is unreachable or slow: %w", s.diskBytes, s.cfg.MaxBytes, ctx.Err())
			case <-space:
			}
			s.mu.Lock()
			if s.closed {
				return false, errors.New("spool write: spool is closed")
			}
		}
	}
	return true, nil
}

// dropHead deletes the oldest segment, which is not the tail, and counts
// its unsent messages. A batch of it being sent is counted when its write
// ends, as sent or dropped. The caller holds mu.
func (s *Spool) dropHead() error {
	head := s.segs[0]
	unsent := head.count - s.sentInHead
	if s.inflight != nil && s.inflight.seq == head.seq {
		s.inflight.dropped = true
		unsent -= int64(len(s.inflight.msgs))
	}
	if err := os.Remove(segmentPath(s.cfg.Dir, head.seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove spool segment %d to make room: %w", head.seq, err)
	}
	s.segs = s.segs[1:]
	s.diskBytes -= head.size
	s.cur = cursor{seq: s.segs[0].seq}
	s.sentInHead = 0
	s.stats.DroppedOldest += unsent
	s.noteDrops(DropReasonOldest, unsent, "Spool full, oldest messages dropped", "segment", head.seq, "messages", unsent)
	return nil
}

// flushBuf writes the frames in buf at the end of the tail segment. On a
// failed write it cuts the segment back, so no torn frame stays in the
// middle of it. The caller holds mu.
func (s *Spool) flushBuf() error {
	if len(s.buf) == 0 {
		return nil
	}
	tailSeg := s.segs[len(s.segs)-1]
	if _, err := s.tail.WriteAt(s.buf, tailSeg.size); err != nil {
		err = fmt.Errorf("append %d bytes to spool segment %q: %w", len(s.buf), s.tail.Name(), err)
		s.stats.Spooled -= s.bufFrames
		s.buf = s.buf[:0]
		s.bufFrames = 0
		return errors.Join(err, s.tail.Truncate(tailSeg.size))
	}
	tailSeg.size += int64(len(s.buf))
	tailSeg.count += s.bufFrames
	s.diskBytes += int64(len(s.buf))
	s.buf = s.buf[:0]
	s.bufFrames = 0
	return nil
}

// noteDrops passes n messages dropped for reason to Config.OnDrop and logs
// them at most once per dropLogInterval, with the totals. Drops within the
// interval are logged later by reportDrops or reportDrained. An empty msg
// means that the caller logged the drop itself. The caller holds mu and has
// counted the drops in stats.
func (s *Spool) noteDrops(reason string, n int64, msg string, attrs ...any) {
	if n <= 0 {
		return
	}
	if s.cfg.OnDrop != nil {
		s.cfg.OnDrop(reason, int(n))
	}
	s.drainDrops += n
	if msg == "" {
		return
	}
	s.unloggedDrops += n
	now := time.Now()
	if now.Sub(s.lastDropLog) < s.dropLogInterval {
		return
	}
	s.lastDropLog = now
	s.unloggedDrops = 0
	s.logger.Warn(msg, append(attrs, s.dropTotals()...)...)
}

// reportDrops logs the drops counted after the last log line about drops,
// once dropLogInterval has passed since it, so that the log of a burst of
// drops ends with its totals.
func (s *Spool) reportDrops() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unloggedDrops == 0 || time.Since(s.lastDropLog) < s.dropLogInterval {
		return
	}
	s.lastDropLog = time.Now()
	s.logger.Warn("Spool messages dropped since the last report", append([]any{"dropped", s.unloggedDrops}, s.dropTotals()...)...)
	s.unloggedDrops = 0
}

// reportDrained logs the drops counted since the spool was last empty. The
// caller holds mu and found the spool empty.
func (s *Spool) reportDrained() {
	if s.drainDrops == 0 {
		return
	}
	s.logger.Warn("Spool drained after dropping messages", append([]any{"dropped", s.drainDrops}, s.dropTotals()...)...)
	s.drainDrops = 0
	s.unloggedDrops = 0
}

// dropTotals returns the drop counters as log attributes. The caller holds
// mu.
func (s *Spool) dropTotals() []any {
	return []any{"dropped_oldest_total", s.stats.DroppedOldest, "dropped_newest_total", s.stats.DroppedNewest,
		"dropped_too_large_total", s.stats.DroppedTooLarge, "policy", s.cfg.Policy}
}
