package posture

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// ParseMounts returns the mount options of each mount point of a
// /proc/mounts or /etc/fstab file, the last entry winning as the kernel
// stacks mounts. Octal escapes such as \040 in paths are decoded. A line
// with fewer than four fields is an error naming the line.
func ParseMounts(b []byte) (map[string][]string, error) {
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 {
			return out, fmt.Errorf("invalid mounts line %d %q: expected device, mount point, type and options", lineNo, line)
		}
		options := strings.Split(fields[3], ",")
		sort.Strings(options)
		out[unescapeMount(fields[1])] = options
	}
	return out, sc.Err()
}

// unescapeMount decodes the \NNN octal escapes the kernel writes for
// spaces, tabs, newlines and backslashes in mount paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
