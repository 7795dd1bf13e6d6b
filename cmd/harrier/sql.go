package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/harrierhq/harrier/internal/config"
	"github.com/harrierhq/harrier/storage"
)

// timeoutExceededCode is ClickHouse's TIMEOUT_EXCEEDED error code, raised
// when a query runs longer than max_execution_time.
const timeoutExceededCode = 159

// sqlClientGrace is how much longer the client waits than the server's
// time limit, so that the server's own error, which names the limit,
// arrives first.
const sqlClientGrace = 5 * time.Second

func sqlCommand() *command {
	format := storage.FormatNameTable
	timeout := 30 * time.Second
	return &command{
		name:    "sql",
		summary: "Run one SQL query on Harrier's database and print the result as a table, CSV or JSON: harrier sql [--format table|csv|json] [--timeout 30s] \"SELECT ...\"",
		groups:  []string{"clickhouse"},
		setup: func(fs *flag.FlagSet, l *config.Loader, o *cmdOptions) {
			l.Alias(fs, "clickhouse", "clickhouse.addr")
			fs.StringVar(&format, "format", format, "output format: table (aligned text), csv (a header line, then RFC 4180 records) or json (an array of objects)")
			fs.DurationVar(&timeout, "timeout", timeout, "time limit of the query, sent as the server's max_execution_time in whole seconds (at least 1s)")
		},
		run: func(ctx context.Context, env *cmdEnv) error {
			if len(env.args) != 1 {
				return errors.New("expected exactly one argument, the query, such as: harrier sql \"SELECT count() FROM events\"")
			}
			switch format {
			case storage.FormatNameTable, storage.FormatNameCSV, storage.FormatNameJSON:
			default:
				return fmt.Errorf("invalid value %q for --format: use table, csv or json", format)
			}
			if timeout < time.Second {
				return fmt.Errorf("invalid value %s for --timeout: use at least 1s", timeout)
			}

			cfg := *env.cfg
			cfg.ClickHouse.MaxExecutionTime = timeout
			ctx, cancel := context.WithTimeout(ctx, timeout+sqlClientGrace)
			defer cancel()
			store, err := openStore(ctx, &cfg, false)
			if err != nil {
				return err
			}
			defer store.Close()

			cols, rows, err := store.Query(ctx, env.args[0])
			if err != nil {
				var exception *clickhouse.Exception
				// The server's own error names the limit. When the server is
				// too slow to raise it, the client's deadline ends the read
				// with an i/o timeout instead, which is the same limit.
				serverLimit := errors.As(err, &exception) && exception.Code == timeoutExceededCode
				if serverLimit || errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return fmt.Errorf("query stopped at the time limit of %s: narrow the time range or raise --timeout: %w", timeout, err)
				}
				return err
			}
			return storage.FormatRows(env.stdout, format, cols, rows)
		},
	}
}
