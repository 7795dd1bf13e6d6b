package posture

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// Firewall is the filter table of a host's IPv4 firewall, read from
// iptables-save output or from nft list ruleset output.
type Firewall struct {
	// Format is "iptables" or "nftables".
	Format string
	// Chains maps a chain name of the filter table to its rules.
	Chains map[string]*Chain
}

// Chain is one chain of the filter table.
type Chain struct {
	// Policy is the verdict of a built-in chain when no rule matches, such
	// as "ACCEPT" or "DROP", upper case, and empty for a user chain.
	Policy string
	Rules  []FirewallRule
}

// FirewallRule is the part of one rule that the posture policies read.
type FirewallRule struct {
	// Target is the verdict or jump, upper case: ACCEPT, DROP, REJECT,
	// RETURN or a chain name. Empty for a rule that only counts.
	Target string
	// InInterface is the input interface the rule matches, such as "eth0"
	// or "br-+", empty when it matches every interface, and prefixed with
	// "!" when the match is negated.
	InInterface string
	// OutInterface is the output interface, in the same form.
	OutInterface string
	// Text is the rule as written.
	Text string
}

// ParseFirewall detects the format of b, iptables-save or nft list
// ruleset output, and parses it.
func ParseFirewall(b []byte) (Firewall, error) {
	trimmed := bytes.TrimSpace(b)
	if bytes.HasPrefix(trimmed, []byte("table ")) || bytes.Contains(b, []byte("\ntable ")) || bytes.HasPrefix(trimmed, []byte("#!/usr/sbin/nft")) || bytes.HasPrefix(trimmed, []byte("flush ruleset")) {
		return ParseNftRuleset(b)
	}
	return ParseIptablesSave(b)
}

// ParseIptablesSave parses the *filter table of iptables-save output.
// Other tables are skipped. A rule of a chain that the table does not
// declare is an error naming the line.
func ParseIptablesSave(b []byte) (Firewall, error) {
	fw := Firewall{Format: "iptables", Chains: map[string]*Chain{}}
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "*"):
			table = line[1:]
		case line == "COMMIT":
			table = ""
		case table != "filter":
		case strings.HasPrefix(line, ":"):
			fields := strings.Fields(line[1:])
			if len(fields) < 2 {
				return fw, fmt.Errorf("invalid iptables-save line %d %q: expected ':CHAIN POLICY [packets:bytes]'", lineNo, line)
			}
			policy := strings.ToUpper(fields[1])
			if policy == "-" {
				policy = ""
			}
			fw.Chains[fields[0]] = &Chain{Policy: policy}
		case strings.HasPrefix(line, "-A ") || strings.HasPrefix(line, "-I "):
			fields := strings.Fields(line)
			if len(fields) < 2 {
				return fw, fmt.Errorf("invalid iptables-save line %d %q: missing chain name", lineNo, line)
			}
			chain, ok := fw.Chains[fields[1]]
			if !ok {
				return fw, fmt.Errorf("invalid iptables-save line %d %q: chain %q is not declared", lineNo, line, fields[1])
			}
			chain.Rules = append(chain.Rules, parseIptablesRule(fields[2:], line))
		default:
			return fw, fmt.Errorf("invalid iptables-save line %d %q: expected a table, chain, rule or COMMIT", lineNo, line)
		}
	}
	if err := sc.Err(); err != nil {
		return fw, fmt.Errorf("read iptables-save output: %w", err)
	}
	return fw, nil
}

func parseIptablesRule(fields []string, text string) FirewallRule {
	r := FirewallRule{Text: text}
	negate := false
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		next := ""
		if i+1 < len(fields) {
			next = fields[i+1]
		}
		prefix := ""
		if negate {
			prefix = "!"
		}
		switch f {
		case "!":
			negate = true
			continue
		case "-i", "--in-interface":
			r.InInterface = prefix + next
			i++
		case "-o", "--out-interface":
			r.OutInterface = prefix + next
			i++
		case "-j", "--jump", "-g", "--goto":
			r.Target = strings.ToUpper(next)
			i++
		}
		negate = false
	}
	return r
}

