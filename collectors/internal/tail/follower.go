package tail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"github.com/harrierhq/harrier/collectors/internal/emit"
)

// MaxLineBytes caps one line of a log file. A longer line is skipped and
// counted as invalid. Docker and CRI runtimes split output into lines of at
// most 16 KiB of message, so a valid line stays far below this cap.
const MaxLineBytes = 4 << 20

// Entry is one decoded record together with the byte range of the lines it
// was read from.
type Entry struct {
	Record emit.Record
	// Start is the offset of the entry's first line, End the offset after
	// its last line.
	Start, End int64
}

// Decoder turns the lines of one log format into entries. It keeps the
// state of entries that span several lines.
type Decoder interface {
	// Decode handles one complete line, without its trailing newline, read
	// between offsets start and end of the file followed at path. path stays
	// the same while the line is read from a rotated file, so that a line
	// read again after a restart gets the same record id. Decode returns the
	// entries the line completes, or an error naming the invalid field.
	Decode(path string, line []byte, start, end int64) ([]Entry, error)
	// PendingStart returns the offset of the first line of the oldest entry
	// that is not complete yet, or -1 when none is pending.
	PendingStart() int64
	// Flush returns the pending entries as they are and clears them. The
	// follower calls it when it leaves a file that was rotated away.
	Flush() []Entry
}

// Expirer is a Decoder whose pending entries can time out, such as a
// multi-line grouper. The follower calls Expire each time it reaches the
// end of the data written so far.
type Expirer interface {
	// Expire returns the pending entries that waited too long for their
	// next line, or all of them when all is true, and clears them.
	Expire(all bool) []Entry
}

// Follower reads one log file from its checkpoint on, follows it across a
// rotation by rename and a truncation, and reports the position to commit
// after the entries it returned are delivered.
type Follower struct {
	path    string
	store   *Store
	dec     Decoder
	rotated func(path string) []string

	file       *os.File
	current    string
	dev, ino   uint64
	reader     *bufio.Reader
	pos        int64
	unread     int64
	partial    []byte
	discarding bool
	skipUntil  int64

	head      []byte
	expireAll bool

	badLines  int64
	lastError error
	// rejected keeps up to maxRejected of the invalid lines since the last
	// TakeRejected, so that the caller can send them on.
	rejected []Rejected
}

// Rejected is a line the decoder rejected.
type Rejected struct {
	// Offset is the line's byte offset in the file it was read from.
	Offset int64
	// Line is a copy of the line, at most MaxRejectedBytes of it.
	Line []byte
	Err  error
}

// maxRejected bounds the rejected lines a follower keeps between two
// TakeRejected calls. Lines beyond it are only counted in TakeBadLines.
const maxRejected = 100

// MaxRejectedBytes caps Rejected.Line.
const MaxRejectedBytes = 64 << 10

// HeadBytes is the length of the file head that identifies a log file
// across a rotation by copytruncate. A json-file or CRI log starts with a
// nanosecond timestamp, so 64 bytes tell two files apart.
const HeadBytes = 64

// NewFollower returns a follower of path. The function rotated, which may
// be nil, lists the paths that a rotation renames path to, such as
// "<path>.1". When path has a new inode, the follower looks there for the
// file that its checkpoint names.
func NewFollower(path string, store *Store, dec Decoder, rotated func(path string) []string) *Follower {
	return &Follower{path: path, store: store, dec: dec, rotated: rotated}
}

// ExpireAll makes every Read that reaches the end of the file return the
// pending entries of an Expirer decoder, so that a single pass over the
// files sends everything in them.
func (f *Follower) ExpireAll() { f.expireAll = true }

// Path returns the path the follower was created for.
func (f *Follower) Path() string { return f.path }

