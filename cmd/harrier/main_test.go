package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestFlagErrorsArePrintedOnOneLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"collect", "--collect.interval", "-5s"}, `harrier collect: invalid value "-5s" for --collect.interval: expected a duration from 100ms to 1h0m0s`},
		{[]string{"collect", "--collect.interval", "soon"}, `harrier collect: invalid value "soon" for --collect.interval: expected a duration from 100ms to 1h0m0s`},
		{[]string{"collect", "--collect.interval"}, "harrier collect: missing value for flag --collect.interval"},
		{[]string{"collect", "--no-such-flag"}, "harrier collect: unknown flag --no-such-flag"},
		{[]string{"sql", "--timeout", "soon", "SELECT 1"}, `harrier sql: invalid value "soon" for --timeout: expected a duration such as 30s, 5m or 1h`},
		{[]string{"sql", "--clickhouse", "nohost", "SELECT 1"}, `harrier sql: --clickhouse: invalid value "nohost" for clickhouse.addr: expected host:port`},
		{[]string{"demo", "--keep=maybe"}, `harrier demo: invalid value "maybe" for --keep: expected true or false`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := mainWithArgs(tt.args, &stdout, &stderr); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("stderr has %d lines, want the error and a pointer to --help:\n%s", len(lines), stderr.String())
			}
			if !strings.HasPrefix(lines[0], tt.want) {
				t.Errorf("error = %q, want it to start with %q", lines[0], tt.want)
			}
			if want := "Run 'harrier " + tt.args[0] + " --help' for the flags."; lines[1] != want {
				t.Errorf("second line = %q, want %q", lines[1], want)
			}
		})
	}
}

func TestHelpPrintsUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := mainWithArgs([]string{"sql", "--help"}, &stdout, &stderr); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if !strings.HasPrefix(stderr.String(), "Usage: harrier sql [flags]") {
		t.Errorf("help does not start with the usage line:\n%s", stderr.String())
	}
	for _, name := range []string{"-write", "-timeout", "-clickhouse.addr"} {
		if !strings.Contains(stderr.String(), name) {
			t.Errorf("help lacks the flag %s", name)
		}
	}
}
