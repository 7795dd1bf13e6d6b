package scenario

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// cgroupState holds the cumulative counters of one container.
type cgroupState struct {
	usageUsec, periods, throttled, throttledUsec int64
	readBytes, writeBytes                        int64
	oomKills                                     int64
}

// limitText writes a cgroup v2 limit: the number, or "max" for 0.
func limitText(v int64) string {
	if v <= 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}

// writeCgroups writes one cgroup v2 snapshot a minute, from Start to the
// end both included, with every container that runs at that minute.
func (g *generator) writeCgroups() error {
	states := make([]cgroupState, len(g.containers))
	for i, c := range g.containers {
		// Counters at the first sample hold the use since the container
		// started.
		up := c.from.Sub(c.created).Seconds()
		states[i].usageUsec = int64(c.service.cores * up * 1e6)
		states[i].periods = int64(up * 10)
	}
	for t := Start; !t.After(g.end); t = t.Add(time.Minute) {
		snapshot := filepath.Join(g.dir, "cgroup", strconv.FormatInt(t.Unix(), 10))
		for i, c := range g.containers {
			if t.Before(c.from) || t.After(c.to) || (c.stopped && !t.Before(c.to)) {
				continue
			}
			if t.After(c.from) {
				g.advanceCgroup(&states[i], c, t.Add(-time.Minute))
			}
			dir := filepath.Join(snapshot, "system.slice", "docker-"+c.id+".scope")
			if err := g.writeCgroupFiles(dir, c, &states[i], t); err != nil {
				return err
			}
		}
	}
	return nil
}

// cores returns the CPU use of c in the minute that starts at t.
func (g *generator) cores(c *container, t time.Time) float64 {
	cores := c.service.cores * seasonal(t) * g.noise(0.15)
	if _, ok := c.effectAt(KindCryptominer, t); ok {
		cores = c.service.cpuMax * (0.97 + 0.03*g.rng.Float64())
	}
	if _, ok := c.effectAt(KindForkBomb, t); ok {
		cores = math.Max(cores, c.service.cpuMax*(0.6+0.3*g.rng.Float64()))
	}
	if c.service.cpuMax > 0 {
		cores = math.Min(cores, c.service.cpuMax)
	}
	return cores
}

// advanceCgroup adds the use of the minute that starts at t to st.
func (g *generator) advanceCgroup(st *cgroupState, c *container, t time.Time) {
	cores := g.cores(c, t)
	st.usageUsec += int64(cores * 60e6)
	// A CFS period is 100 ms, so a minute has 600. The share of them in
	// which a container runs grows with its use.
	active := int64(math.Min(600, 30+cores*400))
	st.periods += active
	if c.service.cpuMax > 0 && cores >= 0.95*c.service.cpuMax {
		throttled := active * int64(60+g.rng.IntN(30)) / 100
		st.throttled += throttled
		st.throttledUsec += throttled * int64(20000+g.rng.IntN(30000))
	}
	load := seasonal(t)
	st.readBytes += int64(float64(64<<10) * load * g.noise(0.3))
	st.writeBytes += int64(float64(256<<10) * load * g.noise(0.3))
	if !c.oomAt.IsZero() && !t.Before(c.oomAt.Truncate(time.Minute)) && t.Before(c.oomAt.Truncate(time.Minute).Add(time.Minute)) {
		st.oomKills++
	}
}

// memory returns the memory use of c at t.
func (g *generator) memory(c *container, t time.Time) float64 {
	m := c.service.memory * (1 + 0.1*(seasonal(t)-1)) * g.noise(0.02)
	if e, ok := c.effectAt(KindMemoryLeakOOM, t); ok && c.service.memMax > 0 {
		// The leak grows linearly to 98% of the limit at the kill.
		share := float64(t.Sub(e.from)) / float64(e.to.Sub(e.from))
		m += share * (0.98*float64(c.service.memMax) - m)
	}
	return m
}

// pids returns the number of tasks of c at t.
func (g *generator) pids(c *container, t time.Time) int64 {
	n := int64(c.service.pids + g.rng.IntN(3))
	if e, ok := c.effectAt(KindForkBomb, t); ok {
		limit := c.service.pidsMax
		if limit <= 0 {
			limit = 32768
		}
		// A fork bomb reaches the limit within seconds: the first sample
		// after its start shows a third of it, later samples the limit.
		if t.Sub(e.from) < time.Minute {
			return min(limit, n+limit/3)
		}
		return limit - int64(g.rng.IntN(3))
	}
	return n
}

func (g *generator) writeCgroupFiles(dir string, c *container, st *cgroupState, t time.Time) error {
	// A sample at t shows the gauges of just before t, so that an incident
	// that starts at t shows in the next sample, as the counters do.
	before := t.Add(-time.Second)
	current := int64(g.memory(c, before)) / 4096 * 4096
	anon := current * 7 / 10 / 4096 * 4096
	file := current - anon
	inactiveFile := file / 2 / 4096 * 4096
	user := st.usageUsec * 8 / 10
	files := []struct{ name, content string }{
		{"cpu.stat", fmt.Sprintf("usage_usec %d\nuser_usec %d\nsystem_usec %d\nnr_periods %d\nnr_throttled %d\nthrottled_usec %d\n",
			st.usageUsec, user, st.usageUsec-user, st.periods, st.throttled, st.throttledUsec)},
		{"memory.current", fmt.Sprintf("%d\n", current)},
		{"memory.stat", fmt.Sprintf("anon %d\nfile %d\ninactive_file %d\nactive_file %d\n", anon, file, inactiveFile, file-inactiveFile)},
		{"memory.max", limitText(c.service.memMax) + "\n"},
		{"memory.events", fmt.Sprintf("low 0\nhigh 0\nmax %d\noom %d\noom_kill %d\n", st.oomKills*40, st.oomKills, st.oomKills)},
		{"pids.current", fmt.Sprintf("%d\n", g.pids(c, before))},
		{"pids.max", limitText(c.service.pidsMax) + "\n"},
		{"io.stat", fmt.Sprintf("8:0 rbytes=%d wbytes=%d rios=%d wios=%d dbytes=0 dios=0\n", st.readBytes, st.writeBytes, st.readBytes/4096, st.writeBytes/8192)},
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup folder: %w", err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.content), 0o644); err != nil {
			return fmt.Errorf("write cgroup file: %w", err)
		}
	}
	return nil
}
