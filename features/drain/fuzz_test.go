package drain

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzMatch checks that any message gets a nonzero id, that the same
// message maps to the same id again, and that the template has as many
// tokens as the message.
func FuzzMatch(f *testing.F) {
	for _, name := range []string{"BGL", "OpenSSH", "Apache", "Linux"} {
		for i, l := range loadLoghub(f, name) {
			if i%100 == 0 {
				f.Add(l.Content)
			}
		}
	}
	f.Add("")
	f.Add("[(uid=0)] x=/ y= ::1 0x 0xZZ ../ ~/ a://")
	f.Fuzz(func(t *testing.T, msg string) {
		m, err := NewMiner(context.Background(), Config{}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		id, tpl, isNew := m.Match("k", msg)
		if id == 0 || !isNew {
			t.Fatalf("first Match(%q) = %d, %v", msg, id, isNew)
		}
		if got, want := len(strings.Fields(tpl)), len(strings.Fields(msg)); got != want {
			t.Fatalf("template %q has %d tokens, message %q has %d", tpl, got, msg, want)
		}
		again, _, isNew := m.Match("k", msg)
		if again != id || isNew {
			t.Fatalf("second Match(%q) = %d, %v; want %d, false", msg, again, isNew, id)
		}
	})
}

func FuzzReadStructuredCSV(f *testing.F) {
	for _, name := range []string{"OpenSSH", "Linux"} {
		b, err := os.ReadFile(filepath.Join("testdata", "loghub", name+"_2k.log_structured.csv"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 2000)])
	}
	f.Add([]byte("Content,EventId\n\"a,b\",E1\nc\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, err := ReadStructuredCSV(bytes.NewReader(data))
		if err == nil && len(lines) > 0 {
			_, _ = GroupingAccuracy(make([]int, len(lines)), make([]string, len(lines)))
		}
	})
}
