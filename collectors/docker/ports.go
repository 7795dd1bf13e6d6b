package docker

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/harrierhq/harrier/internal/record"
)

// portBinding is one entry of a port map in hostconfig.json (PortBindings)
// or config.v2.json (NetworkSettings.Ports).
type portBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// mountPoint is one entry of config.v2.json's MountPoints, keyed there by
// the destination path.
type mountPoint struct {
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	RW          bool   `json:"RW"`
}

// parsePorts converts a Docker port map, keyed by "<port>/<protocol>" such
// as "80/tcp", into published ports. A key with a null or empty list is an
// exposed port that is not published and is left out. field names the map
// in errors, such as "hostconfig.json field PortBindings".
func parsePorts(field string, ports map[string][]portBinding) ([]record.Port, error) {
	var out []record.Port
	seen := make(map[record.Port]bool)
	for key, bindings := range ports {
		if len(bindings) == 0 {
			continue
		}
		containerPort, protocol, err := parsePortKey(key)
		if err != nil {
			return nil, fmt.Errorf("invalid %s key %q: %w", field, key, err)
		}
		for _, b := range bindings {
			hostPort, err := parseHostPort(b.HostPort)
			if err != nil {
				return nil, fmt.Errorf("invalid %s[%q] HostPort %q: %w", field, key, b.HostPort, err)
			}
			hostIP := b.HostIP
			if hostIP == "" {
				hostIP = "0.0.0.0"
			}
			p := record.Port{ContainerPort: containerPort, Protocol: protocol, HostIP: hostIP, HostPort: hostPort}
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.ContainerPort != b.ContainerPort {
			return a.ContainerPort < b.ContainerPort
		}
		if a.Protocol != b.Protocol {
			return a.Protocol < b.Protocol
		}
		if a.HostIP != b.HostIP {
			return a.HostIP < b.HostIP
		}
		return a.HostPort < b.HostPort
	})
	return out, nil
}

// parsePortKey splits a port map key such as "80/tcp" into the port and
// the lower-case protocol. Docker defaults a key without a protocol to tcp.
func parsePortKey(key string) (int, string, error) {
	portText, protocol, found := strings.Cut(key, "/")
	if !found {
		protocol = "tcp"
	}
	protocol = strings.ToLower(protocol)
	switch protocol {
	case "tcp", "udp", "sctp":
	default:
		return 0, "", fmt.Errorf("expected protocol tcp, udp or sctp, got %q", protocol)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return 0, "", fmt.Errorf("expected a port from 1 to 65535, got %q", portText)
	}
	return port, protocol, nil
}

// parseHostPort parses the HostPort of a binding. An empty value requests
// an ephemeral port from the engine at start, and a range such as
// "8000-8010" lets the engine pick one of the range, so both return 0. The
// port the engine picked is in NetworkSettings.Ports of a running
// container.
func parseHostPort(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	if lo, hi, isRange := strings.Cut(s, "-"); isRange {
		if _, err := parseHostPort(lo); err != nil {
			return 0, err
		}
		if _, err := parseHostPort(hi); err != nil {
			return 0, err
		}
		return 0, nil
	}
	port, err := strconv.Atoi(s)
	if err != nil || port < 1 || port > 65535 {
		return 0, fmt.Errorf("expected a port from 1 to 65535 or a range such as 8000-8010")
	}
	return port, nil
}

// parseMounts converts config.v2.json's MountPoints into mounts sorted by
// destination. An entry without a Destination takes its map key, which
// Docker sets to the destination.
func parseMounts(points map[string]mountPoint) ([]record.Mount, error) {
	out := make([]record.Mount, 0, len(points))
	for key, m := range points {
		destination := m.Destination
		if destination == "" {
			destination = key
		}
		if destination == "" {
			return nil, fmt.Errorf("invalid config.v2.json field MountPoints: entry with source %q has no destination", m.Source)
		}
		out = append(out, record.Mount{Source: m.Source, Destination: destination, ReadWrite: m.RW})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Destination < out[j].Destination })
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
