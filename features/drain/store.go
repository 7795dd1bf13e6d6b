package drain

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Template is one mined template as a Store keeps it.
type Template struct {
	// Key is the key the template was mined under, such as an image id.
	Key string `json:"key"`
	// ID identifies the template within and across restarts. It never
	// changes, even as Template gains wildcards.
	ID uint64 `json:"id"`
	// First is the masked text of the message that opened the template. It
	// decides where the template sits in the parse tree.
	First string `json:"first"`
	// Template is the current text, with Wildcard for variable tokens.
	Template string `json:"template"`
	// Count is the number of messages matched so far.
	Count int64 `json:"count"`
}

// Store keeps templates across restarts. Save receives only templates that
// changed, and a later version of a template replaces the earlier one.
type Store interface {
	// Load returns the latest version of every stored template.
	Load(ctx context.Context) ([]Template, error)
	// Save stores new versions of templates.
	Save(ctx context.Context, templates []Template) error
}

// FileStore keeps templates in a file of JSON lines, one template version
// a line, appended by Save. Load keeps the last version of each template
// and rewrites the file without the older versions.
type FileStore struct {
	path string
	mu   sync.Mutex
}

// NewFileStore returns a FileStore on path. The file is created by the
// first Save.
func NewFileStore(path string) *FileStore {
	return &FileStore{path: path}
}

// Load reads the file, returns the last version of each template and
// compacts the file. A missing file holds no templates.
func (s *FileStore) Load(ctx context.Context) ([]Template, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open template file %s: %w", s.path, err)
	}
	defer f.Close()

	type ref struct {
		key string
		id  uint64
	}
	index := make(map[ref]int)
	var out []Template
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	lines := 0
	for sc.Scan() {
		lines++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var t Template
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			return nil, fmt.Errorf("invalid template file %s line %d: %w; fix or remove the line", s.path, lines, err)
		}
		r := ref{t.Key, t.ID}
		if i, ok := index[r]; ok {
			out[i] = t
			continue
		}
		index[r] = len(out)
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read template file %s line %d: %w", s.path, lines+1, err)
	}
	if lines > len(out) {
		if err := s.rewrite(out); err != nil {
			return nil, err
		}
	}
	return out, ctx.Err()
}

// rewrite replaces the file with templates, through a temporary file and a
// rename so that a crash leaves the old or the new file.
func (s *FileStore) rewrite(templates []Template) error {
	tmp, err := os.CreateTemp(filepath.Dir(s.path), filepath.Base(s.path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("compact template file %s: %w", s.path, err)
	}
	defer os.Remove(tmp.Name())
	if err := writeTemplates(tmp, templates); err != nil {
		tmp.Close()
		return fmt.Errorf("compact template file %s: %w", s.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("compact template file %s: %w", s.path, err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("compact template file %s: %w", s.path, err)
	}
	return nil
}

// Save appends templates to the file and syncs it.
func (s *FileStore) Save(ctx context.Context, templates []Template) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	f, err := os.OpenFile(s.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open template file %s: %w", s.path, err)
	}
	if err := writeTemplates(f, templates); err != nil {
		f.Close()
		return fmt.Errorf("append to template file %s: %w", s.path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close template file %s: %w", s.path, err)
	}
	return nil
}

func writeTemplates(f *os.File, templates []Template) error {
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, t := range templates {
		if err := enc.Encode(t); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Sync()
}
