// Package docker reads Docker containers from the engine's container
// directory: the metadata of each container from config.v2.json and
// hostconfig.json, and its output from the json-file log <id>-json.log.
package docker

import (
	"encoding/json"
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

// DefaultRoot is the container directory of a Docker engine with the
// default data root.
const DefaultRoot = "/var/lib/docker/containers"

// Container is one container found under the root.
type Container struct {
	// Info is the container's metadata.
	Info record.Container
	// Dir is the container's directory, <root>/<id>.
	Dir string
	// LogPath is <root>/<id>/<id>-json.log. The file exists only for
	// containers that use the json-file log driver.
	LogPath string
	// State is the runtime state from config.v2.json, the input of
	// lifecycle events.
	State State
	// MetadataErr is set when config.v2.json or hostconfig.json could not
	// be read or parsed. Info then holds only the container id, taken from
	// the folder name, so the log is still followed, but the container has
	// no inventory record and no lifecycle events.
	MetadataErr error
}

// State is the part of config.v2.json's State that lifecycle events are
// derived from. Times are nanoseconds since the Unix epoch, 0 for Docker's
// zero time "0001-01-01T00:00:00Z".
type State struct {
	Running      bool
	Restarting   bool
	OOMKilled    bool
	Dead         bool
	ExitCode     int
	RestartCount int
	CreatedNs    int64
	StartedNs    int64
	FinishedNs   int64
}

// Record returns the inventory record of c.
func (c Container) Record() emit.Record {
	state := strconv.FormatBool(c.Info.Running) + "/" + strconv.FormatInt(c.Info.StartedNs, 10)
	return emit.Record{
		Kind:    record.KindContainer,
		Key:     c.Info.ContainerID,
		ID:      record.NewID("docker", c.Info.ContainerID, state, strconv.FormatInt(c.Info.TimeNs, 10)),
		Source:  "docker:" + filepath.Join(c.Dir, "config.v2.json"),
		Payload: c.Info,
	}
}

type configV2 struct {
	ID           string `json:"ID"`
	Name         string `json:"Name"`
	Image        string `json:"Image"`
	Created      string `json:"Created"`
	RestartCount int    `json:"RestartCount"`
	Config       *struct {
		Image  string            `json:"Image"`
		Labels map[string]string `json:"Labels"`
		User   string            `json:"User"`
	} `json:"Config"`
	State *struct {
		Running    bool   `json:"Running"`
		Restarting bool   `json:"Restarting"`
		OOMKilled  bool   `json:"OOMKilled"`
		Dead       bool   `json:"Dead"`
		ExitCode   int    `json:"ExitCode"`
		StartedAt  string `json:"StartedAt"`
		FinishedAt string `json:"FinishedAt"`
	} `json:"State"`
	MountPoints     map[string]mountPoint `json:"MountPoints"`
	NetworkSettings *struct {
		Ports map[string][]portBinding `json:"Ports"`
	} `json:"NetworkSettings"`
}

type hostConfig struct {
	Privileged   bool                     `json:"Privileged"`
	PortBindings map[string][]portBinding `json:"PortBindings"`
}

// ParseConfig builds the metadata of a container from the contents of its
// config.v2.json and hostconfig.json. hostconfig may be nil, in which case
// the container counts as not privileged and its published ports come from
// config.v2.json alone. A port or mount that cannot be parsed fails the
// whole container with an error naming the field and the value.
func ParseConfig(config, hostconfig []byte) (record.Container, error) {
	c, _, err := ParseConfigState(config, hostconfig)
	return c, err
}

// ParseConfigState is ParseConfig that also returns the container's
// runtime state.
func ParseConfigState(config, hostconfig []byte) (record.Container, State, error) {
	var cfg configV2
	if err := json.Unmarshal(config, &cfg); err != nil {
		return record.Container{}, State{}, fmt.Errorf("invalid config.v2.json: %w", err)
	}
	if cfg.ID == "" {
		return record.Container{}, State{}, fmt.Errorf("invalid config.v2.json: missing field ID")
	}
	if cfg.Config == nil {
		return record.Container{}, State{}, fmt.Errorf("invalid config.v2.json: missing field Config")
	}
	if cfg.State == nil {
		return record.Container{}, State{}, fmt.Errorf("invalid config.v2.json: missing field State")
	}

	c := record.Container{
		ContainerID: cfg.ID,
		Name:        strings.TrimPrefix(cfg.Name, "/"),
		Runtime:     "docker",
		ImageRef:    cfg.Config.Image,
		ImageID:     cfg.Image,
		Labels:      cfg.Config.Labels,
		User:        cfg.Config.User,
		Running:     cfg.State.Running,
	}
	st := State{
		Running:      cfg.State.Running,
		Restarting:   cfg.State.Restarting,
		OOMKilled:    cfg.State.OOMKilled,
		Dead:         cfg.State.Dead,
		ExitCode:     cfg.State.ExitCode,
		RestartCount: cfg.RestartCount,
	}
	var err error
	if st.StartedNs, err = parseStateTime("State.StartedAt", cfg.State.StartedAt); err != nil {
		return record.Container{}, State{}, err
	}
	if st.FinishedNs, err = parseStateTime("State.FinishedAt", cfg.State.FinishedAt); err != nil {
		return record.Container{}, State{}, err
	}
	if st.CreatedNs, err = parseStateTime("Created", cfg.Created); err != nil {
		return record.Container{}, State{}, err
	}
	c.StartedNs = st.StartedNs

	if c.Mounts, err = parseMounts(cfg.MountPoints); err != nil {
		return record.Container{}, State{}, err
	}
	// NetworkSettings.Ports contains the ports the engine bound when the
	// container started, with ephemeral host ports resolved. Without it,
	// as for a container that never started, the requested bindings of
	// hostconfig.json are used.
	if cfg.NetworkSettings != nil {
		if c.Ports, err = parsePorts("config.v2.json field NetworkSettings.Ports", cfg.NetworkSettings.Ports); err != nil {
			return record.Container{}, State{}, err
		}
	}

	if hostconfig != nil {
		var hc hostConfig
		if err := json.Unmarshal(hostconfig, &hc); err != nil {
			return record.Container{}, State{}, fmt.Errorf("invalid hostconfig.json: %w", err)
		}
		c.Privileged = hc.Privileged
		requested, err := parsePorts("hostconfig.json field PortBindings", hc.PortBindings)
		if err != nil {
			return record.Container{}, State{}, err
		}
		if len(c.Ports) == 0 {
			c.Ports = requested
		}
	}
	return c, st, nil
}

// parseStateTime parses an RFC 3339 time of config.v2.json. Docker writes
// "0001-01-01T00:00:00Z" for a time that has not happened yet, such as
// StartedAt of a container that never started, which becomes 0, as does an
// empty or missing value.
func parseStateTime(field, value string) (int64, error) {
	if value == "" {
		return 0, nil
	}
	t, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		return 0, fmt.Errorf("invalid config.v2.json field %s=%q: %w", field, value, err)
	}
	if t.Year() <= 1 {
		return 0, nil
	}
	return t.UnixNano(), nil
}

