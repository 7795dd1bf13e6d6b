package cgroup

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/harrierhq/harrier/internal/record"
)

// maxNetPids bounds how many pids of cgroup.procs are tried when the
// first ones have exited between the two reads.
const maxNetPids = 4

// ParseNetDev parses a /proc/<pid>/net/dev file: two header lines, then one
// line per interface, "eth0: rx_bytes rx_packets ... tx_bytes ...", where
// tx_bytes is the ninth counter.
func ParseNetDev(b []byte) ([]record.NetInterface, error) {
	var out []record.NetInterface
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if n <= 2 || strings.TrimSpace(line) == "" {
			continue
		}
		// Old kernels print "eth0:123" with no space once the counter is wide.
		name, rest, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("invalid net/dev line %d %q: expected \"interface: counters\"", n, truncate(line))
		}
		fields := strings.Fields(rest)
		if len(fields) < 9 {
			return nil, fmt.Errorf("invalid net/dev line %d, interface %q: %d counters, expected at least 9", n, truncate(name), len(fields))
		}
		rx, err := parseInt(fields[0])
		if err != nil || rx < 0 {
			return nil, fmt.Errorf("invalid net/dev line %d, interface %q: rx_bytes %q", n, truncate(name), truncate(fields[0]))
		}
		tx, err := parseInt(fields[8])
		if err != nil || tx < 0 {
			return nil, fmt.Errorf("invalid net/dev line %d, interface %q: tx_bytes %q", n, truncate(name), truncate(fields[8]))
		}
		out = append(out, record.NetInterface{Name: name, RxBytes: rx, TxBytes: tx})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read net/dev: %w", err)
	}
	return out, nil
}

// readNet fills the network fields of m from the net/dev file of the first
// process in procsFile whose file can be read. Every process of a
// container shares its network namespace, so one process is enough. A
// cgroup with no readable process keeps the fields at -1 and is not
// counted as a parse error, since processes come and go between the reads.
func (r *reader) readNet(m *record.Metric, procsFile, procRoot string) {
	b, err := os.ReadFile(procsFile)
	if err != nil {
		return
	}
	tried := 0
	for _, pid := range strings.Fields(string(b)) {
		if tried == maxNetPids {
			return
		}
		tried++
		if _, err := strconv.ParseUint(pid, 10, 32); err != nil {
			r.fail(procsFile, fmt.Errorf("pid %q is not a number", truncate(pid)))
			return
		}
		path := filepath.Join(procRoot, pid, "net", "dev")
		dev, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		ifaces, err := ParseNetDev(dev)
		if err != nil {
			r.fail(path, err)
			return
		}
		m.NetInterfaces = ifaces
		m.NetRxBytes, m.NetTxBytes = 0, 0
		for _, iface := range ifaces {
			if iface.Name == "lo" {
				continue
			}
			m.NetRxBytes = addSaturating(m.NetRxBytes, iface.RxBytes)
			m.NetTxBytes = addSaturating(m.NetTxBytes, iface.TxBytes)
		}
		return
	}
}
