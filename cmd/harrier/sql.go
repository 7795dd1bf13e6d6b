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

// readonlyCode is ClickHouse's READONLY error code, raised when a query
// that writes data or changes the schema runs with the readonly setting.
const readonlyCode = 164

// readOnlySettings make the server reject every query that writes data or
// changes the schema. readonly=2, unlike 1, still lets the client change
// other settings, such as the max_execution_time that --timeout sends.
var readOnlySettings = clickhouse.Settings{"readonly": 2}

// errClientTimeLimit is the cause of the context that the client cancels
// when the server has not ended the query sqlClientGrace after --timeout.
var errClientTimeLimit = errors.New("client time limit reached")

// sqlClientGrace is how much longer the client waits than the server's
// time limit, so that the server's own error, which names the limit,
// arrives first.
const sqlClientGrace = 5 * time.Second

func sqlCommand() *command {
	format := storage.FormatNameTable
	timeout := 30 * time.Second
	maxRows := 10000
	write := false
	return &command{
		name:    "sql",
		summary: "Run one SQL query on Harrier's database and print the result as a table, CSV or JSON. The query runs read-only unless --write is given: harrier sql [--format table|csv|json] [--timeout 30s] [--write] \"SELECT ...\"",
		groups:  []string{"clickhouse"},
		setup: func(fs *flag.FlagSet, l *config.Loader, o *cmdOptions) {
			l.Alias(fs, "clickhouse", "clickhouse.addr")
			fs.StringVar(&format, "format", format, "output format: table (aligned text), csv (a header line, then RFC 4180 records) or json (an array of objects)")
			fs.DurationVar(&timeout, "timeout", timeout, "time limit of the query, sent as the server's max_execution_time in whole seconds (at least 1s)")
			fs.IntVar(&maxRows, "max-rows", maxRows, "print at most this many rows and say so when more were left; 0 prints all")
			fs.BoolVar(&write, "write", write, "allow statements that change data or the schema (CREATE, DROP, ALTER, OPTIMIZE ...); without it the query runs with the server setting readonly=2")
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
			// clickhouse-go v2.51 replaces max_execution_time with the
			// context's deadline plus 5 s when the context has one, which
			// would hide --timeout from the server. So the client's own
			// limit cancels the context from a timer instead.
			ctx, cancel := context.WithCancelCause(ctx)
			defer cancel(nil)
			clientTimer := time.AfterFunc(timeout+sqlClientGrace, func() { cancel(errClientTimeLimit) })
			defer clientTimer.Stop()
			if !write {
				ctx = clickhouse.Context(ctx, clickhouse.WithSettings(readOnlySettings))
			}
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
					return readOnlyHint(err)
				}
				fmt.Fprintln(env.stdout, "OK")
				return nil
			}
			cols, rows, truncated, err := store.QueryMax(ctx, maxRows, env.args[0])
			if err != nil {
				var exception *clickhouse.Exception
				// The server's own error names the limit. When the server is
				// too slow to raise it, the client's timer cancels the read
				// instead, which is the same limit.
				serverLimit := errors.As(err, &exception) && exception.Code == timeoutExceededCode
				clientLimit := errors.Is(context.Cause(ctx), errClientTimeLimit)
				if serverLimit || clientLimit || errors.Is(err, os.ErrDeadlineExceeded) {
					return fmt.Errorf("query stopped at the time limit of %s: narrow the time range or raise --timeout: %w", timeout, err)
				}
				return readOnlyHint(err)
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

// readOnlyHint adds what to do to the server's error for a statement that
// the readonly setting rejected.
func readOnlyHint(err error) error {
	var exception *clickhouse.Exception
	if errors.As(err, &exception) && exception.Code == readonlyCode {
		return fmt.Errorf("harrier sql is read-only by default: add --write to run a statement that changes data or the schema: %w", err)
	}
	return err
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
