package demodata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Image ids and references from the Trivy reports in testdata/samples/trivy.
const (
	debianImageRef = "ghcr.io/aquasecurity/trivy-test-images:debian-buster"
	debianImageID  = "sha256:c2c03a296d2329a4f3ab72a7bf38b78a8a80108204d326b0139d6af700e152d1"
	alpineImageRef = "ghcr.io/aquasecurity/trivy-test-images:alpine-310"
	alpineImageID  = "sha256:961769676411f082461f9ef46626dd7a2d1e2b2a38e6a44364bcbecf51e66dd4"
)

// dockerContainer describes one demo container.
type dockerContainer struct {
	name       string
	imageRef   string
	imageID    string
	cmd        []string
	user       string
	privileged bool
	labels     map[string]string
	// startedBefore is how long before Start the container started.
	startedBefore time.Duration
}

// DockerContainers lists the names of the demo's Docker containers.
var DockerContainers = []string{"web", "sshd", "batch", "api"}

var dockerContainers = []dockerContainer{
	{name: "web", imageRef: debianImageRef, imageID: debianImageID, cmd: []string{"httpd-foreground"},
		labels: map[string]string{"app": "web", "tier": "frontend"}, startedBefore: 47 * time.Minute},
	{name: "sshd", imageRef: alpineImageRef, imageID: alpineImageID, cmd: []string{"/usr/sbin/sshd", "-D", "-e"},
		labels: map[string]string{"app": "sshd", "tier": "bastion"}, startedBefore: 3 * time.Hour},
	{name: "batch", imageRef: alpineImageRef, imageID: alpineImageID, cmd: []string{"/bin/sh", "-c", "run-parts /etc/periodic"},
		privileged: true, labels: map[string]string{"app": "batch", "tier": "jobs"}, startedBefore: 26 * time.Hour},
	{name: "api", imageRef: alpineImageRef, imageID: alpineImageID, cmd: []string{"/srv/api", "--listen", ":8080"},
		user: "1000:1000", labels: map[string]string{"app": "api", "tier": "backend"}, startedBefore: 95 * time.Minute},
}

// dockerTime is the json-file driver's time layout, with all nine digits.
const dockerTime = "2006-01-02T15:04:05.000000000Z07:00"

type jsonFileLine struct {
	Log    string `json:"log"`
	Stream string `json:"stream"`
	Time   string `json:"time"`
}

type logEvent struct {
	time   time.Time
	stream string
	msg    string
}

