package main

import (
	"context"
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
func openStoreReadOnly(ctx context.Context, path string) (*sqlite.Store, error) {
	return sqlite.Open(ctx, path, sqlite.ReadOnly())
}
