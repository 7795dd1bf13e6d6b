package jsonenc_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/harrierhq/harrier/collectors/internal/jsonenc"
	"github.com/harrierhq/harrier/internal/record"
)

var samples = []string{
	"",
	"plain text",
	"GET /api?a=1&b=<2> \"quoted\" back\\slash\n",
	"tab\there\r\n\b\f\x00\x01\x1f\x7f",
	"utf-8 é ü 日本 🎉 line\u2028sep\u2029",
	"invalid \xff\xfe utf-8 \xc3",
	`{"log":"nested json\n"}`,
}

func TestAppendStringMatchesMarshal(t *testing.T) {
	for _, s := range samples {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonenc.AppendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestAppendLogMatchesMarshal(t *testing.T) {
	// A new field of record.Log must be added to AppendLog too.
	if n := reflect.TypeOf(record.Log{}).NumField(); n != 8 {
		t.Fatalf("record.Log has %d fields, AppendLog writes 8", n)
	}
	logs := []record.Log{
		{TimeNs: 1764496800000000001, Runtime: "docker", ContainerID: "abc", Stream: "stdout", Message: "hello <world>"},
		{TimeNs: -1, Runtime: "cri", ContainerID: "def", ContainerName: "app", Namespace: "prod", Pod: "web-1", Stream: "stderr", Message: samples[5]},
	}
	for _, l := range logs {
		want, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonenc.AppendLog(nil, &l); !bytes.Equal(got, want) {
			t.Errorf("AppendLog = %s, want %s", got, want)
		}
	}
}

func TestAppendEnvelopeMatchesEncode(t *testing.T) {
	l := record.Log{TimeNs: 5, Runtime: "docker", ContainerID: "abc", Stream: "stdout", Message: "m"}
	want, err := record.Encode(record.KindLog, "id-1", "host <1>", "docker:/x:0", 42, l)
	if err != nil {
		t.Fatal(err)
	}
	got := jsonenc.AppendEnvelope(nil, record.KindLog, "id-1", "host <1>", "docker:/x:0", 42, jsonenc.AppendLog(nil, &l))
	if !bytes.Equal(got, want) {
		t.Errorf("AppendEnvelope = %s, want %s", got, want)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range samples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonenc.AppendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}
