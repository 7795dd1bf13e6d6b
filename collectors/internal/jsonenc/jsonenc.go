// Package jsonenc appends JSON strings and the envelope of a log record
// without reflection. Its output is byte for byte what encoding/json's
// Marshal writes for the same values, which the tests check, so consumers
// cannot tell the two apart.
package jsonenc

import (
	"strconv"
	"unicode/utf8"

	"github.com/harrierhq/harrier/internal/record"
)

const hex = "0123456789abcdef"

// safe marks the ASCII bytes that a JSON string holds as they are.
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// AppendString appends s as a JSON string, escaped as encoding/json does:
// '<', '>' and '&' as \u003c, \u003e and \u0026, U+2028 and U+2029 as
// \u2028 and \u2029, and each byte of invalid UTF-8 as \ufffd.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendLog appends the JSON form of l, as json.Marshal writes it.
func AppendLog(dst []byte, l *record.Log) []byte {
	dst = append(dst, `{"time_ns":`...)
	dst = strconv.AppendInt(dst, l.TimeNs, 10)
	dst = append(dst, `,"runtime":`...)
	dst = AppendString(dst, l.Runtime)
	dst = append(dst, `,"container_id":`...)
	dst = AppendString(dst, l.ContainerID)
	if l.ContainerName != "" {
		dst = append(dst, `,"container_name":`...)
		dst = AppendString(dst, l.ContainerName)
	}
	if l.Namespace != "" {
		dst = append(dst, `,"namespace":`...)
		dst = AppendString(dst, l.Namespace)
	}
	if l.Pod != "" {
		dst = append(dst, `,"pod":`...)
		dst = AppendString(dst, l.Pod)
	}
	dst = append(dst, `,"stream":`...)
	dst = AppendString(dst, l.Stream)
	dst = append(dst, `,"message":`...)
	dst = AppendString(dst, l.Message)
	return append(dst, '}')
}

// AppendEnvelope appends the JSON form of a record.Envelope whose payload
// is the JSON value payload, as record.Encode writes it.
func AppendEnvelope(dst []byte, kind record.Kind, id, hostID, source string, collectedNs int64, payload []byte) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, record.Version, 10)
	dst = append(dst, `,"kind":`...)
	dst = AppendString(dst, string(kind))
	dst = append(dst, `,"id":`...)
	dst = AppendString(dst, id)
	dst = append(dst, `,"host_id":`...)
	dst = AppendString(dst, hostID)
	dst = append(dst, `,"source":`...)
	dst = AppendString(dst, source)
	dst = append(dst, `,"collected_ns":`...)
	dst = strconv.AppendInt(dst, collectedNs, 10)
	dst = append(dst, `,"payload":`...)
	dst = append(dst, payload...)
	return append(dst, '}')
}