// Discover reads every container directory under root. It returns the
// containers found, sorted by id, and one error per directory whose
// metadata could not be read. A directory named by a container id that has
// a json-file log is returned even then, with MetadataErr set, so that its
// log is still followed. A missing root holds no containers.
func Discover(root string, now time.Time) ([]Container, []error, error) {
	dirs, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read docker container dir %q: %w", root, err)
	}

	var containers []Container
	var invalid []error
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join(root, d.Name())
		c, err := readContainer(dir, now)
		if errors.Is(err, fs.ErrNotExist) && c.MetadataErr == nil {
			continue
		}
		if err != nil {
			invalid = append(invalid, err)
		}
		if c.Dir != "" {
			containers = append(containers, c)
		}
	}
	sort.Slice(containers, func(i, j int) bool { return containers[i].Info.ContainerID < containers[j].Info.ContainerID })
	return containers, invalid, nil
}

func readContainer(dir string, now time.Time) (Container, error) {
	config, err := os.ReadFile(filepath.Join(dir, "config.v2.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return Container{}, err
	}
	if err != nil {
		return brokenContainer(dir, now, fmt.Errorf("read %q: %w", filepath.Join(dir, "config.v2.json"), err))
	}
	hostconfig, err := os.ReadFile(filepath.Join(dir, "hostconfig.json"))
	if errors.Is(err, fs.ErrNotExist) {
		hostconfig = nil
	} else if err != nil {
		return brokenContainer(dir, now, fmt.Errorf("read %q: %w", filepath.Join(dir, "hostconfig.json"), err))
	}

	info, state, err := ParseConfigState(config, hostconfig)
	if err != nil {
		return brokenContainer(dir, now, fmt.Errorf("container dir %q: %w", dir, err))
	}
	info.TimeNs = now.UnixNano()

	return Container{
		Info:    info,
		Dir:     dir,
		LogPath: filepath.Join(dir, info.ContainerID+"-json.log"),
		State:   state,
	}, nil
}

// brokenContainer returns the container of dir, whose metadata failed with
// metaErr, when dir's name is a container id with a json-file log, so its
// log lines are not lost. Without such a log it returns metaErr alone.
func brokenContainer(dir string, now time.Time, metaErr error) (Container, error) {
	id := filepath.Base(dir)
	logPath := filepath.Join(dir, id+"-json.log")
	if !isContainerID(id) {
		return Container{}, metaErr
	}
	if _, err := os.Stat(logPath); err != nil {
		return Container{}, metaErr
	}
	return Container{
		Info:        record.Container{ContainerID: id, Runtime: "docker", TimeNs: now.UnixNano()},
		Dir:         dir,
		LogPath:     logPath,
		MetadataErr: metaErr,
	}, metaErr
}

// isContainerID reports whether s is a Docker container id: 64 lowercase
// hexadecimal digits.
func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// RotatedPaths lists the files that the json-file driver renamed path to
// when it rotated the log ("<path>.1", "<path>.2", ...), newest first.
// Compressed ones are left out because they cannot be resumed.
func RotatedPaths(path string) []string {
	matches, _ := filepath.Glob(path + ".*")
	var rotated []string
	for _, m := range matches {
		suffix := strings.TrimPrefix(m, path+".")
		if _, err := strconv.Atoi(suffix); err == nil {
			rotated = append(rotated, m)
		}
	}
	sort.Slice(rotated, func(i, j int) bool {
		return len(rotated[i]) < len(rotated[j]) || (len(rotated[i]) == len(rotated[j]) && rotated[i] < rotated[j])
	})
	return rotated
}
