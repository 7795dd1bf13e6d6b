package host

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Container runtimes that DetectRuntime reports.
const (
	RuntimeDocker     = "docker"
	RuntimeContainerd = "containerd"
)

// goarchToUname translates Go's GOARCH to the machine name uname prints.
var goarchToUname = map[string]string{
	"amd64":   "x86_64",
	"386":     "i686",
	"arm64":   "aarch64",
	"arm":     "armv7l",
	"ppc64le": "ppc64le",
	"ppc64":   "ppc64",
	"s390x":   "s390x",
	"riscv64": "riscv64",
	"mips64":  "mips64",
	"loong64": "loongarch64",
}

// Arch returns the machine name of the host at root: /proc/sys/kernel/arch
// (Linux 6.1 and later), or for root "/" on older kernels this process's
// GOARCH in uname's spelling. It returns "" for another root without that
// file, because GOARCH describes the collector's host, not root's.
func Arch(root string) string {
	if arch := readTrimmed(filepath.Join(root, "proc/sys/kernel/arch")); arch != "" {
		return arch
	}
	if filepath.Clean(root) != "/" {
		return ""
	}
	if name, ok := goarchToUname[runtime.GOARCH]; ok {
		return name
	}
	return runtime.GOARCH
}

// Package names that carry each runtime's version, in the order they are
// tried, for the dpkg and apk databases.
var runtimePackages = map[string][]string{
	RuntimeDocker:     {"docker-ce", "docker.io", "moby-engine", "docker-engine", "docker"},
	RuntimeContainerd: {"containerd.io", "containerd"},
}

// DetectRuntime returns the container runtime of the host at root and its
// version, read from files only. Docker is found by its engine-id file or
// its socket, containerd by its /run/containerd folder. The version is the
// installed package's version in the dpkg or apk database, or "" when
// neither lists the runtime (for example on RPM hosts).
func DetectRuntime(root string) (name, version string) {
	at := func(p string) string { return filepath.Join(root, p) }
	switch {
	case exists(at("var/lib/docker/engine-id")), exists(at("run/docker.sock")), exists(at("var/run/docker.sock")):
		name = RuntimeDocker
	case exists(at("run/containerd")):
		name = RuntimeContainerd
	default:
		return "", ""
	}

	dpkg, _ := os.ReadFile(at("var/lib/dpkg/status"))
	apk, _ := os.ReadFile(at("lib/apk/db/installed"))
	for _, pkg := range runtimePackages[name] {
		if v := DpkgVersion(dpkg, pkg); v != "" {
			return name, v
		}
		if v := ApkVersion(apk, pkg); v != "" {
			return name, v
		}
	}
	return name, ""
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// DpkgVersion returns the Version of the installed package pkg in b, the
// content of /var/lib/dpkg/status, or "" when pkg is not installed.
// Paragraphs are separated by blank lines, and a package counts as
// installed when its Status ends in "installed".
func DpkgVersion(b []byte, pkg string) string {
	var name, version, status string
	found := ""
	flush := func() {
		if found == "" && name == pkg && strings.HasSuffix(status, " installed") {
			found = version
		}
		name, version, status = "", "", ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, " ") {
			continue
		}
		switch key {
		case "Package":
			name = strings.TrimSpace(value)
		case "Version":
			version = strings.TrimSpace(value)
		case "Status":
			status = strings.TrimSpace(value)
		}
	}
	flush()
	return found
}

// ApkVersion returns the version of package pkg in b, the content of
// Alpine's /lib/apk/db/installed ("P:" name and "V:" version lines), or "".
func ApkVersion(b []byte, pkg string) string {
	var name string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			name = ""
		case strings.HasPrefix(line, "P:"):
			name = line[2:]
		case strings.HasPrefix(line, "V:") && name == pkg:
			return line[2:]
		}
	}
	return ""
}
