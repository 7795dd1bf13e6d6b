package normalize

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/harrierhq/harrier/internal/record"
)

// maxTimeNs is the last second a ClickHouse DateTime holds (2106-02-07),
// in nanoseconds.
const maxTimeNs = int64(1<<32-1) * 1e9

// Accepted values of enumerated payload fields.
var (
	streams         = []string{"stdout", "stderr"}
	cgroupModes     = []string{"v1", "v2", "hybrid"}
	severities      = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}
	findingKinds    = []string{record.FindingSecret, record.FindingMisconfiguration}
	lifecycleEvents = []string{record.EventCreated, record.EventStarted, record.EventExited,
		record.EventOOMKilled, record.EventRestarted}
)

// parsed is one envelope with its decoded and validated payload. Exactly
// one payload pointer is set, the one of env.Kind.
type parsed struct {
	env       record.Envelope
	log       *record.Log
	metric    *record.Metric
	scan      *record.Scan
	host      *record.Host
	container *record.Container
	lifecycle *record.Lifecycle
	posture   *record.Posture
	reject    *record.Reject
}

// decodeRecord decodes the envelope in value, checks that its kind belongs
// on topic (an empty topic accepts every kind the normalizer stores), and
// decodes and validates the payload. maxMessageBytes caps a log message.
// The error names the field and the value that failed.
func decodeRecord(topic string, value []byte, maxMessageBytes int) (parsed, error) {
	p, ok := fastDecode(value)
	if !ok {
		env, err := record.Decode(value)
		if err != nil {
			return parsed{env: env}, &rejection{kind: RejectInvalidEnvelope, err: err}
		}
		p = parsed{env: env}
	}
	p, err := decodeEnvelope(p, topic, maxMessageBytes)
	if err != nil && !errors.As(err, new(*rejection)) {
		err = &rejection{kind: RejectInvalidField, err: err}
	}
	return p, err
}

// Fixed reasons of rejected records, the reason label of
// harrier_records_dead_lettered_total.
const (
	// RejectInvalidEnvelope is an envelope that is not valid JSON or lacks
	// a required field.
	RejectInvalidEnvelope = "invalid_envelope"
	// RejectWrongTopic is a record whose kind belongs on another topic.
	RejectWrongTopic = "wrong_topic"
	// RejectInvalidPayload is a payload that is not valid JSON of its kind.
	RejectInvalidPayload = "invalid_payload"
	// RejectInvalidField is a payload or envelope field that is missing or
	// out of range.
	RejectInvalidField = "invalid_field"
)

// rejection is a decode error with its fixed reason. Error returns the
// wrapped error's text unchanged.
type rejection struct {
	kind string
	err  error
}

func (r *rejection) Error() string { return r.err.Error() }
func (r *rejection) Unwrap() error { return r.err }

// rejectionKind returns the fixed reason of a decodeRecord error.
func rejectionKind(err error) string {
	var r *rejection
	if errors.As(err, &r) {
		return r.kind
	}
	return RejectInvalidField
}

