package drain

import (
	"net/netip"
	"strings"
)

// Wildcard is the template token that stands for a variable part of a
// message.
const Wildcard = "<*>"

// tokenize splits msg at runs of spaces, tabs, carriage returns and line
// feeds, appending the tokens to dst. The tokens share msg's memory.
func tokenize(dst []string, msg string) []string {
	start := -1
	for i := 0; i < len(msg); i++ {
		switch msg[i] {
		case ' ', '\t', '\n', '\r', '\v', '\f':
			if start >= 0 {
				dst = append(dst, msg[start:i])
				start = -1
			}
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		dst = append(dst, msg[start:])
	}
	return dst
}

// maskToken returns tok with its variable part replaced by Wildcard.
// Decimal numbers are variable, with an optional unit of up to three
// letters and with separators as in dates, clock times and version
// numbers. So are IPv4 addresses with an optional port, IPv6 addresses,
// UUIDs, and hexadecimal numbers: 0x prefixed, or at least 8 hex digits of
// which at least one is a decimal digit. Absolute and relative file paths
// and URLs are variable too.
//
// Brackets, quotes and trailing punctuation around the value stay, so
// "[10.0.0.1]" becomes "[<*>]". In "key=value" only the value is masked.
func maskToken(tok string) string {
	lead, core, trail := splitPunctuation(tok)
	if core == "" {
		return tok
	}
	if isVariable(core) {
		if lead == "" && trail == "" {
			return Wildcard
		}
		return lead + Wildcard + trail
	}
	if i := strings.IndexByte(core, '='); i > 0 && i < len(core)-1 && isVariable(core[i+1:]) {
		return lead + core[:i+1] + Wildcard + trail
	}
	return tok
}

// splitPunctuation splits the brackets and quotes that open tok and the
// brackets, quotes and punctuation that close it from the core between.
func splitPunctuation(tok string) (lead, core, trail string) {
	i := 0
	for i < len(tok) && isOpening(tok[i]) {
		i++
	}
	j := len(tok)
	for j > i && isClosing(tok[j-1]) {
		j--
	}
	return tok[:i], tok[i:j], tok[j:]
}

func isOpening(c byte) bool {
	switch c {
	case '(', '[', '{', '<', '"', '\'':
		return true
	}
	return false
}

func isClosing(c byte) bool {
	switch c {
	case ')', ']', '}', '>', '"', '\'', ',', ';', ':', '.', '!', '?':
		return true
	}
	return false
}

// isVariable reports whether the core of a token is a value of one of the
// kinds listed on maskToken.
func isVariable(s string) bool {
	if isPath(s) {
		return true
	}
	hasDigit := false
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			hasDigit = true
			break
		}
	}
	if !hasDigit {
		return false
	}
	return isNumber(s) || isHex(s) || isUUID(s) || isIPv6(s)
}

// isPath reports whether s is an absolute path, a path relative to ".",
// ".." or "~", or a URL with a scheme.
func isPath(s string) bool {
	switch {
	case len(s) > 1 && s[0] == '/':
		return true
	case strings.HasPrefix(s, "./"), strings.HasPrefix(s, "../"), strings.HasPrefix(s, "~/"):
		return true
	}
	i := strings.Index(s, "://")
	return i > 0 && i+3 < len(s)
}

// isNumber reports whether s is digits joined by the separators of dates,
// times, decimals and addresses (". , : - _ /" and a leading sign), with an
// optional suffix of up to three letters or a percent sign such as "ms",
// "KB" or "%". IPv4 addresses with a port are numbers by this rule.
func isNumber(s string) bool {
	i := 0
	if s[0] == '-' || s[0] == '+' {
		i = 1
	}
	digits := 0
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' || c == ',' || c == ':' || c == '-' || c == '_' || c == '/':
			if digits == 0 {
				return false
			}
		default:
			return digits > 0 && isUnit(s[i:])
		}
	}
	return digits > 0
}

func isUnit(s string) bool {
	if len(s) > 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '%') {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// isHex reports whether s is a 0x-prefixed hex number or a run of at least
// 8 hex digits, such as a container id or a digest. The caller has checked
// that s contains a decimal digit, so English words such as "deadbeef" stay.
func isHex(s string) bool {
	body := s
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		body = s[2:]
	} else if len(s) < 8 {
		return false
	}
	for i := 0; i < len(body); i++ {
		if !isHexDigit(body[i]) {
			return false
		}
	}
	return true
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHexDigit(s[i]) {
				return false
			}
		}
	}
	return true
}

func isIPv6(s string) bool {
	if strings.Count(s, ":") < 2 {
		return false
	}
	addr, err := netip.ParseAddr(s)
	return err == nil && addr.Is6()
}

// hasDigit reports whether s contains a decimal digit. The parse tree sends
// such tokens down its wildcard branch, because they are likely variables.
func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			return true
		}
	}
	return false
}

// Mask returns message with its variable tokens replaced by Wildcard and
// its whitespace runs collapsed to one space, which is the text the miner
// matches.
// Matching the masked text gives the same template as matching message.
func Mask(message string) string {
	tokens := tokenize(make([]string, 0, 16), message)
	for i, tok := range tokens {
		tokens[i] = maskToken(tok)
	}
	return strings.Join(tokens, " ")
}
