package spool

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/harrierhq/harrier/internal/kafka"
)

// benchBatch returns 1000 log-sized messages of 20 containers, the batch
// size the collector writes.
func benchBatch() []kafka.Message {
	value := make([]byte, 300)
	for i := range value {
		value[i] = 'x'
	}
	msgs := make([]kafka.Message, 1000)
	for i := range msgs {
		msgs[i] = kafka.Message{Topic: "logs", Key: []byte("container-" + strconv.Itoa(i%20)), Value: value}
	}
	return msgs
}

// BenchmarkSpoolWrite measures Write with fsync per call, and drops the
// oldest segments so the spool stays bounded without a sender.
func BenchmarkSpoolWrite(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir(), MaxBytes: 64 << 20, Policy: DropOldest}, failingEmitter{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	msgs := benchBatch()
	b.SetBytes(int64(len(msgs) * 300))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Write(context.Background(), msgs...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(msgs))/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkFileAppendBaseline writes the same bytes to one file with one
// write and one fsync per batch: the floor under BenchmarkSpoolWrite.
func BenchmarkFileAppendBaseline(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "baseline"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	msgs := benchBatch()
	var buf []byte
	b.SetBytes(int64(len(msgs) * 300))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = buf[:0]
		for _, m := range msgs {
			buf = append(buf, m.Key...)
			buf = append(buf, m.Value...)
		}
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		if i%200 == 199 {
			f.Truncate(0)
			f.Seek(0, 0)
		}
	}
	b.ReportMetric(float64(b.N*len(msgs))/b.Elapsed().Seconds(), "msgs/s")
}
