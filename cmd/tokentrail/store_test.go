package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite" // the driver, to turn a store back into an older one
)

// TestReadOnlyCommandsMigrateOlderStores turns a demo store back into one
// an older tokentrail wrote, without the last migration, and expects the
// read-only commands to bring it up to date and read it.
func TestReadOnlyCommandsMigrateOlderStores(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	if _, _, err := run(t, "", "demo", "--keep", db); err != nil {
		t.Fatalf("demo: %v", err)
	}

	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	var latest int
	if err := raw.QueryRow("SELECT max(version) FROM schema_migrations").Scan(&latest); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"DROP INDEX events_token_revoked", // what the last migration added
		"DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)",
		fmt.Sprintf("PRAGMA user_version = %d", latest-1),
	} {
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	st, err := openStoreReadOnly(context.Background(), db)
	if err != nil {
		t.Fatalf("open an older store read-only: %v", err)
	}
	defer st.Close()
	if n, err := st.Count(context.Background()); err != nil || n == 0 {
		t.Errorf("Count after the migration = %d, %v; want the demo's events", n, err)
	}
}
