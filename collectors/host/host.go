// Package host reads the facts of a host from its /etc, /proc, /run and
// /var/lib files: operating system and its end-of-life date, kernel,
// architecture, CPUs, memory, uptime, hostname, machine id, cgroup layout,
// container runtime and listening sockets.
package host

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/harrierhq/harrier/collectors/cgroup"
	"github.com/harrierhq/harrier/collectors/internal/emit"
	"github.com/harrierhq/harrier/internal/record"
)

// Collect reads the facts of the host whose root filesystem is at root,
// "/" for this host. Missing files leave their fields empty or zero; the
// returned errors list the files that exist but could not be parsed. The
// host id is /etc/machine-id or, without one, a hash of the hostname.
func Collect(root string, now time.Time) (record.Host, []error) {
	if root == "" {
		root = "/"
	}
	h := record.Host{TimeNs: now.UnixNano()}
	var invalid []error
	at := func(p string) string { return filepath.Join(root, p) }

	if b, err := os.ReadFile(at("etc/os-release")); err == nil {
		osr, err := ParseOSRelease(b)
		if err != nil {
			invalid = append(invalid, fmt.Errorf("%s: %w", at("etc/os-release"), err))
		}
		h.OSID, h.OSVersion, h.OSPretty = osr["ID"], osr["VERSION_ID"], osr["PRETTY_NAME"]
	} else if b, err := os.ReadFile(at("usr/lib/os-release")); err == nil {
		osr, err := ParseOSRelease(b)
		if err != nil {
			invalid = append(invalid, fmt.Errorf("%s: %w", at("usr/lib/os-release"), err))
		}
		h.OSID, h.OSVersion, h.OSPretty = osr["ID"], osr["VERSION_ID"], osr["PRETTY_NAME"]
	}

	h.OSEOLDate = EOLDate(h.OSID, h.OSVersion)
	h.Kernel = readTrimmed(at("proc/sys/kernel/osrelease"))
	h.Arch = Arch(root)
	h.Runtime, h.RuntimeVersion = DetectRuntime(root)
	h.Hostname = hostname(root)

	if b, err := os.ReadFile(at("proc/cpuinfo")); err == nil {
		h.CPUModel, h.CPUCount = ParseCPUInfo(b)
	}
	if b, err := os.ReadFile(at("proc/meminfo")); err == nil {
		total, err := ParseMemTotal(b)
		if err != nil {
			invalid = append(invalid, fmt.Errorf("%s: %w", at("proc/meminfo"), err))
		}
		h.MemoryBytes = total
	}
	if b, err := os.ReadFile(at("proc/uptime")); err == nil {
		up, err := ParseUptime(b)
		if err != nil {
			invalid = append(invalid, fmt.Errorf("%s: %w", at("proc/uptime"), err))
		}
		h.UptimeS = up
	}

	if mode, err := cgroup.Detect(at("sys/fs/cgroup")); err == nil {
		h.CgroupMode = string(mode)
	} else if !errors.Is(err, fs.ErrNotExist) {
		invalid = append(invalid, err)
	}

	listeners, listenErrs := Listeners(root)
	invalid = append(invalid, listenErrs...)
	for _, l := range listeners {
		h.Listeners = append(h.Listeners, record.Listener{
			Protocol: l.Protocol, Address: l.Address, Port: l.Port, PID: l.PID, Process: l.Process,
		})
	}

	h.HostID = readTrimmed(at("etc/machine-id"))
	if h.HostID == "" {
		h.HostID = record.NewID("hostname", h.Hostname)
	}
	return h, invalid
}

// Record wraps h in an inventory record keyed by its host id.
func Record(h record.Host, root string) emit.Record {
	return emit.Record{
		Kind:    record.KindHost,
		Key:     h.HostID,
		ID:      record.NewID("host", h.HostID, strconv.FormatInt(h.TimeNs, 10)),
		Source:  "host:" + root,
		Payload: h,
	}
}

func hostname(root string) string {
	if name := readTrimmed(filepath.Join(root, "proc/sys/kernel/hostname")); name != "" {
		return name
	}
	if name := readTrimmed(filepath.Join(root, "etc/hostname")); name != "" {
		return name
	}
	if filepath.Clean(root) == "/" {
		if name, err := os.Hostname(); err == nil {
			return name
		}
	}
	return ""
}

func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ParseCPUInfo returns the first "model name" of /proc/cpuinfo and the
// number of "processor" entries.
func ParseCPUInfo(b []byte) (model string, count int) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "processor":
			count++
		case "model name":
			if model == "" {
				model = strings.TrimSpace(value)
			}
		}
	}
	return model, count
}

// ParseMemTotal returns MemTotal of /proc/meminfo in bytes.
func ParseMemTotal(b []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || key != "MemTotal" {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) == 0 {
			return 0, fmt.Errorf("invalid meminfo field MemTotal=%q", value)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("invalid meminfo field MemTotal=%q", value)
		}
		if len(fields) > 1 && fields[1] != "kB" {
			return 0, fmt.Errorf("invalid meminfo field MemTotal=%q: expected kB", value)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("missing meminfo field MemTotal")
}

// ParseUptime returns the first number of /proc/uptime in whole seconds.
func ParseUptime(b []byte) (int64, error) {
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0, fmt.Errorf("invalid uptime: empty")
	}
	s, err := strconv.ParseFloat(fields[0], 64)
	if err != nil || s < 0 || s > 1e15 {
		return 0, fmt.Errorf("invalid uptime value %q", fields[0])
	}
	return int64(s), nil
}
