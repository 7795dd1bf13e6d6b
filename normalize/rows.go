package normalize

import (
	"encoding/json"
	"net"
	"strconv"
	"time"

	"github.com/harrierhq/harrier/internal/record"
)

// Tables the normalizer writes, in the order a batch inserts them.
// Inventory goes first, so that a failed batch never leaves events that
// point at a container the containers table lacks.
const (
	TableContainers      = "containers"
	TableHosts           = "hosts"
	TableImages          = "images"
	TableVulnerabilities = "vulnerabilities"
	TableFindings        = "findings"
	TableEvents          = "events"
	TableContainerEvents = "container_events"
	TableMetrics         = "metrics"
	TableDeadLetters     = "dead_letters"
	TablePostureFacts    = "posture_facts"
)

var tableOrder = []string{TableContainers, TableHosts, TablePostureFacts, TableImages, TableVulnerabilities, TableFindings, TableEvents, TableContainerEvents, TableMetrics, TableDeadLetters}

var tableColumns = map[string][]string{
	TableEvents: {"time", "time_ns", "record_id", "host_id", "container_id", "container_name", "image_id",
		"namespace", "pod", "runtime", "stream", "level", "message", "template_id", "template", "source", "collected_ns"},
	TableMetrics: {"time", "time_ns", "record_id", "host_id", "container_id", "container_name", "image_id",
		"cgroup_path", "cgroup_mode", "cpu_usage_ns", "cpu_throttled_ns", "cpu_throttled_periods",
		"memory_usage_bytes", "memory_working_set_bytes", "memory_limit_bytes", "oom_kills",
		"pids_current", "pids_max", "io_read_bytes", "io_write_bytes", "collected_ns",
		"cpu_pressure_some_avg10", "cpu_pressure_full_avg10", "cpu_pressure_some_total_us", "cpu_pressure_full_total_us",
		"memory_pressure_some_avg10", "memory_pressure_full_avg10", "memory_pressure_some_total_us", "memory_pressure_full_total_us",
		"io_pressure_some_avg10", "io_pressure_full_avg10", "io_pressure_some_total_us", "io_pressure_full_total_us",
		"net_rx_bytes", "net_tx_bytes", "net_interfaces", "net_interface_rx_bytes", "net_interface_tx_bytes",
		"io_read_ops", "io_write_ops", "memory_failures"},
	TableHosts: {"host_id", "hostname", "os_id", "os_version", "os_pretty", "kernel", "cpu_model", "cpu_count",
		"memory_bytes", "uptime_s", "cgroup_mode", "seen_at", "record_id",
		"arch", "os_eol_date", "runtime", "runtime_version", "listeners"},
	TableContainerEvents: {"time", "time_ns", "record_id", "host_id", "container_id", "container_name", "image_id",
		"event", "exit_code", "detail"},
	TableContainers: {"container_id", "name", "host_id", "runtime", "image_ref", "image_id", "namespace", "pod",
		"labels", "privileged", "user", "running", "started_at", "seen_at", "record_id", "ports", "mounts"},
	TableImages: {"image_id", "image_ref", "os_family", "os_name", "scanner", "vulnerabilities", "scanned_at", "record_id"},
	TableVulnerabilities: {"image_id", "image_ref", "vuln_id", "package", "installed_version", "fixed_version",
		"severity", "title", "scanner", "scanned_at", "record_id",
		"cvss_version", "cvss_vector", "cvss_score"},
	TableFindings: {"image_id", "image_ref", "kind", "finding_id", "severity", "title", "target", "status",
		"location", "scanner", "scanned_at", "record_id"},
	TableDeadLetters: {"topic", "partition", "offset", "reason", "raw", "received_at", "record_id"},
	TablePostureFacts: {"collected_at", "collected_ns", "record_id", "host_id", "entity_kind", "entity_id", "entity_name",
		"fact", "fact_values", "source"},
}

