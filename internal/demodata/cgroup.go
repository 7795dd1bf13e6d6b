package demodata

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"time"
)

// cgroupProfile is the resource use of one container in the cgroup
// snapshots.
type cgroupProfile struct {
	name string
	// path is the cgroup directory relative to the snapshot root.
	path string
	// cores is the normal CPU use; incidentCores applies during the
	// incident minutes when it is set.
	cores, incidentCores float64
	memoryBytes          float64
	// memoryMax and pidsMax are the file contents: a number or "max".
	memoryMax, pidsMax string
	pids               int
	readPerMin         float64
	writePerMin        float64
	uptime             time.Duration
}

// cgroupCounters are the cumulative values of one container.
type cgroupCounters struct {
	usageUsec, userUsec, systemUsec   int64
	periods, throttled, throttledUsec int64
	readBytes, writeBytes, rios, wios int64
	pgfault, pgmajfault               int64
}

func (g *generator) cgroupProfiles() []cgroupProfile {
	scope := func(name string) string {
		return "system.slice/docker-" + ContainerID(g.seed, name) + ".scope"
	}
	podSlice := "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + underscoreUID(PodUID(g.seed)) + ".slice"
	return []cgroupProfile{
		{name: "web", path: scope("web"), cores: 0.20, memoryBytes: 180 << 20, memoryMax: "536870912", pidsMax: "4096", pids: 12, readPerMin: 40 << 10, writePerMin: 220 << 10, uptime: 47 * time.Minute},
		{name: "sshd", path: scope("sshd"), cores: 0.05, incidentCores: 1.8, memoryBytes: 24 << 20, memoryMax: "268435456", pidsMax: "512", pids: 3, readPerMin: 4 << 10, writePerMin: 16 << 10, uptime: 3 * time.Hour},
		{name: "batch", path: scope("batch"), cores: 0.30, memoryBytes: 410 << 20, memoryMax: "max", pidsMax: "max", pids: 9, readPerMin: 2 << 20, writePerMin: 5 << 20, uptime: 26 * time.Hour},
		{name: "api", path: scope("api"), cores: 0.35, memoryBytes: 260 << 20, memoryMax: "1073741824", pidsMax: "8192", pids: 24, readPerMin: 120 << 10, writePerMin: 600 << 10, uptime: 95 * time.Minute},
		{name: PodContainer, path: podSlice + "/cri-containerd-" + ContainerID(g.seed, "cri/"+PodContainer) + ".scope", cores: 0.15, memoryBytes: 320 << 20, memoryMax: "805306368", pidsMax: "max", pids: 31, readPerMin: 300 << 10, writePerMin: 1 << 20, uptime: 6 * time.Hour},
	}
}

// underscoreUID writes a pod uid as systemd slice names do, with "_" for
// "-".
func underscoreUID(uid string) string {
	b := []byte(uid)
	for i, c := range b {
		if c == '-' {
			b[i] = '_'
		}
	}
	return string(b)
}

func (g *generator) writeCgroups() error {
	profiles := g.cgroupProfiles()
	counters := make([]cgroupCounters, len(profiles))

	// Counters at minute 0 hold the use since each container started.
	for i, p := range profiles {
		minutes := p.uptime.Minutes()
		c := &counters[i]
		c.usageUsec = int64(p.cores * 60e6 * minutes)
		c.periods = int64(60 * minutes)
		c.readBytes = int64(p.readPerMin * minutes)
		c.writeBytes = int64(p.writePerMin * minutes)
		c.pgfault = int64(2000 * minutes)
	}

	for m := 0; m <= Minutes; m++ {
		if m > 0 {
			for i, p := range profiles {
				g.advance(&counters[i], p, m-1)
			}
		}
		snapshot := filepath.Join(g.dir, "cgroup", strconv.FormatInt(Start.Add(time.Duration(m)*time.Minute).Unix(), 10))
		for i, p := range profiles {
			if err := g.writeCgroupFiles(filepath.Join(snapshot, filepath.FromSlash(p.path)), p, counters[i], m); err != nil {
				return err
			}
		}
	}
	return nil
}

