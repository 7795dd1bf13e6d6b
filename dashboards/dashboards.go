// Package dashboards holds Harrier's Grafana dashboards. The JSON files in
// json/ are provisioned by docker-compose.yml; their panels query ClickHouse
// through the grafana-clickhouse-datasource plugin.
package dashboards

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
)

//go:embed json/*.json
var files embed.FS

// Panel is the part of a Grafana panel the tests and tools read.
type Panel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		RawSQL string `json:"rawSql"`
	} `json:"targets"`
}

// Dashboard is the part of a Grafana dashboard the tests and tools read.
type Dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []Panel `json:"panels"`
}

// All returns every bundled dashboard, keyed by file name.
func All() (map[string]Dashboard, error) {
	out := map[string]Dashboard{}
	entries, err := fs.ReadDir(files, "json")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		data, err := files.ReadFile("json/" + e.Name())
		if err != nil {
			return nil, err
		}
		var d Dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, fmt.Errorf("dashboard %s: invalid JSON: %w", e.Name(), err)
		}
		out[e.Name()] = d
	}
	return out, nil
}

var timeFilter = regexp.MustCompile(`\$__timeFilter\(([a-z_]+)\)`)

// ExpandMacros replaces the plugin's time macros with a fixed range of
// Unix seconds, so a panel's SQL can run outside Grafana.
func ExpandMacros(sql string, fromS, toS int64) string {
	sql = timeFilter.ReplaceAllString(sql, fmt.Sprintf("$1 >= toDateTime(%d) AND $1 <= toDateTime(%d)", fromS, toS))
	sql = strings.ReplaceAll(sql, "$__fromTime", fmt.Sprintf("toDateTime(%d)", fromS))
	sql = strings.ReplaceAll(sql, "$__toTime", fmt.Sprintf("toDateTime(%d)", toS))
	return sql
}
