// Package cri reads the container log files that kubelet keeps for the
// Container Runtime Interface: /var/log/pods/<namespace>_<pod>_<uid>/
// <container>/<restart count>.log, with the symlinks
// /var/log/containers/<pod>_<namespace>_<container>-<container id>.log.
package cri

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/harrierhq/harrier/collectors/internal/emit"
	"github.com/harrierhq/harrier/internal/record"
)

// DefaultRoot is the directory that holds kubelet's pods/ and containers/.
const DefaultRoot = "/var/log"

// LogFile is one container log file under <root>/pods.
type LogFile struct {
	Target Target
	// PodUID is the pod's uid from the directory name.
	PodUID string
	// Path is <root>/pods/<namespace>_<pod>_<uid>/<container>/<n>.log.
	Path string
}

// Record returns the inventory record of the container that writes f.
// CRI log files carry no image and no state, so those fields stay empty.
func (f LogFile) Record(now time.Time) emit.Record {
	info := record.Container{
		TimeNs:      now.UnixNano(),
		ContainerID: f.Target.ContainerID,
		Name:        f.Target.ContainerName,
		Runtime:     "cri",
		Namespace:   f.Target.Namespace,
		Pod:         f.Target.Pod,
		Labels:      map[string]string{"io.kubernetes.pod.uid": f.PodUID},
	}
	return emit.Record{
		Kind:    record.KindContainer,
		Key:     info.ContainerID,
		ID:      record.NewID("cri", info.ContainerID, strconv.FormatInt(info.TimeNs, 10)),
		Source:  "cri:" + filepath.Dir(f.Path),
		Payload: info,
	}
}

var (
	logName  = regexp.MustCompile(`^[0-9]+\.log$`)
	linkName = regexp.MustCompile(`^([^_]+)_([^_]+)_(.+)-([0-9a-f]{64})\.log$`)
)

// ParseLinkName splits the name of a /var/log/containers symlink,
// "<pod>_<namespace>_<container>-<id>.log", into its parts.
func ParseLinkName(name string) (pod, namespace, container, id string, err error) {
	m := linkName.FindStringSubmatch(name)
	if m == nil {
		return "", "", "", "", fmt.Errorf("invalid container log link name %q: expected <pod>_<namespace>_<container>-<64 hex id>.log", name)
	}
	return m[1], m[2], m[3], m[4], nil
}

// ParsePodDir splits a pod log directory name, "<namespace>_<pod>_<uid>",
// into its parts. Namespaces and pod names cannot contain "_".
func ParsePodDir(name string) (namespace, pod, uid string, err error) {
	parts := strings.SplitN(name, "_", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", fmt.Errorf("invalid pod log dir name %q: expected <namespace>_<pod>_<uid>", name)
	}
	return parts[0], parts[1], parts[2], nil
}

// DerivedID returns the id used for a container that has no symlink in
// <root>/containers: a stable hash of its namespace, pod and name.
func DerivedID(namespace, pod, container string) string {
	return record.NewID("cri", namespace, pod, container)
}

type linkIndex struct {
	byFile      map[string]string
	byContainer map[string]string
}

// readLinks maps the log files under <root>/pods to container ids, from the
// symlinks in <root>/containers. A link target is matched on its last three
// path elements, so links with absolute targets under /var/log work for any
// root.
func readLinks(root string) (linkIndex, []error) {
	idx := linkIndex{byFile: map[string]string{}, byContainer: map[string]string{}}
	dir := filepath.Join(root, "containers")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return idx, nil
		}
		return idx, []error{fmt.Errorf("read container log link dir %q: %w", dir, err)}
	}

	var invalid []error
	for _, e := range entries {
		pod, namespace, container, id, err := ParseLinkName(e.Name())
		if err != nil {
			invalid = append(invalid, err)
			continue
		}
		idx.byContainer[namespace+"/"+pod+"/"+container] = id

		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		parts := strings.Split(filepath.ToSlash(target), "/")
		if len(parts) >= 3 {
			idx.byFile[strings.Join(parts[len(parts)-3:], "/")] = id
		}
	}
	return idx, invalid
}

// Discover lists the container log files under <root>/pods, sorted by path.
// It returns one error per directory or link it could not read. A missing
// root holds no files.
func Discover(root string) ([]LogFile, []error, error) {
	podsDir := filepath.Join(root, "pods")
	pods, err := os.ReadDir(podsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read pod log dir %q: %w", podsDir, err)
	}

	links, invalid := readLinks(root)
	var files []LogFile
	for _, p := range pods {
		if !p.IsDir() {
			continue
		}
		namespace, pod, uid, err := ParsePodDir(p.Name())
		if err != nil {
			invalid = append(invalid, err)
			continue
		}
		containers, err := os.ReadDir(filepath.Join(podsDir, p.Name()))
		if err != nil {
			invalid = append(invalid, fmt.Errorf("read pod log dir %q: %w", p.Name(), err))
			continue
		}
		for _, c := range containers {
			if !c.IsDir() {
				continue
			}
			logs, err := os.ReadDir(filepath.Join(podsDir, p.Name(), c.Name()))
			if err != nil {
				invalid = append(invalid, fmt.Errorf("read container log dir %q: %w", c.Name(), err))
				continue
			}
			for _, l := range logs {
				if l.IsDir() || !logName.MatchString(l.Name()) {
					continue
				}
				rel := p.Name() + "/" + c.Name() + "/" + l.Name()
				id := links.byFile[rel]
				if id == "" {
					id = links.byContainer[namespace+"/"+pod+"/"+c.Name()]
				}
				if id == "" {
					id = DerivedID(namespace, pod, c.Name())
				}
				files = append(files, LogFile{
					Target: Target{ContainerID: id, ContainerName: c.Name(), Namespace: namespace, Pod: pod},
					PodUID: uid,
					Path:   filepath.Join(podsDir, p.Name(), c.Name(), l.Name()),
				})
			}
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, invalid, nil
}

// RotatedPaths lists the files kubelet renamed path to when it rotated the
// log ("<path>.<timestamp>"), newest first. Compressed ones are left out
// because they cannot be resumed.
func RotatedPaths(path string) []string {
	matches, _ := filepath.Glob(path + ".*")
	var rotated []string
	for _, m := range matches {
		if !strings.HasSuffix(m, ".gz") {
			rotated = append(rotated, m)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(rotated)))
	return rotated
}
