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
	ID     string `json:"ID"`
	Name   string `json:"Name"`
	Image  string `json:"Image"`
	Config *struct {
		Image  string            `json:"Image"`
		Labels map[string]string `json:"Labels"`
		User   string            `json:"User"`
	} `json:"Config"`
	State *struct {
		Running   bool   `json:"Running"`
		StartedAt string `json:"StartedAt"`
	} `json:"State"`
}

type hostConfig struct {
	Privileged bool `json:"Privileged"`
}

// ParseConfig builds the metadata of a container from the contents of its
// config.v2.json and hostconfig.json. hostconfig may be nil, in which case
// the container counts as not privileged.
func ParseConfig(config, hostconfig []byte) (record.Container, error) {
	var cfg configV2
	if err := json.Unmarshal(config, &cfg); err != nil {
		return record.Container{}, fmt.Errorf("invalid config.v2.json: %w", err)
	}
	if cfg.ID == "" {
		return record.Container{}, fmt.Errorf("invalid config.v2.json: missing field ID")
	}
	if cfg.Config == nil {
		return record.Container{}, fmt.Errorf("invalid config.v2.json: missing field Config")
	}
	if cfg.State == nil {
		return record.Container{}, fmt.Errorf("invalid config.v2.json: missing field State")
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
	// Docker writes "0001-01-01T00:00:00Z" for a container that never started.
	if cfg.State.StartedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, cfg.State.StartedAt)
		if err != nil {
			return record.Container{}, fmt.Errorf("invalid config.v2.json field State.StartedAt=%q: %w", cfg.State.StartedAt, err)
		}
		if t.Year() > 1 {
			c.StartedNs = t.UnixNano()
		}
	}

	if hostconfig != nil {
		var hc hostConfig
		if err := json.Unmarshal(hostconfig, &hc); err != nil {
			return record.Container{}, fmt.Errorf("invalid hostconfig.json: %w", err)
		}
		c.Privileged = hc.Privileged
	}
	return c, nil
}

// Discover reads every container directory under root. It returns the
// containers it could read, sorted by id, and one error per directory it
// could not. A missing root holds no containers.
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
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			invalid = append(invalid, err)
			continue
		}
		containers = append(containers, c)
	}
	sort.Slice(containers, func(i, j int) bool { return containers[i].Info.ContainerID < containers[j].Info.ContainerID })
	return containers, invalid, nil
}

func readContainer(dir string, now time.Time) (Container, error) {
	config, err := os.ReadFile(filepath.Join(dir, "config.v2.json"))
	if err != nil {
		return Container{}, err
	}
	hostconfig, err := os.ReadFile(filepath.Join(dir, "hostconfig.json"))
	if errors.Is(err, fs.ErrNotExist) {
		hostconfig = nil
	} else if err != nil {
		return Container{}, fmt.Errorf("read %q: %w", filepath.Join(dir, "hostconfig.json"), err)
	}

	info, err := ParseConfig(config, hostconfig)
	if err != nil {
		return Container{}, fmt.Errorf("container dir %q: %w", dir, err)
	}
	info.TimeNs = now.UnixNano()

	return Container{
		Info:    info,
		Dir:     dir,
		LogPath: filepath.Join(dir, info.ContainerID+"-json.log"),
	}, nil
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
