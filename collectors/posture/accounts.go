package posture

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// ParsePasswd returns the accounts of an /etc/passwd file with user id 0.
// A line with fewer than seven fields is an error naming the line.
func ParsePasswd(b []byte) (uid0 []string, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-") {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) != 7 {
			return uid0, fmt.Errorf("invalid passwd line %d: expected 7 fields separated by ':', got %d", lineNo, len(fields))
		}
		if fields[2] == "0" {
			uid0 = append(uid0, fields[0])
		}
	}
	return uid0, sc.Err()
}

// ParseShadow returns the accounts of an /etc/shadow file whose password
// field is empty, so that they log in without a password. A line with
// fewer than two fields is an error naming the line, without its content.
func ParseShadow(b []byte) (empty []string, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) < 2 {
			return empty, fmt.Errorf("invalid shadow line %d: expected fields separated by ':'", lineNo)
		}
		if fields[1] == "" {
			empty = append(empty, fields[0])
		}
	}
	return empty, sc.Err()
}
