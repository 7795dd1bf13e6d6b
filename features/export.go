package features

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/harrierhq/harrier/storage"
)

// Export file formats.
const (
	FormatParquet = "parquet"
	FormatArrow   = "arrow"
)

// TableSchema returns the Arrow schema of exported features: one row per
// window with the key columns of the features table, then one float64
// column per feature of FeatureNames and ExtraFeatureNames.
func TableSchema() *arrow.Schema {
	fields := []arrow.Field{
		{Name: "container_id", Type: arrow.BinaryTypes.String},
		{Name: "host_id", Type: arrow.BinaryTypes.String},
		{Name: "image_id", Type: arrow.BinaryTypes.String},
		{Name: "window_start", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
		{Name: "window_s", Type: arrow.PrimitiveTypes.Uint32},
	}
	for _, name := range append(append([]string{}, FeatureNames...), ExtraFeatureNames...) {
		fields = append(fields, arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64})
	}
	return arrow.NewSchema(fields, nil)
}

// NewTableBatch returns windows as a record batch of TableSchema, allocated
// from mem (nil for the Go allocator). The caller releases it. Window sizes
// are rounded down to whole seconds, as in the features table.
func NewTableBatch(windows []Window, mem memory.Allocator) arrow.RecordBatch {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	b := array.NewRecordBuilder(mem, TableSchema())
	defer b.Release()

	for _, w := range windows {
		b.Field(0).(*array.StringBuilder).Append(w.ContainerID)
		b.Field(1).(*array.StringBuilder).Append(w.HostID)
		b.Field(2).(*array.StringBuilder).Append(w.ImageID)
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(w.Start.UnixNano()))
		b.Field(4).(*array.Uint32Builder).Append(uint32(w.Size / time.Second))
		for i := range FeatureNames {
			b.Field(5 + i).(*array.Float64Builder).Append(valueAt(w.Values, i))
		}
		for i := range ExtraFeatureNames {
			b.Field(5 + len(FeatureNames) + i).(*array.Float64Builder).Append(valueAt(w.Extra, i))
		}
	}
	return b.NewRecordBatch()
}

// WindowsQuery returns the statement that reads the stored windows that
// start in [from, to), ordered by start and container id. The bounds are
// whole seconds of window_start, which the table is partitioned and
// sorted by, and exact nanoseconds of window_ns.
func WindowsQuery(from, to time.Time) string {
	columns := append(append([]string{}, FeatureNames...), ExtraFeatureNames...)
	return fmt.Sprintf(`SELECT container_id, host_id, image_id, window_ns, window_s, %s
FROM features FINAL
WHERE window_start >= toDateTime(%d) AND window_start <= toDateTime(%d)
    AND window_ns >= %d AND window_ns < %d
ORDER BY window_ns, container_id`,
		strings.Join(columns, ", "), from.Unix(), to.Unix(), from.UnixNano(), to.UnixNano())
}

// ReadWindows reads the windows that start in [from, to) from the features
// table. Their names, image references and metric sample counts, which the
// table does not keep, are empty.
func ReadWindows(ctx context.Context, store *storage.Store, from, to time.Time) ([]Window, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("invalid time range [%s, %s): the start must be before the end", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	rows, err := store.Conn().Query(ctx, WindowsQuery(from, to))
	if err != nil {
		return nil, fmt.Errorf("read features from %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	defer rows.Close()

	var out []Window
	for rows.Next() {
		var w Window
		var startNs int64
		var sizeS uint32
		w.Values = make([]float64, len(FeatureNames))
		w.Extra = make([]float64, len(ExtraFeatureNames))
		dest := []any{&w.ContainerID, &w.HostID, &w.ImageID, &startNs, &sizeS}
		for i := range w.Values {
			dest = append(dest, &w.Values[i])
		}
		for i := range w.Extra {
			dest = append(dest, &w.Extra[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read features: %w", err)
		}
		w.Start = time.Unix(0, startNs).UTC()
		w.Size = time.Duration(sizeS) * time.Second
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read features: %w", err)
	}
	return out, nil
}

// WriteBatch writes rec to w as a Parquet file (FormatParquet, Snappy
// compressed) or an Arrow IPC file (FormatArrow). It leaves w open.
func WriteBatch(w io.Writer, format string, rec arrow.RecordBatch) error {
	// The Parquet writer closes a writer that is an io.Closer.
	w = struct{ io.Writer }{w}
	switch format {
	case FormatParquet:
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy))
		fw, err := pqarrow.NewFileWriter(rec.Schema(), w, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return fmt.Errorf("start Parquet file: %w", err)
		}
		if err := fw.Write(rec); err != nil {
			fw.Close()
			return fmt.Errorf("write Parquet row group: %w", err)
		}
		if err := fw.Close(); err != nil {
			return fmt.Errorf("finish Parquet file: %w", err)
		}
		return nil
	case FormatArrow:
		fw, err := ipc.NewFileWriter(w, ipc.WithSchema(rec.Schema()))
		if err != nil {
			return fmt.Errorf("start Arrow file: %w", err)
		}
		if err := fw.Write(rec); err != nil {
			fw.Close()
			return fmt.Errorf("write Arrow record batch: %w", err)
		}
		if err := fw.Close(); err != nil {
			return fmt.Errorf("finish Arrow file: %w", err)
		}
		return nil
	}
	return fmt.Errorf("invalid export format %q: use %s or %s", format, FormatParquet, FormatArrow)
}
