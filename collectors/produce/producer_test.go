package produce

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/pierrec/lz4/v4"
	kg "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"

	"github.com/harrierhq/harrier/internal/kafka"
	"github.com/harrierhq/harrier/internal/kafka/kafkatest"
)

// TestSmallBlockLz4Frame checks that the collector's lz4 writer writes
// frames with 64 KiB blocks, which any lz4 reader decodes, also when a
// pooled writer is reused.
func TestSmallBlockLz4Frame(t *testing.T) {
	useSmallBlockLz4()
	codec := compress.Codecs[compress.Lz4]
	payload := bytes.Repeat([]byte("level=info msg=\"request served\" status=200\n"), 10_000)
	for round := range 3 {
		var frame bytes.Buffer
		w := codec.NewWriter(&frame)
		if _, err := w.Write(payload); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		// The block maximum size is in bits 4 to 6 of the frame
		// descriptor's second byte: 4 means 64 KiB.
		if got := frame.Bytes()[5] >> 4 & 0x7; got != 4 {
			t.Fatalf("round %d: block size index %d, want 4 (64 KiB)", round, got)
		}
		got, err := io.ReadAll(lz4.NewReader(bytes.NewReader(frame.Bytes())))
		if err != nil {
			t.Fatalf("round %d: decode: %v", round, err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("round %d: decoded %d bytes, want the %d written", round, len(got), len(payload))
		}
	}
}

// TestProducerLz4RoundTrip writes lz4-compressed batches to the embedded
// broker and reads them back with kafka-go's reader.
func TestProducerLz4RoundTrip(t *testing.T) {
	brokers := kafkatest.StartTestBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, brokers, "test.", 1, "logs"); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Brokers: brokers, TopicPrefix: "test."})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	const n = 3000
	var msgs []kafka.Message
	for i := range n {
		msgs = append(msgs, kafka.Message{Topic: "logs", Key: []byte("c1"), Value: fmt.Appendf(nil, `{"line":%d,"msg":"request served"}`, i)})
	}
	for start := 0; start < n; start += 1000 {
		if err := p.Write(ctx, msgs[start:start+1000]...); err != nil {
			t.Fatal(err)
		}
	}

	r := kg.NewReader(kg.ReaderConfig{Brokers: brokers, Topic: "test.logs", Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	for i := range n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal(m.Value, msgs[i].Value) {
			t.Fatalf("message %d = %s, want %s", i, m.Value, msgs[i].Value)
		}
	}
}
