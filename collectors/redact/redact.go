// Package redact replaces secrets in log messages before they leave the
// host: private key blocks, bearer tokens, AWS access key ids and secret
// access keys, password values and the password of basic auth in URLs.
package redact

import (
	"regexp"
	"strings"
)

// Placeholder replaces each secret.
const Placeholder = "[REDACTED]"

// rule is one kind of secret. A rule's regexp runs only when triggers
// finds the rule's keyword in the message, because most lines hold no
// secret and one pass over the bytes is much cheaper than seven regexps.
type rule struct {
	name string
	re   *regexp.Regexp
	// replace returns the text that replaces one match, whose submatch
	// indexes are m.
	replace func(s string, m []int) string
}

// keepGroup returns a replace function that keeps submatch 1 and puts the
// placeholder after it.
func keepGroup(s string, m []int) string { return s[m[2]:m[3]] + Placeholder }

var rules = []rule{
	{
		// PEM blocks of RSA, EC, DSA, OpenSSH, PKCS#8 and encrypted PKCS#8
		// keys and PGP private key blocks. A block without its END line,
		// cut off by the log line's end, is redacted to the end.
		name: "private_key",
		re:   regexp.MustCompile(`-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)`),
		replace: func(s string, m []int) string {
			label := s[m[2]:m[3]]
			return "-----BEGIN " + label + "-----" + Placeholder + "-----END " + label + "-----"
		},
	},
	{
		// RFC 6750 bearer tokens, as in "Authorization: Bearer <token>".
		name:    "bearer_token",
		re:      regexp.MustCompile(`(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/]+=*`),
		replace: keepGroup,
	},
	{
		// HTTP basic credentials in a header: "Authorization: Basic <base64>".
		name:    "basic_auth_header",
		re:      regexp.MustCompile(`(?i)(\bauthorization["']?\s*[:=]\s*["']?basic\s+)[A-Za-z0-9+/]+=*`),
		replace: keepGroup,
	},
	{
		// AWS access key ids: a four-letter prefix that names the key type
		// and 16 upper-case letters and digits 2 to 7.
		name:    "aws_access_key_id",
		re:      regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z2-7]{16}\b`),
		replace: func(string, []int) string { return Placeholder },
	},
	{
		// AWS secret access keys: 40 base64 characters after a key name as
		// the CLI config, the environment and the SDKs spell it.
		name:    "aws_secret_access_key",
		re:      regexp.MustCompile(`(?i)(\b(?:aws_?)?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+]{40}\b`),
		replace: keepGroup,
	},
	{
		// password=, passwd= and pwd= values, also with a prefix such as
		// DB_PASSWORD=, as JSON or YAML keys and
		// as query parameters, quoted or not.
		name: "password",
		re:   regexp.MustCompile(`(?i)(\b(?:[a-z0-9]+_)*(?:password|passwd|pwd)["']?\s*[:=]\s*)(?:"[^"]*"|'[^']*'|[^\s&,;"'}]+)`),
		replace: func(s string, m []int) string {
			value := s[m[1]-1]
			if value == '"' || value == '\'' {
				return s[m[2]:m[3]] + string(value) + Placeholder + string(value)
			}
			return s[m[2]:m[3]] + Placeholder
		},
	},
	{
		// The password of user:password@ in a URL.
		name:    "url_password",
		re:      regexp.MustCompile(`(\b[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]+:)[^/\s@]+@`),
		replace: func(s string, m []int) string { return s[m[2]:m[3]] + Placeholder + "@" },
	},
}

// Bits of the rules that triggers found a keyword for, in the order of
// rules.
const (
	privateKeyRule = 1 << iota
	bearerRule
	basicAuthRule
	awsKeyIDRule
	awsSecretRule
	passwordRule
	urlPasswordRule
)

// Message returns s with every secret replaced by Placeholder, and the
// number of secrets replaced.
func Message(s string) (string, int) {
	mask := triggers(s)
	if mask == 0 {
		return s, 0
	}
	count := 0
	for i := range rules {
		if mask&(1<<i) == 0 {
			continue
		}
		r := &rules[i]
		matches := r.re.FindAllStringSubmatchIndex(s, -1)
		if len(matches) == 0 {
			continue
		}
		var b strings.Builder
		last := 0
		for _, m := range matches {
			b.WriteString(s[last:m[0]])
			b.WriteString(r.replace(s, m))
			last = m[1]
		}
		b.WriteString(s[last:])
		s = b.String()
		count += len(matches)
	}
	return s, count
}

// triggers returns the bits of the rules whose keyword s contains: the
// keywords are compared without ASCII case, except the AWS key id
// prefixes, which are upper case.
func triggers(s string) int {
	mask := 0
	for i := 0; i < len(s); i++ {
		rest := s[i:]
		switch s[i] | 0x20 {
		case 'p':
			if hasPrefixFold(rest, "private key") {
				mask |= privateKeyRule
			}
			if n := passwordKeyword(rest); n > 0 && assignmentFollows(rest[n:]) {
				mask |= passwordRule
			}
		case 'b':
			if hasPrefixFold(rest, "bearer") {
				mask |= bearerRule
			}
			if hasPrefixFold(rest, "basic") {
				mask |= basicAuthRule
			}
		case 's':
			if hasPrefixFold(rest, "secret") {
				mask |= awsSecretRule
			}
		case 'a':
			if s[i] == 'A' && len(rest) >= 20 && isAWSKeyPrefix(rest[:4]) {
				mask |= awsKeyIDRule
			}
		case ':':
			if strings.HasPrefix(rest, "://") {
				mask |= urlPasswordRule
			}
		}
	}
	return mask
}

// passwordKeyword returns the length of the password keyword s starts
// with, ignoring ASCII case, or 0.
func passwordKeyword(s string) int {
	for _, k := range []string{"password", "passwd", "pwd"} {
		if hasPrefixFold(s, k) {
			return len(k)
		}
	}
	return 0
}

// assignmentFollows reports whether s starts as the password rule needs
// after its keyword: an optional quote, optional white space, then ':' or
// '='. Lines such as sshd's "Failed password for root" then skip the
// regexp.
func assignmentFollows(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '"' || s[i] == '\'') {
		i++
	}
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f') {
		i++
	}
	return i < len(s) && (s[i] == ':' || s[i] == '=')
}

func isAWSKeyPrefix(p string) bool {
	switch p {
	case "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA":
		return true
	}
	return false
}

// hasPrefixFold reports whether s starts with the lower-case ASCII prefix,
// ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for j := 0; j < len(prefix); j++ {
		c := s[j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[j] {
			return false
		}
	}
	return true
}
