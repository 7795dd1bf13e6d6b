package logtime

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseBounds(t *testing.T) {
	tests := []struct {
		raw     string
		wantNs  int64
		wantErr string
	}{
		{raw: "2019-04-01T17:58:33.598656444Z", wantNs: time.Date(2019, 4, 1, 17, 58, 33, 598656444, time.UTC).UnixNano()},
		{raw: "1970-01-01T00:00:00.000000001Z", wantNs: 1},
		{raw: "2262-04-11T23:47:16.854775807Z", wantNs: math.MaxInt64},
		{raw: "1970-01-01T00:00:00Z", wantErr: "must be after 1970-01-01T00:00:00Z"},
		{raw: "0001-01-01T00:00:00Z", wantErr: "must be after 1970-01-01T00:00:00Z"},
		{raw: "2262-04-11T23:47:16.854775808Z", wantErr: "must not be after 2262-04-11T23:47:16.854775807Z"},
		{raw: "2999-01-01T00:00:00Z", wantErr: "must not be after 2262-04-11T23:47:16.854775807Z"},
		{raw: "yesterday", wantErr: "expected RFC 3339, such as 2019-04-01T17:58:33.598656444Z"},
		{raw: "2019-02-30T00:00:00Z", wantErr: "expected RFC 3339, such as 2019-04-01T17:58:33.598656444Z: day out of range"},
		{raw: "", wantErr: "expected RFC 3339"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.raw)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) error = %v, want one containing %q", tt.raw, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "2006-01-02") {
				t.Errorf("Parse(%q) error %q quotes Go's layout", tt.raw, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.raw, err)
			continue
		}
		if got.UnixNano() != tt.wantNs {
			t.Errorf("Parse(%q) = %d ns, want %d", tt.raw, got.UnixNano(), tt.wantNs)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"2019-04-01T17:58:33.598656444Z", "2016-10-06T00:17:09+02:00", "1970-01-01T00:00:00Z",
		"2262-04-11T23:47:16.854775807Z", "2999-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "yesterday",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Parse(raw)
		if err != nil {
			if strings.Contains(err.Error(), "2006-01-02") {
				t.Errorf("Parse(%q) error %q quotes Go's layout", raw, err)
			}
			return
		}
		ns := got.UnixNano()
		if ns <= 0 || !got.Equal(time.Unix(0, ns)) {
			t.Errorf("Parse(%q) = %s, which positive int64 nanoseconds do not hold (%d)", raw, got, ns)
		}
	})
}
