package normalize

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/harrierhq/harrier/internal/record"

	"github.com/harrierhq/harrier/internal/jsonesc"
)

// fastDecode decodes log envelopes, the bulk of the traffic, without
// reflection. It returns ok=false for any input it
// does not handle in full: other kinds, unknown or repeated envelope keys,
// a payload before the kind, null values, numbers that are not plain
// integers, \u escapes of surrogates, invalid UTF-8 and every syntax error.
// The caller then decodes the value with record.Decode and json.Unmarshal,
// so errors and the handling of unusual input stay theirs. When ok is true
// the result equals what those functions return, which
// FuzzFastDecodeMatchesJSON checks. The strings it returns are copies, so
// value may be reused afterwards.
func fastDecode(value []byte) (p parsed, ok bool) {
	d := fastDecoder{buf: value}
	if !d.envelope(&p) || !d.end() {
		return parsed{}, false
	}
	env := p.env
	// These are the checks of record.Decode; a record failing one takes
	// the slow path, which returns the error.
	if env.Version < 1 || env.Version > record.Version || env.ID == "" || len(env.Payload) == 0 {
		return parsed{}, false
	}
	return p, true
}

// fastDecoder is a cursor over one JSON document.
type fastDecoder struct {
	buf []byte
	pos int
}

// Envelope keys, as bits of the set of keys already read.
const (
	keyVersion = 1 << iota
	keyKind
	keyID
	keyHostID
	keySource
	keyCollectedNs
	keyPayload
)

func (d *fastDecoder) envelope(p *parsed) bool {
	if !d.consume('{') {
		return false
	}
	seen := 0
	for first := true; ; first = false {
		d.skipSpace()
		if first && d.peek() == '}' {
			d.pos++
			return true
		}
		key, ok := d.rawKey()
		if !ok {
			return false
		}
		var bit int
		switch string(key) {
		case "v":
			bit = keyVersion
			p.env.Version, ok = d.intValue()
		case "kind":
			bit = keyKind
			var s string
			s, ok = d.stringValue()
			p.env.Kind = record.Kind(s)
		case "id":
			bit = keyID
			p.env.ID, ok = d.stringValue()
		case "host_id":
			bit = keyHostID
			p.env.HostID, ok = d.stringValue()
		case "source":
			bit = keySource
			p.env.Source, ok = d.stringValue()
		case "collected_ns":
			bit = keyCollectedNs
			var n int
			n, ok = d.intValue()
			p.env.CollectedNs = int64(n)
		case "payload":
			bit = keyPayload
			if seen&keyKind == 0 {
				return false
			}
			ok = d.payload(p)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		d.skipSpace()
		switch d.next() {
		case ',':
		case '}':
			return true
		default:
			return false
		}
	}
}

// payload decodes the payload object of a log record and keeps
// its raw bytes in p.env.Payload.
func (d *fastDecoder) payload(p *parsed) bool {
	d.skipSpace()
	start := d.pos
	var ok bool
	switch p.env.Kind {
	case record.KindLog:
		p.log = &record.Log{}
		ok = d.object(func(key []byte) bool { return d.logField(p.log, key) })
	}
	if !ok {
		return false
	}
	p.env.Payload = bytes.Clone(d.buf[start:d.pos])
	return true
}

func (d *fastDecoder) logField(l *record.Log, key []byte) bool {
	var ok bool
	switch string(key) {
	case "time_ns":
		var n int
		n, ok = d.intValue()
		l.TimeNs = int64(n)
	case "runtime":
		l.Runtime, ok = d.stringValue()
	case "container_id":
		l.ContainerID, ok = d.stringValue()
	case "container_name":
		l.ContainerName, ok = d.stringValue()
	case "namespace":
		l.Namespace, ok = d.stringValue()
	case "pod":
		l.Pod, ok = d.stringValue()
	case "stream":
		l.Stream, ok = d.stringValue()
	case "message":
		l.Message, ok = d.stringValue()
	}
	return ok
}

// object reads an object whose every value field reads. A key that field
// does not know makes the object fail, as do repeated keys of which the
// last is not kept: field assigns, so the last one wins as in
// encoding/json.
func (d *fastDecoder) object(field func(key []byte) bool) bool {
	if !d.consume('{') {
		return false
	}
	for first := true; ; first = false {
		d.skipSpace()
		if first && d.peek() == '}' {
			d.pos++
			return true
		}
		key, ok := d.rawKey()
		if !ok || !field(key) {
			return false
		}
		d.skipSpace()
		switch d.next() {
		case ',':
		case '}':
			return true
		default:
			return false
		}
	}
}

// rawKey reads a key without escapes and the colon after it.
func (d *fastDecoder) rawKey() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start := d.pos
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		if c == '"' {
			key := d.buf[start:d.pos]
			d.pos++
			return key, d.consume(':')
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return nil, false
		}
		d.pos++
	}
	return nil, false
}

