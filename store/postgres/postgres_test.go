package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokentrail/tokentrail/audit"

	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/postgres"
	"github.com/tokentrail/tokentrail/store/postgres/pgtest"
	"github.com/tokentrail/tokentrail/store/storetest"
)

// openTest opens a store in a new schema of its own.
func openTest(tb testing.TB) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), pgtest.DSN(tb))
	if err != nil {
		tb.Fatalf("Open() error = %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() }) // a test may have closed it already
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

// connect opens a plain connection to the schema of dsn, for checks and
// changes that go around the store.
func connect(tb testing.TB, dsn string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func TestReopenKeepsEvents(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	events := storetest.Generate(3, 10, 5)

	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	if _, err := s.Append(ctx, events); err != nil {
		t.Fatalf("Append(%d events) error = %v", len(events), err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}

	s, err = postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("second Open() error = %v", err)
	}
	defer s.Close()
	if n, err := s.Count(ctx); err != nil || n != int64(len(events)) {
		t.Errorf("Count() after reopening = %d, %v; want %d", n, err, len(events))
	}
	got, err := s.Append(ctx, events)
	if err != nil || got != (store.Appended{Duplicates: len(events)}) {
		t.Errorf("Append(same events) after reopening = %+v, %v; want %d duplicates", got, err, len(events))
	}
}

func TestOpenRejectsForeignSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	if _, err := connect(t, dsn).Exec(context.Background(), "CREATE TABLE invoices (id integer)"); err != nil {
		t.Fatal(err)
	}

	s, err := postgres.Open(context.Background(), dsn)
	if err == nil {
		s.Close()
	}
	if !errors.Is(err, postgres.ErrNotStore) {
		t.Fatalf("Open(schema with another application's table) error = %v, want one wrapping ErrNotStore", err)
	}
	if !strings.Contains(err.Error(), "invoices") {
		t.Errorf("Open error = %q, want it to name the table invoices", err)
	}
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	s.Close()
	if _, err := connect(t, dsn).Exec(ctx, "INSERT INTO tokentrail_migrations (version, description) VALUES (999, 'from the future')"); err != nil {
		t.Fatal(err)
	}

	s, err = postgres.Open(ctx, dsn)
	if err == nil {
		s.Close()
	}
	if !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Errorf("Open(schema of version 999) error = %v, want one wrapping ErrSchemaTooNew", err)
	}
}

func TestOpenErrorHidesPassword(t *testing.T) {
	// Port 1 on loopback: nothing listens there, so the connection is
	// refused at once.
	const password = "pa55-w0rd-of-the-test"
	for _, dsn := range []string{
		"postgres://tokentrail:" + password + "@127.0.0.1:1/trail?sslmode=disable&connect_timeout=5",
		"host=127.0.0.1 port=1 user=tokentrail password=" + password + " dbname=trail sslmode=disable connect_timeout=5",
		"postgres://tokentrail:" + password + "@127.0.0.1:1/trail?sslmode=nonsense",
	} {
		s, err := postgres.Open(context.Background(), dsn)
		if err == nil {
			s.Close()
			t.Fatalf("Open(unreachable server) error = nil, want one")
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("Open(unreachable server) error = %q, which shows the password", err)
		}
	}
}

// TestOpenErrorAdvice checks the advice of the errors an operator
// meets when setting up a store: a missing database or schema, an unknown
// role, and a server that does not accept connections.
func TestOpenErrorAdvice(t *testing.T) {
	ctx := context.Background()
	refused, err := postgres.Open(ctx, "postgres://tokentrail@127.0.0.1:1/trail?sslmode=disable&connect_timeout=5")
	if err == nil {
		refused.Close()
		t.Fatal("Open(a port where nothing listens) error = nil, want one")
	}
	if want := "check that PostgreSQL runs and accepts connections at 127.0.0.1:1"; !strings.Contains(err.Error(), want) {
		t.Errorf("Open(a port where nothing listens) error = %q, want it to say %q", err, want)
	}

	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		t.Skipf("%s is not a URL, so the test cannot change its database", pgtest.EnvDSN)
	}
	change := func(f func(u *url.URL)) string {
		c := *u
		f(&c)
		return c.String()
	}
	tests := []struct {
		name, dsn, want string
	}{
		{"missing database", change(func(u *url.URL) { u.Path = "/tokentrail_no_such_db" }), "create the database first (createdb -O"},
		{"unknown role", change(func(u *url.URL) { u.User = url.User("tokentrail_no_such_role") }), "check that role tokentrail_no_such_role exists"},
		{"missing schema", pgtest.WithSearchPath(t, dsn, "tokentrail_no_such_schema"), "no schema of the search_path exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := postgres.Open(ctx, tt.dsn)
			if err == nil {
				s.Close()
				t.Fatal("Open() error = nil, want one")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open() error = %q, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestPartitionsByMonth(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	defer s.Close()
	event := func(id string, at time.Time) audit.Event {
		return audit.Event{ID: id, Time: at, Kind: audit.KindUsed, TokenID: "tok-partitions"}
	}
	if _, err := s.Append(ctx, []audit.Event{
		event("june-first", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)),
		event("june-last", time.Date(2025, 6, 30, 23, 59, 59, 999999999, time.UTC)),
		event("july", time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)),
		event("earliest", time.Unix(0, math.MinInt64)),
		event("latest", time.Unix(0, math.MaxInt64)),
	}); err != nil {
		t.Fatalf("Append error = %v", err)
	}

	rows, err := connect(t, dsn).Query(ctx, `SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = 'events' AND p.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
		ORDER BY c.relname`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"events_1677_09", "events_2025_06", "events_2025_07", "events_2262_04"}
	if !slices.Equal(got, want) {
		t.Errorf("partitions of events = %v, want %v", got, want)
	}
	found, err := s.Events(ctx, store.Query{TokenID: "tok-partitions"})
	if err != nil || len(found) != 5 {
		t.Errorf("Events(token across partitions) = %d events, %v; want 5", len(found), err)
	}
}

func TestAppendRejectsNUL(t *testing.T) {
	s := openTest(t)
	e := audit.Event{ID: "nul", Time: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), Kind: audit.KindRevoked, TokenID: "tok-nul", Reason: "stolen\x00laptop"}

	_, err := s.Append(context.Background(), []audit.Event{e})

	var fieldErr *audit.FieldError
	if !errors.As(err, &fieldErr) || fieldErr.Field != "Reason" {
		t.Fatalf("Append(event with NUL in Reason) error = %v, want an *audit.FieldError of field Reason", err)
	}
	if !errors.Is(err, audit.ErrInvalidValue) {
		t.Errorf("Append(event with NUL in Reason) error = %v, want one wrapping audit.ErrInvalidValue", err)
	}
}

func TestAppendBatchesCountsEachBatch(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	event := func(id string) audit.Event {
		return audit.Event{ID: id, Time: at, Kind: audit.KindUsed, TokenID: "tok-batches"}
	}
	if _, err := s.Append(ctx, []audit.Event{event("stored")}); err != nil {
		t.Fatal(err)
	}

	got, err := s.AppendBatches(ctx, [][]audit.Event{
		{event("a"), event("stored"), event("a")},
		{event("b"), event("a")},
		{},
	})
	if err != nil {
		t.Fatalf("AppendBatches error = %v", err)
	}
	want := []store.Appended{{Inserted: 1, Duplicates: 2}, {Inserted: 1, Duplicates: 1}, {}}
	if !slices.Equal(got, want) {
		t.Errorf("AppendBatches = %+v, want %+v", got, want)
	}
	if n, _ := s.Count(ctx); n != 3 {
		t.Errorf("Count() = %d, want 3", n)
	}
}

// TestRevocationsDuringConcurrentAppends follows Revocations while several
// goroutines append revoked events at once, and checks that the reader
// gets each one exactly once: a position it has passed never gains an
// event.
func TestRevocationsDuringConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	const writers, batches = 4, 30
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				batch := []audit.Event{
					{ID: fmt.Sprintf("used-%d-%d", w, b), Time: at, Kind: audit.KindUsed, TokenID: "tok"},
					{ID: fmt.Sprintf("revoked-%d-%d", w, b), Time: at.Add(time.Duration(b) * time.Hour), Kind: audit.KindRevoked, TokenID: fmt.Sprintf("tok-%d-%d", w, b)},
				}
				if _, err := s.Append(ctx, batch); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()

	seen := map[string]int{}
	var pos int64
	read := func() int {
		page, last, err := s.Revocations(ctx, pos, 5)
		if err != nil {
			t.Fatalf("Revocations(%d, 5) error = %v", pos, err)
		}
		for _, e := range page {
			seen[e.ID]++
		}
		pos = last
		return len(page)
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		read()
	}
	for read() > 0 {
	}
	close(errs)
	for err := range errs {
		t.Fatalf("Append error = %v", err)
	}

	if len(seen) != writers*batches {
		t.Errorf("the reader got %d distinct revocations, want %d", len(seen), writers*batches)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("the reader got revocation %s %d times, want once", id, n)
		}
	}
}

