package posture

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Daemon is the part of the Docker daemon's configuration that the posture
// policies read. Settings that no file sets keep the Docker Engine
// defaults: icc true, no user namespace remapping, live restore off, log
// driver json-file, and content trust off.
type Daemon struct {
	// Hosts are the sockets the daemon listens on, such as
	// "unix:///var/run/docker.sock" or "tcp://0.0.0.0:2376", from
	// daemon.json "hosts" and the -H flags of the service's ExecStart.
	// Empty means the default Unix socket only.
	Hosts []string
	// TLSVerify is true when the daemon requires client certificates
	// ("tlsverify" in daemon.json or --tlsverify).
	TLSVerify bool
	// TLS is true when the daemon serves TLS ("tls" or "tlsverify").
	TLS                bool
	ICC                bool
	UsernsRemap        string
	LiveRestore        bool
	LogDriver          string
	RegistryMirrors    []string
	InsecureRegistries []string
	NoNewPrivileges    bool
	// ContentTrust is true when DOCKER_CONTENT_TRUST=1 is set in an
	// environment file of the host. The Docker client reads the variable
	// and then pulls only signed images. The daemon has no setting of its
	// own for it.
	ContentTrust bool
	// Sources lists the files each setting came from, by setting name.
	Sources map[string]string
}

// daemonJSON is /etc/docker/daemon.json. Booleans are pointers so that a
// missing key keeps Docker's default.
type daemonJSON struct {
	Hosts              []string `json:"hosts"`
	TLS                *bool    `json:"tls"`
	TLSVerify          *bool    `json:"tlsverify"`
	ICC                *bool    `json:"icc"`
	UsernsRemap        *string  `json:"userns-remap"`
	LiveRestore        *bool    `json:"live-restore"`
	LogDriver          *string  `json:"log-driver"`
	RegistryMirrors    []string `json:"registry-mirrors"`
	InsecureRegistries []string `json:"insecure-registries"`
	NoNewPrivileges    *bool    `json:"no-new-privileges"`
}

// NewDaemon returns the Docker defaults.
func NewDaemon() Daemon {
	return Daemon{ICC: true, LogDriver: "json-file", Sources: map[string]string{}}
}

// ParseDaemonJSON applies the settings of a daemon.json file to d. path
// names the file in errors and in Sources.
func ParseDaemonJSON(d *Daemon, b []byte, path string) error {
	var cfg daemonJSON
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("invalid %s: %w", path, err)
	}

	if cfg.Hosts != nil {
		d.Hosts = append(d.Hosts, cfg.Hosts...)
		d.Sources["hosts"] = path
	}
	if cfg.TLS != nil {
		d.TLS = d.TLS || *cfg.TLS
		d.Sources["tls"] = path
	}
	if cfg.TLSVerify != nil {
		d.TLSVerify = *cfg.TLSVerify
		d.TLS = d.TLS || *cfg.TLSVerify
		d.Sources["tlsverify"] = path
	}

	if cfg.ICC != nil {
		d.ICC = *cfg.ICC
		d.Sources["icc"] = path
	}
	if cfg.UsernsRemap != nil {
		d.UsernsRemap = *cfg.UsernsRemap
		d.Sources["userns-remap"] = path
	}
	if cfg.LiveRestore != nil {
		d.LiveRestore = *cfg.LiveRestore
		d.Sources["live-restore"] = path
	}
	if cfg.LogDriver != nil {
		d.LogDriver = *cfg.LogDriver
		d.Sources["log-driver"] = path
	}

	if cfg.RegistryMirrors != nil {
		d.RegistryMirrors = cfg.RegistryMirrors
		d.Sources["registry-mirrors"] = path
	}
	if cfg.InsecureRegistries != nil {
		d.InsecureRegistries = cfg.InsecureRegistries
		d.Sources["insecure-registries"] = path
	}
	if cfg.NoNewPrivileges != nil {
		d.NoNewPrivileges = *cfg.NoNewPrivileges
		d.Sources["no-new-privileges"] = path
	}
	return nil
}

