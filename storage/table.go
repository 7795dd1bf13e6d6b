package storage

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"
)

// maxCellWidth caps a printed cell; longer values end with "...".
const maxCellWidth = 80

// FormatTable writes cols and rows to w as a text table with one header
// line, a rule and left-aligned columns padded to the widest cell, then a
// line with the row count. Times print in RFC 3339, slices as [a b c], and
// newlines inside values as "\n".
func FormatTable(w io.Writer, cols []string, rows [][]any) error {
	cells := make([][]string, len(rows))
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = utf8.RuneCountInString(c)
	}
	for r, row := range rows {
		cells[r] = make([]string, len(cols))
		for i := range cols {
			var v any
			if i < len(row) {
				v = row[i]
			}
			s := formatCell(v)
			cells[r][i] = s
			widths[i] = max(widths[i], utf8.RuneCountInString(s))
		}
	}

	var b strings.Builder
	writeLine := func(values []string) {
		for i, v := range values {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(v)
			if i < len(values)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(v)))
			}
		}
		b.WriteString("\n")
	}
	writeLine(cols)
	rules := make([]string, len(cols))
	for i, width := range widths {
		rules[i] = strings.Repeat("-", width)
	}
	writeLine(rules)
	for _, row := range cells {
		writeLine(row)
	}
	if len(rows) == 1 {
		b.WriteString("(1 row)\n")
	} else {
		fmt.Fprintf(&b, "(%d rows)\n", len(rows))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatCell turns one value into the text printed in its cell.
func formatCell(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		s = "NULL"
	case string:
		s = x
	case []byte:
		s = string(x)
	case time.Time:
		s = x.UTC().Format(time.RFC3339)
	case *time.Time:
		if x == nil {
			s = "NULL"
		} else {
			s = x.UTC().Format(time.RFC3339)
		}
	case fmt.Stringer:
		s = x.String()
	default:
		// Nullable columns scan into pointers.
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return "NULL"
			}
			return formatCell(rv.Elem().Interface())
		}
		s = fmt.Sprint(x)
	}
	s = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
	if utf8.RuneCountInString(s) > maxCellWidth {
		runes := []rune(s)
		s = string(runes[:maxCellWidth-3]) + "..."
	}
	return s
}