// TestOpenWithReadOnlyRole opens a migrated store as a role that may only
// read it, as an investigation on a production database may.
func TestOpenWithReadOnlyRole(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		t.Skipf("%s is not a URL, so the test cannot change its user", pgtest.EnvDSN)
	}
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open() error = %v", err)
	}
	event := audit.Event{ID: "e1", Time: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), Kind: audit.KindUsed, TokenID: "tok-ro"}
	if _, err := s.Append(ctx, []audit.Event{event}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	admin := connect(t, dsn)
	role := fmt.Sprintf("tokentrail_test_reader_%d", time.Now().UnixNano())
	for _, stmt := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT USAGE ON SCHEMA " + u.Query().Get("search_path") + " TO " + role,
		"GRANT SELECT ON ALL TABLES IN SCHEMA " + u.Query().Get("search_path") + " TO " + role,
	} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		for _, stmt := range []string{"DROP OWNED BY " + role, "DROP ROLE " + role} {
			if _, err := admin.Exec(ctx, stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	})

	u.User = url.User(role)
	reader, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("Open(as a role that may only read) error = %v", err)
	}
	defer reader.Close()
	if found, err := reader.Events(ctx, store.Query{TokenID: "tok-ro"}); err != nil || len(found) != 1 {
		t.Errorf("Events(as a role that may only read) = %d events, %v; want 1", len(found), err)
	}
	if _, err := reader.Append(ctx, []audit.Event{{ID: "e2", Time: event.Time, Kind: audit.KindUsed, TokenID: "tok-ro"}}); err == nil {
		t.Errorf("Append(as a role that may only read) error = nil, want permission denied")
	}
	if err := reader.CheckWritable(ctx); err == nil || !strings.Contains(err.Error(), "may not write events (INSERT)") {
		t.Errorf("CheckWritable(as a role that may only read) = %v, want it to name the tables and rights missing", err)
	}

	owner, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if err := owner.CheckWritable(ctx); err != nil {
		t.Errorf("CheckWritable(as the owner) = %v, want nil", err)
	}
}
