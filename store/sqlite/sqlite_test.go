package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTemp(t)
	})
}

// openTemp opens a store in a new file under t.TempDir.
func openTemp(tb testing.TB, opts ...Option) *Store {
	tb.Helper()
	return openPath(tb, filepath.Join(tb.TempDir(), "tokentrail.db"), opts...)
}

// openPath opens the store at path and closes it when the test ends, unless
// the test closed it.
func openPath(tb testing.TB, path string, opts ...Option) *Store {
	tb.Helper()
	s, err := Open(context.Background(), path, opts...)
	if err != nil {
		tb.Fatalf("Open(%s) error = %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			tb.Errorf("Close(%s) = %v", path, err)
		}
	})
	return s
}

func mustClose(tb testing.TB, s *Store) {
	tb.Helper()
	if err := s.Close(); err != nil {
		tb.Fatalf("Close() = %v", err)
	}
}

func mustAppend(tb testing.TB, s *Store, events []audit.Event) store.Appended {
	tb.Helper()
	got, err := s.Append(context.Background(), events)
	if err != nil {
		tb.Fatalf("Append(%d events) error = %v", len(events), err)
	}
	return got
}

func TestReopenKeepsEvents(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokentrail.db")
	events := storetest.Generate(1, 20, 10)

	s := openPath(t, path)
	mustAppend(t, s, events)
	mustClose(t, s)

	s = openPath(t, path)
	n, err := s.Count(ctx)
	if err != nil {
		t.Fatalf("Count() after reopen error = %v", err)
	}
	if n != int64(len(events)) {
		t.Errorf("Count() after reopen = %d, want %d", n, len(events))
	}
	found, err := s.Events(ctx, store.Query{TokenID: events[0].TokenID})
	if err != nil {
		t.Fatalf("Events() after reopen error = %v", err)
	}
	if len(found) != 10 {
		t.Errorf("Events(token %s) after reopen returned %d events, want 10", events[0].TokenID, len(found))
	}
	if version := schemaVersion(t, s); version != len(migrations) {
		t.Errorf("schema version after reopen = %d, want %d", version, len(migrations))
	}
}

func TestReimportIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokentrail.db")
	events := storetest.Generate(2, 30, 10)

	s := openPath(t, path)
	first := mustAppend(t, s, events[:200])
	mustClose(t, s)

	// A second import of the whole file, in other batches, after a restart.
	s = openPath(t, path)
	var second store.Appended
	for start := 0; start < len(events); start += 70 {
		got := mustAppend(t, s, events[start:min(start+70, len(events))])
		second.Inserted += got.Inserted
		second.Duplicates += got.Duplicates
	}

	if want := (store.Appended{Inserted: 200}); first != want {
		t.Errorf("first import = %+v, want %+v", first, want)
	}
	if want := (store.Appended{Inserted: 100, Duplicates: 200}); second != want {
		t.Errorf("second import = %+v, want %+v", second, want)
	}
	if n := countRows(t, s, "tokens"); n != 30 {
		t.Errorf("tokens rows after importing 30 tokens twice = %d, want 30", n)
	}
}

func TestSchemaVersionRecorded(t *testing.T) {
	s := openTemp(t)

	var version, userVersion, appID int
	var description, appliedAt string
	err := s.reader.QueryRow("SELECT version, description, applied_at FROM schema_migrations ORDER BY version DESC LIMIT 1").Scan(&version, &description, &appliedAt)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if err := s.reader.QueryRow("PRAGMA user_version").Scan(&userVersion); err != nil {
		t.Fatalf("read user_version: %v", err)
	}
	if err := s.reader.QueryRow("PRAGMA application_id").Scan(&appID); err != nil {
		t.Fatalf("read application_id: %v", err)
	}

	if version != len(migrations) {
		t.Errorf("last schema_migrations version = %d, want %d", version, len(migrations))
	}
	if description != migrations[len(migrations)-1].description {
		t.Errorf("last schema_migrations description = %q, want %q", description, migrations[len(migrations)-1].description)
	}
	if _, err := time.Parse(time.RFC3339, appliedAt); err != nil {
		t.Errorf("applied_at = %q, want an RFC 3339 time: %v", appliedAt, err)
	}
	if userVersion != len(migrations) {
		t.Errorf("user_version = %d, want %d", userVersion, len(migrations))
	}
	if appID != applicationID {
		t.Errorf("application_id = %#x, want %#x", appID, applicationID)
	}
}

