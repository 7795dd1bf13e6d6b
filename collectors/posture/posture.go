// Package posture reads the security settings of a host and its running
// containers from the host's files. On the host it reads the Docker
// daemon's configuration, the firewall rule set, kernel parameters, sshd,
// accounts, password ageing, mount options and pending security updates.
// The posture policies of the alerting package evaluate the facts it
// returns. Every path is read under a root folder, "/" on a live host, so
// that a copy of a host's files can be read the same way.
package posture

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

	"github.com/harrierhq/harrier/collectors/host"
	"github.com/harrierhq/harrier/collectors/internal/emit"
	"github.com/harrierhq/harrier/internal/record"
)

// Sysctls lists the kernel parameters read from /proc/sys.
var Sysctls = []string{
	"net.ipv4.ip_forward",
	"kernel.randomize_va_space",
	"net.ipv4.conf.all.accept_redirects",
	"net.ipv4.conf.all.send_redirects",
	"net.ipv4.conf.all.accept_source_route",
	"net.ipv4.tcp_syncookies",
	"kernel.unprivileged_bpf_disabled",
	"kernel.kptr_restrict",
	"kernel.dmesg_restrict",
	"fs.suid_dumpable",
	"kernel.yama.ptrace_scope",
}

// MountPoints lists the mount points whose options are read.
var MountPoints = []string{"/tmp", "/var/lib/docker"}

// firewallFiles are the files that iptables-persistent, the RHEL iptables
// service and the nftables service save their rule sets to, relative to
// the root.
var firewallFiles = []string{"etc/iptables/rules.v4", "etc/sysconfig/iptables", "etc/nftables.conf"}

// Options selects what Collect reads.
type Options struct {
	// Root is the host's root folder, "/" on a live host.
	Root string
	// DockerRoot is the Docker container folder. Empty means
	// <Root>/var/lib/docker/containers.
	DockerRoot string
	// FirewallFile is a file holding iptables-save or nft list ruleset
	// output, such as one a timer writes, read before the saved rule sets
	// under Root. Empty reads only those.
	FirewallFile string
	// HostID and HostName name the host entity. An empty HostID is read
	// as host.Collect does.
	HostID   string
	HostName string
}

// Collect reads the facts of the host at opts.Root and of its running
// Docker containers, as one Posture per entity, all stamped with now. A
// file that is missing leaves its facts out. The returned errors list the
// files that exist but could not be parsed; their facts are left out and
// the rest is returned.
func Collect(opts Options, now time.Time) ([]record.Posture, []error) {
	root := opts.Root
	if root == "" {
		root = "/"
	}
	c := &collector{root: root, hostFacts: facts{}}
	containers := c.readContainers(opts)
	c.readOS()
	docker := c.readDaemon()
	c.readFirewall(opts.FirewallFile, containers, docker)
	c.readSysctls()
	c.readSSHD()
	c.readAccounts()
	c.readLoginDefs()
	c.readMounts(docker)
	c.readUpdates()

	hostID, hostName := opts.HostID, opts.HostName
	if hostID == "" || hostName == "" {
		h, _ := host.Collect(root, now)
		hostID = firstNonEmpty(hostID, h.HostID)
		hostName = firstNonEmpty(hostName, h.Hostname)
	}
	out := []record.Posture{{
		TimeNs: now.UnixNano(), Entity: record.PostureHost, EntityID: hostID, EntityName: hostName,
		Facts: c.hostFacts.sorted(),
	}}
	for _, s := range containers {
		out = append(out, record.Posture{
			TimeNs: now.UnixNano(), Entity: record.PostureContainer, EntityID: s.Info.ContainerID, EntityName: s.Info.Name,
			Facts: s.facts("config.v2.json, hostconfig.json, resolv.conf").sorted(),
		})
	}
	return out, c.invalid
}

// Record wraps p in an inventory record keyed by hostID, so that the
// records of one host stay in order.
func Record(p record.Posture, hostID, root string) emit.Record {
	return emit.Record{
		Kind:    record.KindPosture,
		Key:     hostID,
		ID:      record.NewID("posture", hostID, p.Entity, p.EntityID, strconv.FormatInt(p.TimeNs, 10)),
		Source:  "posture:" + root,
		Payload: p,
	}
}

type collector struct {
	root      string
	hostFacts facts
	invalid   []error
}

func (c *collector) path(p string) string { return filepath.Join(c.root, p) }

