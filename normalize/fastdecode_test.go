package normalize

import (
	"bufio"
	"bytes"
	"os"
	"reflect"
	"testing"

	"github.com/harrierhq/harrier/internal/record"
)

// decodeRecordSlow is decodeRecord without the fast path: record.Decode and
// json.Unmarshal only.
func decodeRecordSlow(topic string, value []byte, maxMessageBytes int) (parsed, error) {
	env, err := record.Decode(value)
	if err != nil {
		return parsed{env: env}, &rejection{kind: RejectInvalidEnvelope, err: err}
	}
	p, err := decodeEnvelope(parsed{env: env}, topic, maxMessageBytes)
	if err != nil && rejectionKind(err) == RejectInvalidField {
		err = &rejection{kind: RejectInvalidField, err: err}
	}
	return p, err
}

// checkSameDecode fails unless decodeRecord and decodeRecordSlow return
// equal records and equal errors for value.
func checkSameDecode(t *testing.T, value []byte) {
	t.Helper()
	for _, topic := range []string{"", record.TopicLogs, record.TopicMetrics} {
		fast, fastErr := decodeRecord(topic, value, 200)
		slow, slowErr := decodeRecordSlow(topic, value, 200)
		if (fastErr == nil) != (slowErr == nil) {
			t.Fatalf("topic %q, value %q: fast error %v, json error %v", topic, value, fastErr, slowErr)
		}
		if fastErr != nil {
			if fastErr.Error() != slowErr.Error() || rejectionKind(fastErr) != rejectionKind(slowErr) {
				t.Fatalf("topic %q, value %q: fast error %q (%s), json error %q (%s)", topic, value,
					fastErr, rejectionKind(fastErr), slowErr, rejectionKind(slowErr))
			}
			continue
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("topic %q, value %q:\nfast %+v %+v %+v\njson %+v %+v %+v", topic, value,
				fast.env, fast.log, fast.metric, slow.env, slow.log, slow.metric)
		}
	}
	// A value the fast path accepts must also pass record.Decode.
	if p, ok := fastDecode(value); ok {
		env, err := record.Decode(value)
		if err != nil {
			t.Fatalf("value %q: fast path accepted what record.Decode rejects: %v", value, err)
		}
		if !reflect.DeepEqual(p.env, env) {
			t.Fatalf("value %q: fast envelope %+v, record.Decode %+v", value, p.env, env)
		}
	}
}

