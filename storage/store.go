// Package storage owns Harrier's ClickHouse schema and the connection every
// role uses: numbered migrations, batch inserts, generic queries for
// `harrier sql`, and a local clickhouse-server for tests and demos.
package storage

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DefaultDatabase is the database used when Config.Database is empty.
const DefaultDatabase = "harrier"

// DefaultMaxExecutionTime is the server-side query time limit used when
// Config.MaxExecutionTime is zero.
const DefaultMaxExecutionTime = 60 * time.Second

// Config selects the ClickHouse server and database.
type Config struct {
	// Addr is the host:port of the server's native protocol (TCP) port,
	// for example "127.0.0.1:9000". HTTP is not used.
	Addr string
	// Database is the database that holds Harrier's tables. Default "harrier".
	Database string
	// User and Password authenticate the connection. An empty User means
	// the server's "default" user. Password is never logged.
	User, Password string
	// TLS, when set, connects over TLS with this client config (the
	// server's tcp_port_secure); nil means plaintext.
	TLS *tls.Config
	// MaxExecutionTime is sent as the max_execution_time setting, rounded
	// down to whole seconds (minimum 1 s). Default 60 s.
	MaxExecutionTime time.Duration
}

// Store is a connection pool to one ClickHouse database.
type Store struct {
	cfg  Config
	opts clickhouse.Options
	conn driver.Conn

	// mu guards admin, a connection without a selected database that is
	// opened only to create the database.
	mu    sync.Mutex
	admin driver.Conn
}

// Open connects to the server over the native protocol and checks that it
// responds to a ping. The database does not have to exist yet: Migrate creates it.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Addr == "" {
		return nil, errors.New("missing clickhouse address: set the native protocol host:port, for example 127.0.0.1:9000")
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if !validIdentifier(cfg.Database) {
		return nil, fmt.Errorf("invalid clickhouse database name %q: use letters, digits and underscores", cfg.Database)
	}
	if cfg.MaxExecutionTime <= 0 {
		cfg.MaxExecutionTime = DefaultMaxExecutionTime
	}
	seconds := int(cfg.MaxExecutionTime / time.Second)
	if seconds < 1 {
		seconds = 1
	}

	opts := clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     []string{cfg.Addr},
		Auth:     clickhouse.Auth{Database: cfg.Database, Username: cfg.User, Password: cfg.Password},
		TLS:      cfg.TLS,
		// Only integer settings, because clickhouse-go can encode nothing else
		// for servers at protocol revision 54429 or older, 18.16 among them.
		Settings: clickhouse.Settings{
			"max_execution_time":                      seconds,
			"allow_experimental_low_cardinality_type": 1,
		},
		DialTimeout: 5 * time.Second,
	}
	conn, err := clickhouse.Open(&opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", cfg.Addr, err)
	}
	s := &Store{cfg: cfg, opts: opts, conn: conn}

	// Ping without a database, so that a missing database is not an error.
	admin, err := s.adminConn()
	if err != nil {
		conn.Close()
		return nil, err
	}
	if err := admin.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("connect to clickhouse %s: %w", cfg.Addr, err)
	}
	return s, nil
}

// adminConn returns a connection with no database selected, opening it on
// first use.
func (s *Store) adminConn() (driver.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin != nil {
		return s.admin, nil
	}
	opts := s.opts
	opts.Auth.Database = ""
	opts.MaxOpenConns = 1
	conn, err := clickhouse.Open(&opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", s.cfg.Addr, err)
	}
	s.admin = conn
	return conn, nil
}

// Conn returns the clickhouse-go native connection with the database
// selected, for callers that need the driver directly.
func (s *Store) Conn() driver.Conn { return s.conn }

// Database returns the name of the selected database.
func (s *Store) Database() string { return s.cfg.Database }

// Addr returns the server's native protocol address.
func (s *Store) Addr() string { return s.cfg.Addr }

