// Package shipped lists every SQL statement that Harrier sends to
// ClickHouse: the migrations, the statements of the storage and normalize
// packages, the dashboard panels, the policy rules and the queries attached
// to alerts. Its tests run each one on the Debian clickhouse-server (18.16)
// and on a current ClickHouse through chDB.
package shipped

import (
	"fmt"
	"strings"
	"time"

	"github.com/harrierhq/harrier/alerting"
	"github.com/harrierhq/harrier/dashboards"
	"github.com/harrierhq/harrier/features"
	"github.com/harrierhq/harrier/features/drain"
	"github.com/harrierhq/harrier/models"
	"github.com/harrierhq/harrier/normalize"
	"github.com/harrierhq/harrier/storage"
)

// Statement is one SQL statement and where Harrier uses it.
type Statement struct {
	// Source names the statement's origin, such as
	// "migration 0001_records statement 2" or "dashboard soc-overview.json panel Alerts".
	Source string
	// SQL is the statement as sent, with placeholders and macros replaced by
	// sample values.
	SQL string
	// Schema is true for statements that change the schema. They must run
	// in order, before the queries.
	Schema bool
}

// SampleContainerID is the container id put into queries that take one.
const SampleContainerID = "c4dd52f960e2c4dd52f960e2"

// Statements returns the schema statements in the order Migrate applies
// them, followed by every query. Queries name tables without a database.
func Statements() ([]Statement, error) {
	var out []Statement

	out = append(out, Statement{Source: "storage.SchemaMigrationsTable", SQL: storage.SchemaMigrationsTable, Schema: true})
	migrations, err := storage.Migrations()
	if err != nil {
		return nil, err
	}
	for _, m := range migrations {
		for i, stmt := range m.Statements {
			out = append(out, Statement{
				Source: fmt.Sprintf("migration %04d_%s statement %d", m.Version, m.Name, i+1),
				SQL:    stmt,
				Schema: true,
			})
		}
	}

	out = append(out,
		Statement{Source: "storage.AppliedVersionsQuery", SQL: storage.AppliedVersionsQuery},
		Statement{Source: "storage.RetentionPartitionsQuery", SQL: strings.Replace(storage.RetentionPartitionsQuery, "?", "'events'", 1)},
		// Schema is set so that the tests run it as a statement without
		// rows; it drops data, and the partition here does not exist.
		Statement{Source: "storage.DropPartitionStatement", SQL: storage.DropPartitionStatement("events", "20000101"), Schema: true},
		Statement{Source: "drain.TemplatesLoadQuery", SQL: drain.TemplatesLoadQuery},
		Statement{Source: "models.ResumeQuery", SQL: models.ResumeQuery},
		Statement{Source: "models.ResumeContainersQuery", SQL: models.ResumeContainersQuery},
		Statement{Source: "models.WorkloadInventoryQuery", SQL: models.WorkloadInventoryQuery},
		Statement{Source: "models.TrainingHistoryQuery", SQL: models.TrainingHistoryQuery(models.DefaultHistory, models.DefaultFleetHistoryWindows)},
		Statement{
			Source: "normalize.ContainerLookupQuery",
			SQL:    strings.Replace(normalize.ContainerLookupQuery(1), "?", models.QuoteString(SampleContainerID), 1),
		},
	)

	to := time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)
	panels, err := dashboards.Statements(to.Add(-7*24*time.Hour), to, map[string]string{"container": SampleContainerID})
	if err != nil {
		return nil, fmt.Errorf("load dashboards: %w", err)
	}
	for _, p := range panels {
		out = append(out, Statement{Source: p.Source, SQL: p.SQL})
	}

	rules, err := alerting.DefaultRules()
	if err != nil {
		return nil, fmt.Errorf("load default rules: %w", err)
	}
	incidentRules, err := alerting.IncidentRules()
	if err != nil {
		return nil, fmt.Errorf("load incident rules: %w", err)
	}
	rules = append(rules, incidentRules...)
	for i, q := range alerting.Queries(rules, SampleContainerID, "sha256:"+strings.Repeat("c2", 32)) {
		out = append(out, Statement{Source: fmt.Sprintf("alerting.Queries statement %d", i+1), SQL: q})
	}

	start := time.Date(2026, 11, 30, 10, 45, 0, 0, time.UTC)
	out = append(out, Statement{
		Source: "models.WindowQuery",
		SQL:    models.WindowQuery(SampleContainerID, start, start.Add(time.Minute)),
	}, Statement{
		Source: "features.WindowsQuery",
		SQL:    features.WindowsQuery(start, start.Add(time.Hour)),
	})
	for _, spec := range []features.RollupSpec{
		{By: features.ByImage, Length: time.Minute, Hop: time.Minute, From: start, To: start.Add(time.Hour)},
		{By: features.ByHost, Length: 5 * time.Minute, Hop: time.Minute, From: start, To: start.Add(time.Hour)},
	} {
		sql, err := features.RollupQuery(spec)
		if err != nil {
			return nil, err
		}
		out = append(out, Statement{Source: fmt.Sprintf("features.RollupQuery by %s length %s", spec.By, spec.Length), SQL: sql})
	}

	for _, q := range storage.InvestigationQueries {
		out = append(out, Statement{Source: "investigation query " + q.Name, SQL: q.SQL})
	}
	for _, kind := range storage.InventoryKinds {
		q, err := storage.InventoryQuery(kind)
		if err != nil {
			return nil, err
		}
		out = append(out, Statement{Source: "storage.InventoryQuery " + kind, SQL: q})
	}
	return out, nil
}
