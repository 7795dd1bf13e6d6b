package tail

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
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
	// from the file at path between offsets start and end. It returns the
	// entries the line completes, or an error naming the invalid field.
	Decode(path string, line []byte, start, end int64) ([]Entry, error)
	// PendingStart returns the offset of the first line of the oldest entry
	// that is not complete yet, or -1 when none is pending.
	PendingStart() int64
	// Flush returns the pending entries as they are and clears them. The
	// follower calls it when it leaves a file that was rotated away.
	Flush() []Entry
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

	badLines  int64
	lastError error
}

// NewFollower returns a follower of path. The function rotated, which may
// be nil, lists the paths that a rotation renames path to, such as
// "<path>.1". When path has a new inode, the follower looks there for the
// file that its checkpoint names.
func NewFollower(path string, store *Store, dec Decoder, rotated func(path string) []string) *Follower {
	return &Follower{path: path, store: store, dec: dec, rotated: rotated}
}

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
			break
		}

		decoded, err := f.dec.Decode(f.current, line, start, end)
		if err != nil {
			f.badLines++
			f.lastError = err
			continue
		}
		entries = append(entries, f.keep(decoded)...)
	}

	cp := f.checkpoint()
	return entries, func() error { return f.store.Put(cp) }, nil
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
	f.file, f.reader, f.partial, f.unread, f.discarding = nil, nil, nil, 0, false
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
	return Checkpoint{Path: f.path, Device: f.dev, Inode: f.ino, Offset: offset, Read: read}
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

	dev, ino := fileID(st)
	if dev == cp.Device && ino == cp.Inode {
		if st.Size() < cp.Offset {
			return true, f.openAt(f.path, 0, 0)
		}
		return true, f.openAt(f.path, cp.Offset, cp.Read)
	}

	if f.rotated != nil {
		for _, name := range f.rotated(f.path) {
			rst, err := os.Stat(name)
			if err != nil {
				continue
			}
			rdev, rino := fileID(rst)
			if rdev == cp.Device && rino == cp.Inode && rst.Size() >= cp.Offset {
				return true, f.openAt(name, cp.Offset, cp.Read)
			}
		}
	}
	// NOTE: the file of the checkpoint is gone, so lines written to it after
	// the checkpoint and before its removal are lost.
	return true, f.openAt(f.path, 0, 0)
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
	f.reader = bufio.NewReaderSize(file, 64<<10)
	f.pos = offset
	f.unread = 0
	f.partial = f.partial[:0]
	f.discarding = false
	f.skipUntil = skipUntil
	return nil
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
		if st.Size() >= f.pos {
			return false, nil
		}
		// Truncated in place: read it again from the start.
		f.dec.Flush()
		f.file.Close()
		return true, f.openAt(f.path, 0, 0)
	}

	if len(f.partial) > 0 || f.discarding {
		f.badLines++
		f.lastError = fmt.Errorf("invalid line at offset %d of %q: rotated away without a trailing newline", f.pos, f.current)
	}
	f.file.Close()
	return true, f.openAt(f.path, 0, 0)
}

// readLine returns the next complete line without its newline. ok is false
// at the end of the data written so far; an unterminated tail stays unread
// until its newline arrives. The line is valid until the next call.
func (f *Follower) readLine() (line []byte, start, end int64, ok bool, err error) {
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
			return nil, 0, 0, false, nil
		default:
			return nil, 0, 0, false, rerr
		}
	}
}

func fileID(st os.FileInfo) (dev, ino uint64) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(sys.Dev), uint64(sys.Ino)
	}
	return 0, 0
}
