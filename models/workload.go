package models

import (
	"strings"
	"time"

	"github.com/harrierhq/harrier/internal/record"
)

// DefaultWorkloadLabels are the container labels that name a workload, in
// order of preference: the Kubernetes recommended label, then the older
// "app" convention.
var DefaultWorkloadLabels = []string{"app.kubernetes.io/name", "app"}

// Labels that dockershim and cri-dockerd set on the Docker containers of a
// Kubernetes pod.
const (
	labelPodNamespace    = "io.kubernetes.pod.namespace"
	labelPodName         = "io.kubernetes.pod.name"
	labelPodTemplateHash = "pod-template-hash"
)

// containerInfo is the part of a container's inventory record that decides
// its workload.
type containerInfo struct {
	namespace string
	pod       string
	labels    map[string]string
	imageRef  string
	imageID   string
	// noted is the event time of the inventory record.
	noted time.Time
}

func containerInfoFrom(c record.Container) containerInfo {
	info := containerInfo{namespace: c.Namespace, pod: c.Pod, labels: c.Labels, imageRef: c.ImageRef, imageID: c.ImageID}
	if info.namespace == "" {
		info.namespace = c.Labels[labelPodNamespace]
	}
	if info.pod == "" {
		info.pod = c.Labels[labelPodName]
	}
	return info
}

// WorkloadKey returns the workload a container belongs to, which selects
// its baseline model. The first rule that applies wins:
//
//   - the value of the first of labelKeys the container has, as
//     "<namespace>/<label>=<value>" (without "<namespace>/" outside
//     Kubernetes);
//   - the pod's owner, guessed from the pod name, as "<namespace>/pod-owner=<name>";
//   - the image repository without tag or digest, as "image=<repository>";
//   - the image id, as "image=<id>".
//
// It returns "" when the container has none of these; such a container is
// scored by the fleet model only.
func WorkloadKey(namespace, pod string, labels map[string]string, imageRef, imageID string, labelKeys []string) string {
	prefix := ""
	if namespace != "" {
		prefix = namespace + "/"
	}
	for _, k := range labelKeys {
		if v := labels[k]; v != "" {
			return prefix + k + "=" + v
		}
	}
	if pod != "" {
		return prefix + "pod-owner=" + podOwner(pod, labels[labelPodTemplateHash])
	}
	if repo := imageRepository(imageRef); repo != "" {
		return "image=" + repo
	}
	if imageID != "" {
		return "image=" + imageID
	}
	return ""
}

// podOwner guesses the name of the controller that created a pod from the
// pod's name. A StatefulSet pod is "<set>-<ordinal>". A DaemonSet pod is
// "<set>-<5 random characters>", and a Deployment pod is
// "<deployment>-<pod-template-hash>-<5 random characters>". The hash is
// removed only when the pod-template-hash label gives it.
//
// NOTE: without that label the owner of a Deployment pod is its ReplicaSet,
// which changes at every rollout, so each rollout starts a new workload.
// A bare pod whose name happens to end in such a suffix loses it too.
func podOwner(pod, templateHash string) string {
	name := pod
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		suffix := name[i+1:]
		if isOrdinal(suffix) || isGeneratedSuffix(suffix) {
			name = name[:i]
		}
	}
	if templateHash != "" {
		name = strings.TrimSuffix(name, "-"+templateHash)
	}
	return name
}

func isOrdinal(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// isGeneratedSuffix reports whether s looks like the 5 characters
// Kubernetes appends to a generated name. They are drawn from an alphabet
// without vowels and without the digits 0, 1 and 3, so that no words form.
func isGeneratedSuffix(s string) bool {
	if len(s) != 5 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", r) {
			return false
		}
	}
	return true
}

// imageRepository returns an image reference without its digest and tag:
// "registry:5000/team/app" for "registry:5000/team/app:1.2@sha256:...".
func imageRepository(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	// A colon after the last slash starts the tag; one before it belongs
	// to a registry port.
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}
