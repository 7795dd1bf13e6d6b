package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
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
	maxRows := 10000
	return &command{
		name:    "sql",
		summary: "Run one SQL query on Harrier's database and print the result as a table, CSV or JSON: harrier sql [--format table|csv|json] [--timeout 30s] \"SELECT ...\"",
		groups:  []string{"clickhouse"},
		setup: func(fs *flag.FlagSet, l *config.Loader, o *cmdOptions) {
			l.Alias(fs, "clickhouse", "clickhouse.addr")
			fs.StringVar(&format, "format", format, "output format: table (aligned text), csv (a header line, then RFC 4180 records) or json (an array of objects)")
			fs.DurationVar(&timeout, "timeout", timeout, "time limit of the query, sent as the server's max_execution_time in whole seconds (at least 1s)")
			fs.IntVar(&maxRows, "max-rows", maxRows, "print at most this many rows and say so when more were left; 0 prints all")
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

			if !returnsRows(env.args[0]) {
				if first := strings.Fields(env.args[0]); len(first) > 0 && strings.EqualFold(first[0], "INSERT") {
					return errors.New("harrier sql does not run INSERT statements: load data through the pipeline, or use clickhouse-client")
				}
				if err := store.Exec(ctx, env.args[0]); err != nil {
					return err
				}
				fmt.Fprintln(env.stdout, "OK")
				return nil
			}
			cols, rows, truncated, err := store.QueryMax(ctx, maxRows, env.args[0])
			if err != nil {
				var exception *clickhouse.Exception
				// The server's own error names the limit. When the server is
				// too slow to raise it, the client's deadline ends the read
				// with an i/o timeout instead, which is the same limit.
				serverLimit := errors.As(err, &exception) && exception.Code == timeoutExceededCode
				if serverLimit || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return fmt.Errorf("query stopped at the time limit of %s: narrow the time range or raise --timeout: %w", timeout, err)
				}
				return err
			}
			if err := storage.FormatRows(env.stdout, format, cols, rows); err != nil {
				return err
			}
			if truncated {
				fmt.Fprintf(env.stderr, "harrier sql: printed the first %d rows and left the rest; add a LIMIT or raise --max-rows\n", maxRows)
			}
			return nil
		},
	}
}

// returnsRows reports whether a statement returns a result set, judged by
// its first keyword. Other statements (CREATE, DROP, OPTIMIZE, SYSTEM ...)
// run through Exec, which also rejects INSERT.
func returnsRows(query string) bool {
	fields := strings.Fields(strings.TrimLeft(query, "( \t\n"))
	if len(fields) == 0 {
		return true
	}
	switch strings.ToUpper(fields[0]) {
	case "SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN":
		return true
	}
	return false
}
