package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/harrierhq/harrier/collectors/internal/emit"
	"github.com/harrierhq/harrier/internal/record"
)

// Default limits of one sample.
const (
	// DefaultMaxDepth is deep enough for
	// kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/<scope>.
	DefaultMaxDepth = 8
	// DefaultMaxCgroups bounds the records one sample produces.
	DefaultMaxCgroups = 2000
)

// Options bounds a sample.
type Options struct {
	// MaxDepth is the deepest cgroup level read below the root, which is
	// level 0. Zero means DefaultMaxDepth.
	MaxDepth int
	// MaxCgroups caps the cgroups read per sample. Container cgroups are
	// kept first when the tree has more. Zero means DefaultMaxCgroups.
	MaxCgroups int
	// ProcRoot is the proc filesystem whose /proc/<pid>/net/dev files give
	// a container's network bytes. Empty means DefaultProcRoot.
	ProcRoot string
}

// DefaultProcRoot is the mount point of the proc filesystem.
const DefaultProcRoot = "/proc"

// SampleStats describes one sample.
type SampleStats struct {
	// Cgroups is the number of cgroups sampled.
	Cgroups int
	// Skipped is the number of cgroups left out by MaxCgroups.
	Skipped int
	// ParseErrors counts the files that could not be parsed; their fields
	// are -1.
	ParseErrors int
	// FirstError is the first parse error, nil when there was none.
	FirstError error
}

// Sampler reads the cgroups under one root.
type Sampler struct {
	root string
	mode Mode
	opts Options
}

// NewSampler returns a sampler of the hierarchy at root, with the layout
// that Detect finds.
func NewSampler(root string, opts Options) (*Sampler, error) {
	mode, err := Detect(root)
	if err != nil {
		return nil, err
	}
	return NewSamplerMode(root, mode, opts), nil
}

// NewSamplerMode returns a sampler of the hierarchy at root with the given
// layout.
func NewSamplerMode(root string, mode Mode, opts Options) *Sampler {
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.MaxCgroups <= 0 {
		opts.MaxCgroups = DefaultMaxCgroups
	}
	if opts.ProcRoot == "" {
		opts.ProcRoot = DefaultProcRoot
	}
	return &Sampler{root: root, mode: mode, opts: opts}
}

// Mode returns the layout the sampler reads.
func (s *Sampler) Mode() Mode { return s.mode }

// Root returns the directory the sampler reads.
func (s *Sampler) Root() string { return s.root }

// Sample reads every cgroup and stamps the metrics with t. A cgroup none of
// whose files could be read, such as a slice of a copied tree that holds
// only directories, is left out.
func (s *Sampler) Sample(t time.Time) ([]record.Metric, SampleStats, error) {
	var stats SampleStats
	dirs, err := s.controllerDirs()
	if err != nil {
		return nil, stats, err
	}

	paths, err := s.walk(dirs)
	if err != nil {
		return nil, stats, err
	}
	paths, stats.Skipped = s.limit(paths)

	metrics := make([]record.Metric, 0, len(paths))
	for _, p := range paths {
		r := &reader{stats: &stats}
		var m record.Metric
		if s.mode == ModeV2 {
			m = r.readV2(filepath.Join(s.root, filepath.FromSlash(p)))
		} else {
			m = r.readV1(dirs, p)
		}
		if !r.found {
			continue
		}
		m.TimeNs = t.UnixNano()
		m.CgroupPath = displayPath(p)
		m.CgroupMode = string(s.mode)
		m.ContainerID = ContainerID(p)
		// Other cgroups share the host's network namespace, whose bytes are
		// no one cgroup's.
		if m.ContainerID != "" {
			if procs := s.procsFile(dirs, p); procs != "" {
				r.readNet(&m, procs, s.opts.ProcRoot)
			}
		}
		metrics = append(metrics, m)
	}
	stats.Cgroups = len(metrics)
	return metrics, stats, nil
}