// fastDecodeCases are inputs at the edges of what the fast path handles.
var fastDecodeCases = []string{
	`{"v":1,"kind":"log","id":"a","host_id":"h","source":"s","collected_ns":5,"payload":{"time_ns":7,"runtime":"docker","container_id":"c","stream":"stdout","message":"say \"hi\"\n\t\\ \/ \u00e9 \u003c\u0000"}}`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":7,"container_id":"c","stream":"stderr","message":"\ud83d\ude00 and \ud800"}}`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":7,"container_id":"c","stream":"stderr","message":"bad utf-8 ` + "\xff" + `"}}`,
	` { "v" : 1 , "kind" : "log" , "id" : "a" , "payload" : { "time_ns" : 7 , "container_id" : "c" , "stream" : "stdout" , "message" : "" } } `,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":7,"container_id":"c","stream":"stdout","message":"x","time_ns":8}}`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":7.0,"container_id":"c","stream":"stdout"}}`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":1e3,"container_id":"c","stream":"stdout"}}`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":07,"container_id":"c","stream":"stdout"}}`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":-0,"container_id":"c","stream":"stdout"}}`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":99999999999999999999,"container_id":"c","stream":"stdout"}}`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":null,"container_id":"c","stream":"stdout"}}`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":"7","container_id":"c","stream":"stdout"}}`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":7,"container_id":"c","stream":"stdout","extra":[1,{"a":2}]}}`,
	`{"v":1,"kind":"log","id":"a","payload":{"TIME_NS":7,"container_id":"c","stream":"stdout"}}`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":7,"container_id":"c","stream":"stdout","message":"` + string(bytes.Repeat([]byte("m"), 300)) + `"}}`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":7,"container_id":"c","stream":"stdout"}} x`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":7,"container_id":"c","stream":"stdout"},}`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":7,"container_id":"c","stream":"stdout",}}`,
	`{"v":1,"kind":"log","id":"a","payload":{}}`,
	`{"v":1,"kind":"log","id":"a","payload":null}`,
	`{"v":1,"kind":"log","id":"a","payload":[]}`,
	`{"v":1,"kind":"log","id":"","payload":{"time_ns":7,"container_id":"c","stream":"stdout"}}`,
	`{"v":2,"kind":"log","id":"a","payload":{"time_ns":7,"container_id":"c","stream":"stdout"}}`,
	`{"v":1,"kind":"log","kind":"metric","id":"a","payload":{"time_ns":7,"container_id":"c","stream":"stdout"}}`,
	`{"payload":{"time_ns":7,"container_id":"c","stream":"stdout"},"v":1,"kind":"log","id":"a"}`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":7,"container_id":"c","stream":"stdout"},"kind":"metric"}`,
	`{"v":1,"kind":"log","id":"a","collected_ns":-1,"payload":{"time_ns":7,"container_id":"c","stream":"stdout"}}`,
	`{"v":1,"kind":"log","id":"a\u0041","payload":{"time_ns":7,"container_id":"c","stream":"stdin"}}`,
	`{"v":1,"kind":"log","id":"a","payload":{"time_ns":7,"container_id":"c","stream":"stdout","message":"tab	inside"}}`,
	`{"v":1,"kind":"metric","id":"m","host_id":"h","collected_ns":1,"payload":{"time_ns":9,"container_id":"c","cgroup_path":"p","cgroup_mode":"v2","cpu_usage_ns":1,"cpu_throttled_ns":-1,"cpu_throttled_periods":0,"memory_usage_bytes":5,"memory_working_set_bytes":4,"memory_limit_bytes":-1,"oom_kills":0,"pids_current":3,"pids_max":-1,"io_read_bytes":0,"io_write_bytes":0}}`,
	`{"v":1,"kind":"metric","id":"m","payload":{"time_ns":9,"cgroup_path":"p","cgroup_mode":"v2","oom_kills":-2}}`,
	`{"v":1,"kind":"metric","id":"m","payload":{"time_ns":9,"cgroup_path":"p","cgroup_mode":"v3"}}`,
	`{"v":1,"kind":"alert","id":"m","payload":{"time_ns":9}}`,
	`{"v":1,"kind":"scan","id":"m","payload":{"time_ns":9}}`,
	`{}`, `[]`, `null`, `{"v":1`, `{"v":1,"kind":"log","id":"a","payload":{"time_ns":7`, ``,
}

func TestFastDecodeMatchesJSON(t *testing.T) {
	for _, c := range fastDecodeCases {
		checkSameDecode(t, []byte(c))
	}
	data, err := os.ReadFile("testdata/envelopes.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		checkSameDecode(t, sc.Bytes())
	}
}

func TestFastDecodeTakesHotKinds(t *testing.T) {
	data, err := os.ReadFile("testdata/envelopes.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		env, err := record.Decode(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		_, ok := fastDecode(sc.Bytes())
		want := env.Kind == record.KindLog
		if ok != want {
			t.Errorf("fastDecode of a %s record: ok=%v, want %v", env.Kind, ok, want)
		}
	}
}

// FuzzFastDecodeMatchesJSON checks that the reflection-free decoder of log
// records accepts and rejects exactly what record.Decode and
// json.Unmarshal do, with equal records and equal errors.
func FuzzFastDecodeMatchesJSON(f *testing.F) {
	for _, c := range fastDecodeCases {
		f.Add([]byte(c))
	}
	data, err := os.ReadFile("testdata/envelopes.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f.Add(bytes.Clone(sc.Bytes()))
	}
	f.Fuzz(checkSameDecode)
}

func BenchmarkDecodeRecord(b *testing.B) {
	value := []byte(fastDecodeCases[0])
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := decodeRecord("", value, DefaultMaxMessageBytes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, err := decodeRecordSlow("", value, DefaultMaxMessageBytes); err != nil {
				b.Fatal(err)
			}
		}
	})
}
