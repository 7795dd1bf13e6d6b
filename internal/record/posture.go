package record

// KindPosture is a set of security settings of one host or one container,
// read by the collector's posture reader. It travels on the inventory topic
// keyed by host id.
const KindPosture Kind = "posture"

// Posture entity kinds.
const (
	// PostureHost is the host itself: its daemon, firewall, kernel, sshd,
	// accounts and mounts.
	PostureHost = "host"
	// PostureContainer is one running container's runtime settings.
	PostureContainer = "container"
)

// Posture is the security settings of one entity, a host or a container,
// at one collection pass. Every record of one pass carries the same TimeNs,
// so that the records of a host's latest pass can be selected together and
// a container that stopped drops out of its host's posture.
type Posture struct {
	// TimeNs is the start of the collection pass, in nanoseconds since the
	// Unix epoch.
	TimeNs int64 `json:"time_ns"`
	// Entity is PostureHost or PostureContainer.
	Entity string `json:"entity"`
	// EntityID is the host id or the container id.
	EntityID string `json:"entity_id"`
	// EntityName is the host name or the container name.
	EntityName string `json:"entity_name,omitempty"`
	// Facts lists the settings read, sorted by key.
	Facts []PostureFact `json:"facts"`
}

// PostureFact is one setting: a dotted key such as
// "sysctl.kernel.randomize_va_space" or "daemon.icc", and its values. Most
// keys have one value. A list setting, such as a container's added
// capabilities, has one value per item and may have none. The values are
// the effective ones: when a file leaves a setting out, the reader stores
// the default of the software that reads it, and Source records that.
type PostureFact struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
	// Source is the file the fact was read from, relative to the host root,
	// such as "/etc/ssh/sshd_config", or "default" for a default value.
	Source string `json:"source,omitempty"`
}
