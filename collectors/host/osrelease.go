package host

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// ParseOSRelease parses an os-release file: KEY=value lines, values
// optionally in single or double quotes, "#" comments and blank lines.
// Inside double quotes a backslash escapes the next character. It returns
// the valid assignments together with an error naming the first invalid
// line, if any.
func ParseOSRelease(b []byte) (map[string]string, error) {
	values := make(map[string]string)
	var first error
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, raw, ok := strings.Cut(line, "=")
		if !ok || key == "" || strings.ContainsAny(key, " \t\"'") {
			if first == nil {
				first = fmt.Errorf("invalid os-release line %d %q: expected KEY=value", n, truncate(line))
			}
			continue
		}
		value, err := unquote(raw)
		if err != nil {
			if first == nil {
				first = fmt.Errorf("invalid os-release line %d, key %s: %w", n, key, err)
			}
			continue
		}
		values[key] = value
	}
	if err := sc.Err(); err != nil && first == nil {
		first = fmt.Errorf("read os-release: %w", err)
	}
	return values, first
}

func unquote(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	quote := raw[0]
	if quote != '"' && quote != '\'' {
		return raw, nil
	}
	if len(raw) < 2 || raw[len(raw)-1] != quote {
		return "", fmt.Errorf("unterminated quote in %q", truncate(raw))
	}
	inner := raw[1 : len(raw)-1]
	if quote == '\'' {
		return inner, nil
	}

	var sb strings.Builder
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		if c == '\\' && i+1 < len(inner) {
			i++
			c = inner[i]
		}
		sb.WriteByte(c)
	}
	return sb.String(), nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
