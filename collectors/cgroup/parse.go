package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Unlimited is the value of a limit written as "max" (cgroup v2), such as
// memory.max or pids.max. Cgroup v1 writes its own large number instead,
// 9223372036854771712 for an unlimited memory.limit_in_bytes, and that
// number is passed on unchanged.
const Unlimited = math.MaxInt64

// ParseValue parses a file that holds one integer, such as memory.current
// or pids.max. "max" returns Unlimited, and a value above the int64 range
// returns math.MaxInt64.
func ParseValue(b []byte) (int64, error) {
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return Unlimited, nil
	}
	return parseInt(s)
}

func parseInt(s string) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err == nil {
		return v, nil
	}
	// Some kernels print unsigned 64-bit counters and limits.
	if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(s, "-") {
		return math.MaxInt64, nil
	}
	return 0, fmt.Errorf("invalid integer %q", truncate(s))
}

// ParseKeyedValues parses a flat keyed file of "key value" lines, such as
// cpu.stat, memory.stat, memory.events or memory.oom_control.
func ParseKeyedValues(b []byte) (map[string]int64, error) {
	values := make(map[string]int64)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("invalid line %d %q: expected \"key value\"", n, truncate(line))
		}
		v, err := parseInt(fields[1])
		if err != nil {
			return nil, fmt.Errorf("invalid line %d, key %q: %w", n, fields[0], err)
		}
		values[fields[0]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read keyed values: %w", err)
	}
	return values, nil
}

// ParseIOStat sums the rbytes and wbytes of every device in a cgroup v2
// io.stat file, whose lines look like "259:8 rbytes=74526720 wbytes=3789 ...".
func ParseIOStat(b []byte) (readBytes, writeBytes int64, err error) {
	return sumIOStat(b, "rbytes", "wbytes")
}

// ParseIOStatOps sums the rios and wios, the completed read and write
// operations, of every device in a cgroup v2 io.stat file.
func ParseIOStatOps(b []byte) (readOps, writeOps int64, err error) {
	return sumIOStat(b, "rios", "wios")
}

// sumIOStat sums the values of readKey and writeKey over the devices of an
// io.stat file. A device line without the keys adds nothing.
func sumIOStat(b []byte, readKey, writeKey string) (read, write int64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if !strings.Contains(fields[0], ":") {
			return 0, 0, fmt.Errorf("invalid io.stat line %d: device %q is not major:minor", n, truncate(fields[0]))
		}
		for _, kv := range fields[1:] {
			key, value, ok := strings.Cut(kv, "=")
			if !ok {
				return 0, 0, fmt.Errorf("invalid io.stat line %d: field %q is not key=value", n, truncate(kv))
			}
			if key != readKey && key != writeKey {
				continue
			}
			v, err := parseInt(value)
			if err != nil {
				return 0, 0, fmt.Errorf("invalid io.stat line %d, key %q: %w", n, key, err)
			}
			if key == readKey {
				read = addSaturating(read, v)
			} else {
				write = addSaturating(write, v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("read io.stat: %w", err)
	}
	return read, write, nil
}

// ParseBlkioBytes sums the Read and Write bytes of every device in a cgroup
// v1 blkio.throttle.io_service_bytes file, whose lines look like
// "8:0 Read 1234". It skips the closing "Total 5678" line.
func ParseBlkioBytes(b []byte) (readBytes, writeBytes int64, err error) {
	return sumBlkio(b)
}

// ParseBlkioOps sums the Read and Write operations of every device in a
// cgroup v1 blkio.throttle.io_serviced file, which has the layout of
// blkio.throttle.io_service_bytes with operation counts in place of bytes.
func ParseBlkioOps(b []byte) (readOps, writeOps int64, err error) {
	return sumBlkio(b)
}

// sumBlkio sums the Read and Write lines of a v1 blkio file of
// "major:minor operation value" lines.
func sumBlkio(b []byte) (read, write int64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 0:
			continue
		case len(fields) == 2 && fields[0] == "Total":
			continue
		case len(fields) != 3:
			return 0, 0, fmt.Errorf("invalid blkio line %d %q: expected \"major:minor operation value\"", n, truncate(sc.Text()))
		}
		v, err := parseInt(fields[2])
		if err != nil {
			return 0, 0, fmt.Errorf("invalid blkio line %d, operation %q: %w", n, fields[1], err)
		}
		switch fields[1] {
		case "Read":
			read = addSaturating(read, v)
		case "Write":
			write = addSaturating(write, v)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("read blkio: %w", err)
	}
	return read, write, nil
}

func addSaturating(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