// Insert writes rows into table as one batch that names the columns. Each
// row must have one value per column, of a Go type the column accepts
// (string, int64, uint8, time.Time, []string and so on).
func (s *Store) Insert(ctx context.Context, table string, columns []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	if !validIdentifier(table) {
		return fmt.Errorf("invalid table name %q", table)
	}
	quoted := make([]string, len(columns))
	for i, c := range columns {
		if !validIdentifier(c) {
			return fmt.Errorf("invalid column name %q for table %s", c, table)
		}
		quoted[i] = "`" + c + "`"
	}
	query := fmt.Sprintf("INSERT INTO `%s` (%s)", table, strings.Join(quoted, ", "))

	batch, err := s.conn.PrepareBatch(ctx, query)
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	for i, row := range rows {
		if len(row) != len(columns) {
			batch.Abort()
			return fmt.Errorf("insert into %s: row %d has %d values for %d columns", table, i, len(row), len(columns))
		}
		if err := batch.Append(row...); err != nil {
			batch.Abort()
			return fmt.Errorf("insert into %s: row %d: %w", table, i, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", len(rows), table, err)
	}
	return nil
}

// Exec runs a statement that returns no rows. It rejects INSERT, because
// an "INSERT ... VALUES" sent through clickhouse-go's Exec never returns on
// clickhouse-server 18.16: use Insert.
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	if fields := strings.Fields(query); len(fields) > 0 && strings.EqualFold(fields[0], "INSERT") {
		return fmt.Errorf("exec %q: use Insert for INSERT statements", shorten(query))
	}
	if err := s.conn.Exec(ctx, query, args...); err != nil {
		return fmt.Errorf("exec %q: %w", shorten(query), err)
	}
	return nil
}

// Query runs query and returns the column names and every row, each value
// of the Go type clickhouse-go scans the column into (string, int64,
// uint8, float64, time.Time, []string, ...). It reads the whole result into
// memory, so it suits interactive and test queries, not bulk exports.
func (s *Store) Query(ctx context.Context, query string, args ...any) ([]string, [][]any, error) {
	cols, out, _, err := s.QueryMax(ctx, 0, query, args...)
	return cols, out, err
}

// QueryMax is Query that stops reading after maxRows rows (0 reads all)
// and reports whether rows were left unread. The server-side query is
// cancelled when the rest is dropped, so a huge result costs no memory.
func (s *Store) QueryMax(ctx context.Context, maxRows int, query string, args ...any) ([]string, [][]any, bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, nil, false, fmt.Errorf("query %q: %w", shorten(query), err)
	}
	defer rows.Close()

	columns := rows.Columns()
	types := rows.ColumnTypes()
	var out [][]any
	for rows.Next() {
		if maxRows > 0 && len(out) == maxRows {
			return columns, out, true, nil
		}
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, false, fmt.Errorf("scan row %d of %q: %w", len(out), shorten(query), err)
		}
		row := make([]any, len(dest))
		for i, d := range dest {
			row[i] = reflect.ValueOf(d).Elem().Interface()
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, false, fmt.Errorf("read rows of %q: %w", shorten(query), err)
	}
	return columns, out, false, nil
}

// Close closes the connections.
func (s *Store) Close() error {
	s.mu.Lock()
	admin := s.admin
	s.admin = nil
	s.mu.Unlock()

	var errs []error
	if admin != nil {
		errs = append(errs, admin.Close())
	}
	errs = append(errs, s.conn.Close())
	return errors.Join(errs...)
}

// validIdentifier reports whether name can be used unquoted as a database,
// table or column name.
func validIdentifier(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// shorten trims a query for error messages.
func shorten(query string) string {
	query = strings.Join(strings.Fields(query), " ")
	if len(query) > 200 {
		return query[:200] + "..."
	}
	return query
}

// DropDatabase removes the selected database and every table in it. The
// demo uses it to start from nothing; nothing else in Harrier drops data.
func (s *Store) DropDatabase(ctx context.Context) error {
	admin, err := s.adminConn()
	if err != nil {
		return err
	}
	if err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+s.cfg.Database); err != nil {
		return fmt.Errorf("drop database %s: %w", s.cfg.Database, err)
	}
	return nil
}

// CreateDatabase creates the selected database if it does not exist.
// Migrate calls it; tests that apply statements by hand call it first.
func (s *Store) CreateDatabase(ctx context.Context) error {
	admin, err := s.adminConn()
	if err != nil {
		return err
	}
	if err := admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+s.cfg.Database+"`"); err != nil {
		return fmt.Errorf("create database %s: %w", s.cfg.Database, err)
	}
	return nil
}
