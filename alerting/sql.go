package alerting

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/harrierhq/harrier/storage"
)

// The queries in this package run on ClickHouse 18.16 as well as on current
// releases. So they use no CTEs, window functions or JSON functions, and at
// most one JOIN per SELECT, written with explicit strictness and USING. An
// alias never repeats a column name that the aliased expression reads,
// because current releases then resolve the alias inside the aggregate.

// latestContainersSQL selects the latest known state of containers.
// argMax over seen_at is used instead of FINAL because a filter on a
// non-key column of a FINAL query can be moved to PREWHERE and then run
// before the merge, which would let an older "running" row win.
// where is empty or a WHERE clause on the raw rows.
func latestContainersSQL(where string) string {
	return `SELECT
        container_id,
        argMax(name, seen_at) AS container_name,
        argMax(host_id, seen_at) AS container_host_id,
        argMax(image_ref, seen_at) AS container_image_ref,
        argMax(image_id, seen_at) AS container_image_id,
        argMax(running, seen_at) AS container_running
    FROM containers ` + where + `
    GROUP BY container_id`
}

// quoteString returns s as a ClickHouse string literal.
func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// quoteList returns values as a comma-separated list of string literals.
func quoteList(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = quoteString(v)
	}
	return strings.Join(quoted, ", ")
}

// latestScanFilterSQL keeps only the findings of each image's latest scan,
// so that a vulnerability fixed by a rebuild disappears once the image is
// scanned again.
const latestScanFilterSQL = `(image_id, scanned_at) IN (SELECT image_id, max(scanned_at) FROM vulnerabilities GROUP BY image_id)`

// fixableVulnQuery returns the query of a KindRunningImageFixableVuln rule:
// one row per running container and matching finding of its image's latest
// scan. Repeats of a finding that the table has not merged yet collapse in
// the GROUP BY.
func fixableVulnQuery(severities []string) string {
	return fmt.Sprintf(`SELECT
    container_id, container_name, container_host_id, container_image_ref, image_id,
    vuln_id, package, vuln_installed_version, vuln_fixed_version, vuln_severity
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
    SELECT
        image_id, vuln_id, package,
        any(installed_version) AS vuln_installed_version,
        any(fixed_version) AS vuln_fixed_version,
        any(severity) AS vuln_severity
    FROM vulnerabilities
    WHERE severity IN (%s) AND fixed_version != ''
        AND %s
    GROUP BY image_id, vuln_id, package
) AS findings
USING image_id
ORDER BY container_id, vuln_id, package`, latestContainersSQL(""), quoteList(severities), latestScanFilterSQL)
}

// fixableVulnRowsQuery returns a query that lists the findings behind one
// alert of a KindRunningImageFixableVuln rule, for `harrier sql`.
func fixableVulnRowsQuery(imageID string, severities []string) string {
	return fmt.Sprintf("SELECT vuln_id, package, installed_version, fixed_version, severity, title, scanner, scanned_at"+
		" FROM vulnerabilities FINAL"+
		" WHERE image_id = %s AND severity IN (%s) AND fixed_version != ''"+
		" AND scanned_at = (SELECT max(scanned_at) FROM vulnerabilities WHERE image_id = %s)"+
		" ORDER BY vuln_id, package",
		quoteString(imageID), quoteList(severities), quoteString(imageID))
}

// sqlRuleRowsQuery returns a query that lists the rows of a KindSQL rule
// behind its alert for one container.
func sqlRuleRowsQuery(ruleQuery, containerID string) string {
	return fmt.Sprintf("SELECT * FROM (%s) WHERE container_id = %s", ruleQuery, quoteString(containerID))
}

// containerInfoQuery returns the latest name, host, image reference and
// image id of the given containers.
func containerInfoQuery(containerIDs []string) string {
	return latestContainersSQL("WHERE container_id IN (" + quoteList(containerIDs) + ")")
}

// Queries returns every SQL statement that the rules send to ClickHouse:
// each rule's query and a sample of the query attached to its alerts, with
// sampleContainerID and sampleImageID in place of the real ids. It adds the
// queries of the example policy rules (rules/policies.yaml), of alert plots
// and of silences. Tests run them on every supported ClickHouse version.
func Queries(rules []Rule, sampleContainerID, sampleImageID string) []string {
	var out []string
	for _, r := range rules {
		switch r.Kind {
		case KindSQL:
			out = append(out, r.Query, sqlRuleRowsQuery(r.Query, sampleContainerID))
		case KindRunningImageFixableVuln:
			out = append(out, fixableVulnQuery(r.VulnSeverities), fixableVulnRowsQuery(sampleImageID, r.VulnSeverities))
		}
	}
	out = append(out, containerInfoQuery([]string{sampleContainerID}))

	// The policy kinds are covered by the example rules, whatever rules
	// were passed in.
	samples, err := PolicyExamples()
	if err != nil {
		panic(fmt.Sprintf("embedded %s: %v", PolicyExamplesName, err))
	}
	at := queriesSampleTime
	for _, r := range append(slices.Clone(rules), samples...) {
		query := policyQuery(r, at)
		if query == "" || !policyColumnsShipped(r.Kind) {
			continue
		}
		out = append(out, query, policyRowsQuery(query, sampleContainerID, ""), policyRowsQuery(query, "", sampleContainerID))
	}
	for _, kind := range []string{KindHostOSEndOfLife, KindHostUnexpectedPort, KindContainerPort} {
		for _, c := range policyColumns(kind) {
			out = append(out, columnQuery(c))
		}
	}
	out = append(out, postureQueries(rules)...)
	out = append(out, plotQueries(sampleContainerID)...)
	out = append(out, silencesQuery(queriesSampleTime), silenceIDsQuery)
	return out
}

// queriesSampleTime is the evaluation time of the queries that Queries
// returns.
var queriesSampleTime = time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)

// policyColumnsShipped reports whether the migrations create every column
// beyond migration 0001 that a policy kind reads, so that Queries leaves
// out the queries that cannot run yet.
func policyColumnsShipped(kind string) bool {
	columns := policyColumns(kind)
	if len(columns) == 0 {
		return true
	}
	migrations, err := storage.Migrations()
	if err != nil {
		return false
	}
	for _, c := range columns {
		found := false
		for _, m := range migrations {
			for _, stmt := range m.Statements {
				if strings.Contains(stmt, c.name) {
					found = true
				}
			}
		}
		if !found {
			return false
		}
	}
	return true
}