func TestMigrationUpgradesInOrder(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	mustAppend(t, s, storetest.Generate(3, 2, 5))
	v2 := append(append([]migration(nil), migrations...),
		migration{version: len(migrations) + 1, description: "add notes", statements: []string{
			"CREATE TABLE notes (event_seq INTEGER NOT NULL REFERENCES events, note TEXT NOT NULL)",
		}},
		migration{version: len(migrations) + 2, description: "index notes", statements: []string{
			"CREATE INDEX notes_event ON notes (event_seq)", // fails unless the previous step ran first
		}},
	)

	var got int
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		var err error
		got, err = migrate(ctx, tx, v2)
		return err
	})

	if err != nil {
		t.Fatalf("migrate(two new steps) error = %v", err)
	}
	if got != len(v2) {
		t.Errorf("migrate(two new steps) = version %d, want %d", got, len(v2))
	}
	if n := countRows(t, s, "schema_migrations"); n != len(v2) {
		t.Errorf("schema_migrations rows = %d, want %d", n, len(v2))
	}
	if n := countRows(t, s, "events"); n != 10 {
		t.Errorf("events rows after the upgrade = %d, want 10", n)
	}
}

func TestFailedMigrationRollsBack(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	broken := append(append([]migration(nil), migrations...),
		migration{version: len(migrations) + 1, description: "create a table", statements: []string{"CREATE TABLE half (x INTEGER)"}},
		migration{version: len(migrations) + 2, description: "broken", statements: []string{"CREATE TABLE half (x INTEGER)"}},
	)

	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := migrate(ctx, tx, broken)
		return err
	})

	want := fmt.Sprintf("apply migration %d (broken)", len(migrations)+2)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("migrate(broken step) error = %v, want one containing %q", err, want)
	}
	if version := schemaVersion(t, s); version != len(migrations) {
		t.Errorf("schema version after a failed migration = %d, want %d", version, len(migrations))
	}
	var n int
	if err := s.reader.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'half'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("table of the failed upgrade's first step exists, want it rolled back")
	}
}

func TestCheckMigrationsRejectsGaps(t *testing.T) {
	tests := []struct {
		name string
		list []migration
	}{
		{"empty", nil},
		{"starts at 2", []migration{{version: 2}}},
		{"gap", []migration{{version: 1}, {version: 3}}},
		{"repeat", []migration{{version: 1}, {version: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkMigrations(tt.list); err == nil {
				t.Errorf("checkMigrations(%s) = nil, want an error", tt.name)
			}
		})
	}
	if err := checkMigrations(migrations); err != nil {
		t.Errorf("checkMigrations(migrations) = %v, want nil", err)
	}
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokentrail.db")
	s := openPath(t, path)
	future := len(migrations) + 5
	err := s.WithTx(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec("INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, 'from the future', '2030-01-01T00:00:00Z')", future)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)

	_, err = Open(context.Background(), path)

	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open(file at schema %d) error = %v, want one wrapping ErrSchemaTooNew", future, err)
	}
	for _, part := range []string{path, fmt.Sprintf("schema version %d", future), fmt.Sprintf("up to %d", len(migrations))} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("Open(file at schema %d) error = %q, want it to contain %q", future, err, part)
		}
	}
}

