// Package sqlite is the embedded tokentrail store: one SQLite file, written
// through modernc.org/sqlite (pure Go, no cgo).
//
// The file is in WAL mode with one writer connection and a small pool of
// read-only connections, so queries run while an import writes. Its schema is
// versioned, and its layout is chosen for import speed (see schema.go). A
// unique index on the event ID makes Append idempotent.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tokentrail/tokentrail/store"
)

// DefaultPath is the store file that callers use when the user names none:
// tokentrail.db in the working directory. Open itself always takes an
// explicit path.
const DefaultPath = "./tokentrail.db"

// Store is a tokentrail store in one SQLite file. It is safe for concurrent
// use: writes are serialized on one connection, and reads use a pool of
// read-only connections that see the last committed write.
type Store struct {
	path   string
	writer *sql.DB // one connection; transactions begin IMMEDIATE
	reader *sql.DB // query_only connections
	stmts  statements
	reads  queryCache // prepared statements of Events on reader

	tokenKeys tokenKeyCache // token_key by digest, for the rows of committed appends

	// mu is held for reading by every call in progress, so that Close waits
	// for them before it closes the connections.
	mu struct {
		sync.RWMutex
		closed bool
	}
}

var _ store.Store = (*Store)(nil)

// Option changes a setting of Open.
type Option func(*config)

type config struct {
	cacheBytes       int64         // page cache of the writer connection
	readerCacheBytes int64         // page cache of each reader connection
	readers          int           // maximum open reader connections
	busyTimeout      time.Duration // wait for a lock held by another process
	readOnly         bool
}

func defaultConfig() config {
	return config{
		cacheBytes:       64 << 20,
		readerCacheBytes: 32 << 20,
		readers:          4,
		busyTimeout:      5 * time.Second,
	}
}

// WithCacheSize sets the maximum page cache of the writer connection in
// bytes; the default is 64 MiB. The cache grows only as pages are read, so a
// small store uses little of it. What an import needs cached is the unique
// index on event IDs, the one index that each event changes at a random
// place: about 28 bytes per stored event, so the default holds it up to about
// two million events. Past that, SQLite reads index pages back through the
// operating system's file cache. In the import benchmark at one million
// events, a 2 MiB cache (SQLite's default) imported about 25% slower than
// 64 MiB, and 256 MiB was no faster than 64 MiB.
func WithCacheSize(bytes int64) Option {
	return func(c *config) { c.cacheBytes = bytes }
}

// WithReaders sets the maximum number of read-only connections, which is the
// number of queries that run at once. The default is 4. Each connection has
// its own page cache of at most 32 MiB.
func WithReaders(n int) Option {
	return func(c *config) { c.readers = n }
}

// WithBusyTimeout sets how long a write waits for a lock that another process
// holds on the file before it fails with SQLITE_BUSY. The default is 5
// seconds.
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) { c.busyTimeout = d }
}

// ReadOnly opens an existing store for queries only: Open neither creates
// nor migrates the file, and Append and WithTx return ErrReadOnly. Use it to
// investigate a store without changing it, or one the process may not write.
// SQLite still creates the WAL index file (-shm) next to it when the folder
// is writable.
func ReadOnly() Option {
	return func(c *config) { c.readOnly = true }
}

// Open opens the store in the SQLite file at path. It creates the file if it
// does not exist, and migrates its schema to the latest version of this
// build. The directory must exist.
//
// Open fails with an error naming path when path is a directory, when the
// file is not a SQLite database (ErrNotDatabase), when it is another
// application's database (ErrNotStore), or when a newer tokentrail has
// migrated it (ErrSchemaTooNew).
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	if cfg.readOnly {
		return openReadOnly(ctx, path, abs, cfg)
	}

	s := &Store{path: path}
	s.writer, err = openPool(abs, "_txlock=immediate", writerPragmas(cfg))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxIdleTime(0)
	if err := s.setUp(ctx); err != nil {
		_ = s.writer.Close() // the setup error is the one to report
		return nil, openError(path, err)
	}

	s.reader, err = openPool(abs, "", readerPragmas(cfg))
	if err != nil {
		_ = s.writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.reader.SetMaxOpenConns(cfg.readers)
	s.reader.SetMaxIdleConns(cfg.readers)
	return s, nil
}

