// Package postgres is the tokentrail store for a PostgreSQL server, written
// through github.com/jackc/pgx/v5. It is the backend for a central
// collector that many services send events to, where store/sqlite serves
// one host.
//
// Events live in one table partitioned by month of event time (see
// schema.go and partitions.go), written with COPY. Every table lives in the
// first schema of the connection's search_path, so that one database can
// hold several stores: add search_path=NAME to the connection string.
//
// It differs from store/sqlite in one rule of what it accepts: PostgreSQL
// text cannot hold the NUL character, so an event or anomaly with a NUL in
// a text field is rejected with an *audit.FieldError.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tokentrail/tokentrail/store"
)

// Store is a tokentrail store in a PostgreSQL database. It is safe for
// concurrent use: each call takes a connection from a pool.
type Store struct {
	pool *pgxpool.Pool
	name string // the server and database, without password, for messages

	partitions partitionCache // months whose partition exists

	// mu is held for reading by every call in progress, so that Close waits
	// for them before it closes the pool.
	mu struct {
		sync.RWMutex
		closed bool
	}
}

var (
	_ store.Store             = (*Store)(nil)
	_ store.AnomalyStore      = (*Store)(nil)
	_ store.AnomalyFeed       = (*Store)(nil)
	_ store.RevocationStore   = (*Store)(nil)
	_ store.SettingStore      = (*Store)(nil)
	_ store.TokenSummaryStore = (*Store)(nil)
	_ store.KeyStore          = (*Store)(nil)
	_ store.AccessStore       = (*Store)(nil)
)

// Option changes a setting of Open.
type Option func(*config)

type config struct {
	maxConns int32 // connections of the pool; 0 keeps pgxpool's default
}

// WithMaxConns sets the maximum number of connections that the store opens
// to the server, which is the number of calls that run at once. The
// default is pgxpool's: 4 or the number of CPUs, whichever is greater. The
// connection string's pool_max_conns sets it too.
func WithMaxConns(n int32) Option {
	return func(c *config) { c.maxConns = n }
}

// Open connects to the PostgreSQL database that dsn names, a URL such as
// postgres://tokentrail@db.example.com:5432/tokentrail or a list of
// key=value settings, and migrates the schema to the latest version of this
// build. The schema that the search_path selects first must exist; its
// tables are created when it has none.
//
// Open fails when the server cannot be reached, when the schema holds
// another application's tables (ErrNotStore), or when a newer tokentrail
// has migrated it (ErrSchemaTooNew). Its errors name the server and
// database, never the password.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	var cfg config
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.maxConns < 0 {
		return nil, fmt.Errorf("postgres: open: invalid connection count %d, want 1 or more (0 for the default)", cfg.maxConns)
	}

	poolConfig, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The message of pgconn's ParseConfigError masks the password,
		// which TestOpenErrorHidesPassword checks for a malformed setting.
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if cfg.maxConns > 0 {
		poolConfig.MaxConns = cfg.maxConns
	}
	name := describe(poolConfig.ConnConfig)

	pool, err := pgxpool.NewWithConfig(ctx, poolConfig)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", name, err)
	}
	s := &Store{pool: pool, name: name}
	err = s.withTx(ctx, func(tx pgx.Tx) error {
		_, err := migrate(ctx, tx, migrations)
		return err
	})
	if err != nil {
		pool.Close()
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return nil, fmt.Errorf("postgres: open %s: %w%s", name, err, openHint(err, poolConfig.ConnConfig))
	}
	return s, nil
}