// read returns the file at p under the root, or nil when it is missing. A
// file that exists but cannot be read is added to the errors.
func (c *collector) read(p string) []byte {
	b, err := os.ReadFile(c.path(p))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		c.invalid = append(c.invalid, fmt.Errorf("read %s: %w", c.path(p), err))
		return nil
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

func (c *collector) fail(p string, err error) {
	c.invalid = append(c.invalid, fmt.Errorf("%s: %w", c.path(p), err))
}

func (c *collector) readContainers(opts Options) []ContainerSettings {
	dir := opts.DockerRoot
	if dir == "" {
		dir = c.path("var/lib/docker/containers")
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		c.invalid = append(c.invalid, fmt.Errorf("read docker container dir %s: %w", dir, err))
		return nil
	}
	var out []ContainerSettings
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		at := func(name string) string { return filepath.Join(dir, e.Name(), name) }
		config, err := os.ReadFile(at("config.v2.json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			c.invalid = append(c.invalid, fmt.Errorf("read %s: %w", at("config.v2.json"), err))
			continue
		}
		hostconfig, err := os.ReadFile(at("hostconfig.json"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.invalid = append(c.invalid, fmt.Errorf("read %s: %w", at("hostconfig.json"), err))
			continue
		}
		resolv, _ := os.ReadFile(at("resolv.conf"))
		s, err := ParseContainer(config, hostconfig, resolv)
		if err != nil {
			c.invalid = append(c.invalid, fmt.Errorf("%s: %w", filepath.Join(dir, e.Name()), err))
			continue
		}
		if s.Info.Running {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Info.ContainerID < out[j].Info.ContainerID })
	return out
}

func (c *collector) readOS() {
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		b := c.read(p)
		if b == nil {
			continue
		}
		osr, err := host.ParseOSRelease(b)
		if err != nil {
			c.fail(p, err)
			return
		}
		src := "/" + p
		c.hostFacts.set("os.id", src, osr["ID"])
		c.hostFacts.set("os.version", src, osr["VERSION_ID"])
		c.hostFacts.set("os.pretty_name", src, osr["PRETTY_NAME"])
		if eol := host.EOLDate(osr["ID"], osr["VERSION_ID"]); eol != "" {
			c.hostFacts.set("os.eol_date", "collector end-of-life table", eol)
		}
		break
	}
	if b := c.read("proc/sys/kernel/osrelease"); b != nil {
		c.hostFacts.set("kernel.release", "/proc/sys/kernel/osrelease", strings.TrimSpace(string(b)))
	}
}

// readDaemon reads the Docker daemon's settings when the host runs Docker
// or has a daemon.json, and reports whether it does.
func (c *collector) readDaemon() bool {
	runtime, _ := host.DetectRuntime(c.root)
	daemonJSON := c.read("etc/docker/daemon.json")
	if runtime != "docker" && daemonJSON == nil {
		return false
	}
	d := NewDaemon()
	if daemonJSON != nil {
		if err := ParseDaemonJSON(&d, daemonJSON, "/etc/docker/daemon.json"); err != nil {
			c.fail("etc/docker/daemon.json", err)
			return true
		}
	}
	units := []string{"lib/systemd/system/docker.service", "usr/lib/systemd/system/docker.service", "etc/systemd/system/docker.service"}
	if dropIns, err := filepath.Glob(c.path("etc/systemd/system/docker.service.d/*.conf")); err == nil {
		sort.Strings(dropIns)
		for _, p := range dropIns {
			rel, _ := filepath.Rel(c.root, p)
			units = append(units, rel)
		}
	}
	for _, p := range units {
		if b := c.read(p); b != nil {
			ParseServiceFlags(&d, b, "/"+p)
		}
	}
	for _, p := range []string{"etc/environment", "etc/default/docker", "etc/sysconfig/docker"} {
		if b := c.read(p); b != nil {
			ParseEnvironment(&d, b, "/"+p)
		}
	}
	d.addFacts(c.hostFacts)
	return true
}

// readFirewall reads the first rule set found. The DOCKER-USER facts are
// set only on a Docker host, where that chain exists.
func (c *collector) readFirewall(extra string, containers []ContainerSettings, docker bool) {
	var candidates []string
	if extra != "" {
		candidates = append(candidates, extra)
	}
	for _, p := range firewallFiles {
		candidates = append(candidates, c.path(p))
	}
	var fw Firewall
	source := ""
	for _, p := range candidates {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			c.invalid = append(c.invalid, fmt.Errorf("read %s: %w", p, err))
			continue
		}
		if fw, err = ParseFirewall(b); err != nil {
			c.invalid = append(c.invalid, fmt.Errorf("%s: %w", p, err))
			continue
		}
		source = p
		if rel, err := filepath.Rel(c.root, p); err == nil && !strings.HasPrefix(rel, "..") {
			source = "/" + rel
		}
		break
	}
	if source == "" {
		c.hostFacts.set("firewall.source", SourceDefault, "none")
		return
	}

	f := c.hostFacts
	f.set("firewall.source", source, fw.Format)
	f.set("firewall.input_policy", source, fw.ChainPolicy("INPUT"))
	f.set("firewall.forward_policy", source, fw.ChainPolicy("FORWARD"))
	if !docker {
		return
	}
	restricts := fw.RestrictsPublished()
	f.setBool("firewall.docker_user_restricts_published", source, restricts)
	f.setBool("firewall.egress_restricted", source, fw.RestrictsEgress())

	var unrestricted []string
	if !restricts {
		for _, s := range containers {
			if s.NetworkMode == "host" {
				continue
			}
			for _, p := range s.Info.Ports {
				if p.HostIP == "0.0.0.0" || p.HostIP == "::" {
					unrestricted = append(unrestricted, fmt.Sprintf("%s %s/%d", s.Info.Name, p.Protocol, p.HostPort))
				}
			}
		}
	}
	f.set("firewall.unrestricted_published_ports", source, unrestricted...)
}

