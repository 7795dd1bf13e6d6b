// Package jsonesc decodes the one-character escapes of JSON strings, for
// the hand-written decoders on the collector's and the normalizer's hot
// paths.
package jsonesc

// Simple returns the byte that the escape `\c` stands for, and false when c
// does not start a one-character escape. `\u` escapes are not one-character
// escapes: callers decode them themselves or fall back to encoding/json.
func Simple(c byte) (byte, bool) {
	switch c {
	case '"', '\\', '/':
		return c, true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	}
	return 0, false
}