// openHint returns what to do about an error of the first use of a store,
// for the errors an operator meets when setting one up, and "" for others.
func openHint(err error, c *pgx.ConnConfig) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "42501": // insufficient_privilege
			return fmt.Sprintf("; role %s may not create or change tokentrail's tables in this schema: give it a database of its own "+
				"(createdb -O %s %s), or GRANT CREATE ON SCHEMA to it; a role that may only read opens a store whose tables are already at this version",
				c.User, c.User, c.Database)
		case "3D000": // invalid_catalog_name
			return fmt.Sprintf("; create the database first (createdb -O %s %s)", c.User, c.Database)
		case "28000", "28P01": // invalid_authorization_specification, invalid_password
			return fmt.Sprintf("; check that role %s exists and may log in, and its password in PGPASSWORD or ~/.pgpass", c.User)
		case "3F000": // invalid_schema_name
			return "; the schema of the URL's search_path does not exist: create it, or name another"
		}
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return fmt.Sprintf("; check that PostgreSQL runs and accepts connections at %s:%d", c.Host, c.Port)
	}
	return ""
}

// describe names the user, server and database of c for messages, without
// password.
func describe(c *pgx.ConnConfig) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// String returns the server and database of the store, without password.
func (s *Store) String() string { return s.name }

// acquire takes mu for reading, or returns store.ErrClosed after Close. The
// caller releases with s.mu.RUnlock.
func (s *Store) acquire() error {
	s.mu.RLock()
	if s.mu.closed {
		s.mu.RUnlock()
		return store.ErrClosed
	}
	return nil
}

// Count returns the number of stored events.
func (s *Store) Count(ctx context.Context) (int64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()

	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM event_ids").Scan(&n); err != nil {
		return 0, wrapError(ctx, "postgres: count events", err)
	}
	return n, nil
}

// Close waits for the calls in progress and closes the connections. Calls
// after Close, Close included, return store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return store.ErrClosed
	}
	s.mu.closed = true
	s.pool.Close()
	return nil
}

// WithTx runs fn in a transaction. It commits when fn returns nil, and rolls
// back when fn returns an error or panics (the panic then continues). The
// tables are internal to this package and change with its schema version.
// WithTx returns store.ErrClosed after Close.
func (s *Store) WithTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	return s.withTx(ctx, fn)
}

func (s *Store) withTx(ctx context.Context, fn func(tx pgx.Tx) error) (err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		// This also runs while a panic unwinds, which then goes on. The
		// rollback gets its own context, since ctx may be what ended.
		rollbackErr := tx.Rollback(context.WithoutCancel(ctx))
		if err != nil && rollbackErr != nil && !errors.Is(rollbackErr, pgx.ErrTxClosed) {
			err = errors.Join(err, fmt.Errorf("roll back: %w", rollbackErr))
		}
	}()

	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	return nil
}

// wrapError adds op to err, and the context's error when ctx has ended,
// since pgx may report a canceled query as the server's error or a closed
// connection instead.
func wrapError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%s: %w (%v)", op, ctxErr, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// writtenTables are the tables that a serving store writes, with the
// rights it needs on each.
var writtenTables = []struct{ table, rights string }{
	{"events", "INSERT"}, {"event_ids", "INSERT"}, {"anomalies", "INSERT, UPDATE, DELETE"},
	{"feed_positions", "UPDATE"}, {"settings", "INSERT, UPDATE"}, {"api_keys", "INSERT, UPDATE"}, {"accesses", "INSERT"},
}

// CheckWritable returns an error naming the tables that the role may not
// write, so that a server refuses to start as a role that may only read,
// rather than report ready and fail each write. It checks rights, not
// space or locks.
func (s *Store) CheckWritable(ctx context.Context) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()

	var missing []string
	for _, w := range writtenTables {
		// has_table_privilege is true when any of several rights listed
		// together is held, so each is asked alone.
		var lacks []string
		for _, right := range strings.Split(w.rights, ", ") {
			var ok bool
			err := s.pool.QueryRow(ctx, "SELECT has_table_privilege(current_schema() || '.' || $1, $2)", w.table, right).Scan(&ok)
			if err != nil {
				return wrapError(ctx, "postgres: check the rights on "+w.table, err)
			}
			if !ok {
				lacks = append(lacks, right)
			}
		}
		if len(lacks) > 0 {
			missing = append(missing, w.table+" ("+strings.Join(lacks, ", ")+")")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("postgres: %s may not write %s: run serve as the role that owns the tables, or grant it those rights",
			s.name, strings.Join(missing, ", "))
	}
	return nil
}
