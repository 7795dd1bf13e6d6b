package host

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Listener is a listening TCP socket, or a UDP socket bound to a local port
// and connected to no peer, with the process that owns it.
type Listener struct {
	// Protocol is tcp, tcp6, udp or udp6, the /proc/net file it was read from.
	Protocol string `json:"protocol"`
	Address  string `json:"address"`
	Port     int    `json:"port"`
	// Inode is the socket inode, the key that joins it to a process.
	Inode uint64 `json:"inode"`
	// PID and Process identify the owner. They are 0 and "" when no
	// readable /proc/<pid>/fd links to the socket, as for the sockets of
	// other users' processes when the collector runs without root.
	PID     int    `json:"pid,omitempty"`
	Process string `json:"process,omitempty"`
}

// Socket states as /proc/net/tcp and /proc/net/udp print them in column
// st: TCP_LISTEN and TCP_CLOSE.
const (
	stateListen = 0x0A
	stateClose  = 0x07
)

// ParseProcNet returns the listeners in b, the content of /proc/net/tcp,
// tcp6, udp or udp6, named by protocol. TCP sockets count in state LISTEN,
// and UDP sockets in state CLOSE with no remote address, which is how the
// kernel shows a bound, unconnected UDP socket. The error names the line
// and the field that failed.
func ParseProcNet(b []byte, protocol string) ([]Listener, error) {
	udp := strings.HasPrefix(protocol, "udp")
	var out []Listener
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if line == 1 || len(fields) == 0 {
			continue
		}
		if len(fields) < 10 {
			return out, fmt.Errorf("invalid /proc/net/%s line %d: %d fields, expected at least 10", protocol, line, len(fields))
		}
		state, err := strconv.ParseUint(fields[3], 16, 8)
		if err != nil {
			return out, fmt.Errorf("invalid /proc/net/%s line %d field st=%q: %w", protocol, line, fields[3], err)
		}
		if udp {
			if state != stateClose || !zeroAddress(fields[2]) {
				continue
			}
		} else if state != stateListen {
			continue
		}
		addr, port, err := parseHexAddress(fields[1])
		if err != nil {
			return out, fmt.Errorf("invalid /proc/net/%s line %d field local_address=%q: %w", protocol, line, fields[1], err)
		}
		inode, err := strconv.ParseUint(fields[9], 10, 64)
		if err != nil {
			return out, fmt.Errorf("invalid /proc/net/%s line %d field inode=%q: %w", protocol, line, fields[9], err)
		}
		out = append(out, Listener{Protocol: protocol, Address: addr.String(), Port: port, Inode: inode})
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read /proc/net/%s: %w", protocol, err)
	}
	return out, nil
}

func zeroAddress(field string) bool {
	return strings.Trim(field, "0:") == ""
}

// parseHexAddress parses "0100007F:1F90". The kernel prints the address as
// 32-bit words in host byte order, so on little-endian machines each group
// of four bytes is reversed.
// NOTE: this assumes a little-endian host (x86-64, arm64 in its usual mode).
func parseHexAddress(field string) (netip.Addr, int, error) {
	hexAddr, hexPort, ok := strings.Cut(field, ":")
	if !ok {
		return netip.Addr{}, 0, errors.New("expected ADDRESS:PORT in hexadecimal")
	}
	raw, err := hex.DecodeString(hexAddr)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.Addr{}, 0, fmt.Errorf("address %q is not 8 or 32 hexadecimal digits", hexAddr)
	}
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("port %q is not a 16-bit hexadecimal number", hexPort)
	}
	addr, _ := netip.AddrFromSlice(raw)
	return addr.Unmap(), int(port), nil
}

// Listeners reads the listening TCP and UDP sockets of root's /proc, and
// finds each socket's process through the /proc/<pid>/fd links. It
// returns the listeners sorted by protocol and port, and one error per file
// that could not be parsed. A missing file, such as tcp6 on a host without
// IPv6, is skipped.
func Listeners(root string) ([]Listener, []error) {
	var all []Listener
	var invalid []error
	for _, protocol := range []string{"tcp", "tcp6", "udp", "udp6"} {
		b, err := os.ReadFile(filepath.Join(root, "proc", "net", protocol))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			invalid = append(invalid, fmt.Errorf("read /proc/net/%s: %w", protocol, err))
			continue
		}
		found, err := ParseProcNet(b, protocol)
		if err != nil {
			invalid = append(invalid, err)
		}
		all = append(all, found...)
	}

	owners := socketOwners(filepath.Join(root, "proc"))
	for i := range all {
		if pid, ok := owners[all[i].Inode]; ok {
			all[i].PID = pid
			all[i].Process = readTrimmed(filepath.Join(root, "proc", strconv.Itoa(pid), "comm"))
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Protocol != all[j].Protocol {
			return all[i].Protocol < all[j].Protocol
		}
		if all[i].Port != all[j].Port {
			return all[i].Port < all[j].Port
		}
		return all[i].Address < all[j].Address
	})
	return all, invalid
}

// socketOwners maps socket inodes to the lowest pid with a file descriptor
// on them. Processes whose fd folder cannot be read are skipped.
func socketOwners(procDir string) map[uint64]int {
	owners := map[uint64]int{}
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return owners
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		fdDir := filepath.Join(procDir, e.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			inode, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]"), 10, 64)
			if err != nil {
				continue
			}
			if old, ok := owners[inode]; !ok || pid < old {
				owners[inode] = pid
			}
		}
	}
	return owners
}
