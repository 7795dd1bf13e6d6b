package dashboards

import (
	"fmt"
	"reflect"

	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"

	"github.com/harrierhq/harrier/dashboards/datasource"
)

// DatasourceUID is the uid of the Harrier data source that
// deploy/grafana/provisioning/datasources/harrier.yaml creates and every
// panel queries.
const DatasourceUID = "harrier"

// PrometheusUID is the uid of the provisioned Prometheus data source that
// the pipeline health dashboard reads the roles' metrics from.
const PrometheusUID = "harrier-prometheus"

// Query is a panel target of the Harrier data source: a
// datasource.Query with the target's refId and data source. It implements
// the foundation SDK's variants.Dataquery.
type Query struct {
	RefID      string                `json:"refId"`
	Datasource *common.DataSourceRef `json:"datasource,omitempty"`
	datasource.Query
}

// ImplementsDataqueryVariant marks Query as a data query.
func (Query) ImplementsDataqueryVariant() {}

// DataqueryType returns the plugin id of the Harrier data source.
func (Query) DataqueryType() string { return datasource.PluginID }

// Equals reports whether other is a Query with the same fields.
func (q Query) Equals(other variants.Dataquery) bool {
	o, ok := other.(Query)
	return ok && reflect.DeepEqual(q, o)
}

// Validate checks that the data source can build the query's statement.
func (q Query) Validate() error {
	if q.RefID == "" {
		return fmt.Errorf("query %s: missing refId", q.QueryType)
	}
	if _, _, err := q.Statement(sampleRange()); err != nil {
		return fmt.Errorf("query %s %s: %w", q.RefID, q.QueryType, err)
	}
	return nil
}

// queryBuilder is a cog.Builder of a Query.
type queryBuilder struct{ query Query }

// Build returns the query after validating it.
func (b queryBuilder) Build() (variants.Dataquery, error) {
	if err := b.query.Validate(); err != nil {
		return nil, err
	}
	return b.query, nil
}

func harrierRef() common.DataSourceRef {
	kind, uid := datasource.PluginID, DatasourceUID
	return common.DataSourceRef{Type: &kind, Uid: &uid}
}

func prometheusRef() common.DataSourceRef {
	kind, uid := "prometheus", PrometheusUID
	return common.DataSourceRef{Type: &kind, Uid: &uid}
}

// target returns a builder of the query q with refId refID.
func target(refID string, q datasource.Query) queryBuilder {
	ref := harrierRef()
	return queryBuilder{query: Query{RefID: refID, Datasource: &ref, Query: q}}
}

// sqlTarget returns a builder of a raw SQL query. fields sets the filter
// fields the SQL reads through macros such as $__containerId.
func sqlTarget(refID, sql string, fields datasource.Query) queryBuilder {
	fields.QueryType = datasource.QueryTypeSQL
	fields.RawSQL = sql
	return target(refID, fields)
}
