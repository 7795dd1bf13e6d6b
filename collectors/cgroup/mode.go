// Package cgroup samples the resource usage of every cgroup of a host, or
// of recorded snapshots of a cgroup tree, into record.Metric values. It
// reads cgroup v1, v2 and the hybrid layout that mounts the v1 controllers
// beside an empty v2 hierarchy at "unified".
package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Mode is the layout of a cgroup hierarchy.
type Mode string

// Cgroup layouts.
const (
	ModeV1     Mode = "v1"
	ModeV2     Mode = "v2"
	ModeHybrid Mode = "hybrid"
)

// DefaultRoot is the mount point of the cgroup hierarchy on systemd hosts.
const DefaultRoot = "/sys/fs/cgroup"

// Filesystem magic numbers from linux/magic.h.
const (
	cgroup2SuperMagic = 0x63677270
	tmpfsMagic        = 0x01021994
)

// v1Controllers lists the v1 controller directory names this package reads.
var v1Controllers = []string{"cpuacct", "cpu", "cpu,cpuacct", "cpuacct,cpu", "memory", "pids", "blkio"}

// Detect returns the layout of the hierarchy mounted at root. A cgroup2
// filesystem at root is v2. Otherwise, which covers the tmpfs of a v1 or
// hybrid mount as well as a copied tree in a plain directory, the layout
// decides: v1 controller directories with a "unified" directory beside them
// are hybrid, v1 controller directories alone are v1, and anything else is
// v2.
func Detect(root string) (Mode, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(root, &st); err != nil {
		return "", fmt.Errorf("statfs cgroup root %q: %w", root, err)
	}
	if uint64(st.Type) == cgroup2SuperMagic {
		return ModeV2, nil
	}
	return detectLayout(root)
}

func detectLayout(root string) (Mode, error) {
	st, err := os.Stat(root)
	if err != nil {
		return "", fmt.Errorf("stat cgroup root %q: %w", root, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("invalid cgroup root %q: not a directory", root)
	}

	hasV1 := false
	for _, name := range v1Controllers {
		if isDir(filepath.Join(root, name)) {
			hasV1 = true
			break
		}
	}
	switch {
	case hasV1 && isDir(filepath.Join(root, "unified")):
		return ModeHybrid, nil
	case hasV1:
		return ModeV1, nil
	default:
		return ModeV2, nil
	}
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}
