package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"github.com/tokentrail/tokentrail/server"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/postgres"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// eventStore is the part of a store that the commands use.
// *sqlite.Store and *postgres.Store implement it.
type eventStore interface {
	server.Store
	store.SettingStore
	store.KeyStore
	store.AccessStore
}

// defaultDBPath returns $TOKENTRAIL_DB, or sqlite.DefaultPath when it is
// unset.
func defaultDBPath() string {
	if p := os.Getenv("TOKENTRAIL_DB"); p != "" {
		return p
	}
	return sqlite.DefaultPath
}

// isPostgres reports whether db, the value of --db, names a PostgreSQL
// database (a postgres:// or postgresql:// URL) rather than a SQLite file.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// checkPostgresURL rejects a store URL (--db, --store or TOKENTRAIL_DB)
// that holds a password. The commands
// print --db in their messages and logs, and other users of the machine can
// read a command line, so the password belongs in PGPASSWORD or a
// ~/.pgpass file, which the driver reads.
func checkPostgresURL(db string) error {
	u, err := url.Parse(db)
	if err != nil {
		// url.Error holds the whole string, password included, so only
		// the reason is shown.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return fmt.Errorf("invalid store URL: %v (want postgres://USER@HOST:PORT/DATABASE)", err)
	}
	_, hasPassword := u.User.Password()
	if hasPassword || u.Query().Has("password") {
		u.User = url.User(u.User.Username())
		q := u.Query()
		q.Del("password")
		u.RawQuery = q.Encode()
		return fmt.Errorf("store URL %s: remove the password from the URL and set it in PGPASSWORD or ~/.pgpass instead, because the URL shows in messages and in the process list", u)
	}
	return nil
}

// openStore opens the store that db names, a SQLite file or a PostgreSQL
// URL, creating it or migrating its schema as needed.
func openStore(ctx context.Context, db string) (eventStore, error) {
	if isPostgres(db) {
		if err := checkPostgresURL(db); err != nil {
			return nil, err
		}
		return postgres.Open(ctx, db)
	}
	return sqlite.Open(ctx, db)
}

// openStoreReadOnly opens an existing store for queries, so that an
// investigation never changes the evidence and works on a file the user may
// only read.
//
// A SQLite store written by an older tokentrail is migrated first, when the
// file can be written: a migration adds tables, columns and indexes and
// leaves the stored events as they are.
//
// NOTE: a PostgreSQL store has no read-only mode here. It is opened as for
// writing, and only the callers keep from writing. A role that may only
// read opens a schema at this build's version, but not one that needs
// migrating.
func openStoreReadOnly(ctx context.Context, db string) (eventStore, error) {
	if isPostgres(db) {
		return openStore(ctx, db)
	}
	st, err := sqlite.Open(ctx, db, sqlite.ReadOnly())
	if !errors.Is(err, sqlite.ErrSchemaTooOld) {
		return st, err
	}
	writable, werr := sqlite.Open(ctx, db)
	if werr != nil {
		return nil, fmt.Errorf("%w; migrating it failed: %v", err, werr)
	}
	if werr := writable.Close(); werr != nil {
		return nil, fmt.Errorf("%w; migrating it failed: %v", err, werr)
	}
	return sqlite.Open(ctx, db, sqlite.ReadOnly())
}

// requireStore returns an error that says how to create the store when no
// file is at path, so that a command that only reads does not create an
// empty store where the user mistyped the path. A PostgreSQL database is
// not checked here: Open reports one that cannot be reached.
func requireStore(path string) error {
	if isPostgres(path) {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no store at %s: import logs first (tokentrail --db %s import FILE), or name the store with --db or TOKENTRAIL_DB", path, path)
	}
	return nil
}