// intValue reads an integer in the int64 range written without fraction or
// exponent, as encoding/json accepts into an int64 field.
func (d *fastDecoder) intValue() (int, bool) {
	d.skipSpace()
	start := d.pos
	if d.peek() == '-' {
		d.pos++
	}
	digits := d.pos
	for d.pos < len(d.buf) && d.buf[d.pos] >= '0' && d.buf[d.pos] <= '9' {
		d.pos++
	}
	n := d.pos - digits
	if n == 0 || (n > 1 && d.buf[digits] == '0') {
		return 0, false
	}
	if c := d.peek(); c == '.' || c == 'e' || c == 'E' {
		return 0, false
	}
	v, err := strconv.ParseInt(string(d.buf[start:d.pos]), 10, 64)
	if err != nil || int64(int(v)) != v {
		return 0, false
	}
	return int(v), true
}

// stringValue reads a string, decoding the escapes encoding/json decodes
// except \u escapes of UTF-16 surrogates.
func (d *fastDecoder) stringValue() (string, bool) {
	d.skipSpace()
	if !d.consume('"') {
		return "", false
	}
	start := d.pos
	ascii := true
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		switch {
		case c == '"':
			s := d.buf[start:d.pos]
			d.pos++
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\':
			return d.escapedString(start)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.pos++
	}
	return "", false
}

// escapedString continues stringValue at the first backslash.
func (d *fastDecoder) escapedString(start int) (string, bool) {
	out := make([]byte, 0, d.pos-start+32)
	out = append(out, d.buf[start:d.pos]...)
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		switch {
		case c == '"':
			d.pos++
			if !utf8.Valid(out) {
				return "", false
			}
			return string(out), true
		case c < 0x20:
			return "", false
		case c != '\\':
			out = append(out, c)
			d.pos++
			continue
		}
		if d.pos+1 >= len(d.buf) {
			return "", false
		}
		esc := d.buf[d.pos+1]
		d.pos += 2
		if unescaped, ok := jsonesc.Simple(esc); ok {
			out = append(out, unescaped)
			continue
		}
		switch esc {
		case 'u':
			if d.pos+4 > len(d.buf) {
				return "", false
			}
			r, err := strconv.ParseUint(string(d.buf[d.pos:d.pos+4]), 16, 32)
			if err != nil || (r >= 0xD800 && r < 0xE000) {
				return "", false
			}
			d.pos += 4
			out = utf8.AppendRune(out, rune(r))
		default:
			return "", false
		}
	}
	return "", false
}

func (d *fastDecoder) skipSpace() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *fastDecoder) peek() byte {
	if d.pos < len(d.buf) {
		return d.buf[d.pos]
	}
	return 0
}

func (d *fastDecoder) next() byte {
	c := d.peek()
	d.pos++
	return c
}

// consume skips white space and then reads c.
func (d *fastDecoder) consume(c byte) bool {
	d.skipSpace()
	if d.peek() != c {
		return false
	}
	d.pos++
	return true
}

// end reports whether only white space is left.
func (d *fastDecoder) end() bool {
	d.skipSpace()
	return d.pos == len(d.buf)
}
