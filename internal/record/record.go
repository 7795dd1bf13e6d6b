// Package record defines the envelope that every collector writes to Kafka
// and the payload carried by each kind of record. It is the contract between
// the collectors, which produce these records, and the normalizers and the
// scorer, which consume them.
package record

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Version is the envelope version written by this build. Consumers reject an
// envelope with a higher version and send it to the dead-letter topic.
const Version = 1

// Kind names the payload type of an envelope.
type Kind string

// Record kinds.
const (
	KindLog       Kind = "log"
	KindMetric    Kind = "metric"
	KindScan      Kind = "scan"
	KindHost      Kind = "host"
	KindContainer Kind = "container"
	KindAlert     Kind = "alert"
	// KindLifecycle is a container lifecycle event, see Lifecycle.
	KindLifecycle Kind = "lifecycle"
)

// Topic suffixes. The full topic name is the configured prefix (default
// "harrier.") followed by the suffix, for example "harrier.logs".
const (
	TopicLogs        = "logs"
	TopicMetrics     = "metrics"
	TopicScans       = "scans"
	TopicInventory   = "inventory"
	TopicAlerts      = "alerts"
	TopicDeadLetters = "deadletters"
)

// TopicFor returns the topic suffix that carries records of kind k.
func TopicFor(k Kind) string {
	switch k {
	case KindLog:
		return TopicLogs
	case KindMetric:
		return TopicMetrics
	case KindScan:
		return TopicScans
	case KindHost, KindContainer, KindLifecycle, KindPosture, KindReject:
		return TopicInventory
	case KindAlert:
		return TopicAlerts
	}
	return TopicDeadLetters
}

// Envelope wraps every record on a Harrier topic. The Kafka message key is
// the entity the record belongs to (container id, image digest or host id),
// so that one entity's records keep their order within a partition.
type Envelope struct {
	// Version is the envelope version, currently 1.
	Version int `json:"v"`
	// Kind selects the payload type.
	Kind Kind `json:"kind"`
	// ID identifies the record across retries and restarts: the same line of
	// the same file, or the same sample of the same cgroup, always gets the
	// same ID. Storage deduplicates on it.
	ID string `json:"id"`
	// HostID is the machine-id of the host whose collector sent the record.
	HostID string `json:"host_id"`
	// Source names where the record was read, for example
	// "docker:/var/lib/docker/containers/<id>/<id>-json.log:1234".
	Source string `json:"source"`
	// CollectedNs is the wall-clock time the collector read the record, in
	// nanoseconds since the Unix epoch.
	CollectedNs int64 `json:"collected_ns"`
	// Payload is one of Log, Metric, Scan, Host, Container, Lifecycle,
	// Posture or Alert, as JSON.
	Payload json.RawMessage `json:"payload"`
}

// NewID derives a stable record id from the parts that identify a record
// at its source, such as a file path and a byte offset.
func NewID(parts ...string) string {
	// The hash input is each part followed by a zero byte. Building it in
	// a stack buffer and hashing it at once keeps the only allocation the
	// returned string.
	var stack [512]byte
	b := stack[:0]
	for _, p := range parts {
		b = append(b, p...)
		b = append(b, 0)
	}
	sum := sha256.Sum256(b)
	var id [32]byte
	hex.Encode(id[:], sum[:16])
	return string(id[:])
}

// Encode builds an envelope around payload and returns its JSON form.
func Encode(kind Kind, id, hostID, source string, collectedNs int64, payload any) ([]byte, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", kind, err)
	}
	env := Envelope{Version: Version, Kind: kind, ID: id, HostID: hostID, Source: source, CollectedNs: collectedNs, Payload: raw}
	return json.Marshal(env)
}

// Decode parses an envelope and checks the fields every consumer relies on.
// The error names the field and the value that failed.
func Decode(b []byte) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return env, fmt.Errorf("invalid envelope JSON: %w", err)
	}
	if env.Version < 1 || env.Version > Version {
		return env, fmt.Errorf("invalid envelope field v=%d: this build reads versions 1 to %d", env.Version, Version)
	}
	switch env.Kind {
	case KindLog, KindMetric, KindScan, KindHost, KindContainer, KindLifecycle, KindPosture, KindReject, KindAlert:
	default:
		return env, fmt.Errorf("invalid envelope field kind=%q: expected log, metric, scan, host, container, lifecycle, posture, reject or alert", env.Kind)
	}
	if env.ID == "" {
		return env, fmt.Errorf("missing envelope field id")
	}
	if len(env.Payload) == 0 || string(env.Payload) == "null" {
		return env, fmt.Errorf("missing envelope field payload")
	}
	return env, nil
}

