package features

import (
	"net/netip"
	"regexp"
	"strings"
)

// authFailurePattern selects the log lines counted as auth_failure_lines:
//
//   - OpenSSH sshd: "Failed password for", "Failed publickey for" (and the
//     other methods), "Invalid user", "maximum authentication attempts
//     exceeded";
//   - PAM: "authentication failure" as pam_unix and pam_sss log it;
//   - HTTP access logs with status 401 or 403: the status after the quoted
//     request line of the common and combined log formats
//     (`"GET / HTTP/1.1" 401`), or a `status=401`, `status: 403` or
//     `"status":401` field.
var authFailurePattern = regexp.MustCompile(`(?i)` +
	`failed (?:password|publickey|keyboard-interactive(?:/pam)?|none|hostbased|gssapi-with-mic) for` +
	`|invalid user ` +
	`|authentication failure` +
	`|maximum authentication attempts exceeded` +
	`|HTTP/[0-9.]+"\s+(?:401|403)\b` +
	`|"?status"?\s*[=:]\s*"?(?:401|403)\b`)

// IsAuthFailureLine reports whether a log message records a failed
// authentication or an HTTP 401 or 403 response.
func IsAuthFailureLine(msg string) bool {
	return authFailurePattern.MatchString(msg)
}

// addressCandidate selects tokens that may be an IPv4 or IPv6 address,
// optionally followed by a port after a colon for IPv4.
var addressCandidate = regexp.MustCompile(`[0-9A-Fa-f:.]*[0-9A-Fa-f][0-9A-Fa-f:.]*`)

// SourceAddresses returns the distinct IP addresses in a log message, in
// canonical form and in order of first appearance. IPv4 needs four dotted
// decimal parts and IPv6 the forms of RFC 4291. Version strings such as
// "1.2.3" and times such as "12:30:01" do not parse as addresses.
func SourceAddresses(msg string) []string {
	var out []string
	for _, tok := range addressCandidate.FindAllString(msg, -1) {
		// A sentence may end right after an address, and a colon may
		// follow one ("from 10.0.0.5: ..."), but "::" may also end IPv6.
		tok = strings.TrimRight(tok, ".")
		addr, ok := parseAddress(tok)
		if !ok {
			addr, ok = parseAddress(strings.TrimRight(tok, ":"))
		}
		if !ok {
			continue
		}
		text := addr.String()
		if !containsString(out, text) {
			out = append(out, text)
		}
	}
	return out
}

func parseAddress(tok string) (netip.Addr, bool) {
	switch strings.Count(tok, ":") {
	case 0:
		if strings.Count(tok, ".") != 3 {
			return netip.Addr{}, false
		}
	case 1:
		// An IPv4 address with a port, such as 10.0.0.1:22.
		host, _, _ := strings.Cut(tok, ":")
		if strings.Count(host, ".") != 3 {
			return netip.Addr{}, false
		}
		tok = host
	}
	addr, err := netip.ParseAddr(tok)
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap(), true
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
