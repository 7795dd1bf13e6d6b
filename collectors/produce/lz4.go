package produce

import (
	"io"
	"sync"

	"github.com/pierrec/lz4/v4"
	"github.com/segmentio/kafka-go/compress"
)

// lz4BlockSize is the frame block size of the collector's lz4 writer.
// kafka-go's own lz4 codec uses the library default of 4 MiB, so every
// writer holds an input and an output buffer of 4 MiB, while a produce
// request here carries at most DefaultBatchBytes (1 MiB) before
// compression. 64 KiB blocks compress such batches almost as well and keep
// each writer's buffers small.
const lz4BlockSize = lz4.Block64Kb

// smallBlockLz4 is kafka-go's lz4 codec with 64 KiB blocks. Readers are
// the library's: an lz4 frame states its block size, so any reader
// decodes it.
type smallBlockLz4 struct {
	compress.Codec
	writers sync.Pool
}

func (c *smallBlockLz4) NewWriter(w io.Writer) io.WriteCloser {
	z, _ := c.writers.Get().(*lz4.Writer)
	if z == nil {
		z = lz4.NewWriter(w)
		if err := z.Apply(lz4.BlockSizeOption(lz4BlockSize)); err != nil {
			// Apply on a new writer fails only on an invalid option, and
			// the block size above is one of the sizes lz4 defines.
			panic("lz4 block size option rejected: " + err.Error())
		}
	} else {
		z.Reset(w)
	}
	return &lz4Writer{Writer: z, pool: &c.writers}
}

type lz4Writer struct {
	*lz4.Writer
	pool *sync.Pool
}

func (w *lz4Writer) Close() error {
	z := w.Writer
	if z == nil {
		return nil
	}
	w.Writer = nil
	err := z.Close()
	z.Reset(nil)
	w.pool.Put(z)
	return err
}

var installLz4 sync.Once

// useSmallBlockLz4 replaces the lz4 entry of kafka-go's global codec table,
// which its writers look up by codec id, so that every kafka-go writer in
// this process compresses lz4 with 64 KiB blocks.
func useSmallBlockLz4() {
	installLz4.Do(func() {
		compress.Codecs[compress.Lz4] = &smallBlockLz4{Codec: compress.Codecs[compress.Lz4]}
	})
}
