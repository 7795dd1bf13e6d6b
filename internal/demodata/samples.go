package demodata

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// samples holds the loghub messages with their original time stamps and
// host names removed, as an application would write them to stdout.
type samples struct {
	apache []string
	linux  []string
	bgl    []string
	// sshNormal are the OpenSSH messages of normal operation and
	// sshFailure the failed-authentication ones.
	sshNormal  []string
	sshFailure []string
}

var (
	syslogPrefix = regexp.MustCompile(`^[A-Z][a-z]{2}\s+\d+\s+\d\d:\d\d:\d\d\s+\S+\s+`)
	apachePrefix = regexp.MustCompile(`^\[[^\]]+\]\s*`)
)

func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read sample %q: %w", path, err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if line := strings.TrimRight(sc.Text(), " \r"); line != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("read sample %q: no lines", path)
	}
	return lines, nil
}

// isAuthFailure reports whether an OpenSSH message is a failed login.
func isAuthFailure(msg string) bool {
	return strings.Contains(msg, "Failed password") ||
		strings.Contains(msg, "Invalid user") ||
		strings.Contains(msg, "authentication failure")
}

func loadSamples(dir string) (samples, error) {
	var s samples
	read := func(name string, strip func(string) string) ([]string, error) {
		lines, err := readLines(filepath.Join(dir, "loghub", name))
		if err != nil {
			return nil, err
		}
		for i, l := range lines {
			lines[i] = strip(l)
		}
		return lines, nil
	}
	stripSyslog := func(l string) string { return syslogPrefix.ReplaceAllString(l, "") }
	stripApache := func(l string) string { return apachePrefix.ReplaceAllString(l, "") }
	// BGL lines are "<alert tag> <unix time> <date> <node> <time> <node>
	// RAS <component> <level> <content>"; the alert tag is the label of the
	// line, so the message starts at the second node field.
	stripBGL := func(l string) string {
		fields := strings.Fields(l)
		if len(fields) > 5 {
			return strings.Join(fields[5:], " ")
		}
		return l
	}

	var err error
	if s.apache, err = read("Apache_2k.log", stripApache); err != nil {
		return s, err
	}
	if s.linux, err = read("Linux_2k.log", stripSyslog); err != nil {
		return s, err
	}
	if s.bgl, err = read("BGL_2k.log", stripBGL); err != nil {
		return s, err
	}
	ssh, err := read("OpenSSH_2k.log", stripSyslog)
	if err != nil {
		return s, err
	}
	for _, l := range ssh {
		if isAuthFailure(l) {
			s.sshFailure = append(s.sshFailure, l)
		} else {
			s.sshNormal = append(s.sshNormal, l)
		}
	}
	if len(s.sshFailure) == 0 || len(s.sshNormal) == 0 {
		return s, fmt.Errorf("read sample OpenSSH_2k.log: expected both failed-authentication and other lines")
	}
	return s, nil
}

// cycle returns the messages of a pool in order, starting again at the
// end, or drawn at random when rng is set.
//
// Normal traffic is drawn at random: a loghub sample is 2,000 consecutive
// lines that span hours or days, with bursts of rare events (a logrotate
// run, a device plugged in). Replayed in order, such a burst would show up
// at an arbitrary minute of the demo as real novelty, which is not the
// incident the demo is about. Drawn at random, the mix of messages is the
// same in every minute, as for a service in a steady state.
type cycle struct {
	pool []string
	next int
	rng  *rand.Rand
}

func (c *cycle) take() string {
	if c.rng != nil {
		return c.pool[c.rng.IntN(len(c.pool))]
	}
	msg := c.pool[c.next%len(c.pool)]
	c.next++
	return msg
}
