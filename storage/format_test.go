package storage

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

func sampleRows() ([]string, [][]any) {
	ts := time.Date(2026, 11, 30, 10, 46, 0, 5, time.UTC)
	var missing *string
	return []string{"name", "lines", "big", "ratio", "time", "tags", "note"},
		[][]any{
			{"sshd, \"main\"", int64(305), uint64(math.MaxUint64), 0.25, ts, []string{"a", "b"}, missing},
			{"web\nline", int64(-1), uint64(0), math.NaN(), ts, []string{}, nil},
		}
}

func TestFormatCSV(t *testing.T) {
	cols, rows := sampleRows()
	var b bytes.Buffer
	if err := FormatCSV(&b, cols, rows); err != nil {
		t.Fatal(err)
	}
	want := "name,lines,big,ratio,time,tags,note\n" +
		"\"sshd, \"\"main\"\"\",305,18446744073709551615,0.25,2026-11-30T10:46:00.000000005Z,[a b],\n" +
		"\"web\nline\",-1,0,NaN,2026-11-30T10:46:00.000000005Z,[],\n"
	if b.String() != want {
		t.Errorf("FormatCSV output:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestFormatJSON(t *testing.T) {
	cols, rows := sampleRows()
	var b bytes.Buffer
	if err := FormatJSON(&b, cols, rows); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, b.String())
	}
	if len(got) != 2 {
		t.Fatalf("got %d objects, want 2", len(got))
	}
	if got[0]["big"] != "18446744073709551615" {
		t.Errorf("big = %v, want the UInt64 maximum as a string", got[0]["big"])
	}
	if got[0]["lines"] != "305" {
		t.Errorf("lines = %v, want \"305\"", got[0]["lines"])
	}
	if got[0]["ratio"] != 0.25 {
		t.Errorf("ratio = %v, want 0.25", got[0]["ratio"])
	}
	if got[1]["ratio"] != nil {
		t.Errorf("NaN ratio = %v, want null", got[1]["ratio"])
	}
	if got[0]["time"] != "2026-11-30T10:46:00.000000005Z" {
		t.Errorf("time = %v", got[0]["time"])
	}
	if got[0]["note"] != nil {
		t.Errorf("nil pointer note = %v, want null", got[0]["note"])
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("[\n{\"name\":")) {
		t.Errorf("keys are not in column order: %s", b.String())
	}
}

func TestFormatJSONEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := FormatJSON(&b, []string{"a"}, nil); err != nil {
		t.Fatal(err)
	}
	if b.String() != "[\n]\n" {
		t.Errorf("empty result = %q", b.String())
	}
}

func TestFormatRowsRejectsUnknown(t *testing.T) {
	err := FormatRows(&bytes.Buffer{}, "xml", []string{"a"}, nil)
	if err == nil {
		t.Fatal("format xml accepted")
	}
}
