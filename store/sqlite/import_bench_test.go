package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store/storetest"
)

// The import benchmarks compare, in one run, three ways of writing the same
// generated events to a file:
//
//   - ours: Store.Append, in batches of importBatch events;
//   - ceiling: a plain INSERT loop into the same schema with the same
//     connection settings (prepared statement, one transaction per batch, no
//     duplicate check beyond the unique index);
//   - naive: the same columns in a schema keyed by a TEXT event ID, with the
//     same secondary indexes, times and addresses as text, and SQLite's
//     default settings (rollback journal, synchronous FULL, 2 MB cache).
//
// The default size is small enough for a quick check. The full comparison:
//
//	TOKENTRAIL_BENCH_EVENTS=1000000 go test ./store/sqlite -run '^$' -bench BenchmarkImport -benchtime 1x -timeout 60m
//
// Each figure includes opening and closing the file, and events/s counts the
// events of every iteration over the time of all of them.

const (
	benchEventsEnv     = "TOKENTRAIL_BENCH_EVENTS"
	defaultBenchEvents = 20_000
	eventsPerToken     = 20
	importBatchDefault = 1_000
	benchSeed          = 1
)

var importBatch = func() int {
	if v, err := strconv.Atoi(os.Getenv("TT_EXPERIMENT_BATCH")); err == nil {
		return v
	}
	return importBatchDefault
}()

var benchEvents struct {
	once   sync.Once
	events []audit.Event
	err    error
}

// loadBenchEvents returns the generated events of the import benchmarks,
// generating them once per process.
func loadBenchEvents(tb testing.TB) []audit.Event {
	tb.Helper()
	benchEvents.once.Do(func() {
		n := defaultBenchEvents
		if v := os.Getenv(benchEventsEnv); v != "" {
			parsed, err := strconv.Atoi(v)
			if err != nil || parsed < eventsPerToken {
				benchEvents.err = fmt.Errorf("%s=%q: want a number of events of at least %d", benchEventsEnv, v, eventsPerToken)
				return
			}
			n = parsed
		}
		benchEvents.events = storetest.Generate(benchSeed, n/eventsPerToken, eventsPerToken)
	})
	if benchEvents.err != nil {
		tb.Fatal(benchEvents.err)
	}
	return benchEvents.events
}