// Record wraps m in a record keyed by its container id, or by hostID for a
// cgroup that belongs to no container. root is the sampled directory and
// only names the source.
func Record(m record.Metric, root, hostID string) emit.Record {
	key := m.ContainerID
	if key == "" {
		key = hostID
	}
	return emit.Record{
		Kind:    record.KindMetric,
		Key:     key,
		ID:      record.NewID("cgroup", m.CgroupPath, strconv.FormatInt(m.TimeNs, 10)),
		Source:  "cgroup:" + filepath.Join(root, m.CgroupPath),
		Payload: m,
	}
}

// procsFile returns the cgroup.procs file of the cgroup at rel, or "" when
// no mounted controller has one.
func (s *Sampler) procsFile(dirs map[string]string, rel string) string {
	if s.mode == ModeV2 {
		return filepath.Join(s.root, filepath.FromSlash(rel), "cgroup.procs")
	}
	for _, controller := range []string{"pids", "cpu", "memory", "cpuacct", "blkio"} {
		if root, ok := dirs[controller]; ok {
			return filepath.Join(root, filepath.FromSlash(rel), "cgroup.procs")
		}
	}
	return ""
}

func displayPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// controllerDirs maps each v1 controller to its mount under root, with
// symlinks such as cpu -> cpu,cpuacct resolved. It returns nil for v2.
func (s *Sampler) controllerDirs() (map[string]string, error) {
	if s.mode == ModeV2 {
		return nil, nil
	}
	dirs := make(map[string]string)
	candidates := map[string][]string{
		"cpuacct": {"cpuacct", "cpu,cpuacct", "cpuacct,cpu"},
		"cpu":     {"cpu", "cpu,cpuacct", "cpuacct,cpu"},
		"memory":  {"memory"},
		"pids":    {"pids"},
		"blkio":   {"blkio"},
	}
	for controller, names := range candidates {
		for _, name := range names {
			dir, err := filepath.EvalSymlinks(filepath.Join(s.root, name))
			if err == nil && isDir(dir) {
				dirs[controller] = dir
				break
			}
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("invalid %s cgroup root %q: no cpu, cpuacct, memory, pids or blkio controller directory", s.mode, s.root)
	}
	return dirs, nil
}

// walk returns the relative path of every cgroup, "" for the root, sorted.
// For v1 it is the union of the cgroups of all controllers.
func (s *Sampler) walk(dirs map[string]string) ([]string, error) {
	roots := []string{s.root}
	if s.mode != ModeV2 {
		roots = roots[:0]
		seen := map[string]bool{}
		for _, d := range dirs {
			if !seen[d] {
				seen[d] = true
				roots = append(roots, d)
			}
		}
	}

	set := map[string]bool{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				// A cgroup removed during the walk is not an error.
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if !d.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			if rel == "." {
				rel = ""
			}
			if s.mode == ModeHybrid && root == s.root && rel == "unified" {
				return fs.SkipDir
			}
			if depth(rel) > s.opts.MaxDepth {
				return fs.SkipDir
			}
			set[rel] = true
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk cgroup tree %q: %w", root, err)
		}
	}

	paths := make([]string, 0, len(set))
	for p := range set {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths, nil
}

func depth(rel string) int {
	if rel == "" {
		return 0
	}
	return strings.Count(rel, "/") + 1
}

// limit keeps at most MaxCgroups paths, container cgroups first and then
// the shallowest ones, and returns them sorted with the number left out.
func (s *Sampler) limit(paths []string) ([]string, int) {
	if len(paths) <= s.opts.MaxCgroups {
		return paths, 0
	}
	ranked := append([]string(nil), paths...)
	sort.SliceStable(ranked, func(i, j int) bool {
		ci, cj := ContainerID(ranked[i]) != "", ContainerID(ranked[j]) != ""
		if ci != cj {
			return ci
		}
		return depth(ranked[i]) < depth(ranked[j])
	})
	kept := ranked[:s.opts.MaxCgroups]
	sort.Strings(kept)
	return kept, len(paths) - len(kept)
}

// reader reads the files of one cgroup. Missing files leave their fields
// at -1; unparsable files do too and are counted.
type reader struct {
	stats *SampleStats
	found bool
}

func (r *reader) read(path string) ([]byte, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	r.found = true
	return b, true
}

func (r *reader) fail(path string, err error) {
	r.stats.ParseErrors++
	if r.stats.FirstError == nil {
		r.stats.FirstError = fmt.Errorf("invalid cgroup file %q: %w", path, err)
	}
}

func (r *reader) value(path string) int64 {
	b, ok := r.read(path)
	if !ok {
		return -1
	}
	v, err := ParseValue(b)
	if err != nil {
		r.fail(path, err)
		return -1
	}
	return v
}

func (r *reader) keyed(path string) map[string]int64 {
	b, ok := r.read(path)
	if !ok {
		return nil
	}
	values, err := ParseKeyedValues(b)
	if err != nil {
		r.fail(path, err)
		return nil
	}
	return values
}

func lookup(values map[string]int64, key string, scale int64) int64 {
	v, ok := values[key]
	if !ok {
		return -1
	}
	if scale != 1 && v > 0 && v > (1<<63-1)/scale {
		return 1<<63 - 1
	}
	return v * scale
}

func workingSet(usage, inactiveFile int64) int64 {
	if usage < 0 || inactiveFile < 0 {
		return -1
	}
	if inactiveFile > usage {
		return 0
	}
	return usage - inactiveFile
}

func (r *reader) readV2(dir string) record.Metric {
	m := emptyMetric()

	if cpu := r.keyed(filepath.Join(dir, "cpu.stat")); cpu != nil {
		m.CPUUsageNs = lookup(cpu, "usage_usec", 1000)
		m.CPUThrottledNs = lookup(cpu, "throttled_usec", 1000)
		m.CPUThrottledPeriods = lookup(cpu, "nr_throttled", 1)
	}

	m.MemoryUsageBytes = r.value(filepath.Join(dir, "memory.current"))
	if mem := r.keyed(filepath.Join(dir, "memory.stat")); mem != nil {
		m.MemoryWorkingSetBytes = workingSet(m.MemoryUsageBytes, lookup(mem, "inactive_file", 1))
	}
	m.MemoryLimitBytes = r.value(filepath.Join(dir, "memory.max"))
	if events := r.keyed(filepath.Join(dir, "memory.events")); events != nil {
		m.OOMKills = lookup(events, "oom_kill", 1)
		m.MemoryFailures = lookup(events, "max", 1)
	}

	m.PidsCurrent = r.value(filepath.Join(dir, "pids.current"))
	m.PidsMax = r.value(filepath.Join(dir, "pids.max"))

	ioPath := filepath.Join(dir, "io.stat")
	if b, ok := r.read(ioPath); ok {
		rb, wb, err := ParseIOStat(b)
		if err == nil {
			m.IOReadBytes, m.IOWriteBytes = rb, wb
			var ro, wo int64
			ro, wo, err = ParseIOStatOps(b)
			if err == nil {
				m.IOReadOps, m.IOWriteOps = ro, wo
			}
		}
		if err != nil {
			r.fail(ioPath, err)
		}
	}

	if p, ok := r.pressure(filepath.Join(dir, "cpu.pressure")); ok {
		m.CPUPressureSomeAvg10, m.CPUPressureSomeTotalUs = p.SomeAvg10, p.SomeTotalUs
		m.CPUPressureFullAvg10, m.CPUPressureFullTotalUs = p.FullAvg10, p.FullTotalUs
	}
	if p, ok := r.pressure(filepath.Join(dir, "memory.pressure")); ok {
		m.MemoryPressureSomeAvg10, m.MemoryPressureSomeTotalUs = p.SomeAvg10, p.SomeTotalUs
		m.MemoryPressureFullAvg10, m.MemoryPressureFullTotalUs = p.FullAvg10, p.FullTotalUs
	}
	if p, ok := r.pressure(filepath.Join(dir, "io.pressure")); ok {
		m.IOPressureSomeAvg10, m.IOPressureSomeTotalUs = p.SomeAvg10, p.SomeTotalUs
		m.IOPressureFullAvg10, m.IOPressureFullTotalUs = p.FullAvg10, p.FullTotalUs
	}
	return m
}

func (r *reader) pressure(path string) (Pressure, bool) {
	b, ok := r.read(path)
	if !ok {
		return Pressure{}, false
	}
	p, err := ParsePressure(b)
	if err != nil {
		r.fail(path, err)
		return Pressure{}, false
	}
	return p, true
}

// NOTE: in the hybrid layout the pressure files sit in the unified tree,
// which readV1 does not read, so the pressure fields stay -1 there.
func (r *reader) readV1(dirs map[string]string, rel string) record.Metric {
	m := emptyMetric()
	at := func(controller, file string) string {
		root, ok := dirs[controller]
		if !ok {
			return ""
		}
		return filepath.Join(root, filepath.FromSlash(rel), file)
	}

	if p := at("cpuacct", "cpuacct.usage"); p != "" {
		m.CPUUsageNs = r.value(p)
	}
	if p := at("cpu", "cpu.stat"); p != "" {
		if cpu := r.keyed(p); cpu != nil {
			m.CPUThrottledNs = lookup(cpu, "throttled_time", 1)
			m.CPUThrottledPeriods = lookup(cpu, "nr_throttled", 1)
		}
	}

	if _, ok := dirs["memory"]; ok {
		m.MemoryUsageBytes = r.value(at("memory", "memory.usage_in_bytes"))
		if mem := r.keyed(at("memory", "memory.stat")); mem != nil {
			m.MemoryWorkingSetBytes = workingSet(m.MemoryUsageBytes, lookup(mem, "total_inactive_file", 1))
		}
		m.MemoryLimitBytes = r.value(at("memory", "memory.limit_in_bytes"))
		if oom := r.keyed(at("memory", "memory.oom_control")); oom != nil {
			m.OOMKills = lookup(oom, "oom_kill", 1)
		}
		m.MemoryFailures = r.value(at("memory", "memory.failcnt"))
	}

	if _, ok := dirs["pids"]; ok {
		m.PidsCurrent = r.value(at("pids", "pids.current"))
		m.PidsMax = r.value(at("pids", "pids.max"))
	}

	if _, ok := dirs["blkio"]; ok {
		for _, name := range []string{"blkio.throttle.io_service_bytes", "blkio.io_service_bytes"} {
			p := at("blkio", name)
			b, ok := r.read(p)
			if !ok {
				continue
			}
			rb, wb, err := ParseBlkioBytes(b)
			if err != nil {
				r.fail(p, err)
			} else {
				m.IOReadBytes, m.IOWriteBytes = rb, wb
			}
			break
		}
		for _, name := range []string{"blkio.throttle.io_serviced", "blkio.io_serviced"} {
			p := at("blkio", name)
			b, ok := r.read(p)
			if !ok {
				continue
			}
			ro, wo, err := ParseBlkioOps(b)
			if err != nil {
				r.fail(p, err)
			} else {
				m.IOReadOps, m.IOWriteOps = ro, wo
			}
			break
		}
	}
	return m
}

func emptyMetric() record.Metric {
	return record.Metric{
		CPUUsageNs:            -1,
		CPUThrottledNs:        -1,
		CPUThrottledPeriods:   -1,
		MemoryUsageBytes:      -1,
		MemoryWorkingSetBytes: -1,
		MemoryLimitBytes:      -1,
		OOMKills:              -1,
		PidsCurrent:           -1,
		PidsMax:               -1,
		IOReadBytes:           -1,
		IOWriteBytes:          -1,
		IOReadOps:             -1,
		IOWriteOps:            -1,
		MemoryFailures:        -1,

		CPUPressureSomeAvg10:      -1,
		CPUPressureFullAvg10:      -1,
		CPUPressureSomeTotalUs:    -1,
		CPUPressureFullTotalUs:    -1,
		MemoryPressureSomeAvg10:   -1,
		MemoryPressureFullAvg10:   -1,
		MemoryPressureSomeTotalUs: -1,
		MemoryPressureFullTotalUs: -1,
		IOPressureSomeAvg10:       -1,
		IOPressureFullAvg10:       -1,
		IOPressureSomeTotalUs:     -1,
		IOPressureFullTotalUs:     -1,
		NetRxBytes:                -1,
		NetTxBytes:                -1,
	}
}