// nsTime converts nanoseconds since the Unix epoch to a UTC time, which
// ClickHouse stores as DateTime seconds.
func nsTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func boolUInt8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// eventRow builds the events row of a log record. With a nil matcher the
// row stores template_id 0 and an empty template.
func eventRow(env record.Envelope, l *record.Log, c containerInfo, templates TemplateMatcher) []any {
	name := l.ContainerName
	if name == "" {
		name = c.name
	}
	var templateID uint64
	var template string
	if templates != nil {
		templateID, template, _ = templates.Match(TemplateKey(c.imageID, l.ContainerID), l.Message)
	}
	return []any{
		nsTime(l.TimeNs), l.TimeNs, env.ID, env.HostID, l.ContainerID, name, c.imageID,
		l.Namespace, l.Pod, l.Runtime, l.Stream, DeriveLevel(l.Message), l.Message,
		templateID, template, env.Source, env.CollectedNs,
	}
}

// TemplateKey returns the key under which a container's log templates are
// mined: the image id, so that every container of an image shares them, or
// the container id when the image is unknown.
func TemplateKey(imageID, containerID string) string {
	if imageID != "" {
		return imageID
	}
	return containerID
}

func metricRow(env record.Envelope, m *record.Metric, c containerInfo) []any {
	names := make([]string, len(m.NetInterfaces))
	rx := make([]int64, len(m.NetInterfaces))
	tx := make([]int64, len(m.NetInterfaces))
	for i, iface := range m.NetInterfaces {
		names[i], rx[i], tx[i] = iface.Name, iface.RxBytes, iface.TxBytes
	}
	return []any{
		nsTime(m.TimeNs), m.TimeNs, env.ID, env.HostID, m.ContainerID, c.name, c.imageID,
		m.CgroupPath, m.CgroupMode, m.CPUUsageNs, m.CPUThrottledNs, m.CPUThrottledPeriods,
		m.MemoryUsageBytes, m.MemoryWorkingSetBytes, m.MemoryLimitBytes, m.OOMKills,
		m.PidsCurrent, m.PidsMax, m.IOReadBytes, m.IOWriteBytes, env.CollectedNs,
		m.CPUPressureSomeAvg10, m.CPUPressureFullAvg10, m.CPUPressureSomeTotalUs, m.CPUPressureFullTotalUs,
		m.MemoryPressureSomeAvg10, m.MemoryPressureFullAvg10, m.MemoryPressureSomeTotalUs, m.MemoryPressureFullTotalUs,
		m.IOPressureSomeAvg10, m.IOPressureFullAvg10, m.IOPressureSomeTotalUs, m.IOPressureFullTotalUs,
		m.NetRxBytes, m.NetTxBytes, names, rx, tx,
		m.IOReadOps, m.IOWriteOps, m.MemoryFailures,
	}
}

func hostRow(env record.Envelope, h *record.Host) []any {
	return []any{
		h.HostID, h.Hostname, h.OSID, h.OSVersion, h.OSPretty, h.Kernel, h.CPUModel, uint32(h.CPUCount),
		h.MemoryBytes, h.UptimeS, h.CgroupMode, nsTime(h.TimeNs), env.ID,
		h.Arch, h.OSEOLDate, h.Runtime, h.RuntimeVersion, listenerStrings(h.Listeners),
	}
}

// listenerStrings formats each listener as "protocol address:port process",
// for example "tcp 127.0.0.1:22 sshd" or "tcp6 [::]:80 nginx", without the
// process when it is unknown.
func listenerStrings(listeners []record.Listener) []string {
	out := make([]string, 0, len(listeners))
	for _, l := range listeners {
		s := l.Protocol + " " + net.JoinHostPort(l.Address, strconv.Itoa(l.Port))
		if l.Process != "" {
			s += " " + l.Process
		}
		out = append(out, s)
	}
	return out
}