// decodeEnvelope checks the envelope against topic and decodes and
// validates the payload. A log payload that fastDecode already decoded is
// only validated.
func decodeEnvelope(p parsed, topic string, maxMessageBytes int) (parsed, error) {
	env := p.env
	if env.Kind == record.KindAlert {
		err := fmt.Errorf("invalid envelope field kind=%q: alerts belong on topic %s, not to the normalizer", env.Kind, record.TopicAlerts)
		return p, &rejection{kind: RejectWrongTopic, err: err}
	}
	if want := record.TopicFor(env.Kind); topic != "" && topic != want {
		err := fmt.Errorf("invalid envelope field kind=%q on topic %s: %s records belong on topic %s", env.Kind, topic, env.Kind, want)
		return p, &rejection{kind: RejectWrongTopic, err: err}
	}
	if env.CollectedNs < 0 {
		return p, fmt.Errorf("invalid envelope field collected_ns=%d: must not be negative", env.CollectedNs)
	}

	switch env.Kind {
	case record.KindLog:
		if p.log == nil {
			p.log = &record.Log{}
			if err := decodePayload(env, p.log); err != nil {
				return p, err
			}
		}
		return p, validateLog(p.log, maxMessageBytes)
	case record.KindMetric:
		p.metric = &record.Metric{}
		if err := decodePayload(env, p.metric); err != nil {
			return p, err
		}
		return p, validateMetric(p.metric)
	case record.KindScan:
		p.scan = &record.Scan{}
		if err := decodePayload(env, p.scan); err != nil {
			return p, err
		}
		return p, validateScan(p.scan)
	case record.KindHost:
		p.host = &record.Host{}
		if err := decodePayload(env, p.host); err != nil {
			return p, err
		}
		if p.host.HostID == "" {
			p.host.HostID = env.HostID
		}
		return p, validateHost(p.host)
	case record.KindContainer:
		p.container = &record.Container{}
		if err := decodePayload(env, p.container); err != nil {
			return p, err
		}
		return p, validateContainer(p.container)
	case record.KindLifecycle:
		p.lifecycle = &record.Lifecycle{}
		if err := decodePayload(env, p.lifecycle); err != nil {
			return p, err
		}
		return p, validateLifecycle(p.lifecycle)
	case record.KindPosture:
		p.posture = &record.Posture{}
		if err := decodePayload(env, p.posture); err != nil {
			return p, err
		}
		return p, validatePosture(p.posture)
	case record.KindReject:
		p.reject = &record.Reject{}
		if err := decodePayload(env, p.reject); err != nil {
			return p, err
		}
		return p, validateReject(p.reject)
	}
	return p, fmt.Errorf("invalid envelope field kind=%q", env.Kind)
}

func decodePayload(env record.Envelope, dst any) error {
	if err := json.Unmarshal(env.Payload, dst); err != nil {
		return &rejection{kind: RejectInvalidPayload, err: fmt.Errorf("invalid %s payload JSON: %w", env.Kind, err)}
	}
	return nil
}

func validateLog(l *record.Log, maxMessageBytes int) error {
	if err := checkTime("log", "time_ns", l.TimeNs); err != nil {
		return err
	}
	if l.ContainerID == "" {
		return fmt.Errorf("missing log field container_id")
	}
	if err := checkOneOf("log", "stream", l.Stream, streams); err != nil {
		return err
	}
	if len(l.Message) > maxMessageBytes {
		return fmt.Errorf("invalid log field message: %d bytes is larger than the %d byte limit", len(l.Message), maxMessageBytes)
	}
	return nil
}

func validateMetric(m *record.Metric) error {
	if err := checkTime("metric", "time_ns", m.TimeNs); err != nil {
		return err
	}
	if m.CgroupPath == "" {
		return fmt.Errorf("missing metric field cgroup_path")
	}
	if err := checkOneOf("metric", "cgroup_mode", m.CgroupMode, cgroupModes); err != nil {
		return err
	}
	// -1 marks a value the cgroup hierarchy does not provide.
	counters := []struct {
		name  string
		value int64
	}{
		{"cpu_usage_ns", m.CPUUsageNs}, {"cpu_throttled_ns", m.CPUThrottledNs},
		{"cpu_throttled_periods", m.CPUThrottledPeriods}, {"memory_usage_bytes", m.MemoryUsageBytes},
		{"memory_working_set_bytes", m.MemoryWorkingSetBytes}, {"memory_limit_bytes", m.MemoryLimitBytes},
		{"oom_kills", m.OOMKills}, {"pids_current", m.PidsCurrent}, {"pids_max", m.PidsMax},
		{"io_read_bytes", m.IOReadBytes}, {"io_write_bytes", m.IOWriteBytes},
		{"io_read_ops", m.IOReadOps}, {"io_write_ops", m.IOWriteOps}, {"memory_failures", m.MemoryFailures},
	}
	for _, c := range counters {
		if c.value < -1 {
			return fmt.Errorf("invalid metric field %s=%d: must be -1 (not provided) or more", c.name, c.value)
		}
	}
	if err := validatePressure(m); err != nil {
		return err
	}
	return validateNetwork(m)
}

