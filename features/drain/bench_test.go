package drain

import (
	"context"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkMatch measures steady-state matching over the four loghub
// samples in turn, each under its own key, on one goroutine.
func BenchmarkMatch(b *testing.B) {
	var messages []string
	var keys []string
	for _, name := range []string{"BGL", "OpenSSH", "Apache", "Linux"} {
		for _, l := range loadLoghub(b, name) {
			messages = append(messages, l.Content)
			keys = append(keys, name)
		}
	}
	m, err := NewMiner(context.Background(), Config{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range messages {
		m.Match(keys[i], messages[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(messages)
		m.Match(keys[j], messages[j])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkMatchCold measures a fresh miner per loghub sample, so template
// creation and widening are part of the cost.
func BenchmarkMatchCold(b *testing.B) {
	var messages []string
	for _, name := range []string{"BGL", "OpenSSH", "Apache", "Linux"} {
		for _, l := range loadLoghub(b, name) {
			messages = append(messages, l.Content)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := NewMiner(context.Background(), Config{}, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, msg := range messages {
			m.Match("k", msg)
		}
	}
	b.ReportMetric(float64(b.N*len(messages))/b.Elapsed().Seconds(), "lines/s")
}

// word returns a lower-case word without digits that is unique for n.
func word(n int) string {
	var sb strings.Builder
	for {
		sb.WriteByte(byte('a' + n%26))
		n /= 26
		if n == 0 {
			return sb.String()
		}
	}
}

// BenchmarkMemoryPer10kTemplates reports the heap that 10,000 templates of
// 8 tokens each take under one key, tree included.
func BenchmarkMemoryPer10kTemplates(b *testing.B) {
	const templates = 10000
	messages := make([]string, templates)
	for i := range messages {
		tokens := make([]string, 8)
		for k := range tokens {
			tokens[k] = word(i*8 + k + 1000)
		}
		messages[i] = strings.Join(tokens, " ")
	}
	var perRun float64
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m, err := NewMiner(context.Background(), Config{MaxTemplatesPerKey: templates}, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, msg := range messages {
			m.Match("k", msg)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if got := m.Stats().Templates; got != templates {
			b.Fatalf("mined %d templates, want %d", got, templates)
		}
		perRun = float64(after.HeapAlloc) - float64(before.HeapAlloc)
		runtime.KeepAlive(m)
	}
	b.ReportMetric(perRun/(1<<20), "MiB/10k-templates")
}