// Log is one log record of a container, after partial lines are joined.
type Log struct {
	// TimeNs is the event time the runtime stamped on the line, in
	// nanoseconds since the Unix epoch.
	TimeNs int64 `json:"time_ns"`
	// Runtime is "docker" for json-file logs and "cri" for Kubernetes CRI logs.
	Runtime     string `json:"runtime"`
	ContainerID string `json:"container_id"`
	// ContainerName is the Docker name without its leading slash, or the
	// Kubernetes container name.
	ContainerName string `json:"container_name,omitempty"`
	// Namespace and Pod are set for CRI logs.
	Namespace string `json:"namespace,omitempty"`
	Pod       string `json:"pod,omitempty"`
	// Stream is "stdout" or "stderr".
	Stream  string `json:"stream"`
	Message string `json:"message"`
}

// Metric is one cgroup sample of a container or of a host cgroup. Counters
// are cumulative as read from the cgroup files; consumers turn them into
// rates. A field the hierarchy does not provide is -1.
type Metric struct {
	TimeNs int64 `json:"time_ns"`
	// ContainerID is empty for a cgroup that belongs to no container.
	ContainerID string `json:"container_id,omitempty"`
	// CgroupPath is relative to the cgroup mount, for example
	// "system.slice/docker-<id>.scope".
	CgroupPath string `json:"cgroup_path"`
	// CgroupMode is "v1", "v2" or "hybrid".
	CgroupMode string `json:"cgroup_mode"`

	CPUUsageNs          int64 `json:"cpu_usage_ns"`
	CPUThrottledNs      int64 `json:"cpu_throttled_ns"`
	CPUThrottledPeriods int64 `json:"cpu_throttled_periods"`
	MemoryUsageBytes    int64 `json:"memory_usage_bytes"`
	// MemoryWorkingSetBytes is usage minus inactive file pages, as kubelet
	// computes it.
	MemoryWorkingSetBytes int64 `json:"memory_working_set_bytes"`
	MemoryLimitBytes      int64 `json:"memory_limit_bytes"`
	OOMKills              int64 `json:"oom_kills"`
	PidsCurrent           int64 `json:"pids_current"`
	PidsMax               int64 `json:"pids_max"`
	IOReadBytes           int64 `json:"io_read_bytes"`
	IOWriteBytes          int64 `json:"io_write_bytes"`
	// IOReadOps and IOWriteOps are the read and write operations summed over
	// every block device: rios and wios of cgroup v2 io.stat, or the Read and
	// Write lines of cgroup v1 blkio.throttle.io_serviced.
	IOReadOps  int64 `json:"io_read_ops"`
	IOWriteOps int64 `json:"io_write_ops"`
	// MemoryFailures counts the times the cgroup's memory usage hit its
	// limit: memory.failcnt in cgroup v1, the "max" count of memory.events
	// in cgroup v2.
	MemoryFailures int64 `json:"memory_failures"`

	// The pressure stall information (PSI) of cgroup v2 cpu.pressure,
	// memory.pressure and io.pressure: the "some" and "full" avg10 values are
	// the percentage of the last 10 seconds in which at least one task, or
	// every non-idle task, was stalled on the resource. The totals are the
	// cumulative stall time in microseconds. cpu.pressure has no "full" line
	// before Linux 5.13, and cgroup v1 has no pressure files, so those fields
	// are -1.
	CPUPressureSomeAvg10      float64 `json:"cpu_pressure_some_avg10"`
	CPUPressureFullAvg10      float64 `json:"cpu_pressure_full_avg10"`
	CPUPressureSomeTotalUs    int64   `json:"cpu_pressure_some_total_us"`
	CPUPressureFullTotalUs    int64   `json:"cpu_pressure_full_total_us"`
	MemoryPressureSomeAvg10   float64 `json:"memory_pressure_some_avg10"`
	MemoryPressureFullAvg10   float64 `json:"memory_pressure_full_avg10"`
	MemoryPressureSomeTotalUs int64   `json:"memory_pressure_some_total_us"`
	MemoryPressureFullTotalUs int64   `json:"memory_pressure_full_total_us"`
	IOPressureSomeAvg10       float64 `json:"io_pressure_some_avg10"`
	IOPressureFullAvg10       float64 `json:"io_pressure_full_avg10"`
	IOPressureSomeTotalUs     int64   `json:"io_pressure_some_total_us"`
	IOPressureFullTotalUs     int64   `json:"io_pressure_full_total_us"`

	// NetRxBytes and NetTxBytes are the bytes received and sent over every
	// interface except loopback in the container's network namespace, read
	// from /proc/<pid>/net/dev of a process in the cgroup. They are -1 for a
	// cgroup of no container and when no process's file could be read.
	NetRxBytes int64 `json:"net_rx_bytes"`
	NetTxBytes int64 `json:"net_tx_bytes"`
	// NetInterfaces lists the per-interface counters that NetRxBytes and
	// NetTxBytes sum, loopback included.
	NetInterfaces []NetInterface `json:"net_interfaces,omitempty"`
}

