package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"
)

// Snapshot is one recorded copy of a cgroup tree, taken at Time.
type Snapshot struct {
	Time time.Time
	// Dir is <replay dir>/<unix seconds>, the root of the copied tree.
	Dir string
}

// ListSnapshots returns the snapshots under dir, oldest first. Each
// snapshot is a directory named by its time in Unix seconds; other entries
// are ignored.
func ListSnapshots(dir string) ([]Snapshot, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read cgroup replay dir %q: %w", dir, err)
	}
	var snaps []Snapshot
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sec, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || sec < 0 {
			continue
		}
		snaps = append(snaps, Snapshot{Time: time.Unix(sec, 0).UTC(), Dir: filepath.Join(dir, e.Name())})
	}
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].Time.Before(snaps[j].Time) })
	return snaps, nil
}

// Sampler returns a sampler of the snapshot's tree, whose layout is
// detected from its directories.
func (s Snapshot) Sampler(opts Options) (*Sampler, error) {
	mode, err := detectLayout(s.Dir)
	if err != nil {
		return nil, err
	}
	return NewSamplerMode(s.Dir, mode, opts), nil
}
