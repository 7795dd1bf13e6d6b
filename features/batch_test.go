package features

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

func sampleWindows() []Window {
	var out []Window
	for i := range 5 {
		values := make([]float64, len(FeatureNames))
		extra := make([]float64, len(ExtraFeatureNames))
		for j := range values {
			values[j] = float64(i*10+j) + 0.25
		}
		for j := range extra {
			extra[j] = -float64(i*100 + j)
		}
		out = append(out, Window{
			ContainerID: "c" + string(rune('a'+i)), ContainerName: "name", HostID: "host-1", ImageID: "sha256:img",
			ImageRef: "img:1", Start: base.Add(time.Duration(i) * time.Minute), Size: time.Minute,
			Values: values, Extra: extra, MetricSamples: i, Partial: i == 4,
		})
	}
	return out
}

func TestBatchWindowsRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)

	want := sampleWindows()
	rec := NewBatch(want, mem)
	defer rec.Release()
	if rec.NumRows() != int64(len(want)) {
		t.Fatalf("NumRows = %d, want %d", rec.NumRows(), len(want))
	}
	got, err := BatchWindows(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("windows from the batch differ:\n got %+v\nwant %+v", got, want)
	}

	// The vectors are slices of the batch's value buffer, not copies.
	buffer := rec.Column(9).(*array.FixedSizeList).ListValues().(*array.Float64).Float64Values()
	if &got[2].Values[0] != &buffer[2*len(FeatureNames)] {
		t.Error("Values of window 2 is a copy, want a slice of the batch's buffer")
	}
	if cap(got[0].Values) != len(FeatureNames) {
		t.Errorf("cap(Values) = %d, want %d so that an append cannot overwrite the next window", cap(got[0].Values), len(FeatureNames))
	}
}

func TestBatchWindowsSlice(t *testing.T) {
	rec := NewBatch(sampleWindows(), nil)
	defer rec.Release()
	slice := rec.NewSlice(2, 4)
	defer slice.Release()
	got, err := BatchWindows(slice)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleWindows()[2:4]
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("windows of a sliced batch differ:\n got %+v\nwant %+v", got, want)
	}
}

func TestBatchWindowsRejectsOtherSchema(t *testing.T) {
	rec := NewTableBatch(sampleWindows(), nil)
	defer rec.Release()
	if _, err := BatchWindows(rec); err == nil {
		t.Fatal("BatchWindows accepted a batch of TableSchema")
	}
}

// tableRows returns the rows of a batch of TableSchema as Go values.
func tableRows(t *testing.T, rec arrow.RecordBatch) [][]any {
	t.Helper()
	rows := make([][]any, rec.NumRows())
	for i := range rows {
		for c := range int(rec.NumCols()) {
			rows[i] = append(rows[i], rec.Column(c).GetOneForMarshal(i))
		}
	}
	return rows
}

// checkFields compares names and types with TableSchema. Parquet adds
// field ids as metadata.
func checkFields(t *testing.T, got *arrow.Schema) {
	t.Helper()
	want := TableSchema()
	if got.NumFields() != want.NumFields() {
		t.Fatalf("file has %d columns, want %d", got.NumFields(), want.NumFields())
	}
	for i, f := range want.Fields() {
		if g := got.Field(i); g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) {
			t.Errorf("column %d = %s %s, want %s %s", i, g.Name, g.Type, f.Name, f.Type)
		}
	}
}

func TestWriteBatchReadsBack(t *testing.T) {
	windows := sampleWindows()
	rec := NewTableBatch(windows, nil)
	defer rec.Release()
	want := tableRows(t, rec)

	t.Run(FormatParquet, func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteBatch(&buf, FormatParquet, rec); err != nil {
			t.Fatal(err)
		}
		tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(buf.Bytes()), nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		defer tbl.Release()
		checkFields(t, tbl.Schema())
		reader := array.NewTableReader(tbl, tbl.NumRows())
		defer reader.Release()
		if !reader.Next() {
			t.Fatal("no record batch in the Parquet file")
		}
		if got := tableRows(t, reader.RecordBatch()); !reflect.DeepEqual(got, want) {
			t.Errorf("rows read back differ:\n got %v\nwant %v", got, want)
		}
	})

	t.Run(FormatArrow, func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteBatch(&buf, FormatArrow, rec); err != nil {
			t.Fatal(err)
		}
		r, err := ipc.NewFileReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.NumRecords() != 1 {
			t.Fatalf("Arrow file holds %d record batches, want 1", r.NumRecords())
		}
		got, err := r.RecordBatch(0)
		if err != nil {
			t.Fatal(err)
		}
		checkFields(t, got.Schema())
		if rows := tableRows(t, got); !reflect.DeepEqual(rows, want) {
			t.Errorf("rows read back differ:\n got %v\nwant %v", rows, want)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		err := WriteBatch(&bytes.Buffer{}, "csv", rec)
		if err == nil {
			t.Fatal("format csv accepted")
		}
	})
}
