package posture

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/harrierhq/harrier/collectors/docker"
	"github.com/harrierhq/harrier/internal/record"
)

// SensitiveHostPaths are the host paths whose mount gives a container
// control of the host or its runtime: the root, /etc, /proc, /sys, /boot,
// /dev, /var/lib/docker and the Docker and containerd sockets.
var SensitiveHostPaths = []string{
	"/", "/etc", "/proc", "/sys", "/boot", "/dev", "/var/lib/docker",
	"/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock", "/var/run/containerd/containerd.sock",
}

// defaultNetworkModes are the network modes that leave a container outside
// any user-defined network.
var defaultNetworkModes = map[string]bool{"default": true, "bridge": true, "host": true, "none": true}

// ContainerSettings is the security-relevant configuration of one Docker
// container, from its config.v2.json, hostconfig.json and resolv.conf.
type ContainerSettings struct {
	Info record.Container
	// NetworkMode is hostconfig.json's NetworkMode: "default" (the
	// docker0 bridge), "bridge", "host", "none", "container:<id>" or the
	// name of a user network.
	NetworkMode string
	// Networks lists the networks the container is attached to, from
	// config.v2.json NetworkSettings.Networks, sorted.
	Networks     []string
	DNS          []string
	DNSSearch    []string
	CapAdd       []string
	CapDrop      []string
	ReadOnlyRoot bool
	// Seccomp is "default", "unconfined" or the profile given in
	// SecurityOpt.
	Seccomp string
	// AppArmor is the AppArmor profile the runtime applied, such as
	// "docker-default" or "unconfined", and empty when AppArmor is off.
	AppArmor        string
	NoNewPrivileges bool
	PIDMode         string
	IPCMode         string
	UTSMode         string
	UsernsMode      string
}

type postureConfigV2 struct {
	AppArmorProfile string `json:"AppArmorProfile"`
	NetworkSettings *struct {
		Networks map[string]json.RawMessage `json:"Networks"`
	} `json:"NetworkSettings"`
}

type postureHostConfig struct {
	NetworkMode    string   `json:"NetworkMode"`
	DNS            []string `json:"Dns"`
	DNSSearch      []string `json:"DnsSearch"`
	CapAdd         []string `json:"CapAdd"`
	CapDrop        []string `json:"CapDrop"`
	ReadonlyRootfs bool     `json:"ReadonlyRootfs"`
	SecurityOpt    []string `json:"SecurityOpt"`
	PidMode        string   `json:"PidMode"`
	IpcMode        string   `json:"IpcMode"`
	UTSMode        string   `json:"UTSMode"`
	UsernsMode     string   `json:"UsernsMode"`
}

// ParseContainer reads the settings of a container from the contents of
// its config.v2.json, hostconfig.json and resolv.conf. resolvConf may be
// nil, and then the DNS servers are those of hostconfig.json alone.
// Errors name the file and the field.
func ParseContainer(config, hostconfig, resolvConf []byte) (ContainerSettings, error) {
	info, err := docker.ParseConfig(config, hostconfig)
	if err != nil {
		return ContainerSettings{}, err
	}
	s := ContainerSettings{Info: info, NetworkMode: "default", Seccomp: "default"}

	var cfg postureConfigV2
	if err := json.Unmarshal(config, &cfg); err != nil {
		return s, fmt.Errorf("invalid config.v2.json: %w", err)
	}
	s.AppArmor = cfg.AppArmorProfile
	if cfg.NetworkSettings != nil {
		for name := range cfg.NetworkSettings.Networks {
			s.Networks = append(s.Networks, name)
		}
		sort.Strings(s.Networks)
	}

	if hostconfig != nil {
		var hc postureHostConfig
		if err := json.Unmarshal(hostconfig, &hc); err != nil {
			return s, fmt.Errorf("invalid hostconfig.json: %w", err)
		}
		if hc.NetworkMode != "" {
			s.NetworkMode = hc.NetworkMode
		}
		s.DNS, s.DNSSearch = hc.DNS, hc.DNSSearch
		s.CapAdd, s.CapDrop = upperCaps(hc.CapAdd), upperCaps(hc.CapDrop)
		s.ReadOnlyRoot = hc.ReadonlyRootfs
		s.PIDMode, s.IPCMode, s.UTSMode, s.UsernsMode = hc.PidMode, hc.IpcMode, hc.UTSMode, hc.UsernsMode
		for i, opt := range hc.SecurityOpt {
			// Docker accepts "key=value" and the older "key:value".
			key, value, found := strings.Cut(opt, "=")
			if !found {
				key, value, _ = strings.Cut(opt, ":")
			}
			switch key {
			case "seccomp":
				if value == "" {
					return s, fmt.Errorf("invalid hostconfig.json field SecurityOpt[%d]=%q: seccomp needs a profile", i, opt)
				}
				s.Seccomp = value
			case "apparmor":
				s.AppArmor = value
			case "no-new-privileges":
				s.NoNewPrivileges = value == "" || value == "true"
			}
		}
	}

	if len(s.DNS) == 0 && resolvConf != nil {
		s.DNS, s.DNSSearch = ParseResolvConf(resolvConf)
	}
	return s, nil
}

