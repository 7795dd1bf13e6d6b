package cgroup

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Pressure is one cgroup v2 pressure stall information (PSI) file, such as
// cpu.pressure. A line the file lacks leaves its fields at -1: cpu.pressure
// has no "full" line before Linux 5.13.
type Pressure struct {
	SomeAvg10   float64
	SomeTotalUs int64
	FullAvg10   float64
	FullTotalUs int64
}

// ParsePressure parses a PSI file, whose lines look like
// "some avg10=0.00 avg60=0.08 avg300=0.06 total=293391454". It reads avg10
// and total, in microseconds, and ignores avg60, avg300 and unknown keys.
func ParsePressure(b []byte) (Pressure, error) {
	p := Pressure{SomeAvg10: -1, SomeTotalUs: -1, FullAvg10: -1, FullTotalUs: -1}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		var avg10 *float64
		var total *int64
		switch fields[0] {
		case "some":
			avg10, total = &p.SomeAvg10, &p.SomeTotalUs
		case "full":
			avg10, total = &p.FullAvg10, &p.FullTotalUs
		default:
			return p, fmt.Errorf("invalid pressure line %d: kind %q is not some or full", n, truncate(fields[0]))
		}
		for _, kv := range fields[1:] {
			key, value, ok := strings.Cut(kv, "=")
			if !ok {
				return p, fmt.Errorf("invalid pressure line %d: field %q is not key=value", n, truncate(kv))
			}
			switch key {
			case "avg10":
				v, err := strconv.ParseFloat(value, 64)
				if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					return p, fmt.Errorf("invalid pressure line %d: avg10 %q is not a percentage", n, truncate(value))
				}
				*avg10 = v
			case "total":
				v, err := parseInt(value)
				if err != nil || v < 0 {
					return p, fmt.Errorf("invalid pressure line %d: total %q is not a count of microseconds", n, truncate(value))
				}
				*total = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return p, fmt.Errorf("read pressure: %w", err)
	}
	return p, nil
}
