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
// database (a postgres:// or postgresql:// URL, the scheme in any case)
// rather than a SQLite file.
func isPostgres(db string) bool { return postgres.IsURL(db) }

// checkStoreName rejects a store name that is neither a SQLite file path
// nor a PostgreSQL URL, before anything opens or creates it: a URL of
// another scheme, such as a mistyped postgress://, and a libpq key=value
// connection string, which would otherwise become a SQLite file named after
// it, password and all. The errors never repeat the value, which may hold a
// password.
func checkStoreName(db string) error {
	if scheme, _, ok := strings.Cut(db, "://"); ok && !isPostgres(db) && !strings.ContainsAny(scheme, "/\\") {
		return fmt.Errorf("unknown store URL scheme %q: give a SQLite file path, or a postgres:// URL (docs/postgres.md)", shortenArg(scheme))
	}
	if postgres.LooksLikeSettings(db) {
		return errors.New("the store looks like a PostgreSQL key=value connection string, which is not taken: " +
			"give it as a postgres://USER@HOST:PORT/DATABASE URL (docs/postgres.md), with the password in PGPASSWORD or ~/.pgpass")
	}
	if isPostgres(db) {
		return checkPostgresURL(db)
	}
	return nil
}

// checkPostgresURL rejects a store URL (--db, --store or TOKENTRAIL_DB)
// that holds a password. The commands
// print --db in their messages and logs, and other users of the machine can
// read a command line, so the password belongs in PGPASSWORD or a
// ~/.pgpass file, which the driver reads.
func checkPostgresURL(db string) error {
	u, err := url.Parse(db)
	if err != nil {
		// url.Error holds the whole string, and even its reason may quote
		// part of a password, as for a "#" in it, so neither is shown.
		return errors.New("invalid store URL: it cannot be read as a URL (not shown, since it may hold a password): " +
			"want postgres://USER@HOST:PORT/DATABASE, with characters such as # / ? @ in the user name percent-encoded")
	}
	// sslpassword is the passphrase of the client key, as secret as the
	// password.
	_, hasPassword := u.User.Password()
	if hasPassword || u.Query().Has("password") || u.Query().Has("sslpassword") {
		u.User = url.User(u.User.Username())
		q := u.Query()
		q.Del("password")
		q.Del("sslpassword")
		u.RawQuery = q.Encode()
		return fmt.Errorf("store URL %s: remove the password from the URL and set it in PGPASSWORD or ~/.pgpass instead "+
			"(the key's passphrase, sslpassword, in ~/.pgpass or the key file), because the URL shows in messages and in the process list", u)
	}
	return nil
}

// openStore opens the store that db names, a SQLite file or a PostgreSQL
// URL, creating it or migrating its schema as needed.
func openStore(ctx context.Context, db string) (eventStore, error) {
	if err := checkStoreName(db); err != nil {
		return nil, err
	}
	if isPostgres(db) {
		return postgres.Open(ctx, postgres.NormalURL(db))
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
	if err := checkStoreName(db); err != nil {
		return nil, err
	}
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
	if err := checkStoreName(path); err != nil {
		return err
	}
	if isPostgres(path) {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no store at %s: import logs first (tokentrail --db %s import FILE), or name the store with --db or TOKENTRAIL_DB", path, path)
	}
	return nil
}
