package datasource

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// run executes stmt and returns its rows as a frame, reading at most
// maxRows rows. truncated reports that more rows were left. The fields
// take their types from the result's column types, so an empty result
// still has typed fields.
func (d *Datasource) run(ctx context.Context, stmt statement, maxRows int) (_ *data.Frame, truncated bool, _ error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := d.store.Conn().Query(ctx, stmt.sql, stmt.args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()

	names := rows.Columns()
	types := rows.ColumnTypes()
	fields := make([]*data.Field, len(types))
	converters := make([]func(any) any, len(types))
	for i, ct := range types {
		fieldType, convert := fieldTypeOf(ct.ScanType())
		fields[i] = data.NewFieldFromFieldType(fieldType, 0)
		fields[i].Name = names[i]
		converters[i] = convert
	}
	frame := data.NewFrame("", fields...)

	for rows.Next() {
		if frame.Rows() == maxRows {
			return frame, true, nil
		}
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, false, fmt.Errorf("scan row %d: %w", frame.Rows(), err)
		}
		values := make([]any, len(dest))
		for i, v := range dest {
			values[i] = converters[i](reflect.ValueOf(v).Elem().Interface())
		}
		frame.AppendRow(values...)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	return frame, false, nil
}

// fieldTypeOf maps a clickhouse-go scan type to a frame field type and a
// conversion of scanned values. Types a frame cannot hold (arrays, UUIDs,
// decimals) become JSON strings.
func fieldTypeOf(scanType reflect.Type) (data.FieldType, func(any) any) {
	zero := reflect.New(scanType).Elem().Interface()
	if ft := data.FieldTypeFor(zero); ft != data.FieldTypeUnknown {
		return ft, func(v any) any { return v }
	}
	return data.FieldTypeString, func(v any) any {
		if s, ok := v.(fmt.Stringer); ok {
			return s.String()
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}

// scoresFrame marks the scores frame as a time series and, when it contains
// several containers, turns it into one score and one threshold column per
// container.
func scoresFrame(frame *data.Frame, perContainer bool) (*data.Frame, error) {
	if perContainer && frame.Rows() > 0 {
		wide, err := data.LongToWide(frame, nil)
		if err != nil {
			return nil, fmt.Errorf("convert scores to one series per container: %w", err)
		}
		wide.Name = frame.Name
		wide.Meta = frame.Meta
		frame = wide
	}
	frame.SetMeta(&data.FrameMeta{PreferredVisualization: data.VisTypeGraph, Notices: metaNotices(frame)})
	return frame, nil
}

func metaNotices(frame *data.Frame) []data.Notice {
	if frame.Meta == nil {
		return nil
	}
	return frame.Meta.Notices
}