// validatePressure checks the PSI fields: an avg10 value is a percentage,
// a total is a cumulative count of microseconds, and -1 marks either as
// not provided.
func validatePressure(m *record.Metric) error {
	averages := []struct {
		name  string
		value float64
	}{
		{"cpu_pressure_some_avg10", m.CPUPressureSomeAvg10}, {"cpu_pressure_full_avg10", m.CPUPressureFullAvg10},
		{"memory_pressure_some_avg10", m.MemoryPressureSomeAvg10}, {"memory_pressure_full_avg10", m.MemoryPressureFullAvg10},
		{"io_pressure_some_avg10", m.IOPressureSomeAvg10}, {"io_pressure_full_avg10", m.IOPressureFullAvg10},
	}
	for _, a := range averages {
		// The negated range test also rejects NaN.
		if a.value != -1 && !(a.value >= 0 && a.value <= 100) {
			return fmt.Errorf("invalid metric field %s=%g: must be -1 (not provided) or a percentage between 0 and 100", a.name, a.value)
		}
	}

	totals := []struct {
		name  string
		value int64
	}{
		{"cpu_pressure_some_total_us", m.CPUPressureSomeTotalUs}, {"cpu_pressure_full_total_us", m.CPUPressureFullTotalUs},
		{"memory_pressure_some_total_us", m.MemoryPressureSomeTotalUs}, {"memory_pressure_full_total_us", m.MemoryPressureFullTotalUs},
		{"io_pressure_some_total_us", m.IOPressureSomeTotalUs}, {"io_pressure_full_total_us", m.IOPressureFullTotalUs},
	}
	for _, c := range totals {
		if c.value < -1 {
			return fmt.Errorf("invalid metric field %s=%d: must be -1 (not provided) or more", c.name, c.value)
		}
	}
	return nil
}

// validateNetwork checks the network byte counters: the sums may be -1
// (not provided), but a listed interface always has a name and counters
// read from /proc/<pid>/net/dev, which are never negative.
func validateNetwork(m *record.Metric) error {
	if m.NetRxBytes < -1 {
		return fmt.Errorf("invalid metric field net_rx_bytes=%d: must be -1 (not provided) or more", m.NetRxBytes)
	}
	if m.NetTxBytes < -1 {
		return fmt.Errorf("invalid metric field net_tx_bytes=%d: must be -1 (not provided) or more", m.NetTxBytes)
	}
	for i, n := range m.NetInterfaces {
		if n.Name == "" {
			return fmt.Errorf("missing metric field net_interfaces[%d].name", i)
		}
		if n.RxBytes < 0 {
			return fmt.Errorf("invalid metric field net_interfaces[%d].rx_bytes=%d (interface %q): must not be negative", i, n.RxBytes, n.Name)
		}
		if n.TxBytes < 0 {
			return fmt.Errorf("invalid metric field net_interfaces[%d].tx_bytes=%d (interface %q): must not be negative", i, n.TxBytes, n.Name)
		}
	}
	return nil
}

func validateScan(s *record.Scan) error {
	if s.ImageID == "" {
		return fmt.Errorf("missing scan field image_id")
	}
	if s.Scanner == "" {
		return fmt.Errorf("missing scan field scanner")
	}
	if err := checkTime("scan", "scanned_ns", s.ScannedNs); err != nil {
		return err
	}
	for i := range s.Vulnerabilities {
		v := &s.Vulnerabilities[i]
		if v.ID == "" {
			return fmt.Errorf("missing scan field vulnerabilities[%d].id", i)
		}
		if v.Package == "" {
			return fmt.Errorf("missing scan field vulnerabilities[%d].package", i)
		}
		v.Severity = strings.ToUpper(v.Severity)
		if err := checkOneOf("scan", fmt.Sprintf("vulnerabilities[%d].severity", i), v.Severity, severities); err != nil {
			return err
		}
		// The negated range test also rejects NaN.
		if !(v.CVSSScore >= 0 && v.CVSSScore <= 10) {
			return fmt.Errorf("invalid scan field vulnerabilities[%d].cvss_score=%g (vulnerability %q): must be a CVSS base score between 0 and 10", i, v.CVSSScore, v.ID)
		}
	}
	for i := range s.Findings {
		f := &s.Findings[i]
		if err := checkOneOf("scan", fmt.Sprintf("findings[%d].kind", i), f.Kind, findingKinds); err != nil {
			return err
		}
		if f.ID == "" {
			return fmt.Errorf("missing scan field findings[%d].id", i)
		}
		f.Severity = strings.ToUpper(f.Severity)
		if err := checkOneOf("scan", fmt.Sprintf("findings[%d].severity", i), f.Severity, severities); err != nil {
			return err
		}
	}
	return nil
}