// NetInterface is the byte counters of one network interface as
// /proc/<pid>/net/dev reports them.
type NetInterface struct {
	Name    string `json:"name"`
	RxBytes int64  `json:"rx_bytes"`
	TxBytes int64  `json:"tx_bytes"`
}

// UnmarshalJSON decodes a metric and leaves the block I/O operation, memory
// failure, pressure and network fields at -1 when the JSON lacks them, as it
// does from collectors that predate those fields, so that a missing value is
// never stored as zero.
func (m *Metric) UnmarshalJSON(b []byte) error {
	type plain Metric
	p := plain{
		IOReadOps: -1, IOWriteOps: -1, MemoryFailures: -1,
		CPUPressureSomeAvg10: -1, CPUPressureFullAvg10: -1, CPUPressureSomeTotalUs: -1, CPUPressureFullTotalUs: -1,
		MemoryPressureSomeAvg10: -1, MemoryPressureFullAvg10: -1, MemoryPressureSomeTotalUs: -1, MemoryPressureFullTotalUs: -1,
		IOPressureSomeAvg10: -1, IOPressureFullAvg10: -1, IOPressureSomeTotalUs: -1, IOPressureFullTotalUs: -1,
		NetRxBytes: -1, NetTxBytes: -1,
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*m = Metric(p)
	return nil
}

// Vulnerability is one finding of a scan report.
type Vulnerability struct {
	ID               string `json:"id"`
	Package          string `json:"package"`
	InstalledVersion string `json:"installed_version"`
	// FixedVersion is empty when no fix is published.
	FixedVersion string `json:"fixed_version,omitempty"`
	// Severity is one of CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN.
	Severity string `json:"severity"`
	Title    string `json:"title,omitempty"`
	// CVSSVersion, CVSSVector and CVSSScore are the CVSS rating the report
	// gives the finding: the version ("3.1", "2.0"), the vector string and
	// the base score from 0.0 to 10.0. They are empty and zero when the
	// report has no rating, and Anchore reports have a score but no vector.
	CVSSVersion string  `json:"cvss_version,omitempty"`
	CVSSVector  string  `json:"cvss_vector,omitempty"`
	CVSSScore   float64 `json:"cvss_score,omitempty"`
}

// Scan is one image vulnerability report.
type Scan struct {
	// Scanner is "trivy", "grype" or "clair".
	Scanner string `json:"scanner"`
	// ImageRef is the reference the image was scanned under.
	ImageRef string `json:"image_ref"`
	// ImageID is the image config digest ("sha256:..."), the key that joins
	// a scan to the containers running the image.
	ImageID  string `json:"image_id"`
	OSFamily string `json:"os_family,omitempty"`
	OSName   string `json:"os_name,omitempty"`
	// ScannedNs is the report's creation time.
	ScannedNs       int64           `json:"scanned_ns"`
	Vulnerabilities []Vulnerability `json:"vulnerabilities"`
	// Findings lists the secrets and misconfigurations of the report. Only
	// Trivy reports carry them.
	Findings []Finding `json:"findings,omitempty"`
}

// Host is the metadata of one host, sent when its collector starts and then
// periodically.
type Host struct {
	TimeNs      int64  `json:"time_ns"`
	HostID      string `json:"host_id"`
	Hostname    string `json:"hostname"`
	OSID        string `json:"os_id"`
	OSVersion   string `json:"os_version"`
	OSPretty    string `json:"os_pretty"`
	Kernel      string `json:"kernel"`
	CPUModel    string `json:"cpu_model"`
	CPUCount    int    `json:"cpu_count"`
	MemoryBytes int64  `json:"memory_bytes"`
	UptimeS     int64  `json:"uptime_s"`
	CgroupMode  string `json:"cgroup_mode"`
	// Arch is the machine hardware name as uname prints it, for example
	// "x86_64" or "aarch64".
	Arch string `json:"arch,omitempty"`
	// OSEOLDate is the date, "YYYY-MM-DD", after which the OS release gets
	// no more security updates from its vendor. It is empty for a release
	// the collector's table does not list.
	OSEOLDate string `json:"os_eol_date,omitempty"`
	// Runtime is the container runtime found on the host, "docker" or
	// "containerd", or empty.
	Runtime string `json:"runtime,omitempty"`
	// RuntimeVersion is the runtime's version where a file on the host
	// records it, or empty.
	RuntimeVersion string `json:"runtime_version,omitempty"`
	// Listeners are the listening TCP sockets and bound UDP sockets.
	Listeners []Listener `json:"listeners,omitempty"`
}

// Listener is one listening socket of a host and the process that owns it.
type Listener struct {
	// Protocol is tcp, tcp6, udp or udp6.
	Protocol string `json:"protocol"`
	Address  string `json:"address"`
	Port     int    `json:"port"`
	// PID and Process are 0 and "" when the owner could not be read.
	PID     int    `json:"pid,omitempty"`
	Process string `json:"process,omitempty"`
}

// Container is the metadata of one container, read from the runtime's files.
type Container struct {
	TimeNs      int64  `json:"time_ns"`
	ContainerID string `json:"container_id"`
	Name        string `json:"name"`
	Runtime     string `json:"runtime"`
	ImageRef    string `json:"image_ref"`
	// ImageID is the image config digest ("sha256:...").
	ImageID    string            `json:"image_id"`
	Namespace  string            `json:"namespace,omitempty"`
	Pod        string            `json:"pod,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Privileged bool              `json:"privileged"`
	User       string            `json:"user,omitempty"`
	Running    bool              `json:"running"`
	StartedNs  int64             `json:"started_ns"`
	// Ports lists the published ports, sorted by container port, protocol,
	// host address and host port.
	Ports []Port `json:"ports,omitempty"`
	// Mounts lists the mounts, sorted by destination.
	Mounts []Mount `json:"mounts,omitempty"`
}

// Alert is a candidate alert sent by the scorer or the rule evaluator to the
// alert role, which deduplicates, stores and routes it.
type Alert struct {
	TimeNs int64 `json:"time_ns"`
	// Source is "model" or "rule".
	Source string `json:"source"`
	// Name is the rule name or the model name.
	Name        string `json:"name"`
	Severity    string `json:"severity"`
	ContainerID string `json:"container_id,omitempty"`
	HostID      string `json:"host_id,omitempty"`
	ImageID     string `json:"image_id,omitempty"`
	// Score and Threshold are set for model alerts.
	Score     float64 `json:"score,omitempty"`
	Threshold float64 `json:"threshold,omitempty"`
	Summary   string  `json:"summary"`
	// Drivers lists the features or facts that raised the alert, most
	// important first, each in plain words.
	Drivers []string `json:"drivers"`
	// Query is a SQL statement that returns the rows behind the alert.
	Query string `json:"query"`
	// Fingerprint groups repeats of the same alert: the rule or model plus
	// the entity.
	Fingerprint string `json:"fingerprint"`
	// ModelVersion identifies the fitted model that raised a model alert,
	// such as "iforest-1a2b3c4d5e6f". It is empty for rule alerts.
	ModelVersion string `json:"model_version,omitempty"`
}