func (c config) validate() error {
	switch {
	case c.cacheBytes < 0:
		return fmt.Errorf("invalid cache size %d bytes: want 0 or more", c.cacheBytes)
	case c.readers < 1:
		return fmt.Errorf("invalid reader count %d: want 1 or more", c.readers)
	case c.busyTimeout < 0:
		return fmt.Errorf("invalid busy timeout %v: want 0 or more", c.busyTimeout)
	}
	return nil
}

// setUp checks that the writer connection runs in WAL mode, migrates the
// schema and prepares the statements of Append.
func (s *Store) setUp(ctx context.Context) error {
	var mode string
	if err := s.writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("journal mode is %q, want \"wal\": the file system may not support the shared memory that WAL needs", mode)
	}

	err := s.withTx(ctx, func(tx *sql.Tx) error {
		_, err := migrate(ctx, tx, migrations)
		return err
	})
	if err != nil {
		return err
	}

	return s.stmts.prepare(ctx, s.writer)
}

// checkPath reports a path that SQLite would reject with a vague message, or
// would accept but should not: a directory, a device, a missing directory.
func checkPath(path string) error {
	if path == "" {
		return fmt.Errorf("sqlite: open: missing path, want a file such as %s", DefaultPath)
	}
	info, err := os.Stat(path)
	switch {
	case err == nil && info.IsDir():
		return fmt.Errorf("sqlite: open %s: is a directory, want a database file (such as %s)", path, filepath.Join(path, "tokentrail.db"))
	case err == nil && !info.Mode().IsRegular():
		return fmt.Errorf("sqlite: open %s: is not a regular file (mode %v)", path, info.Mode())
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	dir := filepath.Dir(path)
	info, err = os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("sqlite: open %s: directory %s does not exist, create it first", path, dir)
	case err != nil:
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	case !info.IsDir():
		return fmt.Errorf("sqlite: open %s: %s is not a directory", path, dir)
	}
	return nil
}

// openError adds the path, and the sentinel of this package where SQLite's
// result code has one, to an error from opening the file.
func openError(path string, err error) error {
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		switch sqliteErr.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("sqlite: open %s: %w (SQLite reports %v), so check the path", path, ErrNotDatabase, err)
		case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
			return fmt.Errorf("sqlite: open %s: %w (check that the file and its directory are writable)", path, err)
		}
	}
	return fmt.Errorf("sqlite: open %s: %w", path, err)
}

// Connection settings, applied to every new connection in this order.
// page_size comes first because it takes effect only before the file's first
// page is written, which switching to WAL does. The figures are from the
// import benchmark (import_bench_test.go) at one million events.
//
//   - page_size 8192: 5 to 13% faster imports than SQLite's default of 4096,
//     the same speed for batches of 100 events, and the same query times.
//     It applies to new files only.
//   - journal_mode WAL: readers do not block the writer, and a commit
//     appends to the log instead of writing pages twice through a rollback
//     journal.
//   - synchronous FULL: each commit syncs the log, so an Append that
//     returned survives a power loss, as evidence should. It cost about 2%
//     in batches of 50,000 events and nothing measurable in batches of 100.
//   - cache_size: see WithCacheSize.
//   - temp_store MEMORY: sorts for ORDER BY stay off the disk.
//   - busy_timeout: see WithBusyTimeout.
func writerPragmas(cfg config) []string {
	return []string{
		fmt.Sprintf("PRAGMA busy_timeout = %d", cfg.busyTimeout.Milliseconds()),
		"PRAGMA page_size = 8192",
		"PRAGMA journal_mode = WAL",
		"PRAGMA synchronous = FULL",
		fmt.Sprintf("PRAGMA cache_size = %d", -cfg.cacheBytes/1024), // negative: KiB
		"PRAGMA temp_store = MEMORY",
	}
}

// readerPragmas are the settings of the read-only connections. The journal
// mode is a property of the file, which the writer set.
func readerPragmas(cfg config) []string {
	return []string{
		fmt.Sprintf("PRAGMA busy_timeout = %d", cfg.busyTimeout.Milliseconds()),
		fmt.Sprintf("PRAGMA cache_size = %d", -cfg.readerCacheBytes/1024),
		"PRAGMA temp_store = MEMORY",
		"PRAGMA query_only = ON",
	}
}

// openPool returns a connection pool on the file at the absolute path abs.
// Each new connection runs pragmas before its first use.
func openPool(abs, params string, pragmas []string) (*sql.DB, error) {
	// A file: URI keeps '?' and '#' in a file name from being read as the
	// start of URI parameters.
	dsn := "file:" + uriPathEscaper.Replace(filepath.ToSlash(abs))
	if params != "" {
		dsn += "?" + params
	}
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(connector{Connector: base, pragmas: pragmas}), nil
}

var uriPathEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// connector applies connection settings to each connection that the
// modernc.org/sqlite connector opens. Running the pragmas here, rather than
// as DSN parameters, fixes their order.
type connector struct {
	driver.Connector
	pragmas []string
}

// Connect opens a connection and applies the settings, or closes it and
// returns the error of the first setting that failed.
func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	execer, ok := conn.(driver.ExecerContext)
	if !ok {
		_ = conn.Close()
		return nil, fmt.Errorf("driver connection %T cannot execute statements", conn)
	}
	for _, pragma := range c.pragmas {
		if _, err := execer.ExecContext(ctx, pragma, nil); err != nil {
			_ = conn.Close() // the pragma's error is the one to report
			return nil, fmt.Errorf("%s: %w", pragma, err)
		}
	}
	return conn, nil
}

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
	if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count events: %w", err)
	}
	return n, nil
}

// Close waits for the calls in progress, refreshes the query planner's
// statistics of the tables that changed enough, and closes the file. Calls
// after Close, Close included, return store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return store.ErrClosed
	}
	s.mu.closed = true

	// PRAGMA optimize runs ANALYZE where the tables changed enough since
	// the last run, so that a query with several filters picks the most
	// selective index. analysis_limit bounds its cost on a large file.
	if s.writer == nil { // opened with ReadOnly
		if err := errors.Join(s.reads.close(), s.reader.Close()); err != nil {
			return fmt.Errorf("sqlite: close %s: %w", s.path, err)
		}
		return nil
	}
	var errs []error
	for _, pragma := range []string{"PRAGMA analysis_limit = 1000", "PRAGMA optimize"} {
		_, err := s.writer.Exec(pragma)
		errs = append(errs, err)
	}
	errs = append(errs, s.stmts.close(), s.reads.close(), s.reader.Close(), s.writer.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", s.path, err)
	}
	return nil
}

// openReadOnly opens only the reader pool, in SQLite's read-only mode, after
// checking that the file is a store of this build's schema version.
func openReadOnly(ctx context.Context, path, abs string, cfg config) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("sqlite: open %s read-only: %w", path, err)
	}
	reader, appID, version, err := openReaders(ctx, abs, "mode=ro", cfg)
	if err != nil {
		// SQLite needs to create the WAL index (-shm) to read a WAL file,
		// which fails in a folder the process may not write. A file that no
		// process here can write is taken as unchanging, which SQLite then reads
		// without the index.
		// NOTE: read this way, writes still in a -wal file that was not
		// checkpointed are not seen.
		reader, appID, version, err = openReaders(ctx, abs, "mode=ro&immutable=1", cfg)
	}
	if err != nil {
		return nil, openError(path, err)
	}
	latest := migrations[len(migrations)-1].version
	switch {
	case appID != applicationID:
		err = fmt.Errorf("sqlite: open %s: %w: its application id is %#x, a tokentrail store has %#x", path, ErrNotStore, appID, applicationID)
	case version > latest:
		err = fmt.Errorf("sqlite: open %s: %w (%d, this build knows %d), so use a newer tokentrail", path, ErrSchemaTooNew, version, latest)
	case version < latest:
		err = fmt.Errorf("sqlite: open %s: %w (%d, this build needs %d), so open it once writable to migrate it", path, ErrSchemaTooOld, version, latest)
	}
	if err != nil {
		_ = reader.Close() // the check's error is the one to report
		return nil, err
	}

	reader.SetMaxOpenConns(cfg.readers)
	reader.SetMaxIdleConns(cfg.readers)
	return &Store{path: path, reader: reader}, nil
}

// openReaders opens the reader pool with params and reads the file's
// application id and schema version, which also opens the first connection.
func openReaders(ctx context.Context, abs, params string, cfg config) (reader *sql.DB, appID, version int, err error) {
	reader, err = openPool(abs, params, readerPragmas(cfg))
	if err != nil {
		return nil, 0, 0, err
	}
	err = reader.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID)
	if err == nil {
		err = reader.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version)
	}
	if err != nil {
		_ = reader.Close() // the query's error is the one to report
		return nil, 0, 0, err
	}
	return reader, appID, version, nil
}