func TestJournalModeIsWAL(t *testing.T) {
	s := openTemp(t)
	for name, db := range map[string]*sql.DB{"writer": s.writer, "reader": s.reader} {
		var mode string
		if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatalf("%s: read journal_mode: %v", name, err)
		}
		if mode != "wal" {
			t.Errorf("%s: journal_mode = %q, want \"wal\"", name, mode)
		}
	}
	if _, err := os.Stat(s.path + "-wal"); err != nil {
		t.Errorf("WAL file: %v", err)
	}
}

func TestReaderIsReadOnly(t *testing.T) {
	s := openTemp(t)
	_, err := s.reader.Exec("DELETE FROM events")
	if err == nil {
		t.Errorf("DELETE on a reader connection = nil error, want a query_only error")
	}
}

func TestOpenBadPaths(t *testing.T) {
	dir := t.TempDir()
	textFile := filepath.Join(dir, "access.log")
	if err := os.WriteFile(textFile, []byte(strings.Repeat("127.0.0.1 - - GET /index.html 200\n", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	otherApp := filepath.Join(dir, "other-app.db")
	db, err = sql.Open("sqlite", otherApp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA application_id = 42"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		path     string
		sentinel error  // nil: any error
		contains string // a part of the message besides the path
	}{
		{"empty path", "", nil, "missing path"},
		{"directory", dir, nil, "is a directory"},
		{"missing directory", filepath.Join(dir, "no", "such", "tokentrail.db"), nil, "does not exist"},
		{"parent is a file", filepath.Join(textFile, "tokentrail.db"), nil, "is not a directory"},
		{"text file", textFile, ErrNotDatabase, "not a SQLite database"},
		{"another application's tables", foreign, ErrNotStore, "customers"},
		{"another application id", otherApp, ErrNotStore, "0x2a"},
		{"device", os.DevNull, nil, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(context.Background(), tt.path)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open(%q) error = nil, want an error", tt.path)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("Open(%q) error = %v, want one wrapping %v", tt.path, err, tt.sentinel)
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("Open(%q) error = %q, want it to name the path", tt.path, err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("Open(%q) error = %q, want it to contain %q", tt.path, err, tt.contains)
			}
		})
	}

	// The rejected files are unchanged: no schema was added to them.
	data, err := os.ReadFile(textFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "127.0.0.1") {
		t.Errorf("Open changed the text file it rejected")
	}
}

func TestOpenInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
	}{
		{"negative cache", WithCacheSize(-1)},
		{"no readers", WithReaders(0)},
		{"negative busy timeout", WithBusyTimeout(-time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokentrail.db")
			s, err := Open(context.Background(), path, tt.opt)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open(%s) error = nil, want an error", tt.name)
			}
			if _, statErr := os.Stat(path); statErr == nil {
				t.Errorf("Open(%s) created %s, want no file", tt.name, path)
			}
		})
	}
}

func TestOpenPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "case #1 ?x=%41")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "store?mode=ro#frag.db")

	s := openPath(t, path)
	mustAppend(t, s, storetest.Generate(4, 1, 3))
	mustClose(t, s)

	if _, err := os.Stat(path); err != nil {
		t.Errorf("store file at the given path: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "store?mode=ro#frag.db") {
			t.Errorf("Open created %q in %s, want only the store file and its WAL", e.Name(), dir)
		}
	}
}

