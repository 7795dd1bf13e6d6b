package features

import (
	"hash/fnv"
	"net/netip"
	"regexp"
	"strings"
	"sync"
)

// Wildcard replaces every variable part of a log message in its shape.
const Wildcard = "<*>"

// DefaultMaxShapesPerKey is the default cap on the number of shapes that
// Shapes remembers for one image or container.
const DefaultMaxShapesPerKey = 10000

// The maskers run in this order, so that a quoted string or a UUID is
// replaced whole before its digits could be masked one by one. Patterns that
// must start at a word boundary capture the preceding character in group 1
// and put it back, because RE2 has no look-behind.
var (
	quotedPattern = regexp.MustCompile(`(^|[^\w])(?:"(?:[^"\\]|\\.)*"|'[^'\n]*')`)
	uuidPattern   = regexp.MustCompile(`\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b`)
	// ipv6Candidate matches more than IPv6 addresses (clock times such as
	// 12:30:45, for example). Each match is checked with netip.ParseAddr.
	ipv6Candidate = regexp.MustCompile(`[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}(?:%[\w.]+)?`)
	ipv4Pattern   = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b`)
	pathPattern   = regexp.MustCompile(`(^|[\s=(\[:,])(?:~|\.{1,2})?/[^\s"'()\[\],:]+`)
	hexPrefixed   = regexp.MustCompile(`\b0[xX][0-9a-fA-F]+\b`)
	hexIDPattern  = regexp.MustCompile(`\b[0-9a-fA-F]{8,}\b`)
	// numberPattern also takes a unit suffix of up to three letters, so that
	// "12ms" and "5s" become one wildcard each, but leaves "ssh2" alone
	// because a digit inside a word has no word boundary before it.
	numberPattern = regexp.MustCompile(`\b\d+(?:[.,]\d+)*(?:[a-zA-Z%]{1,3})?\b`)
)

// MaskMessage returns the shape of a log message. Quoted strings, UUIDs,
// IPv6 and IPv4 addresses (with an optional port) and file paths become
// Wildcard. So do hexadecimal numbers (0x prefixed, or ids of at least 8 hex
// digits) and decimal numbers. Runs of whitespace collapse to one space.
// Two lines printed by the same statement usually get the same shape.
func MaskMessage(msg string) string {
	s := quotedPattern.ReplaceAllString(msg, "${1}"+Wildcard)
	s = uuidPattern.ReplaceAllString(s, Wildcard)
	s = ipv6Candidate.ReplaceAllStringFunc(s, maskIPv6)
	s = ipv4Pattern.ReplaceAllString(s, Wildcard)
	s = pathPattern.ReplaceAllString(s, "${1}"+Wildcard)
	s = hexPrefixed.ReplaceAllString(s, Wildcard)
	s = hexIDPattern.ReplaceAllString(s, Wildcard)
	s = numberPattern.ReplaceAllString(s, Wildcard)
	return strings.Join(strings.Fields(s), " ")
}

func maskIPv6(candidate string) string {
	if strings.Count(candidate, ":") < 2 {
		return candidate
	}
	addr, err := netip.ParseAddr(candidate)
	if err != nil || !addr.Is6() {
		return candidate
	}
	return Wildcard
}

// ShapeID returns the 64-bit FNV-1a hash of a masked message.
func ShapeID(shape string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(shape))
	return h.Sum64()
}

// Shapes is a simple masking miner for log-message shapes. A shape is the
// message after MaskMessage. Shapes remembers which shapes each key has
// produced, where the key is an image id, or a container id when the image
// is unknown. A new shape is one never seen before for that key. Shapes is
// safe for concurrent use.
//
// NOTE: masking only catches variables that look like numbers, addresses,
// ids, paths or quoted strings. A free-text variable such as a user name
// yields a new shape per value. The drain miner (WindowConfig.Templates)
// clusters tokens by position and merges those.
type Shapes struct {
	// MaxPerKey caps the shapes remembered per key (default
	// DefaultMaxShapesPerKey). Past the cap, Observe still reports unknown
	// shapes as new but no longer stores them, which bounds memory when a
	// key logs unbounded free text.
	MaxPerKey int

	mu    sync.Mutex
	known map[string]map[uint64]struct{}
}

// NewShapes returns an empty miner with the default cap per key.
func NewShapes() *Shapes {
	return &Shapes{MaxPerKey: DefaultMaxShapesPerKey, known: make(map[string]map[uint64]struct{})}
}

// Observe records shape id under key and reports whether it is new for that
// key.
func (s *Shapes) Observe(key string, id uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.known == nil {
		s.known = make(map[string]map[uint64]struct{})
	}
	set := s.known[key]
	if set == nil {
		set = make(map[uint64]struct{})
		s.known[key] = set
	}
	if _, ok := set[id]; ok {
		return false
	}
	limit := s.MaxPerKey
	if limit <= 0 {
		limit = DefaultMaxShapesPerKey
	}
	if len(set) < limit {
		set[id] = struct{}{}
	}
	return true
}

// Known returns the number of shapes remembered for key.
func (s *Shapes) Known(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.known[key])
}
