package alerting

import (
	"fmt"
	"strings"
	"time"
)

// The policy queries return the columns container_id, host_id, image_id,
// summary and driver. Host policies return an empty container_id. Every
// time comparison uses the evaluation time passed in, never now(), so that
// `harrier rules test` can evaluate recorded events at their own time.

// runningContainersSQL selects the latest state of running containers with
// the columns the container policies need.
const runningContainersSQL = `SELECT
        container_id,
        argMax(name, seen_at) AS container_name,
        argMax(host_id, seen_at) AS container_host_id,
        argMax(image_ref, seen_at) AS container_image_ref,
        argMax(image_id, seen_at) AS container_image_id,
        argMax(user, seen_at) AS container_user,
        argMax(privileged, seen_at) AS container_privileged,
        argMax(running, seen_at) AS container_running
    FROM containers
    GROUP BY container_id`

// containerLabelSQL names a container in a summary by its name, or its id
// when the name is empty.
const containerLabelSQL = `if(container_name = '', container_id, container_name)`

// imageAgeQuery returns the query of a KindImageAge rule.
//
// NOTE: the schema stores no image creation time, because the scan
// reports record none. So the age is counted from the first time Harrier
// saw the image: the earliest start of a container running it. An image
// rebuilt under the same id therefore keeps its age.
func imageAgeQuery(r Rule, at time.Time) string {
	cutoff := at.Unix() - int64(r.Policy.MaxDays)*86400
	return fmt.Sprintf(`SELECT
    container_id,
    container_host_id AS host_id,
    image_id,
    concat('Container ', %s, ' runs image ', container_image_ref, ' first seen ',
        toString(intDiv(%d - toInt64(toUInt32(image_first_seen)), 86400)), ' days ago') AS summary,
    concat('image ', image_id, ' first seen ', toString(image_first_seen), ', older than %d days') AS driver
FROM
(
    SELECT container_id, container_name, container_host_id, container_image_ref, container_image_id AS image_id
    FROM
    (
    %s
    )
    WHERE container_running = 1 AND container_image_id != ''
) AS running
ALL INNER JOIN
(
    SELECT image_id, min(started_at) AS image_first_seen
    FROM containers
    WHERE image_id != '' AND started_at > toDateTime(86400)
    GROUP BY image_id
) AS seen
USING image_id
WHERE image_first_seen < toDateTime(%d)
ORDER BY container_id`, containerLabelSQL, at.Unix(), r.Policy.MaxDays, runningContainersSQL, cutoff)
}

// registrySQL extracts the registry host of an image reference the way
// Docker does: the first path component when it contains a dot or a colon
// or is localhost, and docker.io otherwise.
const registrySQL = `if(position(container_image_ref, '/') > 0
            AND match(splitByChar('/', container_image_ref)[1], '[.:]|^localhost$'),
            lower(splitByChar('/', container_image_ref)[1]), 'docker.io')`

// imageRegistryQuery returns the query of a KindImageRegistry rule.
func imageRegistryQuery(r Rule) string {
	return fmt.Sprintf(`SELECT
    container_id,
    container_host_id AS host_id,
    container_image_id AS image_id,
    concat('Container ', %s, ' runs image ', container_image_ref, ' from registry ', image_registry, ', which is not on the allow list') AS summary,
    concat('registry ', image_registry, ' not in [%s]') AS driver
FROM
(
    SELECT
        container_id, container_name, container_host_id, container_image_ref, container_image_id,
        %s AS image_registry
    FROM
    (
    %s
    )
    WHERE container_running = 1 AND container_image_ref != ''
)
WHERE image_registry NOT IN (%s)
ORDER BY container_id`, containerLabelSQL, escapeInLiteral(strings.Join(r.Policy.Registries, ", ")), registrySQL, runningContainersSQL, quoteList(r.Policy.Registries))
}

// containerRootQuery returns the query of a KindContainerRoot rule. An
// empty user counts as root, because a container without a user runs as
// its image's user, which is root unless the image sets one.
func containerRootQuery() string {
	return fmt.Sprintf(`SELECT
    container_id,
    container_host_id AS host_id,
    container_image_id AS image_id,
    concat('Container ', %s, if(container_privileged = 1, ' runs privileged', ' runs as root')) AS summary,
    concat('privileged: ', if(container_privileged = 1, 'true', 'false'), ', user: ''', container_user, '''') AS driver
FROM
(
%s
)
WHERE container_running = 1
    AND (container_privileged = 1
        OR container_user IN ('', 'root', '0')
        OR container_user LIKE 'root:%%'
        OR container_user LIKE '0:%%')
ORDER BY container_id`, containerLabelSQL, runningContainersSQL)
}

