// Package pgtest gives tests a PostgreSQL schema of their own on the server
// that TOKENTRAIL_PG_DSN names, so that tests of store/postgres and of its
// users run in parallel and leave nothing behind.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN is the environment variable that names the server, such as
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvDSN = "TOKENTRAIL_PG_DSN"

// DSN creates a schema with a random name on the server of $TOKENTRAIL_PG_DSN
// and returns that connection string with search_path set to the schema.
// The schema and everything in it is dropped when tb ends.
//
// DSN skips tb when the variable is unset, and fails it when the server
// cannot be reached, so that a run that asked for PostgreSQL never passes
// without it.
func DSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		tb.Skipf("%s is not set; to run the PostgreSQL tests, set it to a server where tests may create schemas, such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable", EnvDSN)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect to the server of %s: %v", EnvDSN, err)
	}
	defer conn.Close(ctx)

	var random [8]byte
	_, _ = rand.Read(random[:]) // crypto/rand.Read never fails
	schema := "tokentrail_test_" + hex.EncodeToString(random[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("connect to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(tb, base, schema)
}

// WithSearchPath returns dsn, a URL or key=value settings, with search_path
// set to schema.
func WithSearchPath(tb testing.TB, dsn, schema string) string {
	tb.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema
	}
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("parse %s as a URL: %v", EnvDSN, err) // the error does not show the password
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
