package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	kg "github.com/segmentio/kafka-go"
)

// Run sends the spooled messages to the Emitter in the order they were
// written, one batch at a time, and advances the cursor after each
// acknowledged batch. A failed write is retried with exponential backoff,
// so the messages stay on disk while Kafka is unreachable. Delivery is at
// least once: a batch acknowledged just before a crash is sent again, and
// storage removes the repeat by record id. A message that the broker
// rejects as too large even when sent alone is dropped and counted in
// Stats.DroppedTooLarge, so it cannot hold up the messages after it. Run
// returns nil when ctx is done.
func (s *Spool) Run(ctx context.Context) error {
	s.logger.Info("Spool sender started")
	defer s.logger.Info("Spool sender stopped")

	reportCtx, stopReports := context.WithCancel(ctx)
	reportDone := make(chan struct{})
	go func() {
		defer close(reportDone)
		s.reportDropsUntil(reportCtx)
	}()
	defer func() {
		stopReports()
		<-reportDone
	}()

	for {
		b, err := s.nextBatch()
		if err != nil {
			return err
		}
		if b == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-s.notify:
			}
			continue
		}
		if !s.send(ctx, b) {
			return nil
		}
	}
}

// reportDropsUntil logs the drops not logged yet every dropLogInterval
// until ctx is done.
func (s *Spool) reportDropsUntil(ctx context.Context) {
	ticker := time.NewTicker(s.dropLogInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			s.reportDrops()
		}
	}
}

// send writes b until the Emitter acknowledges it, and returns false when
// ctx ended first. When the Emitter rejects the batch as too large, send
// writes its messages one at a time and drops those rejected alone.
func (s *Spool) send(ctx context.Context, b *batch) bool {
	backoff := s.cfg.RetryMin
	failures := 0
	var firstFailure time.Time
	for {
		err := s.out.Write(ctx, b.msgs...)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			s.finish(b, false)
			return false
		}
		if isTooLarge(err) {
			if !s.sendEach(ctx, b) {
				s.finish(b, false)
				return false
			}
			break
		}
		s.mu.Lock()
		s.stats.SendErrors++
		s.mu.Unlock()
		if failures == 0 {
			firstFailure = time.Now()
			s.logger.Warn("Kafka write failed, keeping messages in the spool and retrying", "segment", b.seq, "offset", b.start, "messages", len(b.msgs), "err", err)
		}
		failures++
		select {
		case <-ctx.Done():
			s.finish(b, false)
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, s.cfg.RetryMax)
	}
	if failures > 0 {
		st := s.Stats()
		s.logger.Info("Kafka write succeeded again, replaying the spool", "failed_attempts", failures,
			"outage", time.Since(firstFailure).Round(time.Millisecond), "pending_messages", st.PendingMessages)
	}
	s.finish(b, true)
	return true
}

// sendEach writes the messages of b one at a time, each until the Emitter
// acknowledges it, and drops a message that the Emitter rejects as too
// large. It returns false when ctx ended first.
func (s *Spool) sendEach(ctx context.Context, b *batch) bool {
	offset := b.start
	for i := range b.msgs {
		m := b.msgs[i : i+1]
		size := frameSize(m[0])
		backoff := s.cfg.RetryMin
		for {
			err := s.out.Write(ctx, m...)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return false
			}
			if isTooLarge(err) {
				// Such a message is rare and lost for good, so each one is
				// logged with its position in the spool.
				s.logger.Error("Message rejected by Kafka as too large, dropped", "segment", b.seq, "offset", offset,
					"topic", m[0].Topic, "bytes", len(m[0].Value), "err", err)
				b.tooLarge++
				s.mu.Lock()
				s.stats.DroppedTooLarge++
				s.noteDrops(DropReasonTooLarge, 1, "")
				s.mu.Unlock()
				break
			}
			s.mu.Lock()
			s.stats.SendErrors++
			s.mu.Unlock()
			s.logger.Warn("Kafka write of one message failed, retrying", "segment", b.seq, "offset", offset, "topic", m[0].Topic, "err", err)
			select {
			case <-ctx.Done():
				return false
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, s.cfg.RetryMax)
		}
		offset += size
	}
	return true
}

// isTooLarge reports whether err is Kafka's MESSAGE_TOO_LARGE, returned by
// kafka-go for a message above the writer's BatchBytes or, inside
// WriteErrors, for a batch the broker rejected as above its
// message.max.bytes.
func isTooLarge(err error) bool {
	if errors.Is(err, kg.MessageSizeTooLarge) {
		return true
	}
	var writeErrs kg.WriteErrors
	if errors.As(err, &writeErrs) {
		for _, e := range writeErrs {
			if e != nil && errors.Is(e, kg.MessageSizeTooLarge) {
				return true
			}
		}
	}
	return false
}