// hostOSEndOfLifeQuery returns the query of a KindHostOSEndOfLife rule. It
// reads hosts.os_eol_date, a String 'YYYY-MM-DD' that is empty when
// unknown, so dates compare as strings and other values never match.
func hostOSEndOfLifeQuery(r Rule, at time.Time) string {
	limit := at.UTC().AddDate(0, 0, r.Policy.WithinDays).Format("2006-01-02")
	return fmt.Sprintf(`SELECT
    '' AS container_id,
    host_id,
    '' AS image_id,
    concat('Host ', if(host_name = '', host_id, host_name), ' runs ', host_os, ', whose end of life is ', host_os_eol_date) AS summary,
    concat('os: ', host_os, ', end of life: ', host_os_eol_date) AS driver
FROM
(
    SELECT
        host_id,
        argMax(hostname, seen_at) AS host_name,
        argMax(os_pretty, seen_at) AS host_os,
        argMax(os_eol_date, seen_at) AS host_os_eol_date
    FROM hosts
    GROUP BY host_id
)
WHERE match(host_os_eol_date, '^[0-9]{4}-[0-9]{2}-[0-9]{2}$') AND host_os_eol_date <= '%s'
ORDER BY host_id`, limit)
}

// kernelNumberSQL turns the first three numbers of a kernel release such
// as "5.10.0-28-amd64" into major*10^12 + minor*10^6 + patch, so that
// versions compare as numbers.
const kernelNumberSQL = `toUInt64OrZero(extractAll(host_kernel, '[0-9]+')[1]) * 1000000000000
            + toUInt64OrZero(extractAll(host_kernel, '[0-9]+')[2]) * 1000000
            + toUInt64OrZero(extractAll(host_kernel, '[0-9]+')[3])`

// hostKernelFloorQuery returns the query of a KindHostKernelFloor rule.
// Hosts with an empty kernel field do not match.
func hostKernelFloorQuery(r Rule) string {
	k := r.Policy.KernelParts
	floor := k[0]*1000000000000 + k[1]*1000000 + k[2]
	return fmt.Sprintf(`SELECT
    '' AS container_id,
    host_id,
    '' AS image_id,
    concat('Host ', if(host_name = '', host_id, host_name), ' runs kernel ', host_kernel, ', older than %s') AS summary,
    concat('kernel ', host_kernel, ' < %s') AS driver
FROM
(
    SELECT host_id, host_name, host_kernel, %s AS kernel_number
    FROM
    (
        SELECT host_id, argMax(hostname, seen_at) AS host_name, argMax(kernel, seen_at) AS host_kernel
        FROM hosts
        GROUP BY host_id
    )
    WHERE host_kernel != ''
)
WHERE kernel_number < %d
ORDER BY host_id`, r.Policy.MinKernel, r.Policy.MinKernel, kernelNumberSQL, floor)
}

// hostUnexpectedPortQuery returns the query of a KindHostUnexpectedPort
// rule: one row per listener outside the allow list. It reads
// hosts.listeners, an Array(String) of entries such as
// "tcp 127.0.0.1:22 sshd" (protocol, address and port, process).
func hostUnexpectedPortQuery(r Rule) string {
	var ports, protocolPorts []string
	for _, p := range r.Policy.AllowedPorts {
		if strings.Contains(p, "/") {
			protocolPorts = append(protocolPorts, p)
		} else {
			ports = append(ports, p)
		}
	}
	allowed := []string{}
	if len(ports) > 0 {
		allowed = append(allowed, fmt.Sprintf("listener_port IN (%s)", quoteList(ports)))
	}
	if len(protocolPorts) > 0 {
		allowed = append(allowed, fmt.Sprintf("concat(listener_protocol, '/', listener_port) IN (%s)", quoteList(protocolPorts)))
	}
	return fmt.Sprintf(`SELECT
    '' AS container_id,
    host_id,
    '' AS image_id,
    concat('Host ', if(host_name = '', host_id, host_name), ' listens on ports outside its allow list') AS summary,
    concat(listener_protocol, '/', listener_port, ' (', listener, ')') AS driver
FROM
(
    SELECT
        host_id,
        host_name,
        listener,
        lower(splitByChar(' ', listener)[1]) AS listener_protocol,
        extract(listener, ':([0-9]+)(?: |$)') AS listener_port
    FROM
    (
        SELECT host_id, argMax(hostname, seen_at) AS host_name, argMax(listeners, seen_at) AS host_listeners
        FROM hosts
        GROUP BY host_id
    )
    ARRAY JOIN host_listeners AS listener
)
WHERE listener_port != '' AND NOT (%s)
ORDER BY host_id, driver`, strings.Join(allowed, " OR "))
}