// Read returns up to max entries that were not delivered before, and a
// function that commits the position after them. Call commit only after
// the entries are delivered. Read returns no entries and a no-op commit
// when the file does not exist.
func (f *Follower) Read(max int) (entries []Entry, commit func() error, err error) {
	noop := func() error { return nil }
	if f.file == nil {
		found, err := f.open()
		if err != nil {
			return nil, noop, err
		}
		if !found {
			return nil, noop, nil
		}
	} else {
		switched, err := f.checkTruncationBeforeRead()
		if err != nil {
			return nil, noop, err
		}
		if switched {
			entries = append(entries, f.keep(f.dec.Flush())...)
		}
	}

	for len(entries) < max {
		line, start, end, ok, err := f.readLine()
		if err != nil {
			return entries, noop, fmt.Errorf("read %q at offset %d: %w", f.current, f.pos, err)
		}
		if !ok {
			switched, err := f.checkRotation()
			if err != nil {
				return entries, noop, err
			}
			if switched {
				entries = append(entries, f.keep(f.dec.Flush())...)
				continue
			}
			if exp, ok := f.dec.(Expirer); ok {
				entries = append(entries, f.keep(exp.Expire(f.expireAll))...)
			}
			break
		}

		decoded, err := f.dec.Decode(f.path, line, start, end)
		if err != nil {
			f.badLines++
			f.lastError = err
			if len(f.rejected) < maxRejected {
				f.rejected = append(f.rejected, Rejected{Offset: start, Line: bytes.Clone(line[:min(len(line), MaxRejectedBytes)]), Err: err})
			}
			continue
		}
		entries = append(entries, f.keep(decoded)...)
	}

	cp := f.checkpoint()
	return entries, func() error { return f.store.Put(cp) }, nil
}

// TakeRejected returns the invalid lines kept since the last call, at most
// 100 of them, and clears them. TakeBadLines counts every invalid line.
func (f *Follower) TakeRejected() []Rejected {
	r := f.rejected
	f.rejected = nil
	return r
}

// TakeBadLines returns the number of invalid lines seen since the last call
// and the last error among them, and resets the count.
func (f *Follower) TakeBadLines() (int64, error) {
	n, err := f.badLines, f.lastError
	f.badLines, f.lastError = 0, nil
	return n, err
}

// Close closes the open file. A later Read opens it again from the last
// committed checkpoint.
func (f *Follower) Close() error {
	if f.file == nil {
		return nil
	}
	err := f.file.Close()
	f.releaseReader()
	f.file, f.partial, f.unread, f.discarding = nil, nil, 0, false
	f.dec.Flush()
	return err
}

func (f *Follower) keep(entries []Entry) []Entry {
	unsent := entries[:0]
	for _, e := range entries {
		if e.End > f.skipUntil {
			unsent = append(unsent, e)
		}
	}
	return unsent
}

func (f *Follower) checkpoint() Checkpoint {
	offset := f.pos
	if p := f.dec.PendingStart(); p >= 0 && p < offset {
		offset = p
	}
	read := max(f.pos, f.skipUntil)
	return Checkpoint{Path: f.path, Device: f.dev, Inode: f.ino, Offset: offset, Read: read, Head: f.head}
}

// open opens the file the checkpoint names, or path from the start.
func (f *Follower) open() (bool, error) {
	st, err := os.Stat(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %q: %w", f.path, err)
	}

	cp, ok, err := f.store.Get(f.path)
	if err != nil {
		// An unreadable checkpoint must not stop the file forever: read it
		// again from the start and let storage drop the repeats by id.
		f.lastError = err
		ok = false
	}
	if !ok {
		return true, f.openAt(f.path, 0, 0)
	}

	// The file of the checkpoint is at path, or at a rotated path after a
	// rotation by rename. When it was truncated since, and grew again, its
	// head differs, and the lines after the checkpoint are in the copy that
	// copytruncate made, if any.
	if name, size := f.findInode(st, cp.Device, cp.Inode); name != "" && size >= cp.Offset && headMatches(name, cp.Head) {
		return true, f.openAt(name, cp.Offset, cp.Read)
	}
	if name := f.findCopy(cp.Head, cp.Offset, cp.Device, cp.Inode); name != "" {
		return true, f.openAt(name, cp.Offset, cp.Read)
	}
	// NOTE: the file of the checkpoint is gone, so lines written to it after
	// the checkpoint and before its removal are lost.
	return true, f.openAt(f.path, 0, 0)
}

