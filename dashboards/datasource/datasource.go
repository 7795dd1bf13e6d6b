// Package datasource is Harrier's Grafana backend data source. It queries
// Harrier's ClickHouse tables with fixed statements whose user-supplied
// values are bound parameters (alerts, anomaly scores, top anomalous
// containers, vulnerabilities) and runs read-only raw SQL. The plugin
// binary is cmd/harrier-datasource; plugin.json in this folder describes
// it to Grafana.
package datasource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/harrierhq/harrier/storage"
)

// PluginID is the id in plugin.json.
const PluginID = "harrierhq-harrier-datasource"

// Defaults of Settings.
const (
	DefaultMaxRows      = 10000
	DefaultQueryTimeout = 30 * time.Second
)

// Settings is the data source's configuration: the JSON data of the data
// source in Grafana, plus the password from its secure JSON data.
type Settings struct {
	// Addr is ClickHouse's native protocol host:port, such as
	// "clickhouse:9000".
	Addr string `json:"addr"`
	// Database contains Harrier's tables. Default "harrier".
	Database string `json:"database"`
	// User is the ClickHouse user. Empty means "default". Use a user with
	// read-only rights where possible: raw SQL runs with readonly=2, which
	// still lets it change settings.
	User string `json:"user"`
	// Password comes from secureJsonData.password and is never logged.
	Password string `json:"-"`
	// MaxRows caps the rows of one query. Default 10000.
	MaxRows int `json:"maxRows"`
	// QueryTimeoutSeconds is the query time limit, sent as ClickHouse's
	// max_execution_time and applied to the request context. Default 30.
	QueryTimeoutSeconds int `json:"queryTimeoutSeconds"`
}

// ParseSettings reads the settings of a Grafana data source instance.
func ParseSettings(s backend.DataSourceInstanceSettings) (Settings, error) {
	var out Settings
	if len(s.JSONData) > 0 {
		if err := json.Unmarshal(s.JSONData, &out); err != nil {
			return Settings{}, fmt.Errorf("invalid data source JSON: %w", err)
		}
	}
	out.Password = s.DecryptedSecureJSONData["password"]
	if out.Addr == "" {
		return Settings{}, errors.New("missing addr: set the ClickHouse native protocol host:port, for example clickhouse:9000")
	}
	if out.MaxRows < 0 {
		return Settings{}, fmt.Errorf("invalid maxRows %d: use 0 for the default (%d) or a positive number", out.MaxRows, DefaultMaxRows)
	}
	if out.MaxRows == 0 {
		out.MaxRows = DefaultMaxRows
	}
	if out.QueryTimeoutSeconds < 0 {
		return Settings{}, fmt.Errorf("invalid queryTimeoutSeconds %d: use 0 for the default or a positive number", out.QueryTimeoutSeconds)
	}
	if out.QueryTimeoutSeconds == 0 {
		out.QueryTimeoutSeconds = int(DefaultQueryTimeout / time.Second)
	}
	return out, nil
}

// Datasource is one configured data source instance. It implements
// backend.QueryDataHandler, backend.CheckHealthHandler and
// backend.CallResourceHandler.
type Datasource struct {
	settings  Settings
	store     *storage.Store
	resources backend.CallResourceHandler
	logger    *slog.Logger
}

// New connects to ClickHouse with settings. The caller closes the
// Datasource with Dispose.
func New(ctx context.Context, settings Settings, logger *slog.Logger) (*Datasource, error) {
	if logger == nil {
		logger = slog.Default()
	}
	store, err := storage.Open(ctx, storage.Config{
		Addr:             settings.Addr,
		Database:         settings.Database,
		User:             settings.User,
		Password:         settings.Password,
		MaxExecutionTime: time.Duration(settings.QueryTimeoutSeconds) * time.Second,
	})
	if err != nil {
		return nil, err
	}
	d := &Datasource{settings: settings, store: store, logger: logger.With("component", "datasource")}
	d.resources = httpadapter.New(d.routes())
	return d, nil
}

// NewInstance is the datasource.InstanceFactoryFunc of the plugin.
func NewInstance(ctx context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	settings, err := ParseSettings(s)
	if err != nil {
		return nil, err
	}
	return New(ctx, settings, slog.Default().With("datasource_uid", s.UID))
}

// Dispose closes the ClickHouse connections. Grafana calls it when the
// data source's settings change.
func (d *Datasource) Dispose() {
	if err := d.store.Close(); err != nil {
		d.logger.Warn("Close ClickHouse connection failed", "err", err)
	}
}

// QueryData runs each query of req and returns one response per RefID.
// A failed query gets an error response; the others still run.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	for _, q := range req.Queries {
		resp.Responses[q.RefID] = d.query(ctx, q)
	}
	return resp, nil
}