// containerPortQuery returns the query of a KindContainerPort rule: one
// row per published port of a running container whose host port is
// outside the allow list. It reads containers.ports, an Array(String) of
// entries such as "tcp 0.0.0.0:8080->80" or "tcp [::]:8080->80" (protocol,
// host address and host port, container port).
func containerPortQuery(r Rule) string {
	var ports, protocolPorts []string
	for _, p := range r.Policy.AllowedPorts {
		if strings.Contains(p, "/") {
			protocolPorts = append(protocolPorts, p)
		} else {
			ports = append(ports, p)
		}
	}
	allowed := []string{}
	if len(ports) > 0 {
		allowed = append(allowed, fmt.Sprintf("binding_host_port IN (%s)", quoteList(ports)))
	}
	if len(protocolPorts) > 0 {
		allowed = append(allowed, fmt.Sprintf("concat(binding_protocol, '/', binding_host_port) IN (%s)", quoteList(protocolPorts)))
	}
	public := ""
	if r.Policy.PublicOnly {
		public = " AND binding_public = 1"
	}
	return fmt.Sprintf(`SELECT
    container_id,
    container_host_id AS host_id,
    container_image_id AS image_id,
    concat('Container ', %s, ' publishes ports outside its allow list') AS summary,
    concat(binding_protocol, '/', binding_host_port, ' (', binding, ')') AS driver
FROM
(
    SELECT
        container_id,
        container_name,
        container_host_id,
        container_image_id,
        binding,
        lower(splitByChar(' ', binding)[1]) AS binding_protocol,
        extract(binding, ':([0-9]+)->') AS binding_host_port,
        position(binding, ' 0.0.0.0:') > 0 OR position(binding, ' [::]:') > 0 AS binding_public
    FROM
    (
        SELECT
            container_id,
            argMax(name, seen_at) AS container_name,
            argMax(host_id, seen_at) AS container_host_id,
            argMax(image_id, seen_at) AS container_image_id,
            argMax(running, seen_at) AS container_running,
            argMax(ports, seen_at) AS container_ports
        FROM containers
        GROUP BY container_id
    )
    ARRAY JOIN container_ports AS binding
    WHERE container_running = 1
)
WHERE binding_host_port != '' AND NOT (%s)%s
ORDER BY container_id, driver`, containerLabelSQL, strings.Join(allowed, " OR "), public)
}

// logMatchQuery returns the query of a KindLogMatch rule: the containers
// with at least Threshold matching lines in (at - Window, at]. Lines are
// counted once per record id, because the events table may hold a record
// twice until a merge.
func logMatchQuery(r Rule, at time.Time) string {
	startNs := at.Add(-r.Policy.Window).UnixNano()
	endNs := at.UnixNano()
	condition := fmt.Sprintf("match(message, %s)", quoteString(r.Policy.Pattern))
	what := "pattern " + r.Policy.Pattern
	if r.Policy.TemplateID != 0 {
		condition = fmt.Sprintf("template_id = %d", r.Policy.TemplateID)
		what = fmt.Sprintf("template %d", r.Policy.TemplateID)
	}
	return fmt.Sprintf(`SELECT
    container_id,
    log_host_id AS host_id,
    log_image_id AS image_id,
    concat('Container ', if(log_container_name = '', container_id, log_container_name), ' logged ',
        toString(log_lines), ' lines matching ', %s, ' within %s') AS summary,
    concat(toString(log_lines), ' lines (threshold %d), last: ', substring(log_last_message, 1, 200)) AS driver
FROM
(
    SELECT
        container_id,
        any(host_id) AS log_host_id,
        any(image_id) AS log_image_id,
        any(container_name) AS log_container_name,
        uniqExact(record_id) AS log_lines,
        argMax(message, time_ns) AS log_last_message
    FROM events
    WHERE time >= toDateTime(%d) AND time <= toDateTime(%d)
        AND time_ns > %d AND time_ns <= %d
        AND %s
    GROUP BY container_id
)
WHERE log_lines >= %d
ORDER BY container_id`, quoteString(what), r.Policy.Window, r.Policy.Threshold,
		startNs/1e9, endNs/1e9+1, startNs, endNs, condition, r.Policy.Threshold)
}

