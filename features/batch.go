package features

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Columns of a batch built by NewBatch, in schema order.
const (
	ColumnContainerID   = "container_id"
	ColumnContainerName = "container_name"
	ColumnHostID        = "host_id"
	ColumnImageID       = "image_id"
	ColumnImageRef      = "image_ref"
	ColumnWindowStart   = "window_start"
	ColumnWindowSize    = "window_size"
	ColumnMetricSamples = "metric_samples"
	ColumnPartial       = "partial"
	// ColumnValues holds Window.Values, one fixed-size list of
	// len(FeatureNames) values per window.
	ColumnValues = "values"
	// ColumnExtra holds Window.Extra, one fixed-size list of
	// len(ExtraFeatureNames) values per window.
	ColumnExtra = "extra"
)

// BatchSchema is the Arrow schema of the feature batches that NewBatch
// builds. The two vector columns are fixed-size lists, so the values of
// all windows lie row after row in one float64 buffer per column, and a
// window's vector is a slice of that buffer.
var BatchSchema = arrow.NewSchema([]arrow.Field{
	{Name: ColumnContainerID, Type: arrow.BinaryTypes.String},
	{Name: ColumnContainerName, Type: arrow.BinaryTypes.String},
	{Name: ColumnHostID, Type: arrow.BinaryTypes.String},
	{Name: ColumnImageID, Type: arrow.BinaryTypes.String},
	{Name: ColumnImageRef, Type: arrow.BinaryTypes.String},
	{Name: ColumnWindowStart, Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
	{Name: ColumnWindowSize, Type: arrow.FixedWidthTypes.Duration_ns},
	{Name: ColumnMetricSamples, Type: arrow.PrimitiveTypes.Int64},
	{Name: ColumnPartial, Type: arrow.FixedWidthTypes.Boolean},
	{Name: ColumnValues, Type: arrow.FixedSizeListOf(int32(len(FeatureNames)), arrow.PrimitiveTypes.Float64)},
	{Name: ColumnExtra, Type: arrow.FixedSizeListOf(int32(len(ExtraFeatureNames)), arrow.PrimitiveTypes.Float64)},
}, nil)

// NewBatch returns the windows as one Arrow record batch of BatchSchema,
// allocated from mem (nil for the Go allocator). The caller releases it.
// A window whose Values or Extra is shorter than the feature lists reads 0
// for the missing features.
func NewBatch(windows []Window, mem memory.Allocator) arrow.RecordBatch {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	b := array.NewRecordBuilder(mem, BatchSchema)
	defer b.Release()

	strs := func(i int) *array.StringBuilder { return b.Field(i).(*array.StringBuilder) }
	starts := b.Field(5).(*array.TimestampBuilder)
	sizes := b.Field(6).(*array.DurationBuilder)
	samples := b.Field(7).(*array.Int64Builder)
	partial := b.Field(8).(*array.BooleanBuilder)
	values := b.Field(9).(*array.FixedSizeListBuilder)
	extra := b.Field(10).(*array.FixedSizeListBuilder)
	valueItems := values.ValueBuilder().(*array.Float64Builder)
	extraItems := extra.ValueBuilder().(*array.Float64Builder)
	valueItems.Reserve(len(windows) * len(FeatureNames))
	extraItems.Reserve(len(windows) * len(ExtraFeatureNames))

	for _, w := range windows {
		strs(0).Append(w.ContainerID)
		strs(1).Append(w.ContainerName)
		strs(2).Append(w.HostID)
		strs(3).Append(w.ImageID)
		strs(4).Append(w.ImageRef)
		starts.Append(arrow.Timestamp(w.Start.UnixNano()))
		sizes.Append(arrow.Duration(w.Size))
		samples.Append(int64(w.MetricSamples))
		partial.Append(w.Partial)
		values.Append(true)
		appendPadded(valueItems, w.Values, len(FeatureNames))
		extra.Append(true)
		appendPadded(extraItems, w.Extra, len(ExtraFeatureNames))
	}
	return b.NewRecordBatch()
}

func appendPadded(b *array.Float64Builder, v []float64, n int) {
	if len(v) >= n {
		b.AppendValues(v[:n], nil)
		return
	}
	b.AppendValues(v, nil)
	for range n - len(v) {
		b.Append(0)
	}
}

// BatchWindows returns the windows of a batch of BatchSchema. Their Values
// and Extra are slices of the batch's buffers, not copies, so they are
// valid while the batch is retained and must not be changed.
func BatchWindows(rec arrow.RecordBatch) ([]Window, error) {
	if !rec.Schema().Equal(BatchSchema) {
		return nil, fmt.Errorf("invalid feature batch schema %s: want %s", rec.Schema(), BatchSchema)
	}
	n := int(rec.NumRows())
	strs := func(i int) *array.String { return rec.Column(i).(*array.String) }
	starts := rec.Column(5).(*array.Timestamp)
	sizes := rec.Column(6).(*array.Duration)
	samples := rec.Column(7).(*array.Int64)
	partial := rec.Column(8).(*array.Boolean)
	values := vectorColumn(rec.Column(9).(*array.FixedSizeList), len(FeatureNames))
	extra := vectorColumn(rec.Column(10).(*array.FixedSizeList), len(ExtraFeatureNames))

	out := make([]Window, n)
	for i := range out {
		out[i] = Window{
			ContainerID:   strs(0).Value(i),
			ContainerName: strs(1).Value(i),
			HostID:        strs(2).Value(i),
			ImageID:       strs(3).Value(i),
			ImageRef:      strs(4).Value(i),
			Start:         time.Unix(0, int64(starts.Value(i))).UTC(),
			Size:          time.Duration(sizes.Value(i)),
			Values:        values(i),
			Extra:         extra(i),
			MetricSamples: int(samples.Value(i)),
			Partial:       partial.Value(i),
		}
	}
	return out, nil
}

// vectorColumn returns a function that gives row i of a fixed-size list of
// n float64 values as a slice of the list's value buffer. The three-index
// slice keeps an append to the row from writing into the next row.
func vectorColumn(list *array.FixedSizeList, n int) func(i int) []float64 {
	all := list.ListValues().(*array.Float64).Float64Values()
	offset := list.Data().Offset()
	return func(i int) []float64 {
		lo := (offset + i) * n
		return all[lo : lo+n : lo+n]
	}
}