func TestAppendRejectsUnstorableValues(t *testing.T) {
	valid := audit.Event{ID: "ok", Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Kind: audit.KindUsed, TokenID: "tok", Source: "app.log:7"}
	tests := []struct {
		name   string
		modify func(e *audit.Event)
		field  string
	}{
		{"time before 1678", func(e *audit.Event) { e.Time = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC) }, "Time"},
		{"time after 2262", func(e *audit.Event) { e.Time = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }, "Time"},
		{"NaN latitude", func(e *audit.Event) { e.Geo.Latitude = math.NaN() }, "Geo.Latitude"},
		{"infinite longitude", func(e *audit.Event) { e.Geo.Longitude = math.Inf(-1) }, "Geo.Longitude"},
		{"NaN accuracy", func(e *audit.Event) { e.Geo.AccuracyKM = math.NaN() }, "Geo.AccuracyKM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			bad := valid
			bad.ID = "bad"
			tt.modify(&bad)

			_, err := s.Append(context.Background(), []audit.Event{valid, bad})

			var fieldErr *audit.FieldError
			if !errors.As(err, &fieldErr) || fieldErr.Field != tt.field {
				t.Fatalf("Append(%s) error = %v, want a *audit.FieldError on %s", tt.name, err, tt.field)
			}
			if !errors.Is(err, audit.ErrInvalidValue) {
				t.Errorf("Append(%s) error = %v, want one wrapping audit.ErrInvalidValue", tt.name, err)
			}
			for _, part := range []string{"none of the 2 events", "event 2", `"bad"`, "app.log:7"} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("Append(%s) error = %q, want it to contain %q", tt.name, err, part)
				}
			}
			if n := countRows(t, s, "events"); n != 0 {
				t.Errorf("events rows after a rejected batch = %d, want 0", n)
			}
		})
	}
}

func TestQueryRejectsMalformedFingerprint(t *testing.T) {
	s := openTemp(t)
	for _, fp := range []string{"abc", strings.ToUpper(audit.Fingerprint("x")), audit.Fingerprint("x") + "0"} {
		_, err := s.Events(context.Background(), store.Query{Fingerprint: fp})
		if !errors.Is(err, audit.ErrInvalidValue) {
			t.Errorf("Events(fingerprint %q) error = %v, want one wrapping audit.ErrInvalidValue", fp, err)
		}
	}
}

func TestWithTx(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	mustAppend(t, s, storetest.Generate(5, 1, 4))
	deleteAll := func(tx *sql.Tx) error {
		_, err := tx.Exec("DELETE FROM events")
		return err
	}

	errBoom := errors.New("boom")
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		if err := deleteAll(tx); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("WithTx(fn returning an error) = %v, want %v", err, errBoom)
	}
	if n := countRows(t, s, "events"); n != 4 {
		t.Errorf("events rows after a failed WithTx = %d, want 4 (rolled back)", n)
	}

	func() {
		defer func() {
			if p := recover(); p != "panic in fn" {
				t.Errorf("recover() = %v, want the panic of fn", p)
			}
		}()
		_ = s.WithTx(ctx, func(tx *sql.Tx) error {
			if err := deleteAll(tx); err != nil {
				return err
			}
			panic("panic in fn")
		})
	}()
	if n := countRows(t, s, "events"); n != 4 {
		t.Errorf("events rows after a panic in WithTx = %d, want 4 (rolled back)", n)
	}

	if err := s.WithTx(ctx, deleteAll); err != nil {
		t.Fatalf("WithTx(delete) error = %v", err)
	}
	if n := countRows(t, s, "events"); n != 0 {
		t.Errorf("events rows after a committed delete = %d, want 0", n)
	}

	mustClose(t, s)
	if err := s.WithTx(ctx, deleteAll); !errors.Is(err, store.ErrClosed) {
		t.Errorf("WithTx after Close = %v, want store.ErrClosed", err)
	}
}

// TestTokenRowsAreShared checks the layout that the import speed relies on:
// the events of one token share one tokens row, and an event whose token
// fields differ gets its own row.
func TestTokenRowsAreShared(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	events := storetest.Generate(6, 10, 8)
	for start := 0; start < len(events); start += 7 { // tokens span batches
		mustAppend(t, s, events[start:min(start+7, len(events))])
	}
	if n := countRows(t, s, "tokens"); n != 10 {
		t.Errorf("tokens rows for 10 tokens = %d, want 10", n)
	}

	variant := events[0]
	variant.ID = "variant"
	variant.Subject = ""
	mustAppend(t, s, []audit.Event{variant})
	if n := countRows(t, s, "tokens"); n != 11 {
		t.Errorf("tokens rows after an event without subject = %d, want 11", n)
	}
	found, err := s.Events(ctx, store.Query{TokenID: variant.TokenID})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range found {
		wantSubject := events[0].Subject
		if e.ID == "variant" {
			wantSubject = ""
		}
		if e.Subject != wantSubject {
			t.Errorf("event %s Subject = %q, want %q", e.ID, e.Subject, wantSubject)
		}
	}
}

