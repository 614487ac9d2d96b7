package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/tokentrail/tokentrail/store/sqlite"
)

// defaultDBPath returns $TOKENTRAIL_DB, or sqlite.DefaultPath when it is
// unset.
func defaultDBPath() string {
	if p := os.Getenv("TOKENTRAIL_DB"); p != "" {
		return p
	}
	return sqlite.DefaultPath
}

func openStore(ctx context.Context, path string) (*sqlite.Store, error) {
	return sqlite.Open(ctx, path)
}

// openStoreReadOnly opens an existing store for queries, so that an
// investigation never changes the evidence and works on a file the user may
// only read.
//
// A store written by an older tokentrail is migrated first, when the file
// can be written: a migration adds tables, columns and indexes and leaves
// the stored events as they are.
func openStoreReadOnly(ctx context.Context, path string) (*sqlite.Store, error) {
	st, err := sqlite.Open(ctx, path, sqlite.ReadOnly())
	if !errors.Is(err, sqlite.ErrSchemaTooOld) {
		return st, err
	}
	writable, werr := sqlite.Open(ctx, path)
	if werr != nil {
		return nil, fmt.Errorf("%w; migrating it failed: %v", err, werr)
	}
	if werr := writable.Close(); werr != nil {
		return nil, fmt.Errorf("%w; migrating it failed: %v", err, werr)
	}
	return sqlite.Open(ctx, path, sqlite.ReadOnly())
}

// requireStore returns an error that says how to create the store when no
// file is at path, so that a command that only reads does not create an
// empty store where the user mistyped the path.
func requireStore(path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no store at %s: import logs first (tokentrail --db %s import FILE), or name the store with --db or TOKENTRAIL_DB", path, path)
	}
	return nil
}
