package scenario

import (
	"fmt"
	"slices"
	"time"
)

// image is a container image with the findings of its Trivy report.
type image struct {
	ref, id string
	os      string
	vulns   []vuln
}

type vuln struct {
	id, pkg, installed, fixed, severity, title string
}

// service is a kind of workload: its image, resources, ports and logs.
type service struct {
	name  string
	image *image
	cmd   []string
	user  string
	// cores and memory are the use at a load factor of 1. memMax and
	// pidsMax are the cgroup limits, 0 for "max".
	cores, memory   float64
	memMax, pidsMax int64
	pids            int
	// cpuMax is the CFS quota in cores.
	cpuMax float64
	// rate is the number of log lines a minute at a load factor of 1.
	rate  float64
	ports []string
}

// Minor findings that every image of the fleet has: no critical one, and
// the high one has no fix, so that the fixable-vulnerability policies stay
// quiet on the normal fleet.
var baseFindings = []vuln{
	{"CVE-2023-4039", "libgcc-s1", "12.2.0-14", "", "MEDIUM", "gcc: -fstack-protector fails to guard dynamic stack allocations on ARM64"},
	{"CVE-2022-27943", "libstdc++6", "12.2.0-14", "", "LOW", "binutils: libiberty/rust-demangle.c stack exhaustion"},
	{"CVE-2023-50495", "libtinfo6", "6.4-4", "", "MEDIUM", "ncurses: segmentation fault via _nc_wrap_entry()"},
	{"CVE-2024-2236", "libgcrypt20", "1.10.1-3", "", "HIGH", "libgcrypt: vulnerable to Marvin Attack"},
}

// log4Shell is the critical finding of the vulnerable rollout's image.
var log4Shell = vuln{"CVE-2021-44228", "org.apache.logging.log4j:log4j-core", "2.14.1", "2.15.0", "CRITICAL",
	"log4j-core: Remote code execution in Log4j 2.x when logs contain an attacker-controlled string value"}

func newImage(ref string, extra ...vuln) *image {
	return &image{ref: ref, id: "sha256:" + containerID(0, "image/"+ref), os: "debian 12.5", vulns: append(slices.Clone(baseFindings), extra...)}
}

var (
	imageWeb        = newImage("registry.example.com/shop/web:1.25.3")
	imageAPI        = newImage("registry.example.com/shop/api:2.4.0")
	imageAPIVuln    = newImage("registry.example.com/shop/api:2.4.1-hotfix", log4Shell)
	imageWorker     = newImage("registry.example.com/shop/worker:3.1.2")
	imageSSHD       = newImage("registry.example.com/ops/bastion:9.6")
	imageDB         = newImage("docker.io/library/postgres:16.2")
	imageDBNext     = newImage("docker.io/library/postgres:16.3")
	imageCache      = newImage("docker.io/library/redis:7.2.4")
	imageDebugShell = newImage("docker.io/library/alpine:3.19")
)

// services is the fleet's mix: container i runs services[i % len(services)].
var services = []*service{
	{name: "web", image: imageWeb, cmd: []string{"nginx", "-g", "daemon off;"}, cores: 0.15, memory: 60 << 20, memMax: 512 << 20, pidsMax: 1024, pids: 9, cpuMax: 1, rate: 40, ports: []string{"443", "80"}},
	{name: "api", image: imageAPI, cmd: []string{"/srv/api", "--listen", ":8080"}, user: "1000:1000", cores: 0.35, memory: 300 << 20, memMax: 768 << 20, pidsMax: 2048, pids: 28, cpuMax: 2, rate: 30, ports: []string{"8080"}},
	{name: "worker", image: imageWorker, cmd: []string{"/srv/worker", "--queues", "emails,reports"}, user: "1000:1000", cores: 0.5, memory: 400 << 20, memMax: 1 << 30, pidsMax: 4096, pids: 18, cpuMax: 2, rate: 12},
	{name: "sshd", image: imageSSHD, cmd: []string{"/usr/sbin/sshd", "-D", "-e"}, cores: 0.02, memory: 12 << 20, memMax: 256 << 20, pidsMax: 512, pids: 3, cpuMax: 1, rate: 4, ports: []string{"22"}},
	{name: "db", image: imageDB, cmd: []string{"postgres"}, user: "999:999", cores: 0.3, memory: 700 << 20, memMax: 2 << 30, pidsMax: 0, pids: 24, cpuMax: 2, rate: 6},
	{name: "cache", image: imageCache, cmd: []string{"redis-server", "--appendonly", "yes"}, user: "999:999", cores: 0.08, memory: 150 << 20, memMax: 512 << 20, pidsMax: 256, pids: 6, cpuMax: 1, rate: 2, ports: []string{"6379"}},
	{name: "web", image: imageWeb, cmd: []string{"nginx", "-g", "daemon off;"}, cores: 0.15, memory: 60 << 20, memMax: 512 << 20, pidsMax: 1024, pids: 9, cpuMax: 1, rate: 40, ports: []string{"443", "80"}},
	{name: "api", image: imageAPI, cmd: []string{"/srv/api", "--listen", ":8080"}, user: "1000:1000", cores: 0.35, memory: 300 << 20, memMax: 768 << 20, pidsMax: 2048, pids: 28, cpuMax: 2, rate: 30, ports: []string{"8080"}},
}