func incident(name string, m int) bool {
	return name == IncidentContainer && m >= IncidentFrom && m <= IncidentTo
}

// advance adds the use of minute m to c.
func (g *generator) advance(c *cgroupCounters, p cgroupProfile, m int) {
	cores := p.cores
	if incident(p.name, m) && p.incidentCores > 0 {
		cores = p.incidentCores
	}
	usage := int64(math.Max(0, cores*60e6*g.noise(0.15)))
	c.usageUsec += usage
	c.userUsec += usage * 7 / 10
	c.systemUsec += usage - usage*7/10

	// The containers run under a CFS quota with 100 ms periods; a busy
	// container is active in all 600 periods of a minute.
	active := int64(math.Min(600, 60+cores*300*g.noise(0.1)))
	c.periods += active
	if incident(p.name, m) {
		throttled := int64(380 + g.rng.IntN(90))
		c.throttled += throttled
		c.throttledUsec += throttled * int64(40000+g.rng.IntN(20000))
	}

	c.readBytes += int64(math.Max(0, p.readPerMin*g.noise(0.3)))
	c.writeBytes += int64(math.Max(0, p.writePerMin*g.noise(0.3)))
	c.rios = c.readBytes / 4096
	c.wios = c.writeBytes / 8192
	c.pgfault += int64(math.Max(0, 2000*g.noise(0.2)))
	if g.rng.IntN(10) == 0 {
		c.pgmajfault++
	}
}

func (g *generator) writeCgroupFiles(dir string, p cgroupProfile, c cgroupCounters, m int) error {
	memory := p.memoryBytes * g.noise(0.03)
	pids := p.pids + g.rng.IntN(3)
	if incident(p.name, m-1) {
		// Each connection of the attack forks a session process.
		memory *= 2.5
		pids += 30 + g.rng.IntN(15)
	}
	current := int64(memory) / 4096 * 4096
	anon := current * 6 / 10 / 4096 * 4096
	file := current * 35 / 100 / 4096 * 4096
	kernel := current - anon - file
	inactiveFile := file * 4 / 10 / 4096 * 4096

	files := []struct{ name, content string }{
		{"cpu.stat", fmt.Sprintf("usage_usec %d\nuser_usec %d\nsystem_usec %d\nnr_periods %d\nnr_throttled %d\nthrottled_usec %d\nnr_bursts 0\nburst_usec 0\n",
			c.usageUsec, c.userUsec, c.systemUsec, c.periods, c.throttled, c.throttledUsec)},
		{"memory.current", fmt.Sprintf("%d\n", current)},
		{"memory.stat", fmt.Sprintf("anon %d\nfile %d\nkernel %d\nkernel_stack %d\nsock 0\nshmem 0\nfile_mapped %d\nfile_dirty %d\ninactive_anon %d\nactive_anon %d\ninactive_file %d\nactive_file %d\nunevictable 0\npgfault %d\npgmajfault %d\n",
			anon, file, kernel, int64(pids)*16384, file/5/4096*4096, int64(g.rng.IntN(64))*4096, anon*9/10/4096*4096, anon/10/4096*4096, inactiveFile, file-inactiveFile, c.pgfault, c.pgmajfault)},
		{"memory.max", p.memoryMax + "\n"},
		{"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"},
		{"pids.current", fmt.Sprintf("%d\n", pids)},
		{"pids.max", p.pidsMax + "\n"},
		{"io.stat", fmt.Sprintf("8:0 rbytes=%d wbytes=%d rios=%d wios=%d dbytes=0 dios=0\n", c.readBytes, c.writeBytes, c.rios, c.wios)},
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), []byte(f.content)); err != nil {
			return err
		}
	}
	return nil
}
