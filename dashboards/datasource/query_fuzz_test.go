package datasource

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzQuery checks that any query model either fails with an error or
// builds a statement with one argument per placeholder the data source
// added, and that no filter value is spliced into the SQL.
func FuzzQuery(f *testing.F) {
	for _, seed := range []string{
		`{"queryType":"alerts","severity":"critical","limit":10}`,
		`{"queryType":"scores","containerId":"c4dd52f960e2"}`,
		`{"queryType":"topContainers","hostId":"h1","limit":5}`,
		`{"queryType":"vulnerabilities","severity":"CRITICAL"}`,
		`{"queryType":"sql","rawSql":"SELECT $__timeGroup(window_start) AS time, count() FROM scores WHERE $__timeFilter(window_start) GROUP BY time"}`,
		`{"queryType":"sql","rawSql":"SELECT $__fromTime, $__toTime, $__interval_s"}`,
		`{"queryType":"sql","rawSql":"SELECT 1 WHERE $__timeFilter(now())"}`,
		`{"queryType":"alerts","rule":"'; DROP TABLE alerts; --"}`,
		`{"limit":-1}`,
	} {
		f.Add([]byte(seed))
	}
	tr := timeRange{from: time.Unix(1764496800, 0), to: time.Unix(1764500400, 0), interval: time.Minute}
	f.Fuzz(func(t *testing.T, raw []byte) {
		q, err := ParseQuery(json.RawMessage(raw), "")
		if err != nil {
			return
		}
		stmt, err := q.build(tr, 100)
		if err != nil {
			return
		}
		if q.QueryType == QueryTypeSQL {
			added := strings.Count(stmt.sql, "?") - strings.Count(q.RawSQL, "?")
			if added != len(stmt.args) {
				t.Fatalf("%q: macros added %d placeholders and %d arguments", q.RawSQL, added, len(stmt.args))
			}
			return
		}
		if got := strings.Count(stmt.sql, "?"); got != len(stmt.args) {
			t.Fatalf("%s: %d placeholders, %d arguments", stmt.sql, got, len(stmt.args))
		}
		for _, v := range []string{q.ContainerID, q.HostID, q.ImageID, q.Severity, q.Rule, q.Model} {
			if len(v) > 3 && strings.Contains(stmt.sql, v) {
				t.Fatalf("value %q spliced into %s", v, stmt.sql)
			}
		}
	})
}