func upperCaps(caps []string) []string {
	out := make([]string, 0, len(caps))
	for _, c := range caps {
		out = append(out, strings.TrimPrefix(strings.ToUpper(c), "CAP_"))
	}
	sort.Strings(out)
	return out
}

// ParseResolvConf returns the nameserver and search lines of a
// resolv.conf.
func ParseResolvConf(b []byte) (servers, search []string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			servers = append(servers, fields[1])
		case "search", "domain":
			search = append(search, fields[1:]...)
		}
	}
	return servers, search
}

// ImageRegistry returns the registry host of an image reference the way
// Docker resolves it: the first path component when it contains a dot or
// a colon or is localhost, and docker.io otherwise.
func ImageRegistry(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return strings.ToLower(first)
	}
	return "docker.io"
}

// runsAsRoot reports whether a container user runs as root: an empty user,
// which means the image's user and so root unless the image sets one, or
// the name root or the id 0, with or without a group.
func runsAsRoot(user string) bool {
	name, _, _ := strings.Cut(user, ":")
	return name == "" || name == "root" || name == "0"
}

// sensitiveMounts returns the mounts whose host path is one of
// SensitiveHostPaths, as "source:destination:rw" or ":ro".
func sensitiveMounts(mounts []record.Mount) []string {
	var out []string
	for _, m := range mounts {
		if m.Source == "" {
			continue
		}
		src := path.Clean(m.Source)
		for _, p := range SensitiveHostPaths {
			if src == p {
				mode := "ro"
				if m.ReadWrite {
					mode = "rw"
				}
				out = append(out, m.Source+":"+m.Destination+":"+mode)
				break
			}
		}
	}
	return out
}

// namespaceMode returns a namespace mode as stored: "host" when shared
// with the host, or "private".
func namespaceMode(mode string) string {
	if mode == "host" {
		return "host"
	}
	return "private"
}

// facts returns the container's facts, each with src as its source.
func (s ContainerSettings) facts(src string) facts {
	f := facts{}
	c := s.Info
	var labels []string
	for k, v := range c.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	f.set("container.labels", src, labels...)
	f.set("container.image_ref", src, c.ImageRef)
	f.set("container.image_id", src, c.ImageID)
	f.set("container.image_registry", src, ImageRegistry(c.ImageRef))
	f.set("container.user", src, c.User)
	f.setBool("container.runs_as_root", src, runsAsRoot(c.User))
	f.setBool("container.privileged", src, c.Privileged)
	f.set("container.network_mode", src, s.NetworkMode)
	f.set("container.networks", src, s.Networks...)
	userNetwork := !defaultNetworkModes[s.NetworkMode] && !strings.HasPrefix(s.NetworkMode, "container:")
	f.setBool("container.user_network", src, userNetwork)

	var all, bound []string
	for _, p := range c.Ports {
		binding := fmt.Sprintf("%s %s->%d", p.Protocol, joinHostPort(p.HostIP, p.HostPort), p.ContainerPort)
		bound = append(bound, binding)
		if p.HostIP == "0.0.0.0" || p.HostIP == "::" {
			all = append(all, binding)
		}
	}
	f.set("container.ports", src, bound...)
	f.set("container.ports_all_interfaces", src, all...)
	f.set("container.dns_servers", src, s.DNS...)
	f.set("container.dns_search", src, s.DNSSearch...)
	f.set("container.cap_add", src, s.CapAdd...)
	f.set("container.cap_drop", src, s.CapDrop...)
	f.setBool("container.read_only_root", src, s.ReadOnlyRoot)
	f.set("container.seccomp", src, s.Seccomp)
	apparmor := s.AppArmor
	if apparmor == "" {
		apparmor = "none"
	}
	f.set("container.apparmor", src, apparmor)
	f.setBool("container.no_new_privileges", src, s.NoNewPrivileges)
	f.set("container.pid_namespace", src, namespaceMode(s.PIDMode))
	f.set("container.ipc_namespace", src, namespaceMode(s.IPCMode))
	f.set("container.uts_namespace", src, namespaceMode(s.UTSMode))
	f.set("container.user_namespace", src, namespaceMode(s.UsernsMode))
	f.set("container.sensitive_mounts", src, sensitiveMounts(c.Mounts)...)
	return f
}

func joinHostPort(ip string, port int) string {
	if strings.Contains(ip, ":") {
		return fmt.Sprintf("[%s]:%d", ip, port)
	}
	return fmt.Sprintf("%s:%d", ip, port)
}