// debugShell is the privileged container of the runtime-socket incident.
var debugShell = &service{name: "debug", image: imageDebugShell, cmd: []string{"/bin/sh"}, cores: 0.01, memory: 4 << 20, pids: 2, cpuMax: 0, rate: 0.5}

// effect is an incident in progress in a container, which changes its logs
// and cgroup files between from and to.
type effect struct {
	kind     string
	from, to time.Time
	// variant is "ssh" or "http" for a brute force, empty otherwise.
	variant string
}

func (e effect) active(t time.Time) bool { return !t.Before(e.from) && t.Before(e.to) }

// container is one container instance of the timeline.
type container struct {
	name, id string
	service  *service
	image    *image
	// created is when the container was created, before Start for the
	// initial fleet. from and to bound its telemetry in the timeline.
	created, from, to time.Time
	privileged        bool
	mounts            []string
	ports             []string
	effects           []effect
	// oomAt is the time of the OOM kill that ends a memory leak, and
	// restartedAt the restart that follows it.
	oomAt, restartedAt time.Time
	// stopped is set when the container stops before the end.
	stopped bool
	// replaces is the container that this one replaced in a redeploy.
	replaces *container
}

func (c *container) effectAt(kind string, t time.Time) (effect, bool) {
	for _, e := range c.effects {
		if e.kind == kind && e.active(t) {
			return e, true
		}
	}
	return effect{}, false
}

// plan builds the fleet and picks each incident's victim and time.
func (g *generator) plan() {
	count := map[string]int{}
	for i := range g.cfg.Containers {
		s := services[i%len(services)]
		count[s.name]++
		name := fmt.Sprintf("%s-%d", s.name, count[s.name])
		uptime := time.Duration(30+g.rng.IntN(72*60)) * time.Minute
		g.containers = append(g.containers, &container{
			name: name, id: containerID(g.cfg.Seed, name+"/0"), service: s, image: s.image,
			created: Start.Add(-uptime), from: Start, to: g.end, ports: s.ports,
		})
	}

	used := map[*container]bool{}
	pick := func(kinds ...string) *container {
		var eligible []*container
		for _, c := range g.containers {
			if !used[c] && c.replaces == nil && slices.Contains(kinds, c.service.name) {
				eligible = append(eligible, c)
			}
		}
		if len(eligible) == 0 {
			for _, c := range g.containers {
				if !used[c] && c.replaces == nil && c.service != debugShell {
					eligible = append(eligible, c)
				}
			}
		}
		if len(eligible) == 0 {
			return nil
		}
		c := eligible[g.rng.IntN(len(eligible))]
		used[c] = true
		return c
	}

	// The tightest constraints go first, so that every incident finds a
	// victim in the smallest fleet.
	g.addEffect(pick("sshd"), KindBruteForce, "ssh", 10, 15)
	g.addEffect(pick("web"), KindBruteForce, "http", 10, 15)
	g.addEffect(pick("web", "api"), KindExploitStrings, "", 10, 15)
	g.addMemoryLeak(pick("api", "worker"))
	g.addEffect(pick("worker", "api", "cache"), KindCryptominer, "", 30, 40)
	g.addEffect(pick("worker", "api", "db"), KindForkBomb, "", 5, 8)
	g.redeploy(pick("api", "web", "worker"), KindVulnRollout)
	g.redeploy(pick("cache", "db", "worker", "api"), KindNewPort)
	g.addPrivilegedShell()
	// A routine update with the same ports and a clean image, which no
	// detector should flag.
	if c := pick("db", "cache"); c != nil {
		g.redeploy(c, "")
	}
}

