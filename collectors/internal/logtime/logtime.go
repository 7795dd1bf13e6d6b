// Package logtime parses the RFC 3339 timestamps that container runtimes
// write in their log files, and rejects those that a record cannot carry.
package logtime

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Max is the last instant that int64 nanoseconds since the Unix epoch can
// hold, 2262-04-11T23:47:16.854775807Z, which is the range of a record's
// time_ns.
//
// NOTE: a time after 2106-02-07T06:28:15Z, the maximum of a ClickHouse
// DateTime, passes here but the normalizer dead-letters it.
var Max = time.Unix(0, math.MaxInt64).UTC()

// Parse parses raw as an RFC 3339 time with optional fractional seconds,
// as Docker's json-file driver and the CRI log format write it. It rejects
// a time at or before the Unix epoch and one after Max, because time_ns
// must be positive and fit int64. The error does not repeat raw, so the
// caller names the field and its value.
func Parse(raw string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return time.Time{}, parseError(err)
	}
	if !t.After(time.Unix(0, 0)) {
		return time.Time{}, errors.New("must be after 1970-01-01T00:00:00Z, the Unix epoch")
	}
	if t.After(Max) {
		return time.Time{}, fmt.Errorf("must not be after %s, the maximum of int64 nanoseconds since the Unix epoch", Max.Format(time.RFC3339Nano))
	}
	return t, nil
}

// parseError rewords a time.Parse error without the Go layout string it
// quotes, keeping the detail such as "month out of range" when it has one.
func parseError(err error) error {
	const expected = "expected RFC 3339, such as 2019-04-01T17:58:33.598656444Z"
	var pe *time.ParseError
	if errors.As(err, &pe) && pe.Message != "" {
		return fmt.Errorf("%s: %s", expected, strings.TrimPrefix(pe.Message, ": "))
	}
	return errors.New(expected)
}
