package scenario

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// dockerTime is the json-file driver's time layout, with all nine digits.
const dockerTime = "2006-01-02T15:04:05.000000000Z07:00"

// neverTime is Docker's zero time in State.FinishedAt.
const neverTime = "0001-01-01T00:00:00Z"

// mountDestinations maps the host paths the fleet mounts to their place in
// the container.
var mountDestinations = map[string]string{
	"/var/run/docker.sock": "/var/run/docker.sock",
	"/":                    "/host",
}

// dockerState is the State of one config.v2.json version.
type dockerState struct {
	running              bool
	started, finished    time.Time
	exitCode, restartCnt int
}

func (g *generator) writeContainers() error {
	for _, c := range g.containers {
		if err := g.writeDockerContainer(c); err != nil {
			return err
		}
	}
	return nil
}

func (g *generator) writeDockerContainer(c *container) error {
	dir := filepath.Join("docker", "containers", c.id)

	// The versions of the metadata files, by the time they became current.
	started := c.created.Add(2 * time.Second)
	versions := []struct {
		at    time.Time
		state dockerState
	}{{at: c.from, state: dockerState{running: true, started: started}}}
	if !c.restartedAt.IsZero() {
		versions = append(versions, struct {
			at    time.Time
			state dockerState
		}{c.restartedAt, dockerState{running: true, started: c.restartedAt, finished: c.oomAt, exitCode: 137, restartCnt: 1}})
	}
	if c.stopped {
		last := versions[len(versions)-1].state
		versions = append(versions, struct {
			at    time.Time
			state dockerState
		}{c.to, dockerState{running: false, started: last.started, finished: c.to, restartCnt: last.restartCnt}})
	}

	hostConfig, err := json.Marshal(g.hostConfig(c))
	if err != nil {
		return fmt.Errorf("encode hostconfig.json of %s: %w", c.name, err)
	}
	for i, v := range versions {
		config, err := json.Marshal(g.dockerConfig(c, v.state))
		if err != nil {
			return fmt.Errorf("encode config.v2.json of %s: %w", c.name, err)
		}
		stateDir := filepath.Join(g.dir, "states", strconv.FormatInt(v.at.Unix(), 10), dir)
		if err := writeFile(filepath.Join(stateDir, "config.v2.json"), config); err != nil {
			return err
		}
		if i == 0 {
			if err := writeFile(filepath.Join(stateDir, "hostconfig.json"), hostConfig); err != nil {
				return err
			}
		}
		if i == len(versions)-1 {
			if err := writeFile(filepath.Join(g.dir, dir, "config.v2.json"), config); err != nil {
				return err
			}
			if err := writeFile(filepath.Join(g.dir, dir, "hostconfig.json"), hostConfig); err != nil {
				return err
			}
		}
	}
	return g.writeJSONFile(filepath.Join(g.dir, dir, c.id+"-json.log"), g.containerLines(c))
}

// writeJSONFile writes lines as the json-file log driver does.
func (g *generator) writeJSONFile(path string, lines []logLine) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create folder of %s: %w", path, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, l := range lines {
		line := struct {
			Log    string `json:"log"`
			Stream string `json:"stream"`
			Time   string `json:"time"`
		}{l.msg + "\n", l.stream, l.time.UTC().Format(dockerTime)}
		if err := enc.Encode(line); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func (g *generator) dockerConfig(c *container, st dockerState) map[string]any {
	finished := neverTime
	if !st.finished.IsZero() {
		finished = st.finished.UTC().Format(dockerTime)
	}
	mounts := map[string]any{}
	for _, source := range c.mounts {
		dest := mountDestinations[source]
		mounts[dest] = map[string]any{"Source": source, "Destination": dest, "RW": true, "Type": "bind"}
	}
	exposed := map[string]any{}
	for _, p := range c.ports {
		exposed[p+"/tcp"] = map[string]any{}
	}
	return map[string]any{
		"ID":      c.id,
		"Created": c.created.UTC().Format(dockerTime),
		"Path":    c.service.cmd[0],
		"Args":    c.service.cmd[1:],
		"Config": map[string]any{
			"Hostname":     c.id[:12],
			"User":         c.service.user,
			"Env":          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd":          c.service.cmd,
			"Image":        c.image.ref,
			"ExposedPorts": exposed,
			"Labels":       map[string]string{"app": c.service.name, "com.example.fleet": "shop"},
		},
		"State": map[string]any{
			"Running": st.running, "Paused": false, "Restarting": false, "OOMKilled": false, "Dead": false,
			"Pid": 0, "ExitCode": st.exitCode, "Error": "",
			"StartedAt": st.started.UTC().Format(dockerTime), "FinishedAt": finished,
		},
		"Image":        c.image.id,
		"Name":         "/" + c.name,
		"Driver":       "overlay2",
		"LogPath":      "/var/lib/docker/containers/" + c.id + "/" + c.id + "-json.log",
		"RestartCount": st.restartCnt,
		"MountPoints":  mounts,
	}
}

func (g *generator) hostConfig(c *container) map[string]any {
	bindings := map[string]any{}
	for _, p := range c.ports {
		bindings[p+"/tcp"] = []map[string]string{{"HostIp": "", "HostPort": p}}
	}
	var binds []string
	for _, source := range c.mounts {
		binds = append(binds, source+":"+mountDestinations[source])
	}
	return map[string]any{
		"Binds":          binds,
		"LogConfig":      map[string]any{"Type": "json-file", "Config": map[string]string{"max-file": "3", "max-size": "50m"}},
		"NetworkMode":    "bridge",
		"PortBindings":   bindings,
		"RestartPolicy":  map[string]any{"Name": "unless-stopped", "MaximumRetryCount": 0},
		"Privileged":     c.privileged,
		"ReadonlyRootfs": false,
	}
}
