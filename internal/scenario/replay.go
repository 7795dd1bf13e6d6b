package scenario

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// Stager replays a generated folder in event time. It builds a second
// folder with the layout that collect reads (docker/containers, cgroup,
// scans). Each Advance adds what happened up to its time: log lines are
// appended to their files, metadata files take their latest version, and
// cgroup snapshots appear. A collector pass after each Advance therefore
// reads the fleet as it would read a live host at that time.
type Stager struct {
	src, dst string
	states   []timedDir
	snaps    []timedDir
	logs     []*logStager
	// move renames the cgroup snapshots into dst instead of linking them.
	move bool
	// copyFiles is set once a hard link failed, for example across file
	// systems. Cgroup files are then copied.
	copyFiles bool
}

// timedDir is a folder named by its time in Unix seconds.
type timedDir struct {
	at  time.Time
	dir string
}

// NewStager prepares the replay of the generated folder src into dst,
// which must be empty or absent. The scan reports are there from the
// start, and everything else appears with Advance. With move, Advance
// moves the cgroup snapshots out of src, which saves creating and later
// removing a second set of files but leaves src incomplete. Without it,
// Advance hard-links them, or copies them when src and dst are on
// different file systems.
func NewStager(src, dst string, move bool) (*Stager, error) {
	if entries, err := os.ReadDir(dst); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("replay folder %s is not empty", dst)
	}
	s := &Stager{src: src, dst: dst, move: move}
	var err error
	if s.states, err = listTimedDirs(filepath.Join(src, "states")); err != nil {
		return nil, err
	}
	if s.snaps, err = listTimedDirs(filepath.Join(src, "cgroup")); err != nil {
		return nil, err
	}
	for _, sub := range []string{filepath.Join("docker", "containers"), "cgroup"} {
		if err := os.MkdirAll(filepath.Join(dst, sub), 0o755); err != nil {
			return nil, fmt.Errorf("create replay folder: %w", err)
		}
	}
	if err := copyTree(filepath.Join(src, "scans"), filepath.Join(dst, "scans"), false); err != nil {
		return nil, err
	}

	logs, err := filepath.Glob(filepath.Join(src, "docker", "containers", "*", "*-json.log"))
	if err != nil {
		return nil, fmt.Errorf("list scenario logs: %w", err)
	}
	sort.Strings(logs)
	for _, path := range logs {
		rel, _ := filepath.Rel(src, path)
		ls, err := newLogStager(path, filepath.Join(dst, rel))
		if err != nil {
			s.Close()
			return nil, err
		}
		s.logs = append(s.logs, ls)
	}
	return s, nil
}

// Docker, Cgroup and Scans return the folders to give collect as
// AgentConfig.DockerRoot, CgroupReplayDir and ScanDir.
func (s *Stager) Docker() string { return filepath.Join(s.dst, "docker", "containers") }
func (s *Stager) Cgroup() string { return filepath.Join(s.dst, "cgroup") }
func (s *Stager) Scans() string  { return filepath.Join(s.dst, "scans") }

// Advance adds to the replay folder every metadata version, cgroup
// snapshot and log line of a time at or before t.
func (s *Stager) Advance(t time.Time) error {
	for len(s.states) > 0 && !s.states[0].at.After(t) {
		if err := copyTree(s.states[0].dir, s.dst, false); err != nil {
			return err
		}
		s.states = s.states[1:]
	}
	for _, ls := range s.logs {
		if err := ls.advance(t); err != nil {
			return err
		}
	}
	for len(s.snaps) > 0 && !s.snaps[0].at.After(t) {
		snap := s.snaps[0]
		dst := filepath.Join(s.Cgroup(), filepath.Base(snap.dir))
		if s.move {
			if err := os.Rename(snap.dir, dst); err != nil {
				return fmt.Errorf("move cgroup snapshot: %w", err)
			}
			s.snaps = s.snaps[1:]
			continue
		}
		err := copyTree(snap.dir, dst, !s.copyFiles)
		if errors.Is(err, errLinkFailed) {
			s.copyFiles = true
			err = copyTree(snap.dir, dst, false)
		}
		if err != nil {
			return err
		}
		s.snaps = s.snaps[1:]
	}
	return nil
}

// Close closes the log files.
func (s *Stager) Close() error {
	var errs []error
	for _, ls := range s.logs {
		errs = append(errs, ls.close())
	}
	return errors.Join(errs...)
}

func listTimedDirs(dir string) ([]timedDir, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read scenario folder: %w", err)
	}
	var out []timedDir
	for _, e := range entries {
		sec, err := strconv.ParseInt(e.Name(), 10, 64)
		if !e.IsDir() || err != nil {
			continue
		}
		out = append(out, timedDir{at: time.Unix(sec, 0).UTC(), dir: filepath.Join(dir, e.Name())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out, nil
}

var errLinkFailed = errors.New("hard link failed")

// copyTree copies the files under src to the same relative paths under
// dst, replacing files that exist. With link it hard-links them instead
// and returns errLinkFailed when the file system does not allow it.
func copyTree(src, dst string, link bool) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("read scenario folder: %w", err)
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if link {
			if err := os.Link(path, target); err != nil {
				return fmt.Errorf("%w: %v", errLinkFailed, err)
			}
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read scenario file: %w", err)
		}
		// Write a new file and rename it over the old one, so that a
		// reader never sees a half-written config.
		tmp := target + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return fmt.Errorf("write replay file: %w", err)
		}
		return os.Rename(tmp, target)
	})
}

// logStager appends the lines of one json-file log to its replay copy in
// time order.
type logStager struct {
	src     *os.File
	r       *bufio.Reader
	dst     *os.File
	pending []byte
	pendAt  time.Time
	done    bool
}

func newLogStager(src, dst string) (*logStager, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, fmt.Errorf("open scenario log: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		in.Close()
		return nil, fmt.Errorf("create replay folder: %w", err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("create replay log: %w", err)
	}
	return &logStager{src: in, r: bufio.NewReaderSize(in, 1<<16), dst: out}, nil
}

var timeKey = []byte(`"time":"`)

// lineTime returns the time field of a json-file line.
func lineTime(line []byte) (time.Time, error) {
	i := bytes.LastIndex(line, timeKey)
	if i < 0 {
		return time.Time{}, fmt.Errorf("invalid json-file line %.80q: missing time field", line)
	}
	rest := line[i+len(timeKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return time.Time{}, fmt.Errorf("invalid json-file line %.80q: unterminated time field", line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid json-file line time %q: %w", rest[:j], err)
	}
	return t, nil
}

func (ls *logStager) advance(t time.Time) error {
	var out []byte
	for !ls.done {
		if ls.pending == nil {
			line, err := ls.r.ReadBytes('\n')
			if errors.Is(err, io.EOF) && len(line) == 0 {
				ls.done = true
				break
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read scenario log %s: %w", ls.src.Name(), err)
			}
			at, err := lineTime(line)
			if err != nil {
				return fmt.Errorf("%s: %w", ls.src.Name(), err)
			}
			ls.pending, ls.pendAt = line, at
		}
		if ls.pendAt.After(t) {
			break
		}
		out = append(out, ls.pending...)
		ls.pending = nil
	}
	if len(out) == 0 {
		return nil
	}
	if _, err := ls.dst.Write(out); err != nil {
		return fmt.Errorf("write replay log: %w", err)
	}
	return nil
}

func (ls *logStager) close() error {
	return errors.Join(ls.src.Close(), ls.dst.Close())
}