// escapeInLiteral escapes s for use inside a single-quoted string literal
// that the query text already opens and closes.
func escapeInLiteral(s string) string {
	quoted := quoteString(s)
	return quoted[1 : len(quoted)-1]
}

// policyQuery returns the query of a policy rule evaluated at at, or ""
// for the kinds that are not policies.
func policyQuery(r Rule, at time.Time) string {
	switch r.Kind {
	case KindImageAge:
		return imageAgeQuery(r, at)
	case KindImageRegistry:
		return imageRegistryQuery(r)
	case KindContainerRoot:
		return containerRootQuery()
	case KindHostOSEndOfLife:
		return hostOSEndOfLifeQuery(r, at)
	case KindHostKernelFloor:
		return hostKernelFloorQuery(r)
	case KindHostUnexpectedPort:
		return hostUnexpectedPortQuery(r)
	case KindContainerPort:
		return containerPortQuery(r)
	case KindLogMatch:
		return logMatchQuery(r, at)
	}
	return ""
}

// tableColumn is a column of a table.
type tableColumn struct {
	table, name string
}

// String returns the column as "table.name".
func (c tableColumn) String() string { return c.table + "." + c.name }

// policyColumns returns the columns that a policy kind needs beyond those
// of migration 0001. Such a rule is skipped with a warning while the
// database lacks the column.
func policyColumns(kind string) []tableColumn {
	switch kind {
	case KindHostOSEndOfLife:
		return []tableColumn{{"hosts", "os_eol_date"}}
	case KindHostUnexpectedPort:
		return []tableColumn{{"hosts", "listeners"}}
	case KindContainerPort:
		return []tableColumn{{"containers", "ports"}}
	}
	return nil
}

// columnQuery counts the columns of table named name in the current
// database.
func columnQuery(c tableColumn) string {
	return "SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = " + quoteString(c.table) + " AND name = " + quoteString(c.name)
}

// policyRowsQuery returns the query attached to an alert of a policy rule:
// the rule's rows for one container, or for one host when the alert has no
// container.
func policyRowsQuery(query, containerID, hostID string) string {
	if containerID == "" {
		return fmt.Sprintf("SELECT * FROM (%s) WHERE host_id = %s", query, quoteString(hostID))
	}
	return sqlRuleRowsQuery(query, containerID)
}

// policyCondition describes in words what a policy rule matches, for the
// alerts table's condition column.
func policyCondition(r Rule) string {
	p := r.Policy
	switch r.Kind {
	case KindImageAge:
		return fmt.Sprintf("running image first seen more than %d days ago", p.MaxDays)
	case KindImageRegistry:
		return "running image from a registry not in [" + strings.Join(p.Registries, ", ") + "]"
	case KindContainerRoot:
		return "running container privileged or with user '', root or 0"
	case KindHostOSEndOfLife:
		return fmt.Sprintf("host OS end of life within %d days", p.WithinDays)
	case KindHostKernelFloor:
		return "host kernel older than " + p.MinKernel
	case KindHostUnexpectedPort:
		return "host listening port not in [" + strings.Join(p.AllowedPorts, ", ") + "]"
	case KindContainerPort:
		scope := "published"
		if p.PublicOnly {
			scope = "published on 0.0.0.0 or ::"
		}
		return "running container host port " + scope + " not in [" + strings.Join(p.AllowedPorts, ", ") + "]"
	case KindLogMatch:
		what := fmt.Sprintf("match(message, %s)", quoteString(p.Pattern))
		if p.TemplateID != 0 {
			what = fmt.Sprintf("template_id = %d", p.TemplateID)
		}
		return fmt.Sprintf("at least %d lines with %s within %s", p.Threshold, what, p.Window)
	case KindRunningImageFixableVuln:
		return "running image with a fixable " + strings.Join(r.VulnSeverities, " or ") + " vulnerability"
	case KindSQL:
		return "sql rule returned rows"
	}
	return ""
}
