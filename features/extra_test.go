package features

import (
	"math"
	"slices"
	"testing"
)

func TestAuthFailureLines(t *testing.T) {
	cases := []struct {
		msg  string
		want bool
	}{
		{"Failed password for root from 10.0.0.5 port 52144 ssh2", true},
		{"Failed publickey for git from 10.0.0.5 port 1 ssh2", true},
		{"Invalid user admin from 203.0.113.9 port 4711", true},
		{"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9", true},
		{"error: maximum authentication attempts exceeded for root from 10.0.0.5 port 22 ssh2", true},
		{`10.0.0.7 - - [10/Oct/2024:12:00:00 +0000] "GET /admin HTTP/1.1" 401 12`, true},
		{`10.0.0.7 - - [10/Oct/2024:12:00:00 +0000] "GET /admin HTTP/1.1" 403 12`, true},
		{`level=warn msg="request" status=403 path=/admin`, true},
		{`{"status":401,"path":"/login"}`, true},
		{"Accepted password for root from 10.0.0.5 port 52144 ssh2", false},
		{`10.0.0.7 - - [10/Oct/2024:12:00:00 +0000] "GET /index HTTP/1.1" 200 4013`, false},
		{`"GET /page/401 HTTP/1.1" 200 10`, false},
	}
	for _, c := range cases {
		if got := IsAuthFailureLine(c.msg); got != c.want {
			t.Errorf("IsAuthFailureLine(%q) = %v, want %v", c.msg, got, c.want)
		}
	}
}

func TestSourceAddresses(t *testing.T) {
	cases := []struct {
		msg  string
		want []string
	}{
		{"Failed password for root from 10.0.0.5 port 52144 ssh2", []string{"10.0.0.5"}},
		{"connect 10.0.0.5:22 -> 192.168.1.10:443, again 10.0.0.5", []string{"10.0.0.5", "192.168.1.10"}},
		{"client 2001:db8::1 and ::ffff:10.0.0.9.", []string{"2001:db8::1", "10.0.0.9"}},
		{"version 1.2.3 at 12:30:01, build deadbeef", nil},
		{"300.1.1.1 is not an address", nil},
	}
	for _, c := range cases {
		if got := SourceAddresses(c.msg); !slices.Equal(got, c.want) {
			t.Errorf("SourceAddresses(%q) = %q, want %q", c.msg, got, c.want)
		}
	}
}

func FuzzSourceAddresses(f *testing.F) {
	f.Add("Failed password for root from 10.0.0.5 port 52144 ssh2")
	f.Add("pam_unix(sshd:auth): authentication failure; rhost=2001:db8::7")
	f.Add(`10.0.0.7 - - [10/Oct/2024:12:00:00 +0000] "GET / HTTP/1.1" 401 12`)
	f.Fuzz(func(t *testing.T, msg string) {
		got := SourceAddresses(msg)
		seen := make(map[string]bool)
		for _, a := range got {
			if seen[a] {
				t.Fatalf("address %q listed twice in %q", a, got)
			}
			seen[a] = true
		}
		IsAuthFailureLine(msg)
	})
}

func TestWindowerExtraFeatures(t *testing.T) {
	w := NewWindower(WindowConfig{})
	m := func(minute, second int, memory, oom, pids, read, write int64) {
		s := metricAt("c1", minute, second, 0, 0, memory)
		s.OOMKills, s.PidsCurrent, s.IOReadBytes, s.IOWriteBytes = oom, pids, read, write
		mustAddMetric(t, w, "m"+string(rune('a'+minute*10+second/10)), s)
	}
	// Window 0: working set grows 1000 bytes per second, one OOM kill,
	// pids from 4 to 9, 6000 bytes read and 600 written over 60 s.
	m(0, 0, 10_000, 0, 4, 0, 0)
	m(0, 30, 40_000, 1, 6, 3000, 300)
	m(1, 0, 70_000, 1, 9, 6000, 600)
	mustAddLog(t, w, "l1", logAt("c1", 0, 5, "Failed password for root from 10.0.0.5 port 1 ssh2"))
	mustAddLog(t, w, "l2", logAt("c1", 0, 6, "Failed password for root from 10.0.0.6 port 2 ssh2"))
	mustAddLog(t, w, "l3", logAt("c1", 0, 7, "GET /index.html 200"))
	mustAddLog(t, w, "l4", logAt("c1", 0, 8, "GET /index.html 200"))
	closed := mustAddLog(t, w, "l5", logAt("c1", 1, 40, "GET /index.html 200"))
	if len(closed) != 1 {
		t.Fatalf("closed %d windows, want 1", len(closed))
	}
	win := closed[0]

	checks := []struct {
		name string
		want float64
	}{
		{FeatureMemorySlope, 1000},
		{FeatureOOMKills, 1},
		{FeaturePidsCurrent, 6},
		{FeaturePidsGrowth, 2},
		{FeatureIOReadRate, 100},
		{FeatureIOWriteRate, 10},
		{FeatureAuthFailures, 2},
		{FeatureSourceAddresses, 2},
		// Two lines of one template and two of another: 1 bit.
		{FeatureTemplateEntropy, 1},
	}
	for _, c := range checks {
		if got := win.Feature(c.name); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if len(win.Extra) != len(ExtraFeatureNames) {
		t.Errorf("len(Extra) = %d, want %d", len(win.Extra), len(ExtraFeatureNames))
	}
}
