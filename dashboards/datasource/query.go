package datasource

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Query types, the values of a query's queryType.
const (
	QueryTypeAlerts          = "alerts"
	QueryTypeScores          = "scores"
	QueryTypeTopContainers   = "topContainers"
	QueryTypeVulnerabilities = "vulnerabilities"
	QueryTypeSQL             = "sql"
)

// QueryTypes lists every query type the data source serves.
var QueryTypes = []string{QueryTypeAlerts, QueryTypeScores, QueryTypeTopContainers, QueryTypeVulnerabilities, QueryTypeSQL}

// MinInterval is the smallest bucket of the scores query: the feature
// window, one minute.
const MinInterval = time.Minute

// Query is the JSON model of one panel query. Every string field is sent
// to ClickHouse as a bound parameter, never as SQL text, except RawSQL,
// which runs read-only.
type Query struct {
	// QueryType selects the SQL: one of QueryTypes. Grafana also sends it
	// outside the model; the model's value wins when both are set.
	QueryType string `json:"queryType"`
	// ContainerID, HostID and ImageID restrict the rows to one entity when
	// set.
	ContainerID string `json:"containerId,omitempty"`
	HostID      string `json:"hostId,omitempty"`
	ImageID     string `json:"imageId,omitempty"`
	// Severity restricts alerts and vulnerabilities to one severity, such
	// as "critical" or "CRITICAL" (compared as stored).
	Severity string `json:"severity,omitempty"`
	// Rule restricts alerts to one rule name.
	Rule string `json:"rule,omitempty"`
	// Model restricts scores to one model name.
	Model string `json:"model,omitempty"`
	// RawSQL is the statement of the "sql" query type. It may use the
	// macros $__timeFilter(column), $__timeGroup(column), $__fromTime,
	// $__toTime and $__interval_s.
	RawSQL string `json:"rawSql,omitempty"`
	// Limit caps the rows returned. 0 or a value above the data source's
	// row limit means the row limit.
	Limit int `json:"limit,omitempty"`
}

// statement is SQL with its positional parameters.
type statement struct {
	sql  string
	args []any
}

// timeRange is the panel's time range and bucket width.
type timeRange struct {
	from, to time.Time
	interval time.Duration
}

// ParseQuery decodes a query model.
func ParseQuery(raw json.RawMessage, queryType string) (Query, error) {
	var q Query
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &q); err != nil {
			return Query{}, fmt.Errorf("invalid query JSON: %w", err)
		}
	}
	if q.QueryType == "" {
		q.QueryType = queryType
	}
	if q.Limit < 0 {
		return Query{}, fmt.Errorf("invalid limit %d: use 0 for the data source's row limit or a positive number", q.Limit)
	}
	return q, nil
}

// rowLimit returns the smaller of q.Limit and maxRows.
func (q Query) rowLimit(maxRows int) int {
	if q.Limit > 0 && q.Limit < maxRows {
		return q.Limit
	}
	return maxRows
}

// build returns the statement of q. maxRows is the data source's row
// limit, and the statement requests one row more, so that a cut result can be
// reported.
func (q Query) build(tr timeRange, maxRows int) (statement, error) {
	limit := q.rowLimit(maxRows)
	switch q.QueryType {
	case QueryTypeAlerts:
		return q.alerts(tr, limit), nil
	case QueryTypeScores:
		return q.scores(tr, limit), nil
	case QueryTypeTopContainers:
		return q.topContainers(tr, limit), nil
	case QueryTypeVulnerabilities:
		return q.vulnerabilities(limit), nil
	case QueryTypeSQL:
		return q.sql(tr)
	case "":
		return statement{}, fmt.Errorf("missing queryType: use one of %s", strings.Join(QueryTypes, ", "))
	default:
		return statement{}, fmt.Errorf("invalid queryType %q: use one of %s", q.QueryType, strings.Join(QueryTypes, ", "))
	}
}

// filter collects "column = ?" conditions for the fields that are set.
type filter struct {
	conditions []string
	args       []any
}

func (f *filter) timeWithin(column string, tr timeRange) {
	f.conditions = append(f.conditions, column+" >= toDateTime(?) AND "+column+" <= toDateTime(?)")
	f.args = append(f.args, tr.from.Unix(), tr.to.Unix())
}

func (f *filter) equal(column, value string) {
	if value == "" {
		return
	}
	f.conditions = append(f.conditions, column+" = ?")
	f.args = append(f.args, value)
}

func (f *filter) where() string {
	if len(f.conditions) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conditions, " AND ")
}

func (q Query) alerts(tr timeRange, limit int) statement {
	var f filter
	f.timeWithin("raised_at", tr)
	f.equal("severity", q.Severity)
	f.equal("name", q.Rule)
	f.equal("container_id", q.ContainerID)
	f.equal("host_id", q.HostID)
	f.equal("image_id", q.ImageID)
	sql := "SELECT raised_at AS time, severity, source, name, container_id, container_name, host_id, image_ref, score, threshold, summary" +
		" FROM alerts FINAL" + f.where() + " ORDER BY raised_at DESC LIMIT ?"
	return statement{sql: sql, args: append(f.args, limit+1)}
}

// scores returns the maximum score and threshold per bucket. Without a
// container it returns one series per container, in long format.
func (q Query) scores(tr timeRange, limit int) statement {
	seconds := int64(tr.interval / time.Second)
	var f filter
	f.timeWithin("window_start", tr)
	f.equal("container_id", q.ContainerID)
	f.equal("host_id", q.HostID)
	f.equal("image_id", q.ImageID)
	f.equal("model", q.Model)
	group := "time"
	if q.ContainerID == "" {
		group = "time, container_id"
	}
	sql := "SELECT toDateTime(intDiv(toUInt32(window_start), ?) * ?) AS time"
	if q.ContainerID == "" {
		sql += ", container_id"
	}
	sql += ", max(score) AS score, max(threshold) AS threshold FROM scores FINAL" + f.where() +
		" GROUP BY " + group + " ORDER BY " + group + " LIMIT ?"
	args := append([]any{seconds, seconds}, f.args...)
	return statement{sql: sql, args: append(args, limit+1)}
}

