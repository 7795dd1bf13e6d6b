package storage

import "fmt"

// Inventory kinds that `harrier inventory` lists.
const (
	InventoryHosts      = "hosts"
	InventoryImages     = "images"
	InventoryContainers = "containers"
	InventoryPolicies   = "policies"
)

// InventoryKinds lists the inventory kinds in the order they are printed.
var InventoryKinds = []string{InventoryHosts, InventoryImages, InventoryContainers, InventoryPolicies}

// InventoryQuery returns the query that lists one inventory kind with
// first- and last-seen times:
//
//   - hosts register when their collector starts and send their facts
//     again when they change and hourly;
//   - images register when a scan report or a running container names
//     them, and last_run is the last time a running container did;
//   - containers register when the collector first reads them;
//   - policies register when the alert role loads them, and their last
//     evaluation is the newest posture result they wrote.
func InventoryQuery(kind string) (string, error) {
	switch kind {
	case InventoryHosts:
		return `SELECT
    host_id,
    argMax(hostname, seen_at) AS host_name,
    argMax(os_pretty, seen_at) AS operating_system,
    argMax(kernel, seen_at) AS kernel_release,
    min(seen_at) AS first_seen,
    max(seen_at) AS last_seen
FROM hosts
GROUP BY host_id
ORDER BY host_name, host_id`, nil
	case InventoryImages:
		return `SELECT
    image_id,
    argMax(image_ref, sighting_at) AS reference,
    max(scan_at) AS newest_scan,
    max(run_at) AS last_run,
    min(sighting_at) AS first_seen,
    max(sighting_at) AS last_seen
FROM
(
    SELECT image_id, image_ref, scanned_at AS scan_at, toDateTime(0) AS run_at, scanned_at AS sighting_at
    FROM images WHERE image_id != ''
    UNION ALL
    SELECT image_id, image_ref, toDateTime(0) AS scan_at, seen_at AS run_at, seen_at AS sighting_at
    FROM containers WHERE image_id != '' AND running = 1
)
GROUP BY image_id
ORDER BY reference, image_id`, nil
	case InventoryContainers:
		return `SELECT
    container_id,
    argMax(name, seen_at) AS container_name,
    argMax(host_id, seen_at) AS container_host_id,
    argMax(image_ref, seen_at) AS container_image_ref,
    argMax(running, seen_at) AS container_running,
    min(seen_at) AS first_seen,
    max(seen_at) AS last_seen
FROM containers
GROUP BY container_id
ORDER BY container_name, container_id`, nil
	case InventoryPolicies:
		return `SELECT
    policy,
    policy_group_name,
    policy_severity,
    policy_enabled,
    policy_benchmark,
    first_loaded,
    last_loaded,
    last_evaluated
FROM
(
    SELECT
        policy,
        argMax(policy_group, loaded_ns) AS policy_group_name,
        argMax(severity, loaded_ns) AS policy_severity,
        argMax(enabled, loaded_ns) AS policy_enabled,
        argMax(benchmark, loaded_ns) AS policy_benchmark,
        min(loaded_at) AS first_loaded,
        max(loaded_at) AS last_loaded
    FROM posture_policies
    GROUP BY policy
) AS loaded
ALL LEFT JOIN
(
    SELECT policy, max(last_seen) AS last_evaluated FROM posture_results GROUP BY policy
) AS evaluated
USING policy
ORDER BY policy`, nil
	}
	return "", fmt.Errorf("invalid inventory kind %q: expected hosts, images, containers or policies", kind)
}