// findInode returns the name and size of the file with dev and ino among
// path, whose stat is st, and its rotated paths, or "" when none has them.
func (f *Follower) findInode(st os.FileInfo, dev, ino uint64) (string, int64) {
	if d, i := fileID(st); d == dev && i == ino {
		return f.path, st.Size()
	}
	if f.rotated == nil {
		return "", 0
	}
	for _, name := range f.rotated(f.path) {
		rst, err := os.Stat(name)
		if err != nil {
			continue
		}
		if d, i := fileID(rst); d == dev && i == ino {
			return name, rst.Size()
		}
	}
	return "", 0
}

// nextNewer returns the file that a rotation created after the open file:
// the rotated file one step newer, or path when the open file is the
// newest rotated one or is gone.
func (f *Follower) nextNewer() string {
	if f.rotated == nil {
		return f.path
	}
	rotated := f.rotated(f.path)
	for i, name := range rotated {
		st, err := os.Stat(name)
		if err != nil {
			continue
		}
		if d, ino := fileID(st); d == f.dev && ino == f.ino {
			if i == 0 {
				return f.path
			}
			return rotated[i-1]
		}
	}
	return f.path
}

func (f *Follower) openAt(name string, offset, skipUntil int64) error {
	file, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("open %q: %w", name, err)
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return fmt.Errorf("stat %q: %w", name, err)
	}
	if _, err := file.Seek(offset, io.SeekStart); err != nil {
		file.Close()
		return fmt.Errorf("seek %q to offset %d: %w", name, offset, err)
	}

	f.file = file
	f.current = name
	f.dev, f.ino = fileID(st)
	f.releaseReader()
	f.pos = offset
	f.unread = 0
	f.partial = f.partial[:0]
	f.discarding = false
	f.skipUntil = skipUntil
	f.head = readHead(file)
	return nil
}

// readHead returns the first HeadBytes bytes of file, or fewer when the
// file is shorter.
func readHead(file *os.File) []byte {
	buf := make([]byte, HeadBytes)
	n, _ := file.ReadAt(buf, 0)
	return buf[:n]
}

// headMatches reports whether the file at name starts with head. An empty
// head matches every file.
func headMatches(name string, head []byte) bool {
	if len(head) == 0 {
		return true
	}
	file, err := os.Open(name)
	if err != nil {
		return false
	}
	defer file.Close()
	got := readHead(file)
	return len(got) >= len(head) && string(got[:len(head)]) == string(head)
}

// findCopy returns the rotated file, other than the file dev and ino name,
// that starts with head and holds at least offset bytes: the copy that
// copytruncate made before it truncated the followed file. It returns ""
// when there is none.
func (f *Follower) findCopy(head []byte, offset int64, dev, ino uint64) string {
	if len(head) == 0 || f.rotated == nil {
		return ""
	}
	for _, name := range f.rotated(f.path) {
		st, err := os.Stat(name)
		if err != nil || st.Size() < offset {
			continue
		}
		if rdev, rino := fileID(st); rdev == dev && rino == ino {
			continue
		}
		if headMatches(name, head) {
			return name
		}
	}
	return ""
}

// checkRotation switches to a new file at path when the open file was
// renamed away or truncated. It reports whether it switched.
func (f *Follower) checkRotation() (bool, error) {
	st, err := os.Stat(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %q: %w", f.path, err)
	}

	dev, ino := fileID(st)
	if dev == f.dev && ino == f.ino {
		return f.checkTruncation(st)
	}

	if len(f.partial) > 0 || f.discarding {
		f.badLines++
		f.lastError = fmt.Errorf("invalid line at offset %d of %q: rotated away without a trailing newline", f.pos, f.current)
	}
	// Files rotated after the open one are read oldest first, so that no
	// rotation is skipped when the follower lags behind or was stopped.
	next := f.nextNewer()
	f.file.Close()
	return true, f.openAt(next, 0, 0)
}