// incidentStart returns a start minute at least one hour into the timeline
// that leaves room for an incident of length d and ten quiet minutes.
func (g *generator) incidentStart(d time.Duration) time.Time {
	first := Start.Add(time.Hour)
	room := g.end.Add(-d - 10*time.Minute).Sub(first)
	minutes := int(room / time.Minute)
	if minutes < 1 {
		return first
	}
	return first.Add(time.Duration(g.rng.IntN(minutes)) * time.Minute)
}

func (g *generator) minutes(from, to int) time.Duration {
	return time.Duration(from+g.rng.IntN(to-from+1)) * time.Minute
}

func (g *generator) addEffect(c *container, kind, variant string, minMinutes, maxMinutes int) {
	if c == nil {
		return
	}
	d := g.minutes(minMinutes, maxMinutes)
	from := g.incidentStart(d)
	c.effects = append(c.effects, effect{kind: kind, from: from, to: from.Add(d), variant: variant})
	g.labels = append(g.labels, Label{Kind: kind, Entity: c.name, ContainerID: c.id, Start: from, End: from.Add(d)})
}

// addMemoryLeak makes c's memory grow from its normal use to its limit,
// where the kernel kills it. The container restarts 3 seconds later.
func (g *generator) addMemoryLeak(c *container) {
	if c == nil {
		return
	}
	d := g.minutes(30, 45)
	from := g.incidentStart(d)
	c.effects = append(c.effects, effect{kind: KindMemoryLeakOOM, from: from, to: from.Add(d)})
	c.oomAt = from.Add(d)
	c.restartedAt = c.oomAt.Add(3 * time.Second)
	// The label ends with the minute of the kill, which the cgroup sample
	// at its end shows.
	g.labels = append(g.labels, Label{Kind: KindMemoryLeakOOM, Entity: c.name, ContainerID: c.id, Start: from, End: from.Add(d + time.Minute)})
}

// redeploy stops old and starts a new container of the same name: with an
// image that has a critical fixable vulnerability (KindVulnRollout), with
// one more published port (KindNewPort), or as a routine update (kind "").
func (g *generator) redeploy(old *container, kind string) {
	if old == nil {
		return
	}
	at := g.incidentStart(30 * time.Minute).Add(time.Duration(g.rng.IntN(60)) * time.Second)
	next := &container{
		name: old.name, id: containerID(g.cfg.Seed, old.name+"/1"), service: old.service, image: old.image,
		created: at, from: at, to: g.end, ports: old.ports, replaces: old,
	}
	old.to, old.stopped = at, true
	switch kind {
	case KindVulnRollout:
		next.image = imageAPIVuln
		if old.service.name != "api" {
			next.image = newImage(old.image.ref+"-log4j", log4Shell)
		}
	case KindNewPort:
		next.ports = append(slices.Clone(old.ports), "31337")
	case "":
		if old.service.name == "db" {
			next.image = imageDBNext
		}
	}
	g.containers = append(g.containers, next)
	if kind != "" {
		g.labels = append(g.labels, Label{Kind: kind, Entity: next.name, ContainerID: next.id, Start: at.Truncate(time.Minute), End: g.end})
	}
}

// addPrivilegedShell starts a privileged shell container with the Docker
// socket mounted, as an attacker who reached the runtime API would.
func (g *generator) addPrivilegedShell() {
	at := g.incidentStart(30 * time.Minute).Add(time.Duration(g.rng.IntN(60)) * time.Second)
	name := fmt.Sprintf("debug-%04x", g.rng.IntN(1<<16))
	c := &container{
		name: name, id: containerID(g.cfg.Seed, name+"/0"), service: debugShell, image: debugShell.image,
		created: at, from: at, to: g.end, privileged: true,
		mounts: []string{"/var/run/docker.sock", "/"},
	}
	g.containers = append(g.containers, c)
	g.labels = append(g.labels, Label{Kind: KindPrivilegedSock, Entity: name, ContainerID: c.id, Start: at.Truncate(time.Minute), End: g.end})
}