func (c *collector) readSysctls() {
	for _, key := range Sysctls {
		p := "proc/sys/" + strings.ReplaceAll(key, ".", "/")
		if b := c.read(p); b != nil {
			c.hostFacts.set("sysctl."+key, "/"+p, strings.Join(strings.Fields(string(b)), " "))
		}
	}
}

// readSSHD reads /etc/ssh/sshd_config and the files of its Include lines.
func (c *collector) readSSHD() {
	const main = "etc/ssh/sshd_config"
	b := c.read(main)
	if b == nil {
		return
	}

	values := map[string]string{}
	sources := map[string]string{}
	var readFile func(p string, b []byte, depth int)
	readFile = func(p string, b []byte, depth int) {
		cfg, err := ParseSSHDConfig(b)
		if err != nil {
			c.fail(p, err)
			return
		}
		for k, v := range cfg.Values {
			if _, set := values[k]; !set {
				values[k], sources[k] = v, "/"+p
			}
		}
		if depth > 4 {
			return
		}
		for _, pattern := range cfg.Includes {
			if !strings.HasPrefix(pattern, "/") {
				pattern = "/etc/ssh/" + pattern
			}
			matches, _ := filepath.Glob(c.path(pattern))
			sort.Strings(matches)
			for _, m := range matches {
				rel, err := filepath.Rel(c.root, m)
				if err != nil {
					continue
				}
				if inc := c.read(rel); inc != nil {
					readFile(rel, inc, depth+1)
				}
			}
		}
	}
	// NOTE: sshd reads an Include at the place of the line, so a keyword
	// set both before an Include and in the included file takes the
	// earlier value there. Here the main file's values win over every
	// included file's, which differs only when the main file sets a
	// keyword after its Include line.
	readFile(main, b, 0)

	for keyword, fact := range map[string]string{
		"permitrootlogin":        "sshd.permit_root_login",
		"passwordauthentication": "sshd.password_authentication",
		"permitemptypasswords":   "sshd.permit_empty_passwords",
	} {
		if v, ok := values[keyword]; ok {
			c.hostFacts.set(fact, sources[keyword], v)
		} else {
			c.hostFacts.set(fact, SourceDefault, SSHDDefaults[keyword])
		}
	}
}

func (c *collector) readAccounts() {
	if b := c.read("etc/passwd"); b != nil {
		uid0, err := ParsePasswd(b)
		if err != nil {
			c.fail("etc/passwd", err)
		} else {
			var others []string
			for _, name := range uid0 {
				if name != "root" {
					others = append(others, name)
				}
			}
			c.hostFacts.set("accounts.uid0_besides_root", "/etc/passwd", others...)
		}
	}
	if b := c.read("etc/shadow"); b != nil {
		empty, err := ParseShadow(b)
		if err != nil {
			c.fail("etc/shadow", err)
			return
		}
		c.hostFacts.set("accounts.empty_password", "/etc/shadow", empty...)
	}
}

func (c *collector) readLoginDefs() {
	b := c.read("etc/login.defs")
	if b == nil {
		return
	}
	values, err := ParseLoginDefs(b)
	if err != nil {
		c.fail("etc/login.defs", err)
		return
	}
	for key, def := range LoginDefsDefaults {
		fact := "login_defs." + strings.ToLower(key)
		if v, ok := values[key]; ok {
			c.hostFacts.set(fact, "/etc/login.defs", v)
		} else {
			c.hostFacts.set(fact, SourceDefault, def)
		}
	}
}

// readMounts stores the options of each of MountPoints, and no values
// for one that is not a mount of its own. /var/lib/docker is read only on
// a Docker host.
func (c *collector) readMounts(docker bool) {
	for _, p := range []string{"proc/mounts", "etc/fstab"} {
		b := c.read(p)
		if b == nil {
			continue
		}
		mounts, err := ParseMounts(b)
		if err != nil {
			c.fail(p, err)
			return
		}
		for _, mp := range MountPoints {
			if mp == "/var/lib/docker" && !docker {
				continue
			}
			c.hostFacts.set("mount."+mp, "/"+p, mounts[mp]...)
		}
		return
	}
}

func (c *collector) readUpdates() {
	const p = "var/lib/update-notifier/updates-available"
	b := c.read(p)
	if b == nil {
		return
	}
	n, err := ParseUpdatesAvailable(b)
	if err != nil {
		c.fail(p, err)
		return
	}
	c.hostFacts.set("updates.security_pending", "/"+p, strconv.Itoa(n))
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
