package features

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMaskMessage(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"sshd failed password", "Failed password for invalid user admin from 203.0.113.7 port 52144 ssh2",
			"Failed password for invalid user admin from <*> port <*> ssh2"},
		{"ipv4 with port", "connect to 10.1.2.3:5432 refused", "connect to <*> refused"},
		{"ipv6", "peer 2001:db8::1 closed", "peer <*> closed"},
		{"ipv6 loopback", "listening on ::1 port 80", "listening on <*> port <*>"},
		{"clock time is not ipv6", "at 12:30:45 done", "at <*>:<*>:<*> done"},
		{"uuid", "request 123e4567-e89b-12d3-a456-426614174000 done", "request <*> done"},
		{"hex prefixed", "fault at 0x7ffd1234 addr", "fault at <*> addr"},
		{"hex id", "container 4f1e2d3c4b5a started", "container <*> started"},
		{"short hex word kept", "cafe bad beef", "cafe bad beef"},
		{"number with unit", "took 12ms (3.5s total)", "took <*> (<*> total)"},
		{"path", "open /var/log/nginx/access.log: permission denied", "open <*>: permission denied"},
		{"relative path", "load ./conf/app.yaml", "load <*>"},
		{"path after equals", "config=/etc/app.conf loaded", "config=<*> loaded"},
		{"double quoted", `GET "/index.html?id=4" 200`, "GET <*> <*>"},
		{"single quoted", "user 'bob smith' not found", "user <*> not found"},
		{"apostrophe kept", "can't open it", "can't open it"},
		{"whitespace collapsed", "  a \t b\n\nc  ", "a b c"},
		{"key value numbers", "pid=4242 uid=0 status=ok", "pid=<*> uid=<*> status=ok"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskMessage(tt.in); got != tt.want {
				t.Errorf("MaskMessage(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestShapeIDSameForSameShape(t *testing.T) {
	a := ShapeID(MaskMessage("Accepted publickey for deploy from 192.0.2.10 port 50000 ssh2"))
	b := ShapeID(MaskMessage("Accepted publickey for deploy from 198.51.100.4 port 61234 ssh2"))
	c := ShapeID(MaskMessage("Disconnected from 192.0.2.10 port 50000"))
	if a != b {
		t.Errorf("shape ids differ for lines of one statement: %x != %x", a, b)
	}
	if a == c {
		t.Errorf("shape ids equal for lines of different statements: %x", a)
	}
}

func TestShapesNewPerKey(t *testing.T) {
	s := NewShapes()
	id := ShapeID("GET <*> <*>")
	if !s.Observe("sha256:a", id) {
		t.Error("first observation is not new")
	}
	if s.Observe("sha256:a", id) {
		t.Error("second observation under the same key is new")
	}
	if !s.Observe("sha256:b", id) {
		t.Error("first observation under another key is not new")
	}
	if got := s.Known("sha256:a"); got != 1 {
		t.Errorf("Known = %d, want 1", got)
	}
}

func TestShapesCapPerKey(t *testing.T) {
	s := NewShapes()
	s.MaxPerKey = 2
	for i := range uint64(3) {
		s.Observe("k", i)
	}
	if got := s.Known("k"); got != 2 {
		t.Errorf("Known = %d, want 2", got)
	}
	if !s.Observe("k", 2) {
		t.Error("shape past the cap is not reported new")
	}
}

func FuzzMaskMessage(f *testing.F) {
	for _, seed := range []string{
		"Failed password for invalid user admin from 203.0.113.7 port 52144 ssh2",
		`192.0.2.1 - - [10/Oct/2024:13:55:36 +0000] "GET /index.html HTTP/1.1" 200 2326 "-" "curl/8.5.0"`,
		"2024-10-10 13:55:36.123 UTC [42] LOG:  checkpoint complete: wrote 3 buffers (0.0%)",
		"peer fe80::1%eth0 closed, id 123e4567-e89b-12d3-a456-426614174000 at 0xdeadBEEF",
		"panic: runtime error: index out of range [5] with length 3",
		"'unterminated \"quote",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		shape := MaskMessage(msg)
		if loc := uuidPattern.FindStringIndex(shape); loc != nil {
			t.Errorf("shape %q of %q still contains a UUID at %v", shape, msg, loc)
		}
		if loc := ipv4Pattern.FindStringIndex(shape); loc != nil {
			t.Errorf("shape %q of %q still contains an IPv4 address at %v", shape, msg, loc)
		}
		if utf8.ValidString(msg) && !utf8.ValidString(shape) {
			t.Errorf("shape %q of valid UTF-8 %q is not valid UTF-8", shape, msg)
		}
		if strings.Contains(shape, "  ") {
			t.Errorf("shape %q contains a double space", shape)
		}
		if strings.TrimSpace(shape) != shape {
			t.Errorf("shape %q has outer whitespace", shape)
		}
	})
}
