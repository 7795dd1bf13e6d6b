package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/harrierhq/harrier/features"
	"github.com/harrierhq/harrier/storage"
	"github.com/harrierhq/harrier/storage/storagetest"
)

var exportStart = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

// insertFeatureRows stores windows of two containers at minutes 0 to 9 of
// exportStart, and one window of each repeated, as a redelivery leaves it
// before the table's parts merge.
func insertFeatureRows(t *testing.T, store *storage.Store) {
	t.Helper()
	columns := append([]string{"container_id", "host_id", "image_id", "window_start", "window_ns", "window_s", "computed_at"},
		append(append([]string{}, features.FeatureNames...), features.ExtraFeatureNames...)...)
	var rows [][]any
	for minute := range 10 {
		for c, id := range []string{"c-one", "c-two"} {
			start := exportStart.Add(time.Duration(minute) * time.Minute)
			row := []any{id, "host-1", "sha256:img" + id, start, start.UnixNano(), uint32(60), exportStart}
			for i := range len(features.FeatureNames) + len(features.ExtraFeatureNames) {
				row = append(row, float64(minute*100+c*10+i)+0.5)
			}
			rows = append(rows, row)
			if minute == 3 {
				rows = append(rows, row)
			}
		}
	}
	if err := store.Insert(context.Background(), "features", columns, rows); err != nil {
		t.Fatal(err)
	}
}

func runFeaturesExport(t *testing.T, store *storage.Store, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	full := append([]string{"features", "--clickhouse", store.Addr(), "--clickhouse.database", store.Database()}, args...)
	code := mainWithArgs(full, &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

// exportedRows returns the rows of every record batch in rec as Go values.
func exportedRows(rec arrow.RecordBatch) [][]any {
	rows := make([][]any, rec.NumRows())
	for i := range rows {
		for c := range int(rec.NumCols()) {
			rows[i] = append(rows[i], rec.Column(c).GetOneForMarshal(i))
		}
	}
	return rows
}

func TestFeaturesExportReadsBack(t *testing.T) {
	store := storagetest.New(t)
	insertFeatureRows(t, store)

	from, to := exportStart.Add(2*time.Minute), exportStart.Add(7*time.Minute)
	windows, err := features.ReadWindows(context.Background(), store, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(windows) != 10 {
		t.Fatalf("ReadWindows returned %d windows of minutes 2 to 6, want 10", len(windows))
	}
	wantRec := features.NewTableBatch(windows, nil)
	defer wantRec.Release()
	want := exportedRows(wantRec)

	dir := t.TempDir()
	for _, format := range []string{features.FormatParquet, features.FormatArrow} {
		t.Run(format, func(t *testing.T) {
			path := filepath.Join(dir, "features."+format)
			out, errOut, code := runFeaturesExport(t, store, "export", "--from", from.Format(time.RFC3339),
				"--to", to.Format(time.RFC3339), "--format", format, path)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if !strings.Contains(out, "wrote 10 windows") {
				t.Errorf("output = %q, want it to count 10 windows", out)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			var got [][]any
			switch format {
			case features.FormatParquet:
				tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(data), nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
				if err != nil {
					t.Fatal(err)
				}
				defer tbl.Release()
				reader := array.NewTableReader(tbl, tbl.NumRows())
				defer reader.Release()
				for reader.Next() {
					got = append(got, exportedRows(reader.RecordBatch())...)
				}
			case features.FormatArrow:
				r, err := ipc.NewFileReader(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				for i := range r.NumRecords() {
					rec, err := r.RecordBatch(i)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, exportedRows(rec)...)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("rows read back differ:\n got %v\nwant %v", got, want)
			}
			// Spot check against the inserted values: c-two's window of
			// minute 2 comes second, and cpu_cores is feature 0.
			if len(got) > 1 && (got[1][0] != "c-two" || got[1][5] != 210.5) {
				t.Errorf("row 1 = %v, want c-two with cpu_cores 210.5", got[1])
			}
		})
	}
}

func TestFeaturesExportPerHostHopping(t *testing.T) {
	store := storagetest.New(t)
	insertFeatureRows(t, store)
	path := filepath.Join(t.TempDir(), "hosts.arrow")
	from, to := exportStart.Add(2*time.Minute), exportStart.Add(4*time.Minute)
	out, errOut, code := runFeaturesExport(t, store, "export", "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339),
		"--by", "host", "--length", "2m", "--format", "arrow", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "wrote 2 windows") {
		t.Errorf("output = %q, want it to count 2 windows", out)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewFileReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rec, err := r.RecordBatch(0)
	if err != nil {
		t.Fatal(err)
	}
	rows := exportedRows(rec)

	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	// The window from minute 2 covers minutes 2 and 3 of both containers.
	// Their log_lines (feature 3) are 203.5, 213.5, 303.5 and 313.5.
	row := rows[0]
	if row[0] != "host-1" || row[2] != uint32(120) || row[3] != uint32(2) || row[4] != uint32(4) {
		t.Errorf("row 0 = %v, want host-1, 120 s, 2 containers, 4 windows", row[:5])
	}
	if got := row[5+3]; got != 1034.0 {
		t.Errorf("log_lines of row 0 = %v, want 1034", got)
	}
}

func TestFeaturesExportRejectsBadArguments(t *testing.T) {
	store := storagetest.New(t)
	path := filepath.Join(t.TempDir(), "out.parquet")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing from", []string{"export", "--to", "2026-11-30T11:00:00Z", path}, "--from"},
		{"bad time", []string{"export", "--from", "yesterday", "--to", "2026-11-30T11:00:00Z", path}, `"yesterday"`},
		{"empty range", []string{"export", "--from", "2026-11-30T11:00:00Z", "--to", "2026-11-30T10:00:00Z", path}, "not before"},
		{"bad format", []string{"export", "--from", "2026-11-30T10:00:00Z", "--to", "2026-11-30T11:00:00Z", "--format", "csv", path}, `"csv"`},
		{"no file", []string{"export", "--from", "2026-11-30T10:00:00Z", "--to", "2026-11-30T11:00:00Z"}, "FILE"},
		{"bad entity", []string{"export", "--from", "2026-11-30T10:00:00Z", "--to", "2026-11-30T11:00:00Z", "--by", "pod", path}, `"pod"`},
		{"bad length", []string{"export", "--from", "2026-11-30T10:00:00Z", "--to", "2026-11-30T11:00:00Z", "--length", "90s", path}, "1m30s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, code := runFeaturesExport(t, store, c.args...)
			if code == 0 {
				t.Fatal("accepted")
			}
			if !strings.Contains(errOut, c.want) {
				t.Errorf("error %q does not contain %q", errOut, c.want)
			}
		})
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a rejected export left %s behind", path)
	}
}
