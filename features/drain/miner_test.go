package drain

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestMaskToken(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"6725", Wildcard},
		{"-12", Wildcard},
		{"3.5s", Wildcard},
		{"12ms", Wildcard},
		{"100%", Wildcard},
		{"15:16:01", Wildcard},
		{"2005-06-03-15.42.50.675872", Wildcard},
		{"173.234.31.186", Wildcard},
		{"10.1.2.3:5432", Wildcard},
		{"[173.234.31.186]", "[<*>]"},
		{"(uid=0)", "(uid=<*>)"},
		{"port=22,", "port=<*>,"},
		{"2001:db8::1", Wildcard},
		{"fe80::1%eth0", Wildcard},
		{"123e4567-e89b-12d3-a456-426614174000", Wildcard},
		{"0x7ffd1234", Wildcard},
		{"4f1e2d3c4b5a", Wildcard},
		{"/var/log/nginx/access.log", Wildcard},
		{"./conf/app.yaml", Wildcard},
		{"https://example.com/a?b=1", Wildcard},
		{"config=/etc/app.conf", "config=<*>"},
		{"ssh2", "ssh2"},
		{"jk2_init()", "jk2_init()"},
		{"deadbeef", "deadbeef"},
		{"cafe", "cafe"},
		{"R02-M1-N0-C:J12-U11", "R02-M1-N0-C:J12-U11"},
		{"logname=", "logname="},
		{"/", "/"},
		{"[preauth]", "[preauth]"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := maskToken(tt.in); got != tt.want {
			t.Errorf("maskToken(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTokenize(t *testing.T) {
	got := tokenize(nil, "  a \t b\n\nc  ")
	want := []string{"a", "b", "c"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tokenize = %q, want %q", got, want)
	}
	if got := tokenize(nil, " \t "); len(got) != 0 {
		t.Errorf("tokenize of blanks = %q, want none", got)
	}
}

func newTestMiner(t *testing.T, store Store) *Miner {
	t.Helper()
	m, err := NewMiner(context.Background(), Config{}, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatchMergesVariables(t *testing.T) {
	m := newTestMiner(t, nil)
	id1, tpl1, new1 := m.Match("img", "Invalid user webmaster from 173.234.31.186")
	if !new1 {
		t.Error("first message: isNew = false, want true")
	}
	if tpl1 != "Invalid user webmaster from <*>" {
		t.Errorf("first template = %q", tpl1)
	}
	id2, tpl2, new2 := m.Match("img", "Invalid user test9 from 52.80.34.196")
	if new2 {
		t.Error("second message: isNew = true, want false")
	}
	if id2 != id1 {
		t.Errorf("second message id = %d, want %d", id2, id1)
	}
	if tpl2 != "Invalid user <*> from <*>" {
		t.Errorf("merged template = %q, want %q", tpl2, "Invalid user <*> from <*>")
	}
	id3, _, new3 := m.Match("img", "Connection closed by 173.234.31.186 [preauth]")
	if !new3 || id3 == id1 {
		t.Errorf("unrelated message: id %d isNew %v, want a new template", id3, new3)
	}
}

func TestMatchKeepsKeysApart(t *testing.T) {
	m := newTestMiner(t, nil)
	idA, _, newA := m.Match("image-a", "listening on port 80")
	idB, _, newB := m.Match("image-b", "listening on port 80")
	if !newA || !newB {
		t.Errorf("isNew = %v, %v, want true for each key", newA, newB)
	}
	if idA == idB {
		t.Errorf("two keys share template id %d", idA)
	}
	if got := m.Stats().Keys; got != 2 {
		t.Errorf("Stats.Keys = %d, want 2", got)
	}
}

func TestMatchEmptyMessage(t *testing.T) {
	m := newTestMiner(t, nil)
	id, tpl, isNew := m.Match("k", "")
	if id == 0 || tpl != "" || !isNew {
		t.Errorf("empty message = %d, %q, %v; want a nonzero id, empty template, new", id, tpl, isNew)
	}
	id2, _, isNew2 := m.Match("k", " \t ")
	if id2 != id || isNew2 {
		t.Errorf("blank message = %d, %v; want id %d, not new", id2, isNew2, id)
	}
}

func TestMaxTemplatesPerKey(t *testing.T) {
	m, err := NewMiner(context.Background(), Config{MaxTemplatesPerKey: 2}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Match("k", "alpha one")
	m.Match("k", "beta two three")
	id, tpl, isNew := m.Match("k", "gamma four five six")
	if !isNew || id == 0 || tpl != "gamma four five six" {
		t.Errorf("overflow match = %d, %q, %v", id, tpl, isNew)
	}
	st := m.Stats()
	if st.Templates != 2 {
		t.Errorf("Stats.Templates = %d, want 2", st.Templates)
	}
	if st.Overflow != 1 {
		t.Errorf("Stats.Overflow = %d, want 1", st.Overflow)
	}
}

func TestConfigRejectsInvalid(t *testing.T) {
	for _, cfg := range []Config{{Depth: 2}, {Similarity: 1.5}, {Similarity: -0.1}, {MaxChildren: 1}} {
		if _, err := NewMiner(context.Background(), cfg, nil, nil); err == nil {
			t.Errorf("NewMiner(%+v) returned no error", cfg)
		}
	}
}

func TestMaxChildrenSharesWildcard(t *testing.T) {
	m, err := NewMiner(context.Background(), Config{MaxChildren: 3}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"alpha", "beta", "gamma", "delta"} {
		m.Match("k", w+" started ok")
	}
	// alpha and beta got their own children, so gamma and delta share the
	// wildcard child and merge into one template there.
	if got := m.Stats().Templates; got != 3 {
		t.Errorf("Stats.Templates = %d, want 3", got)
	}
}

// TestRestartKeepsIDs replays a log, restarts the miner from its file
// store, and checks that every message maps to the same id as before.
func TestRestartKeepsIDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "templates.jsonl")
	lines := loadLoghub(t, "OpenSSH")

	first := newTestMiner(t, NewFileStore(path))
	ids := make([]uint64, len(lines))
	for i, l := range lines[:1000] {
		ids[i], _, _ = first.Match("sshd", l.Content)
	}
	if err := first.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A second flush writes newer versions of the changed templates.
	for i, l := range lines[1000:1500] {
		ids[1000+i], _, _ = first.Match("sshd", l.Content)
	}
	if err := first.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, l := range lines[1500:] {
		ids[1500+i], _, _ = first.Match("sshd", l.Content)
	}
	if err := first.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	second := newTestMiner(t, NewFileStore(path))
	if got, want := second.Stats().Templates, first.Stats().Templates; got != want {
		t.Fatalf("restored %d templates, want %d", got, want)
	}
	for i, l := range lines {
		id, _, isNew := second.Match("sshd", l.Content)
		if isNew {
			t.Errorf("line %d %q: new template after restart", i+1, l.Content)
		}
		if id != ids[i] {
			t.Errorf("line %d %q: id %d after restart, want %d", i+1, l.Content, id, ids[i])
		}
	}
	before := map[uint64]Template{}
	for _, tpl := range first.Templates("sshd") {
		before[tpl.ID] = tpl
	}
	for _, tpl := range second.Templates("sshd") {
		if tpl.Template != before[tpl.ID].Template {
			t.Errorf("template %d = %q after restart, want %q", tpl.ID, tpl.Template, before[tpl.ID].Template)
		}
	}
}

func TestFileStoreCompacts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "templates.jsonl")
	s := NewFileStore(path)
	v1 := Template{Key: "k", ID: 7, First: "a b", Template: "a b", Count: 1}
	v2 := Template{Key: "k", ID: 7, First: "a b", Template: "a <*>", Count: 2}
	if err := s.Save(ctx, []Template{v1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, []Template{v2}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != v2 {
		t.Fatalf("Load = %+v, want only %+v", got, v2)
	}
	again, err := NewFileStore(path).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0] != v2 {
		t.Errorf("Load after compaction = %+v, want only %+v", again, v2)
	}
}

func TestRestoreRejectsBadTemplate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "templates.jsonl")
	s := NewFileStore(path)
	if err := s.Save(ctx, []Template{{Key: "k", ID: 3, First: "a b", Template: "a"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMiner(ctx, Config{}, s, nil); err == nil {
		t.Error("NewMiner accepted a template whose token count differs from its first text")
	}
}

func TestMatchConcurrent(t *testing.T) {
	m := newTestMiner(t, nil)
	lines := loadLoghub(t, "Linux")
	want := make([]uint64, len(lines))
	serial := newTestMiner(t, nil)
	for i, l := range lines {
		want[i], _, _ = serial.Match("linux", l.Content)
	}

	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			key := fmt.Sprintf("key-%d", w%2)
			for _, l := range lines {
				m.Match(key, l.Content)
			}
		}(w)
	}
	wg.Wait()
	if got := m.Stats().Lines; got != int64(4*len(lines)) {
		t.Errorf("Stats.Lines = %d, want %d", got, 4*len(lines))
	}
	if got := m.Stats().Keys; got != 2 {
		t.Errorf("Stats.Keys = %d, want 2", got)
	}
}

func TestGroupingAccuracy(t *testing.T) {
	truth := []string{"A", "A", "B", "B", "C"}
	tests := []struct {
		name      string
		predicted []int
		want      float64
	}{
		{"exact", []int{1, 1, 2, 2, 3}, 1},
		{"relabelled", []int{9, 9, 8, 8, 7}, 1},
		{"split group", []int{1, 1, 2, 4, 3}, 0.6},
		{"merged groups", []int{1, 1, 1, 1, 3}, 0.2},
		{"all one group", []int{1, 1, 1, 1, 1}, 0},
	}
	for _, tt := range tests {
		got, err := GroupingAccuracy(tt.predicted, truth)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s: accuracy = %g, want %g", tt.name, got, tt.want)
		}
	}
	if _, err := GroupingAccuracy([]int{1}, truth); err == nil {
		t.Error("length mismatch returned no error")
	}
}

func TestRunSavesOnStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "templates.jsonl")
	m, err := NewMiner(context.Background(), Config{FlushInterval: time.Hour}, NewFileStore(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	id, _, _ := m.Match("k", "disk /dev/sda1 is 91% full")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := m.Stats().Saved; got != 1 {
		t.Errorf("Stats.Saved = %d, want 1", got)
	}
	saved, err := NewFileStore(path).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(saved) != 1 || saved[0].ID != id || saved[0].Template != "disk <*> is <*> full" {
		t.Errorf("saved = %+v, want template %d %q", saved, id, "disk <*> is <*> full")
	}
}