func schemaVersion(tb testing.TB, s *Store) int {
	tb.Helper()
	var v int
	if err := s.reader.QueryRow("SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
		tb.Fatalf("read schema version: %v", err)
	}
	return v
}

func countRows(tb testing.TB, s *Store, table string) int {
	tb.Helper()
	var n int
	if err := s.reader.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return n
}

// TestQueriesUseIndexes checks with EXPLAIN QUERY PLAN that no query shape
// reads a whole table, with and without the statistics that ANALYZE
// gathers.
func TestQueriesUseIndexes(t *testing.T) {
	s := openTemp(t)
	events := storetest.Generate(8, 200, 10)
	mustAppend(t, s, events)
	e := events[len(events)/2]
	since := e.Time.Add(-time.Hour)
	queries := []struct {
		name  string
		query store.Query
	}{
		{"token id", store.Query{TokenID: e.TokenID}},
		{"fingerprint", store.Query{Fingerprint: e.Fingerprint}},
		{"subject", store.Query{Subject: e.Subject}},
		{"subject since", store.Query{Subject: e.Subject, Since: since, Limit: 10}},
		{"IP", store.Query{IP: e.IP}},
		{"IP and kinds", store.Query{IP: e.IP, Kinds: []audit.Kind{audit.KindRejected}, Since: since}},
		{"session", store.Query{SessionID: e.SessionID}},
		{"parent token", store.Query{ParentTokenID: e.ParentTokenID}},
		{"token and IP", store.Query{TokenID: e.TokenID, IP: e.IP}},
		{"subject and session", store.Query{Subject: e.Subject, SessionID: e.SessionID}},
	}
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			if _, err := s.writer.Exec("ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range queries {
			t.Run(fmt.Sprintf("%s/analyzed=%v", tt.name, analyzed), func(t *testing.T) {
				query, args, _, err := buildQuery(tt.query)
				if err != nil {
					t.Fatal(err)
				}
				rows, err := s.reader.Query("EXPLAIN QUERY PLAN "+query, args...)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var plan []string
				for rows.Next() {
					var id, parent, unused int
					var detail string
					if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
						t.Fatal(err)
					}
					plan = append(plan, detail)
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				for _, step := range plan {
					if strings.HasPrefix(step, "SCAN ") {
						t.Errorf("plan of Events(%s) has a full scan %q; whole plan: %q", tt.name, step, plan)
					}
				}
			})
		}
	}
}

func TestWriterSettings(t *testing.T) {
	s := openTemp(t)
	want := map[string]string{
		"page_size":    "8192",
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"cache_size":   "-65536",
		"temp_store":   "2", // MEMORY
		"busy_timeout": "5000",
	}
	for pragma, value := range want {
		var got string
		if err := s.writer.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatalf("read %s: %v", pragma, err)
		}
		if got != value {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, value)
		}
	}
}

func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	events := storetest.Generate(3, 5, 4)
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := db.Append(ctx, events); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	ro, err := Open(ctx, path, ReadOnly())
	if err != nil {
		t.Fatalf("Open read-only: %v", err)
	}
	got, err := ro.Events(ctx, store.Query{TokenID: events[0].TokenID})
	if err != nil || len(got) == 0 {
		t.Errorf("Events read-only = %d events, %v; want the token's events", len(got), err)
	}
	if _, err := ro.Append(ctx, events[:1]); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Append read-only = %v, want ErrReadOnly", err)
	}
	if err := ro.Close(); err != nil {
		t.Errorf("Close read-only: %v", err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the store file changed while open read-only")
	}

	if _, err := Open(ctx, filepath.Join(t.TempDir(), "missing.db"), ReadOnly()); err == nil {
		t.Error("Open read-only of a missing file succeeded, want an error")
	}
}