func lifecycleRow(env record.Envelope, l *record.Lifecycle, c containerInfo) []any {
	name, imageID := l.ContainerName, l.ImageID
	if name == "" {
		name = c.name
	}
	if imageID == "" {
		imageID = c.imageID
	}
	return []any{
		nsTime(l.TimeNs), l.TimeNs, env.ID, env.HostID, l.ContainerID, name, imageID,
		l.Event, int32(l.ExitCode), l.Detail,
	}
}

func containerRow(env record.Envelope, c *record.Container) []any {
	labels := "{}"
	if len(c.Labels) > 0 {
		// A map[string]string always marshals, with its keys sorted.
		b, _ := json.Marshal(c.Labels)
		labels = string(b)
	}
	return []any{
		c.ContainerID, c.Name, env.HostID, c.Runtime, c.ImageRef, c.ImageID, c.Namespace, c.Pod,
		labels, boolUInt8(c.Privileged), c.User, boolUInt8(c.Running), nsTime(c.StartedNs), nsTime(c.TimeNs), env.ID,
		portStrings(c.Ports), mountStrings(c.Mounts),
	}
}

// portStrings formats each published port as
// "protocol host_ip:host_port->container_port", for example
// "tcp 0.0.0.0:8080->80" or "tcp [::]:8080->80".
func portStrings(ports []record.Port) []string {
	out := make([]string, 0, len(ports))
	for _, p := range ports {
		out = append(out, p.Protocol+" "+net.JoinHostPort(p.HostIP, strconv.Itoa(p.HostPort))+"->"+strconv.Itoa(p.ContainerPort))
	}
	return out
}

// mountStrings formats each mount the way docker run -v takes it,
// "source:destination:rw" or "source:destination:ro".
func mountStrings(mounts []record.Mount) []string {
	out := make([]string, 0, len(mounts))
	for _, m := range mounts {
		mode := "ro"
		if m.ReadWrite {
			mode = "rw"
		}
		out = append(out, m.Source+":"+m.Destination+":"+mode)
	}
	return out
}

func imageRow(env record.Envelope, s *record.Scan) []any {
	return []any{
		s.ImageID, s.ImageRef, s.OSFamily, s.OSName, s.Scanner, uint32(len(s.Vulnerabilities)), nsTime(s.ScannedNs), env.ID,
	}
}

func vulnerabilityRows(env record.Envelope, s *record.Scan) [][]any {
	rows := make([][]any, 0, len(s.Vulnerabilities))
	for _, v := range s.Vulnerabilities {
		rows = append(rows, []any{
			s.ImageID, s.ImageRef, v.ID, v.Package, v.InstalledVersion, v.FixedVersion,
			v.Severity, v.Title, s.Scanner, nsTime(s.ScannedNs), env.ID,
			v.CVSSVersion, v.CVSSVector, v.CVSSScore,
		})
	}
	return rows
}

func findingRows(env record.Envelope, s *record.Scan) [][]any {
	rows := make([][]any, 0, len(s.Findings))
	for _, f := range s.Findings {
		rows = append(rows, []any{
			s.ImageID, s.ImageRef, f.Kind, f.ID, f.Severity, f.Title, f.Target, f.Status,
			f.Location, s.Scanner, nsTime(s.ScannedNs), env.ID,
		})
	}
	return rows
}

// postureRows builds one posture_facts row per fact of a posture record.
func postureRows(env record.Envelope, p *record.Posture) [][]any {
	rows := make([][]any, 0, len(p.Facts))
	for _, f := range p.Facts {
		values := f.Values
		if values == nil {
			values = []string{}
		}
		rows = append(rows, []any{
			nsTime(p.TimeNs), p.TimeNs, env.ID, env.HostID, p.Entity, p.EntityID, p.EntityName,
			f.Key, values, f.Source,
		})
	}
	return rows
}

// Columns returns the columns the normalizer inserts into table, in insert
// order, or nil for a table it does not write.
func Columns(table string) []string {
	return append([]string(nil), tableColumns[table]...)
}
