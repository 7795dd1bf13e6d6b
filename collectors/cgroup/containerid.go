package cgroup

import (
	"regexp"
	"strings"
)

var (
	// scopeName matches the systemd scopes that Docker, containerd, CRI-O
	// and Podman create for a container with the systemd cgroup driver.
	scopeName = regexp.MustCompile(`^(?:docker|cri-containerd|crio|libpod)-([0-9a-f]{64})\.scope$`)
	hexID     = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ContainerID returns the id of the container that owns the cgroup at path
// (relative to the mount), or "" for a cgroup that belongs to no container.
// It recognizes "docker-<id>.scope", "cri-containerd-<id>.scope",
// "crio-<id>.scope" and "libpod-<id>.scope" (systemd driver), and
// "docker/<id>" and "kubepods/.../<id>" (cgroupfs driver).
func ContainerID(path string) string {
	elems := strings.Split(strings.Trim(path, "/"), "/")
	last := elems[len(elems)-1]
	if m := scopeName.FindStringSubmatch(last); m != nil {
		return m[1]
	}
	if !hexID.MatchString(last) || len(elems) < 2 {
		return ""
	}
	if elems[len(elems)-2] == "docker" {
		return last
	}
	for _, e := range elems[:len(elems)-1] {
		if strings.HasPrefix(e, "kubepods") {
			return last
		}
	}
	return ""
}