func (g *generator) writeDocker() error {
	pools := map[string]*cycle{
		"web":   {pool: g.samples.apache, rng: g.rng},
		"sshd":  {pool: g.samples.sshNormal, rng: g.rng},
		"batch": {pool: g.samples.linux, rng: g.rng},
		"api":   {pool: interleave(g.samples.apache[len(g.samples.apache)/2:], g.samples.linux[len(g.samples.linux)/2:]), rng: g.rng},
	}
	failures := &cycle{pool: g.samples.sshFailure}

	for _, c := range dockerContainers {
		id := ContainerID(g.seed, c.name)
		dir := filepath.Join(g.dir, "docker", "containers", id)
		if err := g.writeDockerConfig(dir, id, c); err != nil {
			return err
		}

		var events []logEvent
		for m := 0; m < Minutes; m++ {
			n := 15 + g.rng.IntN(11)
			for _, t := range g.minuteTimes(m, n) {
				msg := pools[c.name].take()
				// A login failure now and then is part of normal life on
				// an exposed SSH port.
				if c.name == "sshd" && g.rng.IntN(100) < 3 {
					msg = failures.take()
				}
				events = append(events, logEvent{time: t, stream: streamOf(msg), msg: msg})
			}
			if c.name == IncidentContainer && m >= IncidentFrom && m <= IncidentTo {
				for _, t := range g.minuteTimes(m, 280+g.rng.IntN(41)) {
					msg := failures.take()
					events = append(events, logEvent{time: t, stream: streamOf(msg), msg: msg})
				}
			}
			if c.name == "api" && (m == 12 || m == 31 || m == 52) {
				events = append(events, logEvent{
					time:   Start.Add(time.Duration(m)*time.Minute + 59*time.Second),
					stream: "stdout",
					msg:    g.longMessage(pools["api"]),
				})
			}
		}
		sortEvents(events)

		var buf bytes.Buffer
		for _, e := range events {
			if err := writeJSONFileRecord(&buf, e); err != nil {
				return err
			}
		}
		g.logRecords[c.name] = len(events)
		if err := writeFile(filepath.Join(dir, id+"-json.log"), buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// longMessage builds a request dump of 20 to 40 KiB from sample messages,
// longer than the 16 KiB at which the json-file driver splits a line.
func (g *generator) longMessage(pool *cycle) string {
	size := 20*1024 + g.rng.IntN(20*1024)
	var sb strings.Builder
	sb.WriteString("request trace dump:")
	for sb.Len() < size {
		sb.WriteString(" | ")
		sb.WriteString(pool.take())
	}
	return sb.String()[:size]
}

// writeJSONFileRecord writes e as the json-file driver does: one line per
// 16 KiB of message, all but the last without a trailing newline.
func writeJSONFileRecord(buf *bytes.Buffer, e logEvent) error {
	text := e.msg + "\n"
	for i := 0; len(text) > 0; i++ {
		n := min(len(text), dockerChunkBytes)
		chunk := text[:n]
		text = text[n:]
		line := jsonFileLine{Log: chunk, Stream: e.stream, Time: e.time.Add(time.Duration(i) * time.Microsecond).Format(dockerTime)}
		b, err := json.Marshal(line)
		if err != nil {
			return fmt.Errorf("encode json-file line: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return nil
}

func (g *generator) writeDockerConfig(dir, id string, c dockerContainer) error {
	started := Start.Add(-c.startedBefore)
	created := started.Add(-2 * time.Second)
	config := map[string]any{
		"ID":      id,
		"Created": created.Format(dockerTime),
		"Path":    c.cmd[0],
		"Args":    c.cmd[1:],
		"Config": map[string]any{
			"Hostname":     id[:12],
			"User":         c.user,
			"Env":          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd":          c.cmd,
			"Image":        c.imageRef,
			"Labels":       c.labels,
			"AttachStdout": true,
			"AttachStderr": true,
		},
		"State": map[string]any{
			"Running":    true,
			"Paused":     false,
			"Restarting": false,
			"OOMKilled":  false,
			"Dead":       false,
			"Pid":        4000 + len(c.name)*37,
			"ExitCode":   0,
			"Error":      "",
			"StartedAt":  started.Format(dockerTime),
			"FinishedAt": "0001-01-01T00:00:00Z",
		},
		"Image":        c.imageID,
		"Name":         "/" + c.name,
		"Driver":       "overlay2",
		"LogPath":      "/var/lib/docker/containers/" + id + "/" + id + "-json.log",
		"RestartCount": 0,
	}
	hostConfig := map[string]any{
		"Binds":          nil,
		"LogConfig":      map[string]any{"Type": "json-file", "Config": map[string]string{"max-file": "3", "max-size": "10m"}},
		"NetworkMode":    "bridge",
		"RestartPolicy":  map[string]any{"Name": "unless-stopped", "MaximumRetryCount": 0},
		"Privileged":     c.privileged,
		"ReadonlyRootfs": false,
		"CgroupParent":   "",
	}
	for name, v := range map[string]any{"config.v2.json": config, "hostconfig.json": hostConfig} {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s of %s: %w", name, c.name, err)
		}
		if err := writeFile(filepath.Join(dir, name), b); err != nil {
			return err
		}
	}
	return nil
}

func streamOf(msg string) string {
	if isErrorMessage(msg) {
		return "stderr"
	}
	return "stdout"
}

func interleave(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	for i := 0; i < len(a) || i < len(b); i++ {
		if i < len(a) {
			out = append(out, a[i])
		}
		if i < len(b) {
			out = append(out, b[i])
		}
	}
	return out
}

func sortEvents(events []logEvent) {
	// A stable sort keeps the order of equal times, so the output depends
	// only on the seed.
	sort.SliceStable(events, func(i, j int) bool { return events[i].time.Before(events[j].time) })
}