func BenchmarkImport(b *testing.B) {
	events := loadBenchEvents(b)
	importers := []struct {
		name string
		run  func(ctx context.Context, path string, events []audit.Event) error
	}{
		{"ours", importOurs},
		{"ceiling", importCeiling},
		{"naive", importNaive},
	}
	for _, imp := range importers {
		b.Run(fmt.Sprintf("%s/events=%d", imp.name, len(events)), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				b.StopTimer()
				path := filepath.Join(b.TempDir(), "import.db")
				b.StartTimer()

				if err := imp.run(context.Background(), path, events); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// importOurs imports through the Store, checking that every event is new.
func importOurs(ctx context.Context, path string, events []audit.Event) error {
	s, err := Open(ctx, path)
	if err != nil {
		return err
	}
	for batch := range slices.Chunk(events, importBatch) {
		got, err := s.Append(ctx, batch)
		if err != nil {
			_ = s.Close()
			return err
		}
		if got.Inserted != len(batch) {
			_ = s.Close()
			return fmt.Errorf("Append(batch of %d) inserted %d, want %d", len(batch), got.Inserted, len(batch))
		}
	}
	return s.Close()
}

// importCeiling writes the same rows into the same schema, through the same
// writer connection: a prepared single-row INSERT per event with no conflict
// clause, no validation and no counting. A load into a new file knows that
// every token it has not seen is new, so it inserts tokens rows without
// conflict clause too, remembering their keys for the whole load.
func importCeiling(ctx context.Context, path string, events []audit.Event) error {
	s, err := Open(ctx, path)
	if err != nil {
		return err
	}
	eventStmt, err := s.writer.PrepareContext(ctx, insertEventSQL)
	if err != nil {
		_ = s.Close()
		return err
	}
	tokenStmt, err := s.writer.PrepareContext(ctx, insertTokenSQL)
	if err != nil {
		_ = s.Close()
		return err
	}
	addrStmt, err := s.writer.PrepareContext(ctx, "INSERT INTO token_addresses (token_key, ip) VALUES (?, ?)")
	if err != nil {
		_ = s.Close()
		return err
	}
	addresses := map[tokenAddress]bool{}

	known := map[string][]knownToken{}
	tokenKey := func(ctx context.Context, insert *sql.Stmt, e *audit.Event) (int64, error) {
		for _, k := range known[e.Token()] {
			if sameToken(k.event, e) {
				return k.key, nil
			}
		}
		args := make([]any, 1+len(tokenColumns))
		encodeToken(e, args[1:])
		args[0] = tokenDigest(args[1:])
		res, err := insert.ExecContext(ctx, args...)
		if err != nil {
			return 0, err
		}
		key, err := res.LastInsertId()
		known[e.Token()] = append(known[e.Token()], knownToken{event: e, key: key})
		return key, err
	}

	args := make([]any, len(eventColumns))
	for batch := range slices.Chunk(events, importBatch) {
		err := s.withTx(ctx, func(tx *sql.Tx) error {
			rowCtx := context.WithoutCancel(ctx) // as Append does
			insertEvent := tx.StmtContext(rowCtx, eventStmt)
			insertToken := tx.StmtContext(rowCtx, tokenStmt)
			insertAddr := tx.StmtContext(rowCtx, addrStmt)
			for i := range batch {
				key, err := tokenKey(rowCtx, insertToken, &batch[i])
				if err != nil {
					return err
				}
				if pair := (tokenAddress{key, batch[i].IP}); batch[i].IP.IsValid() && !addresses[pair] {
					if _, err := insertAddr.ExecContext(rowCtx, key, encodeIP(batch[i].IP)); err != nil {
						return err
					}
					addresses[pair] = true
				}
				encodeEvent(&batch[i], key, args)
				if _, err := insertEvent.ExecContext(rowCtx, args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			_ = s.Close()
			return err
		}
	}
	if err := errors.Join(eventStmt.Close(), tokenStmt.Close(), addrStmt.Close()); err != nil {
		_ = s.Close()
		return err
	}
	return s.Close()
}

// naiveSchema is what a first version would write: the event ID as a TEXT
// primary key (so the table is a b-tree in random key order, plus an index
// for it), the same secondary indexes, and text for times and addresses.
var naiveSchema = []string{
	`CREATE TABLE events (
		id TEXT PRIMARY KEY, time TEXT NOT NULL, kind TEXT NOT NULL,
		token_id TEXT, fingerprint TEXT, issuer TEXT, subject TEXT, audience TEXT, client_id TEXT,
		session_id TEXT, parent_token_id TEXT, scopes TEXT, issued_at TEXT, not_before TEXT, expires_at TEXT,
		ip TEXT, user_agent TEXT,
		geo_country TEXT, geo_city TEXT, geo_latitude REAL, geo_longitude REAL, geo_accuracy_km REAL, geo_asn INTEGER, geo_org TEXT,
		method TEXT, path TEXT, status INTEGER, trace_id TEXT,
		actor TEXT, reason TEXT, revocation_method TEXT, reject_reason TEXT,
		source TEXT
	)`,
	`CREATE INDEX events_token_id ON events (token_id)`,
	`CREATE INDEX events_fingerprint ON events (fingerprint)`,
	`CREATE INDEX events_subject_time ON events (subject, time)`,
	`CREATE INDEX events_ip_time ON events (ip, time)`,
	`CREATE INDEX events_session_id ON events (session_id)`,
	`CREATE INDEX events_parent_token_id ON events (parent_token_id)`,
}

// importNaive writes the events into naiveSchema with SQLite's default
// settings, one transaction per batch, with a plain tx.ExecContext per event,
// so that SQLite compiles the INSERT for every row.
func importNaive(ctx context.Context, path string, events []audit.Event) error {
	return importNaiveWith(ctx, path, events, false)
}

// importNaivePrepared is importNaive with a prepared statement, which shows
// what the layout and the settings alone are worth.
func importNaivePrepared(ctx context.Context, path string, events []audit.Event) error {
	return importNaiveWith(ctx, path, events, true)
}

func importNaiveWith(ctx context.Context, path string, events []audit.Event, prepared bool) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, stmt := range naiveSchema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}

	query := "INSERT INTO events VALUES (" + placeholders(33) + ")"
	stmt, err := db.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer stmt.Close()
	args := make([]any, 33)
	for batch := range slices.Chunk(events, importBatch) {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		insert := tx.StmtContext(ctx, stmt)
		for i := range batch {
			naiveArgs(&batch[i], args)
			if prepared {
				_, err = insert.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, query, args...)
			}
			if err != nil {
				_ = tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	if err := stmt.Close(); err != nil {
		return err
	}
	return db.Close()
}

// naiveArgs fills args with the columns of naiveSchema for e.
func naiveArgs(e *audit.Event, args []any) {
	list := func(l []string) any {
		if len(l) == 0 {
			return nil
		}
		b, _ := json.Marshal(l)
		return string(b)
	}
	when := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	ip := any(nil)
	if e.IP.IsValid() {
		ip = e.IP.String()
	}
	values := []any{
		e.ID, when(e.Time), e.Kind.String(),
		nullText(e.TokenID), nullText(e.Fingerprint), nullText(e.Issuer), nullText(e.Subject), list(e.Audience), nullText(e.ClientID),
		nullText(e.SessionID), nullText(e.ParentTokenID), list(e.Scopes), when(e.IssuedAt), when(e.NotBefore), when(e.ExpiresAt),
		ip, nullText(e.UserAgent),
		nullText(e.Geo.Country), nullText(e.Geo.City), nullFloat(e.Geo.Latitude), nullFloat(e.Geo.Longitude), nullFloat(e.Geo.AccuracyKM), nullInt(int64(e.Geo.ASN)), nullText(e.Geo.Org),
		nullText(e.Method), nullText(e.Path), nullInt(int64(e.Status)), nullText(e.TraceID),
		nullText(e.Actor), nullText(e.Reason), nullText(string(e.RevocationMethod)), nullText(string(e.RejectReason)),
		nullText(e.Source),
	}
	copy(args, values)
}
