package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/harrierhq/harrier/internal/kafka"
)

// A segment file is a sequence of frames:
//
//	uint32 body length | uint32 CRC-32C of body | body
//
// and a body is uvarint(len(topic)) topic uvarint(len(key)) key value, all
// integers big-endian. A frame is written with one write call, so after a
// crash only the last frame of the newest segment can be torn.
const (
	frameHeaderBytes = 8
	segmentSuffix    = ".spool"
	cursorName       = "cursor"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTornFrame marks a frame cut short or failing its checksum.
var errTornFrame = errors.New("torn or corrupt frame")

// appendFrame appends the frame of m to dst.
func appendFrame(dst []byte, m kafka.Message) []byte {
	bodyLen := uvarintLen(uint64(len(m.Topic))) + len(m.Topic) + uvarintLen(uint64(len(m.Key))) + len(m.Key) + len(m.Value)
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderBytes)...)
	dst = binary.AppendUvarint(dst, uint64(len(m.Topic)))
	dst = append(dst, m.Topic...)
	dst = binary.AppendUvarint(dst, uint64(len(m.Key)))
	dst = append(dst, m.Key...)
	dst = append(dst, m.Value...)
	body := dst[start+frameHeaderBytes:]
	binary.BigEndian.PutUint32(dst[start:], uint32(bodyLen))
	binary.BigEndian.PutUint32(dst[start+4:], crc32.Checksum(body, castagnoli))
	return dst
}

// frameSize returns the bytes appendFrame writes for m.
func frameSize(m kafka.Message) int64 {
	return int64(frameHeaderBytes + uvarintLen(uint64(len(m.Topic))) + len(m.Topic) + uvarintLen(uint64(len(m.Key))) + len(m.Key) + len(m.Value))
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// decodeFrame decodes the first frame of b. It returns the message, the
// frame's size, and errTornFrame when b holds no whole valid frame. The
// message's slices point into b. Topic names found in topics are reused
// rather than allocated, and new ones are added when topics is not nil.
func decodeFrame(b []byte, topics map[string]string) (kafka.Message, int, error) {
	if len(b) < frameHeaderBytes {
		return kafka.Message{}, 0, errTornFrame
	}
	bodyLen := int(binary.BigEndian.Uint32(b))
	sum := binary.BigEndian.Uint32(b[4:])
	if bodyLen > len(b)-frameHeaderBytes {
		return kafka.Message{}, 0, errTornFrame
	}
	body := b[frameHeaderBytes : frameHeaderBytes+bodyLen]
	if crc32.Checksum(body, castagnoli) != sum {
		return kafka.Message{}, 0, errTornFrame
	}

	topicLen, n := binary.Uvarint(body)
	if n <= 0 || topicLen > uint64(len(body)-n) {
		return kafka.Message{}, 0, errTornFrame
	}
	rest := body[n:]
	topic := rest[:topicLen]
	rest = rest[topicLen:]
	keyLen, n := binary.Uvarint(rest)
	if n <= 0 || keyLen > uint64(len(rest)-n) {
		return kafka.Message{}, 0, errTornFrame
	}
	rest = rest[n:]
	name, ok := topics[string(topic)]
	if !ok {
		name = string(topic)
		if topics != nil {
			topics[name] = name
		}
	}
	m := kafka.Message{Topic: name, Value: rest[keyLen:]}
	if keyLen > 0 {
		m.Key = rest[:keyLen]
	}
	return m, frameHeaderBytes + bodyLen, nil
}

// segment is one spool file, named by its sequence number.
type segment struct {
	seq int64
	// size is the length of the valid frames, in bytes. The sender reads
	// only below it, so it never reads a frame still being written.
	size int64
	// count is the number of frames below size.
	count int64
}

func segmentPath(dir string, seq int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", seq, segmentSuffix))
}

// listSegments returns the sequence numbers of the segment files in dir,
// oldest first.
func listSegments(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list spool directory %q: %w", dir, err)
	}
	var seqs []int64
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, segmentSuffix) {
			continue
		}
		seq, err := strconv.ParseInt(strings.TrimSuffix(name, segmentSuffix), 10, 64)
		if err != nil || seq < 0 {
			continue
		}
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, nil
}

// scanSegment counts the valid frames of a segment file and returns the
// end of the last valid one. before is the number of frames that end at or
// before offset mark. valid is false when the file continues past end with
// a torn or corrupt frame.
func scanSegment(path string, mark int64) (end, count, before int64, valid bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, false, fmt.Errorf("read spool segment %q: %w", path, err)
	}
	for end < int64(len(data)) {
		_, n, err := decodeFrame(data[end:], nil)
		if err != nil {
			return end, count, before, false, nil
		}
		end += int64(n)
		count++
		if end <= mark {
			before++
		}
	}
	return end, count, before, true, nil
}

// cursor is the position of the next frame to send.
type cursor struct {
	seq    int64
	offset int64
}

func readCursor(dir string) (cursor, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, cursorName))
	if errors.Is(err, os.ErrNotExist) {
		return cursor{}, false, nil
	}
	if err != nil {
		return cursor{}, false, fmt.Errorf("read spool cursor: %w", err)
	}
	var c cursor
	if _, err := fmt.Sscanf(string(b), "%d %d", &c.seq, &c.offset); err != nil || c.seq < 0 || c.offset < 0 {
		return cursor{}, false, fmt.Errorf("invalid spool cursor %q in %q: delete the file to resend the whole spool", strings.TrimSpace(string(b)), filepath.Join(dir, cursorName))
	}
	return c, true, nil
}

// writeCursor replaces the cursor file atomically: a crash leaves either the
// old or the new position.
func writeCursor(dir string, c cursor, sync bool) error {
	tmp := filepath.Join(dir, cursorName+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write spool cursor: %w", err)
	}
	if _, err := fmt.Fprintf(f, "%d %d\n", c.seq, c.offset); err != nil {
		f.Close()
		return fmt.Errorf("write spool cursor: %w", err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("sync spool cursor: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close spool cursor: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, cursorName)); err != nil {
		return fmt.Errorf("replace spool cursor: %w", err)
	}
	return nil
}