// ParseServiceFlags applies the daemon flags of the ExecStart lines of a
// systemd unit or drop-in, such as
// "ExecStart=/usr/bin/dockerd -H fd:// -H tcp://0.0.0.0:2375". An empty
// "ExecStart=" line resets the flags read before, as systemd does.
func ParseServiceFlags(d *Daemon, b []byte, path string) {
	var hosts []string
	var tlsVerify, tls, found bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		value, ok := strings.CutPrefix(line, "ExecStart=")
		if !ok {
			continue
		}
		hosts, tlsVerify, tls, found = nil, false, false, true
		fields := strings.Fields(value)
		for i := 0; i < len(fields); i++ {
			flag := fields[i]
			switch {
			case flag == "-H" || flag == "--host":
				if i+1 < len(fields) {
					hosts = append(hosts, fields[i+1])
					i++
				}
			case strings.HasPrefix(flag, "-H="), strings.HasPrefix(flag, "--host="):
				_, v, _ := strings.Cut(flag, "=")
				hosts = append(hosts, v)
			case strings.HasPrefix(flag, "-H") && len(flag) > 2:
				hosts = append(hosts, flag[2:])
			case flag == "--tlsverify" || flag == "--tlsverify=true":
				tlsVerify, tls = true, true
			case flag == "--tls" || flag == "--tls=true":
				tls = true
			}
		}
	}
	if !found {
		return
	}
	if len(hosts) > 0 {
		d.Hosts = append(d.Hosts, hosts...)
		d.Sources["hosts"] = path
	}
	if tlsVerify {
		d.TLSVerify, d.Sources["tlsverify"] = true, path
	}
	if tls {
		d.TLS, d.Sources["tls"] = true, path
	}
}

// ParseEnvironment reads DOCKER_CONTENT_TRUST from a file of KEY=value
// lines, such as /etc/environment or /etc/default/docker.
func ParseEnvironment(d *Daemon, b []byte, path string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "))
		key, value, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(key) != "DOCKER_CONTENT_TRUST" {
			continue
		}
		value = strings.Trim(strings.TrimSpace(value), `"'`)
		d.ContentTrust = value == "1"
		d.Sources["content-trust"] = path
	}
}

// TCPWithoutTLSVerify returns the TCP sockets the daemon listens on without
// requiring client certificates. Any client that reaches such a socket
// controls the daemon and so the host.
func (d Daemon) TCPWithoutTLSVerify() []string {
	var out []string
	for _, h := range d.Hosts {
		if strings.HasPrefix(h, "tcp://") && !d.TLSVerify {
			out = append(out, h)
		}
	}
	sort.Strings(out)
	return out
}

func (d Daemon) source(setting string) string {
	if s, ok := d.Sources[setting]; ok {
		return s
	}
	return SourceDefault
}

func (d Daemon) addFacts(f facts) {
	hosts := append([]string{}, d.Hosts...)
	if len(hosts) == 0 {
		hosts = []string{"unix:///var/run/docker.sock"}
	}
	f.set("daemon.hosts", d.source("hosts"), hosts...)
	f.set("daemon.tcp_without_tlsverify", d.source("hosts"), d.TCPWithoutTLSVerify()...)
	f.setBool("daemon.tlsverify", d.source("tlsverify"), d.TLSVerify)
	f.setBool("daemon.icc", d.source("icc"), d.ICC)
	f.setBool("daemon.userns_remap", d.source("userns-remap"), d.UsernsRemap != "")
	f.setBool("daemon.live_restore", d.source("live-restore"), d.LiveRestore)
	f.set("daemon.log_driver", d.source("log-driver"), d.LogDriver)
	f.set("daemon.registry_mirrors", d.source("registry-mirrors"), d.RegistryMirrors...)
	f.set("daemon.insecure_registries", d.source("insecure-registries"), d.InsecureRegistries...)
	f.setBool("daemon.no_new_privileges", d.source("no-new-privileges"), d.NoNewPrivileges)
	f.setBool("daemon.content_trust", d.source("content-trust"), d.ContentTrust)
}