func (d *Datasource) query(ctx context.Context, dq backend.DataQuery) backend.DataResponse {
	q, err := ParseQuery(dq.JSON, dq.QueryType)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	interval := dq.Interval
	if q.QueryType == QueryTypeScores && interval < MinInterval {
		interval = MinInterval
	}
	tr := timeRange{from: dq.TimeRange.From, to: dq.TimeRange.To, interval: interval}
	stmt, err := q.build(tr, d.settings.MaxRows)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}

	ctx, cancel := context.WithTimeout(ctx, time.Duration(d.settings.QueryTimeoutSeconds)*time.Second)
	defer cancel()
	if q.QueryType == QueryTypeSQL {
		// readonly=2 rejects writes and DDL but still accepts the
		// settings the connection sends with each query.
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"readonly": 2}))
	}
	limit := q.rowLimit(d.settings.MaxRows)
	frame, truncated, err := d.run(ctx, stmt, limit)
	if err != nil {
		return d.queryError(q, dq.RefID, err)
	}
	frame.Name = dq.RefID
	if truncated {
		frame.AppendNotices(data.Notice{
			Severity: data.NoticeSeverityWarning,
			Text:     fmt.Sprintf("result cut at %d rows: narrow the query or raise the limit", limit),
		})
	}
	if q.QueryType == QueryTypeSQL && frame.Rows() > 0 && frame.TimeSeriesSchema().Type == data.TimeSeriesTypeLong {
		// Grafana's time series panel draws one series per column, so a
		// result with a time column and text columns (such as time, topic,
		// count) becomes one column per topic.
		if wide, err := data.LongToWide(frame, nil); err == nil {
			wide.Name, wide.Meta = frame.Name, frame.Meta
			frame = wide
		}
	}
	if q.QueryType == QueryTypeScores {
		frame, err = scoresFrame(frame, q.ContainerID == "")
		if err != nil {
			return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, err.Error())
		}
	}
	return backend.DataResponse{Frames: data.Frames{frame}}
}

// queryError logs err and returns a response that names the query type
// and the ClickHouse error code but not the statement or its values,
// because ClickHouse messages quote the SQL around a syntax error.
func (d *Datasource) queryError(q Query, refID string, err error) backend.DataResponse {
	d.logger.Warn("Query failed", "ref_id", refID, "query_type", q.QueryType, "err", err)
	var exception *clickhouse.Exception
	if errors.As(err, &exception) {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream,
			fmt.Sprintf("%s query failed: ClickHouse error %d (%s); the data source log has the details", q.QueryType, exception.Code, exception.Name))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return backend.ErrDataResponseWithSource(backend.StatusTimeout, backend.ErrorSourceDownstream,
			fmt.Sprintf("%s query timed out after %d s: narrow the time range or raise queryTimeoutSeconds", q.QueryType, d.settings.QueryTimeoutSeconds))
	}
	return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream,
		fmt.Sprintf("%s query failed: ClickHouse at %s is unreachable or failed; the data source log has the details", q.QueryType, d.settings.Addr))
}

// unknownDatabase is ClickHouse's error code UNKNOWN_DATABASE.
const unknownDatabase = 81

// CheckHealth reports whether ClickHouse is reachable and which migrations its
// database contains.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.store.Conn().Ping(ctx); err != nil {
		d.logger.Warn("Health check failed", "addr", d.settings.Addr, "err", err)
		var exception *clickhouse.Exception
		if errors.As(err, &exception) && exception.Code == unknownDatabase {
			return &backend.CheckHealthResult{
				Status:  backend.HealthStatusError,
				Message: fmt.Sprintf("ClickHouse is reachable, but database %s does not exist: run harrier migrate", d.store.Database()),
			}, nil
		}
		return &backend.CheckHealthResult{
			Status:  backend.HealthStatusError,
			Message: fmt.Sprintf("ClickHouse at %s is unreachable: %v", d.settings.Addr, err),
		}, nil
	}
	versions, err := d.store.AppliedVersions(ctx)
	if err != nil {
		d.logger.Warn("Health check failed", "database", d.store.Database(), "err", err)
		return &backend.CheckHealthResult{
			Status:  backend.HealthStatusError,
			Message: fmt.Sprintf("ClickHouse is reachable, but database %s has no schema: run harrier migrate (%v)", d.store.Database(), err),
		}, nil
	}
	latest := storage.LatestVersion()
	current := 0
	if len(versions) > 0 {
		current = versions[len(versions)-1]
	}
	details, _ := json.Marshal(map[string]any{"database": d.store.Database(), "applied": versions, "latest": latest})
	result := &backend.CheckHealthResult{Status: backend.HealthStatusOk, JSONDetails: details}
	switch {
	case current == 0:
		result.Status = backend.HealthStatusError
		result.Message = fmt.Sprintf("ClickHouse is reachable, but database %s has no migrations: run harrier migrate", d.store.Database())
	case current < latest:
		result.Status = backend.HealthStatusError
		result.Message = fmt.Sprintf("ClickHouse is reachable; database %s is at schema version %d of %d: run harrier migrate", d.store.Database(), current, latest)
	default:
		result.Message = fmt.Sprintf("ClickHouse is reachable; database %s is at schema version %d", d.store.Database(), current)
	}
	return result, nil
}

// CallResource serves the HTTP resources of routes.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	return d.resources.CallResource(ctx, req, sender)
}

// routes returns the resources: GET query-types and GET containers (the
// container ids for a dashboard variable, optionally of one host_id).
func (d *Datasource) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /query-types", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, QueryTypes)
	})
	mux.HandleFunc("GET /containers", func(w http.ResponseWriter, r *http.Request) {
		var f filter
		f.equal("host_id", strings.TrimSpace(r.URL.Query().Get("host_id")))
		stmt := statement{
			sql:  "SELECT container_id, argMax(name, seen_at) AS name FROM containers" + f.where() + " GROUP BY container_id ORDER BY name, container_id LIMIT ?",
			args: append(f.args, d.settings.MaxRows),
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(d.settings.QueryTimeoutSeconds)*time.Second)
		defer cancel()
		_, rows, _, err := d.store.QueryMax(ctx, d.settings.MaxRows, stmt.sql, stmt.args...)
		if err != nil {
			d.logger.Warn("Container list failed", "err", err)
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": "container list failed; the data source log has the details"})
			return
		}
		type container struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		out := make([]container, 0, len(rows))
		for _, row := range rows {
			out = append(out, container{ID: fmt.Sprint(row[0]), Name: fmt.Sprint(row[1])})
		}
		writeJSON(w, http.StatusOK, out)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
