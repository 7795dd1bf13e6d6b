package record

// Lifecycle events of a container.
const (
	EventCreated   = "created"
	EventStarted   = "started"
	EventExited    = "exited"
	EventOOMKilled = "oom_killed"
	EventRestarted = "restarted"
)

// Lifecycle is one lifecycle event of a container: created, started,
// exited, oom_killed or restarted. It is carried on the inventory topic.
type Lifecycle struct {
	// TimeNs is when the event happened, in nanoseconds since the Unix
	// epoch: the runtime's timestamp where it records one (StartedAt,
	// FinishedAt, Created), otherwise the time the collector saw it.
	TimeNs        int64  `json:"time_ns"`
	ContainerID   string `json:"container_id"`
	ContainerName string `json:"container_name,omitempty"`
	// ImageID is the image config digest ("sha256:...").
	ImageID string `json:"image_id,omitempty"`
	// Event is one of the Event constants.
	Event string `json:"event"`
	// ExitCode is the container's exit code for exited events, else 0.
	ExitCode int `json:"exit_code"`
	// Detail names the source the event was derived from, for example
	// "config.v2.json State.RestartCount 2->3".
	Detail string `json:"detail,omitempty"`
}
