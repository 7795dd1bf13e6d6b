package docker

import (
	"bytes"
	"unicode/utf8"

	"github.com/harrierhq/harrier/internal/jsonesc"
)

// parseFields reads the log, stream and time fields of a json-file line in
// the exact layout the json-file driver writes,
// {"log":"…","stream":"…","time":"…"}, without reflection. ok is false for
// any other layout and for escapes it does not handle (\u), and the caller
// then decodes the line with encoding/json, which gives the same result.
func parseFields(b []byte) (log, stream, ts string, ok bool) {
	rest, ok := bytes.CutPrefix(b, []byte(`{"log":"`))
	if !ok {
		return "", "", "", false
	}
	log, rest, ok = unquote(rest)
	if !ok {
		return "", "", "", false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"stream":"`)); !ok {
		return "", "", "", false
	}
	stream, rest, ok = unquote(rest)
	if !ok {
		return "", "", "", false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"time":"`)); !ok {
		return "", "", "", false
	}
	ts, rest, ok = unquote(rest)
	if !ok || !bytes.Equal(rest, []byte("}")) {
		return "", "", "", false
	}
	return log, stream, ts, true
}

// unquote decodes the JSON string body at the start of b, up to its
// closing quote, and returns it and the bytes after the quote.
func unquote(b []byte) (string, []byte, bool) {
	end := -1
	escaped := false
	for i, c := range b {
		if c == '"' {
			end = i
			break
		}
		if c == '\\' {
			escaped = true
			// Skip the escaped byte, which may be a quote.
			if i+1 < len(b) && b[i+1] == '"' {
				return unquoteEscaped(b)
			}
		}
		if c < 0x20 {
			return "", nil, false
		}
	}
	if end < 0 {
		return "", nil, false
	}
	body := b[:end]
	if !utf8.Valid(body) {
		return "", nil, false
	}
	if !escaped {
		return string(body), b[end+1:], true
	}
	return unquoteEscaped(b)
}

// unquoteEscaped decodes a JSON string body that contains escapes.
func unquoteEscaped(b []byte) (string, []byte, bool) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return "", nil, false
			}
			return string(out), b[i+1:], true
		case c < 0x20:
			return "", nil, false
		case c != '\\':
			out = append(out, c)
			continue
		}
		i++
		if i >= len(b) {
			return "", nil, false
		}
		unescaped, ok := jsonesc.Simple(b[i])
		if !ok {
			return "", nil, false
		}
		out = append(out, unescaped)
	}
	return "", nil, false
}
