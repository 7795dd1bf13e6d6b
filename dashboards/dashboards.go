// Package dashboards builds Harrier's Grafana dashboards as code with the
// Grafana foundation SDK: the SOC overview, the container drill-down, the
// fleet vulnerabilities and the pipeline health. `harrier dashboards
// export DIR` writes them as JSON; json/ contains the exported files, which
// docker-compose.yml provisions. Their panels query the Harrier data
// source (package datasource), except the pipeline panels that read the
// roles' Prometheus metrics.
package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/harrierhq/harrier/dashboards/datasource"
	"github.com/harrierhq/harrier/storage"
)

// Board is one dashboard and the file it is exported to.
type Board struct {
	// File is the JSON file name, such as "soc-overview.json".
	File      string
	Dashboard dashboard.Dashboard
}

// Build builds every dashboard, sorted by file name. The end-of-life
// hosts panel is included when a migration adds hosts.os_eol_date.
func Build() ([]Board, error) {
	hasEOL, err := schemaHasColumn("os_eol_date")
	if err != nil {
		return nil, err
	}
	builders := map[string]*dashboard.DashboardBuilder{
		"soc-overview.json":          socOverview(),
		"container-drill-down.json":  containerDrillDown(),
		"fleet-vulnerabilities.json": fleetVulnerabilities(hasEOL),
		"pipeline-health.json":       pipelineHealth(),
	}
	var out []Board
	for file, b := range builders {
		d, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("build dashboard %s: %w", file, err)
		}
		out = append(out, Board{File: file, Dashboard: d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

// schemaHasColumn reports whether a migration statement names column.
func schemaHasColumn(column string) (bool, error) {
	migrations, err := storage.Migrations()
	if err != nil {
		return false, fmt.Errorf("read migrations: %w", err)
	}
	for _, m := range migrations {
		for _, stmt := range m.Statements {
			if strings.Contains(stmt, column) {
				return true, nil
			}
		}
	}
	return false, nil
}

// JSON returns each dashboard's JSON, indented, keyed by file name.
func JSON() (map[string][]byte, error) {
	boards, err := Build()
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, b := range boards {
		data, err := json.MarshalIndent(b.Dashboard, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encode dashboard %s: %w", b.File, err)
		}
		out[b.File] = append(data, '\n')
	}
	return out, nil
}

// Export writes every dashboard's JSON into dir, creating dir when
// missing, and returns the paths written.
func Export(dir string) ([]string, error) {
	files, err := JSON()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create dashboard directory %s: %w", dir, err)
	}
	var paths []string
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return nil, fmt.Errorf("write dashboard %s: %w", path, err)
		}
		paths = append(paths, path)
	}
	sort.Strings(paths)
	return paths, nil
}

// Target is a panel target as exported: a Harrier data source query, or
// a Prometheus query in Expr.
type Target struct {
	RefID      string `json:"refId"`
	Datasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	datasource.Query
	// Expr is the PromQL expression of a Prometheus target.
	Expr string `json:"expr"`
}

// Harrier reports whether t queries the Harrier data source.
func (t Target) Harrier() bool { return t.Datasource.Type == datasource.PluginID }

// Panel is the part of an exported panel the tests and tools read.
type Panel struct {
	Title   string   `json:"title"`
	Type    string   `json:"type"`
	Targets []Target `json:"targets"`
}

// Dashboard is the part of an exported dashboard the tests and tools read.
type Dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []Panel `json:"panels"`
}

// All returns every dashboard decoded from its exported JSON, keyed by
// file name.
func All() (map[string]Dashboard, error) {
	files, err := JSON()
	if err != nil {
		return nil, err
	}
	out := map[string]Dashboard{}
	for name, data := range files {
		var d Dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, fmt.Errorf("dashboard %s: invalid JSON: %w", name, err)
		}
		out[name] = d
	}
	return out, nil
}

// Statement is the SQL of one panel target with its parameters written
// in as literals, so it runs outside Grafana.
type Statement struct {
	// Source names the target, such as
	// `dashboard soc-overview.json panel "Recent alerts" target A`.
	Source string
	SQL    string
}

// Statements returns the SQL of every Harrier target for the time range
// from-to with one-minute buckets. Dashboard variables such as $container
// are replaced by the values in vars, keyed by name without the "$".
// Statements name tables without a database.
func Statements(from, to time.Time, vars map[string]string) ([]Statement, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	var names []string
	for name := range all {
		names = append(names, name)
	}
	sort.Strings(names)

	var out []Statement
	for _, name := range names {
		for _, p := range all[name].Panels {
			for _, t := range p.Targets {
				if !t.Harrier() {
					continue
				}
				source := fmt.Sprintf("dashboard %s panel %q target %s", name, p.Title, t.RefID)
				q := substitute(t.Query, vars)
				sql, args, err := q.Statement(from, to, datasource.MinInterval, datasource.DefaultMaxRows)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", source, err)
				}
				inlined, err := inline(sql, args)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", source, err)
				}
				out = append(out, Statement{Source: source, SQL: inlined})
			}
		}
	}
	return out, nil
}

// substitute replaces $name in the filter fields of q, as Grafana does
// before it sends the query.
func substitute(q datasource.Query, vars map[string]string) datasource.Query {
	for _, field := range []*string{&q.ContainerID, &q.HostID, &q.ImageID, &q.Severity, &q.Rule, &q.Model} {
		for name, value := range vars {
			*field = strings.ReplaceAll(*field, "$"+name, value)
		}
	}
	return q
}

// inline writes args into the "?" placeholders of sql as ClickHouse
// literals. It handles only the types the data source binds (integers and
// strings) and placeholders outside string literals, which is all the
// dashboards use.
func inline(sql string, args []any) (string, error) {
	var b strings.Builder
	next := 0
	for i := 0; i < len(sql); i++ {
		if sql[i] != '?' {
			b.WriteByte(sql[i])
			continue
		}
		if next == len(args) {
			return "", fmt.Errorf("statement has more placeholders than its %d arguments", len(args))
		}
		switch v := args[next].(type) {
		case int:
			b.WriteString(strconv.Itoa(v))
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case string:
			b.WriteString("'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'")
		default:
			return "", fmt.Errorf("argument %d has type %T: only integers and strings can be inlined", next, v)
		}
		next++
	}
	if next != len(args) {
		return "", fmt.Errorf("statement has %d placeholders for %d arguments", next, len(args))
	}
	return b.String(), nil
}

// sampleRange is the range Query.Validate builds statements for.
func sampleRange() (from, to time.Time, interval time.Duration, maxRows int) {
	to = time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)
	return to.Add(-24 * time.Hour), to, datasource.MinInterval, datasource.DefaultMaxRows
}