// checkTruncation switches away from the open file, whose stat at path is
// st, when it was truncated in place: to the copy that copytruncate made,
// when there is one, else to path from the start. A truncated file that
// grew past the read position again is detected by its head.
func (f *Follower) checkTruncation(st os.FileInfo) (bool, error) {
	if st.Size() >= f.pos && headMatches(f.path, f.head) {
		if len(f.head) < HeadBytes {
			// The file was shorter than HeadBytes when it was opened.
			f.head = readHead(f.file)
		}
		return false, nil
	}

	// With copytruncate the unread rest is in the copy: read it there
	// first. The next check then switches back to path, which has another
	// inode than the copy.
	f.file.Close()
	dev, ino := fileID(st)
	if name := f.findCopy(f.head, f.pos, dev, ino); name != "" {
		return true, f.openAt(name, f.pos, f.skipUntil)
	}
	f.dec.Flush()
	return true, f.openAt(f.path, 0, 0)
}

// checkTruncationBeforeRead runs checkTruncation when the open file is
// the one at path, before new bytes are read from the old position.
func (f *Follower) checkTruncationBeforeRead() (bool, error) {
	if f.current != f.path || len(f.partial) > 0 {
		return false, nil
	}
	st, err := os.Stat(f.path)
	if err != nil {
		return false, nil
	}
	if dev, ino := fileID(st); dev != f.dev || ino != f.ino {
		return false, nil
	}
	return f.checkTruncation(st)
}

// readLine returns the next complete line without its newline. ok is false
// at the end of the data written so far; an unterminated tail stays unread
// until its newline arrives. The line is valid until the next call.
func (f *Follower) readLine() (line []byte, start, end int64, ok bool, err error) {
	if f.reader == nil {
		f.reader = readerPool.Get().(*bufio.Reader)
		f.reader.Reset(f.file)
	}
	for {
		chunk, rerr := f.reader.ReadSlice('\n')
		f.unread += int64(len(chunk))
		complete := len(chunk) > 0 && chunk[len(chunk)-1] == '\n'

		switch {
		case f.discarding:
			if complete {
				f.badLines++
				f.lastError = fmt.Errorf("invalid line at offset %d of %q: longer than %d bytes", f.pos, f.current, MaxLineBytes)
				f.pos += f.unread
				f.unread = 0
				f.discarding = false
			}
		case complete && len(f.partial) == 0:
			start = f.pos
			f.pos += f.unread
			f.unread = 0
			return chunk[:len(chunk)-1], start, f.pos, true, nil
		default:
			f.partial = append(f.partial, chunk...)
			if complete && len(f.partial)-1 > MaxLineBytes {
				f.badLines++
				f.lastError = fmt.Errorf("invalid line at offset %d of %q: longer than %d bytes", f.pos, f.current, MaxLineBytes)
				f.partial = f.partial[:0]
				f.pos += f.unread
				f.unread = 0
				continue
			}
			if complete {
				line = f.partial[:len(f.partial)-1]
				f.partial = f.partial[:0]
				start = f.pos
				f.pos += f.unread
				f.unread = 0
				return line, start, f.pos, true, nil
			}
			if len(f.partial) > MaxLineBytes {
				f.partial = nil
				f.discarding = true
			}
		}

		switch {
		case rerr == nil, errors.Is(rerr, bufio.ErrBufferFull):
			continue
		case errors.Is(rerr, io.EOF):
			// Everything read so far is in f.partial, so the buffer goes
			// back to the pool until the file grows.
			f.releaseReader()
			return nil, 0, 0, false, nil
		default:
			return nil, 0, 0, false, rerr
		}
	}
}

// readerPool holds the read buffers of followers. A follower holds one
// only while it reads, so a collector that follows hundreds of idle files
// keeps about one buffer per file being read instead of one per file.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

func (f *Follower) releaseReader() {
	if f.reader == nil {
		return
	}
	f.reader.Reset(nil)
	readerPool.Put(f.reader)
	f.reader = nil
}

func fileID(st os.FileInfo) (dev, ino uint64) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(sys.Dev), uint64(sys.Ino)
	}
	return 0, 0
}
