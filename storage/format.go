package storage

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"time"
)

// Output formats of FormatRows.
const (
	FormatNameTable = "table"
	FormatNameCSV   = "csv"
	FormatNameJSON  = "json"
)

// FormatRows writes cols and rows to w in the named format: "table"
// (FormatTable), "csv" (FormatCSV) or "json" (FormatJSON).
func FormatRows(w io.Writer, format string, cols []string, rows [][]any) error {
	switch format {
	case FormatNameTable:
		return FormatTable(w, cols, rows)
	case FormatNameCSV:
		return FormatCSV(w, cols, rows)
	case FormatNameJSON:
		return FormatJSON(w, cols, rows)
	default:
		return fmt.Errorf("invalid output format %q: use table, csv or json", format)
	}
}

// FormatCSV writes a header line with the column names and one RFC 4180
// record per row. Times print in RFC 3339 with nanoseconds, NULL as an
// empty field, slices as [a b c].
func FormatCSV(w io.Writer, cols []string, rows [][]any) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(cols); err != nil {
		return err
	}
	record := make([]string, len(cols))
	for _, row := range rows {
		for i := range cols {
			record[i] = ""
			if i < len(row) {
				record[i] = plainValue(row[i])
			}
		}
		if err := cw.Write(record); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// FormatJSON writes a JSON array with one object per row, whose keys are
// the column names in column order. As in ClickHouse's own JSON output,
// 64-bit integers are strings, because JSON readers that parse numbers as
// doubles lose precision above 2^53, and NaN and infinities are null.
func FormatJSON(w io.Writer, cols []string, rows [][]any) error {
	keys := make([][]byte, len(cols))
	for i, c := range cols {
		k, err := json.Marshal(c)
		if err != nil {
			return err
		}
		keys[i] = k
	}
	buf := []byte("[")
	for r, row := range rows {
		if r > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, "\n{"...)
		for i := range cols {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, keys[i]...)
			buf = append(buf, ':')
			var v any
			if i < len(row) {
				v = row[i]
			}
			enc, err := jsonValue(v)
			if err != nil {
				return fmt.Errorf("encode column %s of row %d: %w", cols[i], r, err)
			}
			buf = append(buf, enc...)
		}
		buf = append(buf, '}')
	}
	buf = append(buf, "\n]\n"...)
	_, err := w.Write(buf)
	return err
}

// jsonValue encodes one value for FormatJSON.
func jsonValue(v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return []byte("null"), nil
	case int64:
		return json.Marshal(strconv.FormatInt(x, 10))
	case uint64:
		return json.Marshal(strconv.FormatUint(x, 10))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return []byte("null"), nil
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return []byte("null"), nil
		}
	case time.Time:
		return json.Marshal(x.UTC().Format(time.RFC3339Nano))
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return []byte("null"), nil
		}
		return jsonValue(rv.Elem().Interface())
	}
	return json.Marshal(v)
}

// plainValue formats one value for FormatCSV.
func plainValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return ""
		}
		return plainValue(rv.Elem().Interface())
	}
	return fmt.Sprint(v)
}
