package posture

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// LoginDefsDefaults are the shadow-utils values of the password ageing
// settings when /etc/login.defs leaves them out.
var LoginDefsDefaults = map[string]string{
	"PASS_MAX_DAYS": "99999",
	"PASS_MIN_DAYS": "0",
	"PASS_WARN_AGE": "7",
}

// ParseLoginDefs returns the password ageing settings of /etc/login.defs.
// A setting of LoginDefsDefaults whose value is not an integer is an error
// naming the line.
func ParseLoginDefs(b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	lineNo := 0
	for sc.Scan() {
		lineNo++
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if _, known := LoginDefsDefaults[fields[0]]; !known {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			return out, fmt.Errorf("invalid login.defs line %d: %s=%q is not an integer", lineNo, fields[0], fields[1])
		}
		out[fields[0]] = fields[1]
	}
	return out, sc.Err()
}