func (q Query) topContainers(tr timeRange, limit int) statement {
	var f filter
	f.timeWithin("window_start", tr)
	f.equal("host_id", q.HostID)
	f.equal("image_id", q.ImageID)
	f.equal("model", q.Model)
	sql := "SELECT container_id, any(host_id) AS host_id, any(image_id) AS image_id, max(score) AS max_score," +
		" max(threshold) AS threshold, toUInt64(sum(anomalous)) AS anomalous_windows, count() AS windows" +
		" FROM scores FINAL" + f.where() + " GROUP BY container_id ORDER BY max_score DESC, container_id LIMIT ?"
	return statement{sql: sql, args: append(f.args, limit+1)}
}

// vulnerabilities counts the fixable vulnerabilities of running
// containers per host, image and severity. Scans have no time range, so
// the panel's range does not apply.
func (q Query) vulnerabilities(limit int) statement {
	var f filter
	f.equal("severity", q.Severity)
	f.equal("host_id", q.HostID)
	f.equal("image_id", q.ImageID)
	f.equal("container_id", q.ContainerID)
	sql := "SELECT host_id, image_ref, severity, uniqExact(vuln_id) AS vulnerabilities, uniqExact(container_id) AS containers" +
		" FROM running_vulnerable_containers" + f.where() +
		" GROUP BY host_id, image_ref, severity ORDER BY vulnerabilities DESC, host_id, image_ref, severity LIMIT ?"
	return statement{sql: sql, args: append(f.args, limit+1)}
}

var (
	macroPattern = regexp.MustCompile(`\$__(timeFilter|timeGroup)\(([^)]*)\)|\$__(fromTime|toTime|interval_s|containerId|hostId|imageId|severity|rule|model)\b`)
	columnName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)
)

func (q Query) sql(tr timeRange) (statement, error) {
	if strings.TrimSpace(q.RawSQL) == "" {
		return statement{}, fmt.Errorf("missing rawSql: the sql query type needs a SELECT statement")
	}
	text, args, err := ExpandMacros(q.RawSQL, tr.from, tr.to, tr.interval, q.values())
	if err != nil {
		return statement{}, err
	}
	return statement{sql: text, args: args}, nil
}

// values returns the query's filter fields by the name of their macro.
func (q Query) values() map[string]string {
	return map[string]string{
		"containerId": q.ContainerID,
		"hostId":      q.HostID,
		"imageId":     q.ImageID,
		"severity":    q.Severity,
		"rule":        q.Rule,
		"model":       q.Model,
	}
}

// ExpandMacros replaces the macros of sql with positional parameters and
// returns their values, in order:
//
//	$__timeFilter(col)  col >= toDateTime(from) AND col <= toDateTime(to)
//	$__timeGroup(col)   col rounded down to a multiple of the interval
//	$__fromTime         toDateTime(from)
//	$__toTime           toDateTime(to)
//	$__interval_s       the interval in whole seconds (at least 1)
//	$__containerId      the query's containerId, as a String parameter
//	$__hostId, $__imageId, $__severity, $__rule, $__model  likewise
//
// values contains the filter fields by macro name; a missing one binds "".
// The argument of $__timeFilter and $__timeGroup must be a column name,
// optionally qualified by a table.
//
// NOTE: clickhouse-go binds every "?" outside string literals and quoted
// identifiers, so raw SQL that uses macros must write any other "?" as
// "\?".
func ExpandMacros(sql string, from, to time.Time, interval time.Duration, values map[string]string) (string, []any, error) {
	seconds := int64(interval / time.Second)
	if seconds < 1 {
		seconds = 1
	}
	var args []any
	var failed error
	out := macroPattern.ReplaceAllStringFunc(sql, func(m string) string {
		parts := macroPattern.FindStringSubmatch(m)
		switch {
		case parts[1] != "":
			column := strings.TrimSpace(parts[2])
			if !columnName.MatchString(column) {
				if failed == nil {
					failed = fmt.Errorf("invalid column %q in $__%s: use a column name such as raised_at", column, parts[1])
				}
				return m
			}
			if parts[1] == "timeFilter" {
				args = append(args, from.Unix(), to.Unix())
				return column + " >= toDateTime(?) AND " + column + " <= toDateTime(?)"
			}
			args = append(args, seconds, seconds)
			return "toDateTime(intDiv(toUInt32(" + column + "), ?) * ?)"
		case parts[3] == "fromTime":
			args = append(args, from.Unix())
			return "toDateTime(?)"
		case parts[3] == "toTime":
			args = append(args, to.Unix())
			return "toDateTime(?)"
		case parts[3] == "interval_s":
			args = append(args, seconds)
			return "?"
		default:
			args = append(args, values[parts[3]])
			return "?"
		}
	})
	if failed != nil {
		return "", nil, failed
	}
	return out, args, nil
}

// Statement returns the SQL of q and its positional parameters for the
// time range from-to with buckets of interval, capped at maxRows rows.
func (q Query) Statement(from, to time.Time, interval time.Duration, maxRows int) (string, []any, error) {
	stmt, err := q.build(timeRange{from: from, to: to, interval: interval}, maxRows)
	return stmt.sql, stmt.args, err
}
