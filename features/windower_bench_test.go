package features

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/harrierhq/harrier/features/drain"
	"github.com/harrierhq/harrier/internal/record"
)

// benchStream returns 30 minutes of 100 containers in event-time order:
// per container and minute 20 log lines of five kinds and six cgroup
// samples, with the positions a three-partition topic gives them.
func benchStream(b *testing.B) []positioned {
	b.Helper()
	const containers, minutes = 100, 30
	messages := []string{
		"GET /api/items/%d HTTP/1.1 200 from 192.0.2.%d",
		"Failed password for invalid user admin from 203.0.113.%d port %d ssh2",
		"job %d finished in %dms",
		"WARN cache miss ratio %d.%d%% above target",
		"connection from 198.51.100.%d closed after %d requests",
	}
	var out []positioned
	offsets := map[partitionKey]int64{}
	add := func(kind record.Kind, id string, ns int64, container int, payload any) {
		raw, err := record.Encode(kind, id, "host-1", "bench", ns, payload)
		if err != nil {
			b.Fatal(err)
		}
		env, err := record.Decode(raw)
		if err != nil {
			b.Fatal(err)
		}
		k := partitionKey{record.TopicFor(kind), container % 3}
		out = append(out, positioned{env, Position{Topic: k.topic, Partition: k.partition, Offset: offsets[k]}})
		offsets[k]++
	}
	usage := make([]int64, containers)
	for second := 0; second < minutes*60; second++ {
		for c := range containers {
			id := fmt.Sprintf("c%03d", c)
			ns := base.Add(time.Duration(second) * time.Second).UnixNano()
			if second%3 == c%3 {
				msg := fmt.Sprintf(messages[(second+c)%len(messages)], second%250, c+second%7)
				add(record.KindLog, fmt.Sprintf("l-%d-%d", c, second), ns, c, record.Log{
					TimeNs: ns, Runtime: "docker", ContainerID: id, Stream: "stdout", Message: msg})
			}
			if second%10 == c%10 {
				usage[c] += int64(c%4+1) * 1e9
				m := metricAt(id, 0, second, usage[c], usage[c]/20, int64(50<<20+c*4096))
				m.PidsCurrent, m.IOReadBytes, m.IOWriteBytes = 5, int64(second)*4096, int64(second)*1024
				m.NetRxBytes, m.NetTxBytes = int64(second)*2048, int64(second)*512
				add(record.KindMetric, fmt.Sprintf("m-%d-%d", c, second), ns, c, m)
			}
		}
	}
	return out
}

// BenchmarkWindower measures windows and features computed per second on
// one goroutine, next to decoding the same payloads, which is the least
// any consumer of the records does. Run it with -cpu 1 for the figure per
// core.
func BenchmarkWindower(b *testing.B) {
	stream := benchStream(b)
	featuresPerWindow := float64(len(FeatureNames) + len(ExtraFeatureNames))

	b.Run("decode-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range stream {
				var err error
				switch r.env.Kind {
				case record.KindLog:
					var l record.Log
					err = json.Unmarshal(r.env.Payload, &l)
				case record.KindMetric:
					var m record.Metric
					err = json.Unmarshal(r.env.Payload, &m)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(len(stream)*b.N)/b.Elapsed().Seconds(), "records/s")
	})

	modes := []struct {
		name  string
		miner func() *drain.Miner
	}{
		{"shapes", func() *drain.Miner { return nil }},
		{"templates", func() *drain.Miner { return drain.NewInMemory(nil) }},
	}
	for _, mode := range modes {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			windows := 0
			for b.Loop() {
				w := NewWindower(WindowConfig{Templates: mode.miner()})
				for _, r := range stream {
					closed, err := w.AddEnvelopeAt(r.env, r.pos)
					if err != nil {
						b.Fatal(err)
					}
					windows += len(closed)
				}
				windows += len(w.Flush())
			}
			seconds := b.Elapsed().Seconds()
			b.ReportMetric(float64(len(stream)*b.N)/seconds, "records/s")
			b.ReportMetric(float64(windows)/seconds, "windows/s")
			b.ReportMetric(float64(windows)*featuresPerWindow/seconds, "features/s")
		})
	}
}