// nextBatch reads the next run of frames after the cursor and marks it in
// flight. It returns nil when everything written has been sent. Fully sent
// segments are deleted on the way, and a fully sent tail is replaced by an
// empty one, so a caught-up spool holds no data on disk.
func (s *Spool) nextBatch() (*batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return nil, errors.New("spool send: spool is closed")
		}
		head := s.segs[0]
		if s.cur.offset >= head.size {
			if len(s.segs) == 1 && head.size == 0 {
				s.reportDrained()
				return nil, nil
			}
			if len(s.segs) == 1 {
				if err := s.startSegment(); err != nil {
					return nil, err
				}
			}
			if err := s.removeSentHead(); err != nil {
				return nil, err
			}
			continue
		}

		b, err := s.readBatch(head)
		if err != nil {
			return nil, err
		}
		if b == nil {
			// The rest of the segment is corrupt. restore checks every
			// segment, so only a change of the file behind the spool's back
			// gets here.
			s.stats.Corrupt += head.size - s.cur.offset
			s.logger.Error("Spool segment skipped at a corrupt frame", "segment", head.seq, "offset", s.cur.offset)
			s.sentInHead = head.count
			s.cur.offset = head.size
			continue
		}
		s.inflight = b
		return b, nil
	}
}

// readBatch reads up to MaxBatch frames and about MaxBatchBytes from head at
// the cursor. The bytes below head.size never change, so reading them while
// Write appends is safe. It returns nil when the first frame is corrupt. The
// caller holds mu.
func (s *Spool) readBatch(head *segment) (*batch, error) {
	f, err := os.Open(segmentPath(s.cfg.Dir, head.seq))
	if err != nil {
		return nil, fmt.Errorf("open spool segment %d: %w", head.seq, err)
	}
	defer f.Close()

	avail := head.size - s.cur.offset
	want := min(avail, int64(s.cfg.MaxBatchBytes))
	var header [frameHeaderBytes]byte
	if _, err := f.ReadAt(header[:], s.cur.offset); err != nil {
		return nil, fmt.Errorf("read spool segment %d at %d: %w", head.seq, s.cur.offset, err)
	}
	first := int64(binary.BigEndian.Uint32(header[:])) + frameHeaderBytes
	if first > avail {
		return nil, nil
	}
	want = max(want, first)
	// Only one batch is in flight at a time, and the Emitter is done with
	// its messages when Write returns, so the read buffer is reused.
	if int64(cap(s.readBuf)) < want {
		s.readBuf = make([]byte, want)
	}
	data := s.readBuf[:want]
	if _, err := f.ReadAt(data, s.cur.offset); err != nil {
		return nil, fmt.Errorf("read spool segment %d at %d: %w", head.seq, s.cur.offset, err)
	}

	b := &batch{seq: head.seq, start: s.cur.offset, end: s.cur.offset}
	for rest := data; len(rest) > 0 && len(b.msgs) < s.cfg.MaxBatch; {
		m, n, err := decodeFrame(rest, s.topics)
		if err != nil {
			break
		}
		b.msgs = append(b.msgs, m)
		b.end += int64(n)
		rest = rest[n:]
	}
	if len(b.msgs) == 0 {
		return nil, nil
	}
	return b, nil
}

// removeSentHead deletes the head segment, whose frames are all sent, and
// wakes writers waiting for space. The caller holds mu.
func (s *Spool) removeSentHead() error {
	head := s.segs[0]
	if err := os.Remove(segmentPath(s.cfg.Dir, head.seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove sent spool segment %d: %w", head.seq, err)
	}
	s.segs = s.segs[1:]
	s.diskBytes -= head.size
	s.cur = cursor{seq: s.segs[0].seq}
	s.sentInHead = 0
	if err := writeCursor(s.cfg.Dir, s.cur, !s.cfg.NoSync); err != nil {
		return err
	}
	close(s.space)
	s.space = make(chan struct{})
	return nil
}

// finish ends the write of b. An acknowledged batch moves the cursor past
// it unless DropOldest deleted its segment meanwhile. An abandoned batch of
// a deleted segment is counted as dropped. The caller does not hold mu.
func (s *Spool) finish(b *batch, acked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight = nil
	if !acked {
		if b.dropped {
			s.stats.DroppedOldest += int64(len(b.msgs))
			s.noteDrops(DropReasonOldest, int64(len(b.msgs)), "Spool full, oldest messages dropped", "segment", b.seq, "messages", len(b.msgs))
		}
		return
	}
	s.stats.Sent += int64(len(b.msgs) - b.tooLarge)
	if b.dropped || s.cur.seq != b.seq || s.cur.offset != b.start {
		return
	}
	s.cur.offset = b.end
	s.sentInHead += int64(len(b.msgs))
	if err := writeCursor(s.cfg.Dir, s.cur, !s.cfg.NoSync); err != nil {
		// The next start resends from the previous cursor, and storage
		// removes the repeats by record id.
		s.logger.Warn("Spool cursor not saved", "segment", s.cur.seq, "offset", s.cur.offset, "err", err)
	}
}