// ParseNftRuleset parses the filter chains of nft list ruleset output: the
// chains of every "ip" and "inet" table. Docker's chains live in table ip
// filter, and a hand-written ruleset usually in table inet filter.
func ParseNftRuleset(b []byte) (Firewall, error) {
	fw := Firewall{Format: "nftables", Chains: map[string]*Chain{}}
	var table string
	var chain *Chain
	depth := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 && !strings.Contains(line[:i], `"`) {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "" || line == "flush ruleset":
		case strings.HasPrefix(line, "table ") && strings.HasSuffix(line, "{"):
			if depth != 0 {
				return fw, fmt.Errorf("invalid nft ruleset line %d %q: table inside a block", lineNo, line)
			}
			fields := strings.Fields(line)
			table = ""
			if len(fields) >= 3 {
				table = fields[1]
			}
			depth = 1
		case depth == 1 && strings.HasPrefix(line, "chain ") && strings.HasSuffix(line, "{"):
			name := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "chain "), "{"))
			chain = &Chain{}
			if table == "ip" || table == "inet" {
				fw.Chains[name] = chain
			}
			depth = 2
		case strings.HasSuffix(line, "{"):
			depth++
		case line == "}":
			if depth == 0 {
				return fw, fmt.Errorf("invalid nft ruleset line %d: '}' closes no block", lineNo)
			}
			if depth == 2 {
				chain = nil
			}
			depth--
		case depth == 2 && chain != nil:
			if strings.HasPrefix(line, "type ") {
				if _, policy, ok := strings.Cut(line, "policy "); ok {
					chain.Policy = strings.ToUpper(strings.TrimSuffix(strings.TrimSpace(policy), ";"))
				}
				continue
			}
			chain.Rules = append(chain.Rules, parseNftRule(line))
		}
	}
	if err := sc.Err(); err != nil {
		return fw, fmt.Errorf("read nft ruleset: %w", err)
	}
	if depth != 0 {
		return fw, fmt.Errorf("invalid nft ruleset: %d blocks not closed at the end", depth)
	}
	return fw, nil
}

func parseNftRule(line string) FirewallRule {
	r := FirewallRule{Text: line}
	fields := strings.Fields(line)
	for i := 0; i < len(fields); i++ {
		next, negated := "", false
		if i+1 < len(fields) {
			next = fields[i+1]
			if next == "!=" && i+2 < len(fields) {
				negated, next = true, fields[i+2]
				i++
			}
		}
		name := strings.Trim(next, `"`)
		if negated {
			name = "!" + name
		}
		switch fields[i] {
		case "iifname", "iif":
			r.InInterface = strings.ReplaceAll(name, "*", "+")
			i++
		case "oifname", "oif":
			r.OutInterface = strings.ReplaceAll(name, "*", "+")
			i++
		case "accept", "drop", "reject", "return":
			r.Target = strings.ToUpper(fields[i])
		case "jump", "goto":
			r.Target = name
			i++
		}
	}
	return r
}

// isBridge reports whether an interface match names a container bridge:
// docker0, a user network's br-<id>, or docker_gwbridge.
func isBridge(iface string) bool {
	return iface == "docker0" || strings.HasPrefix(iface, "br-") || strings.HasPrefix(iface, "docker_gwbridge") || iface == "docker+"
}

// blocks reports whether a rule's verdict drops traffic.
func (r FirewallRule) blocks() bool {
	return r.Target == "DROP" || r.Target == "REJECT"
}

// RestrictsPublished reports whether the DOCKER-USER chain, which Docker
// evaluates before its own forwarding rules, drops or rejects some traffic
// arriving from outside the container bridges. Docker's published ports
// are then filtered, for the interfaces and addresses that the rule names.
// A chain whose blocking rules all match a container bridge as input only
// restricts egress.
func (fw Firewall) RestrictsPublished() bool {
	chain := fw.Chains["DOCKER-USER"]
	if chain == nil {
		return false
	}
	for _, r := range chain.Rules {
		in := strings.TrimPrefix(r.InInterface, "!")
		if r.blocks() && (r.InInterface == "" || !isBridge(in) || strings.HasPrefix(r.InInterface, "!")) {
			return true
		}
	}
	return false
}

// RestrictsEgress reports whether the DOCKER-USER chain drops or rejects
// some traffic that containers send: a blocking rule whose input interface
// is a container bridge, or that names no input interface and no bridge as
// output.
func (fw Firewall) RestrictsEgress() bool {
	chain := fw.Chains["DOCKER-USER"]
	if chain == nil {
		return false
	}
	for _, r := range chain.Rules {
		if !r.blocks() {
			continue
		}
		if isBridge(r.InInterface) {
			return true
		}
		if r.InInterface == "" && !isBridge(strings.TrimPrefix(r.OutInterface, "!")) {
			return true
		}
	}
	return false
}

// ChainPolicy returns the policy of a built-in chain, or "" when the
// firewall does not declare it.
func (fw Firewall) ChainPolicy(name string) string {
	for _, n := range []string{name, strings.ToLower(name)} {
		if c := fw.Chains[n]; c != nil {
			return c.Policy
		}
	}
	return ""
}