func validateHost(h *record.Host) error {
	if err := checkTime("host", "time_ns", h.TimeNs); err != nil {
		return err
	}
	if h.HostID == "" {
		return fmt.Errorf("missing host field host_id (and the envelope host_id is empty)")
	}
	if h.CPUCount < 0 || int64(h.CPUCount) > 1<<32-1 {
		return fmt.Errorf("invalid host field cpu_count=%d: must be between 0 and 4294967295", h.CPUCount)
	}
	if h.MemoryBytes < 0 {
		return fmt.Errorf("invalid host field memory_bytes=%d: must not be negative", h.MemoryBytes)
	}
	if h.UptimeS < 0 {
		return fmt.Errorf("invalid host field uptime_s=%d: must not be negative", h.UptimeS)
	}
	return nil
}

func validateContainer(c *record.Container) error {
	if err := checkTime("container", "time_ns", c.TimeNs); err != nil {
		return err
	}
	if c.ContainerID == "" {
		return fmt.Errorf("missing container field container_id")
	}
	// started_ns is 0 for a container that never started.
	if c.StartedNs < 0 || c.StartedNs > maxTimeNs {
		return fmt.Errorf("invalid container field started_ns=%d: must be between 0 and %d", c.StartedNs, maxTimeNs)
	}
	return nil
}

func validateLifecycle(l *record.Lifecycle) error {
	if err := checkTime("lifecycle", "time_ns", l.TimeNs); err != nil {
		return err
	}
	if l.ContainerID == "" {
		return fmt.Errorf("missing lifecycle field container_id")
	}
	if err := checkOneOf("lifecycle", "event", l.Event, lifecycleEvents); err != nil {
		return err
	}
	if l.ExitCode < -1<<31 || l.ExitCode > 1<<31-1 {
		return fmt.Errorf("invalid lifecycle field exit_code=%d: must fit a 32-bit signed integer", l.ExitCode)
	}
	return nil
}

// checkTime checks that a nanosecond timestamp fits a ClickHouse DateTime
// and is not zero, which is what a missing field decodes to.
func checkTime(kind, field string, ns int64) error {
	if ns <= 0 {
		return fmt.Errorf("invalid %s field %s=%d: must be positive", kind, field, ns)
	}
	if ns > maxTimeNs {
		return fmt.Errorf("invalid %s field %s=%d: must not be after 2106-02-07, the maximum of ClickHouse DateTime", kind, field, ns)
	}
	return nil
}

func checkOneOf(kind, field, value string, allowed []string) error {
	if value == "" {
		return fmt.Errorf("missing %s field %s", kind, field)
	}
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	return fmt.Errorf("invalid %s field %s=%q: expected one of %s", kind, field, value, strings.Join(allowed, ", "))
}

// postureEntities are the accepted values of record.Posture.Entity.
var postureEntities = []string{record.PostureHost, record.PostureContainer}

func validatePosture(p *record.Posture) error {
	if err := checkTime("posture", "time_ns", p.TimeNs); err != nil {
		return err
	}
	if err := checkOneOf("posture", "entity", p.Entity, postureEntities); err != nil {
		return err
	}
	if p.EntityID == "" {
		return fmt.Errorf("missing posture field entity_id")
	}
	for i, f := range p.Facts {
		if f.Key == "" {
			return fmt.Errorf("missing posture field facts[%d].key", i)
		}
	}
	return nil
}

func validateReject(r *record.Reject) error {
	if r.Path == "" {
		return fmt.Errorf("missing reject field path")
	}
	if r.Reason == "" {
		return fmt.Errorf("missing reject field reason")
	}
	if r.Offset < -1 {
		return fmt.Errorf("invalid reject field offset=%d: must be -1 (the whole file) or a byte offset", r.Offset)
	}
	return nil
}
