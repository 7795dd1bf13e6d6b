// Package tail follows append-only log files line by line and keeps a
// checkpoint per file, so that a collector restarted with the same state
// directory resumes where it stopped.
package tail

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/harrierhq/harrier/internal/record"

	"github.com/harrierhq/harrier/collectors/internal/atomicfile"
)

// Checkpoint is the committed read position of one log file.
type Checkpoint struct {
	// Path is the file the collector follows, such as
	// "/var/lib/docker/containers/<id>/<id>-json.log".
	Path string `json:"path"`
	// Device and Inode identify the file that Offset and Read refer to. After
	// a rotation by rename they identify the rotated file until it is drained.
	Device uint64 `json:"device"`
	Inode  uint64 `json:"inode"`
	// Offset is the byte offset where the next read starts: the first line
	// of the oldest entry that is not complete yet, or the end of the last
	// line read when no entry is pending.
	Offset int64 `json:"offset"`
	// Read is the byte offset after the last line read. Entries that end at
	// or before it were already sent and are skipped when the file is read
	// again from Offset.
	Read int64 `json:"read"`
	// Head is the first bytes of the file, up to HeadBytes. It finds the
	// copy that a rotation by copytruncate made, so that the lines after
	// Offset are read from the copy.
	Head []byte `json:"head,omitempty"`
}

// Store keeps checkpoints in memory and, when it has a directory, in one
// JSON file per followed file. Each write goes to a temporary file that is
// synced and then renamed over the old one, so a crash leaves either the
// old or the new checkpoint and never a torn one.
type Store struct {
	dir string

	mu  sync.Mutex
	mem map[string]Checkpoint
}

// NewStore returns a store that persists checkpoints under dir. With an
// empty dir the checkpoints live only in memory and a new process reads
// every file from the start.
func NewStore(dir string) (*Store, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create state dir %q: %w", dir, err)
		}
	}
	return &Store{dir: dir, mem: make(map[string]Checkpoint)}, nil
}

// Get returns the checkpoint of path and whether one exists.
func (s *Store) Get(path string) (Checkpoint, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if cp, ok := s.mem[path]; ok {
		return cp, true, nil
	}
	if s.dir == "" {
		return Checkpoint{}, false, nil
	}

	b, err := os.ReadFile(s.file(path))
	if errors.Is(err, fs.ErrNotExist) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("read checkpoint of %q: %w", path, err)
	}

	var cp Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return Checkpoint{}, false, fmt.Errorf("invalid checkpoint file %q: %w", s.file(path), err)
	}
	if cp.Path != path || cp.Offset < 0 || cp.Read < cp.Offset {
		return Checkpoint{}, false, fmt.Errorf("invalid checkpoint file %q: path=%q offset=%d read=%d", s.file(path), cp.Path, cp.Offset, cp.Read)
	}
	s.mem[path] = cp
	return cp, true, nil
}

// Put stores cp in memory and, when the store has a directory, on disk.
// A checkpoint equal to the stored one is not written again, which spares
// a synced file write each time a follower finds nothing new.
func (s *Store) Put(cp Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	if old, ok := s.mem[cp.Path]; ok && old.equal(cp) {
		return nil
	}
	if s.dir == "" {
		s.mem[cp.Path] = cp
		return nil
	}

	b, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encode checkpoint of %q: %w", cp.Path, err)
	}
	// The memory copy changes only once the file has, so that a Put that
	// failed is written again by the next Put of the same checkpoint.
	if err := atomicfile.Write(s.file(cp.Path), "checkpoint", b); err != nil {
		return err
	}
	s.mem[cp.Path] = cp
	return nil
}

func (c Checkpoint) equal(o Checkpoint) bool {
	return c.Path == o.Path && c.Device == o.Device && c.Inode == o.Inode && c.Offset == o.Offset && c.Read == o.Read && bytes.Equal(c.Head, o.Head)
}

// Forget drops the in-memory copy of path's checkpoint, so that the next
// Get reads it from disk again. Tests use it to simulate a restart.
func (s *Store) Forget(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mem, path)
}

func (s *Store) file(path string) string {
	return filepath.Join(s.dir, record.NewID(path)+".json")
}
