package posture

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// SSHDDefaults are the OpenSSH 9 defaults of the settings the posture
// policies read, by lower-case keyword.
var SSHDDefaults = map[string]string{
	"permitrootlogin":        "prohibit-password",
	"passwordauthentication": "yes",
	"permitemptypasswords":   "no",
}

// SSHDConfig is the first value of each keyword of an sshd_config, lower
// case keys, as sshd uses the first value it reads.
type SSHDConfig struct {
	Values map[string]string
	// Includes lists the patterns of Include lines, in order, for the
	// caller to expand relative to /etc/ssh.
	Includes []string
}

// ParseSSHDConfig reads the keywords of an sshd_config outside Match
// blocks. A keyword without a value is an error naming the line.
func ParseSSHDConfig(b []byte) (SSHDConfig, error) {
	cfg := SSHDConfig{Values: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lineNo := 0
	inMatch := false
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		keyword, value, _ := strings.Cut(strings.Replace(line, "=", " ", 1), " ")
		keyword = strings.ToLower(strings.TrimSpace(keyword))
		value = strings.Trim(strings.TrimSpace(value), `"`)
		if keyword == "match" {
			inMatch = true
			continue
		}
		if value == "" {
			return cfg, fmt.Errorf("invalid sshd_config line %d %q: keyword %s has no value", lineNo, line, keyword)
		}
		if keyword == "include" {
			cfg.Includes = append(cfg.Includes, strings.Fields(value)...)
			continue
		}
		if inMatch {
			continue
		}
		if _, set := cfg.Values[keyword]; !set {
			cfg.Values[keyword] = strings.ToLower(value)
		}
	}
	if err := sc.Err(); err != nil {
		return cfg, fmt.Errorf("read sshd_config: %w", err)
	}
	return cfg, nil
}
