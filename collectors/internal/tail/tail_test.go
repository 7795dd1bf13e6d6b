package tail_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/harrierhq/harrier/collectors/internal/emit"
	"github.com/harrierhq/harrier/collectors/internal/tail"
	"github.com/harrierhq/harrier/internal/record"
)

// lineDecoder emits one entry per line; a line ending in "\" continues in
// the next line, like a partial json-file or CRI line.
type lineDecoder struct {
	pending      strings.Builder
	pendingStart int64
}

func (d *lineDecoder) Decode(path string, line []byte, start, end int64) ([]tail.Entry, error) {
	s := string(line)
	if s == "bad" {
		return nil, os.ErrInvalid
	}
	if d.pending.Len() == 0 {
		d.pendingStart = start
	}
	if strings.HasSuffix(s, `\`) {
		d.pending.WriteString(strings.TrimSuffix(s, `\`))
		return nil, nil
	}
	d.pending.WriteString(s)
	msg := d.pending.String()
	d.pending.Reset()
	rec := emit.Record{Kind: record.KindLog, ID: record.NewID(path, strconv.FormatInt(d.pendingStart, 10)), Payload: msg}
	return []tail.Entry{{Record: rec, Start: d.pendingStart, End: end}}, nil
}

func (d *lineDecoder) PendingStart() int64 {
	if d.pending.Len() == 0 {
		return -1
	}
	return d.pendingStart
}

func (d *lineDecoder) Flush() []tail.Entry {
	d.pending.Reset()
	return nil
}

func rotated(path string) []string { return []string{path + ".1"} }

// readAll reads path to its end with a new follower on store, commits, and
// returns the messages.
func readAll(t *testing.T, store *tail.Store, path string) []string {
	t.Helper()
	f := tail.NewFollower(path, store, &lineDecoder{}, rotated)
	defer f.Close()
	return drain(t, f)
}

func drain(t *testing.T, f *tail.Follower) []string {
	t.Helper()
	var out []string
	for {
		entries, commit, err := f.Read(2)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			out = append(out, e.Record.Payload.(string))
		}
		if err := commit(); err != nil {
			t.Fatal(err)
		}
		if len(entries) < 2 {
			return out
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}

// restart returns a store that reads the checkpoints of dir from disk, as
// a new process does.
func restart(t *testing.T, dir string) *tail.Store {
	t.Helper()
	s, err := tail.NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFollowerResumesAfterRestart(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "a\nb\nc\n")

	if got := strings.Join(readAll(t, restart(t, state), path), ","); got != "a,b,c" {
		t.Fatalf("first read = %q, want a,b,c", got)
	}
	write(t, path, "d\n")
	if got := strings.Join(readAll(t, restart(t, state), path), ","); got != "d" {
		t.Fatalf("read after restart = %q, want d", got)
	}
}

func TestFollowerKeepsUnterminatedTail(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "a\nhal")
	if got := strings.Join(readAll(t, restart(t, state), path), ","); got != "a" {
		t.Fatalf("first read = %q, want a", got)
	}
	write(t, path, "f\n")
	if got := strings.Join(readAll(t, restart(t, state), path), ","); got != "half" {
		t.Fatalf("read after restart = %q, want half", got)
	}
}

func TestFollowerPendingEntryAcrossRestart(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "a\nst\\\n")
	if got := strings.Join(readAll(t, restart(t, state), path), ","); got != "a" {
		t.Fatalf("first read = %q, want a", got)
	}
	write(t, path, "art\nb\n")
	if got := strings.Join(readAll(t, restart(t, state), path), ","); got != "start,b" {
		t.Fatalf("read after restart = %q, want start,b", got)
	}
}

func TestFollowerRotationWhileStopped(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "a\n")
	readAll(t, restart(t, state), path)

	// While the collector is stopped, the file gets a line, is renamed and
	// a new one is started.
	write(t, path, "b\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, path, "c\n")

	if got := strings.Join(readAll(t, restart(t, state), path), ","); got != "b,c" {
		t.Fatalf("read after rotation = %q, want b,c", got)
	}
	write(t, path, "d\n")
	if got := strings.Join(readAll(t, restart(t, state), path), ","); got != "d" {
		t.Fatalf("read after second restart = %q, want d", got)
	}
}

func TestFollowerRotationWhileOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "a\n")
	store := restart(t, "")
	f := tail.NewFollower(path, store, &lineDecoder{}, rotated)
	defer f.Close()
	drain(t, f)

	write(t, path, "b\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, path, "c\n")
	if got := strings.Join(drain(t, f), ","); got != "b,c" {
		t.Fatalf("read after rotation = %q, want b,c", got)
	}
}

func TestFollowerTruncation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "first line\nsecond line\n")
	f := tail.NewFollower(path, restart(t, ""), &lineDecoder{}, nil)
	defer f.Close()
	drain(t, f)

	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	write(t, path, "x\n")
	if got := strings.Join(drain(t, f), ","); got != "x" {
		t.Fatalf("read after truncation = %q, want x", got)
	}
}

func TestFollowerCountsBadAndLongLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "a\nbad\n"+strings.Repeat("x", tail.MaxLineBytes+10)+"\nb\n")
	f := tail.NewFollower(path, restart(t, ""), &lineDecoder{}, nil)
	defer f.Close()
	if got := strings.Join(drain(t, f), ","); got != "a,b" {
		t.Fatalf("read = %q, want a,b", got)
	}
	n, err := f.TakeBadLines()
	if n != 2 {
		t.Errorf("bad lines = %d, want 2", n)
	}
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("last error = %v, want the long line", err)
	}
	if n, _ := f.TakeBadLines(); n != 0 {
		t.Errorf("bad lines after take = %d, want 0", n)
	}
}

func TestFollowerMissingFile(t *testing.T) {
	f := tail.NewFollower(filepath.Join(t.TempDir(), "absent.log"), restart(t, ""), &lineDecoder{}, nil)
	entries, commit, err := f.Read(10)
	if err != nil || len(entries) != 0 {
		t.Fatalf("Read(missing) = %v, %v; want nothing", entries, err)
	}
	if err := commit(); err != nil {
		t.Fatal(err)
	}
}

func TestStoreWritesAtomically(t *testing.T) {
	state := t.TempDir()
	s := restart(t, state)
	cp := tail.Checkpoint{Path: "/var/log/x.log", Device: 1, Inode: 2, Offset: 10, Read: 20}
	if err := s.Put(cp); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), ".json") {
		t.Fatalf("state dir holds %v, want one checkpoint file and no temporary file", entries)
	}
	got, ok, err := restart(t, state).Get(cp.Path)
	if err != nil || !ok || !reflect.DeepEqual(got, cp) {
		t.Fatalf("Get = %+v, %v, %v; want %+v", got, ok, err, cp)
	}
}

func TestStoreRejectsInvalidCheckpoint(t *testing.T) {
	state := t.TempDir()
	s := restart(t, state)
	if err := s.Put(tail.Checkpoint{Path: "/x", Offset: 1, Read: 1}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(state)
	if err := os.WriteFile(filepath.Join(state, entries[0].Name()), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := restart(t, state).Get("/x"); err == nil {
		t.Fatal("Get of a torn checkpoint returned no error")
	}
}

// copyTruncate rotates path as logrotate's copytruncate does: copy to
// path.1, then truncate path in place.
func copyTruncate(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".1", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

func TestFollowerCopyTruncateWhileOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "2024-01-01T00:00:00.000000001Z first\n")
	f := tail.NewFollower(path, restart(t, ""), &lineDecoder{}, rotated)
	defer f.Close()
	drain(t, f)

	// Written after the last read, then copied away before it was read.
	write(t, path, "unread one\nunread two\n")
	copyTruncate(t, path)
	// The new content is longer than the old, so only the head shows the
	// truncation.
	write(t, path, "2024-01-01T00:00:09.000000001Z new file, longer than the one before it\n")
	got := strings.Join(drain(t, f), ",")
	want := "unread one,unread two,2024-01-01T00:00:09.000000001Z new file, longer than the one before it"
	if got != want {
		t.Fatalf("read after copytruncate = %q, want %q", got, want)
	}
}

func TestFollowerCopyTruncateWhileStopped(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "2024-01-01T00:00:00.000000001Z first\n")
	readAll(t, restart(t, state), path)

	write(t, path, "unread\n")
	copyTruncate(t, path)
	write(t, path, "after\n")
	if got := strings.Join(readAll(t, restart(t, state), path), ","); got != "unread,after" {
		t.Fatalf("read after restart = %q, want unread,after", got)
	}
}

// rotatedTwo lists <path>.1 and <path>.2, newest first.
func rotatedTwo(path string) []string { return []string{path + ".1", path + ".2"} }

func TestFollowerRotationsWhileStopped(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "2024-01-01T00:00:01.000000001Z one\n")
	f := tail.NewFollower(path, restart(t, state), &lineDecoder{}, rotatedTwo)
	drain(t, f)
	f.Close()

	// While stopped: a line after the checkpoint, a copytruncate, more
	// lines in the truncated file, and a rename that shifts the copy to .2.
	write(t, path, "unread before copy\n")
	copyTruncate(t, path)
	write(t, path, "2024-01-01T00:00:02.000000001Z truncated file grew again\n")
	if err := os.Rename(path+".1", path+".2"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, path, "2024-01-01T00:00:03.000000001Z newest\n")

	f = tail.NewFollower(path, restart(t, state), &lineDecoder{}, rotatedTwo)
	defer f.Close()
	got := strings.Join(drain(t, f), ",")
	want := "unread before copy,2024-01-01T00:00:02.000000001Z truncated file grew again,2024-01-01T00:00:03.000000001Z newest"
	if got != want {
		t.Fatalf("read after restart = %q, want %q", got, want)
	}
}

func TestFollowerLagsTwoRenames(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	write(t, path, "a\n")
	f := tail.NewFollower(path, restart(t, ""), &lineDecoder{}, rotatedTwo)
	defer f.Close()
	drain(t, f)

	write(t, path, "b\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, path, "c\n")
	if err := os.Rename(path+".1", path+".2"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, path, "d\n")
	if got := strings.Join(drain(t, f), ","); got != "b,c,d" {
		t.Fatalf("read after two renames = %q, want b,c,d", got)
	}
}
