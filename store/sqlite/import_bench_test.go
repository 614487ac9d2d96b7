package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store/storetest"
)

// The import benchmarks compare, in one run, three ways of writing the same
// generated events (storetest.GenerateSeq, 20 events a token) to a new file,
// in batches of the same size:
//
//   - ours: Store.Append;
//   - ceiling: the same schema and connection settings, filled by a plain
//     prepared single-row INSERT per event with no validation, no conflict
//     clause and no counting;
//   - naive: the same columns in one table keyed by a TEXT event ID, with the
//     same lookup indexes, times and addresses as text, SQLite's default
//     settings (rollback journal, synchronous FULL, 2 MB cache) and a plain
//     tx.ExecContext per event; naive-prepared is the same with a prepared
//     statement.
//
// Each figure includes opening and closing the file. The timer stops while
// the next batch is generated, and only one batch is in memory at a time, as
// in an importer that reads a file. The default size runs in seconds; the
// full comparison:
//
//	TOKENTRAIL_BENCH_EVENTS=1000000 go test ./store/sqlite -run '^$' -bench BenchmarkImport -benchtime 1x -timeout 60m
//
// TOKENTRAIL_BENCH_BATCH sets the batch size (default 50,000).

const (
	benchEventsEnv     = "TOKENTRAIL_BENCH_EVENTS"
	benchBatchEnv      = "TOKENTRAIL_BENCH_BATCH"
	defaultBenchEvents = 20_000
	defaultBenchBatch  = 50_000
	eventsPerToken     = 20
	benchSeed          = 1
)

// benchSize returns the event count and batch size of the import benchmarks.
func benchSize(tb testing.TB) (events, batch int) {
	tb.Helper()
	read := func(name string, fallback, least int) int {
		v := os.Getenv(name)
		if v == "" {
			return fallback
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < least {
			tb.Fatalf("%s=%q: want a whole number of at least %d", name, v, least)
		}
		return n
	}
	return read(benchEventsEnv, defaultBenchEvents, eventsPerToken), read(benchBatchEnv, defaultBenchBatch, 1)
}

// importer writes the batches to a new file at path.
type importer func(ctx context.Context, path string, batches iter.Seq[[]audit.Event]) error

var importers = []struct {
	name string
	run  importer
}{
	{"ours", importOurs},
	{"ceiling", importCeiling},
	{"naive", importNaive},
	{"naive-prepared", importNaivePrepared},
}

func BenchmarkImport(b *testing.B) {
	events, batch := benchSize(b)
	for _, imp := range importers {
		b.Run(fmt.Sprintf("%s/events=%d/batch=%d", imp.name, events, batch), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				b.StopTimer()
				path := filepath.Join(b.TempDir(), "import.db")
				b.StartTimer()

				if err := imp.run(context.Background(), path, generatedBatches(b, events, batch)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// generatedBatches yields the generated events in batches of size, with b's
// timer stopped while it generates them. Each batch is a new slice.
func generatedBatches(b *testing.B, events, size int) iter.Seq[[]audit.Event] {
	return func(yield func([]audit.Event) bool) {
		next, stop := iter.Pull(storetest.GenerateSeq(benchSeed, events/eventsPerToken, eventsPerToken))
		defer stop()
		for {
			b.StopTimer()
			batch := make([]audit.Event, 0, size)
			for len(batch) < size {
				e, ok := next()
				if !ok {
					break
				}
				batch = append(batch, e)
			}
			b.StartTimer()
			if len(batch) == 0 || !yield(batch) {
				return
			}
		}
	}
}

// TestImporters checks that every importer of the benchmark stores every
// event, so that the benchmark compares equal work.
func TestImporters(t *testing.T) {
	events := storetest.Generate(benchSeed, 100, eventsPerToken)
	for _, imp := range importers {
		t.Run(imp.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "import.db")
			if err := imp.run(context.Background(), path, slices.Chunk(events, 300)); err != nil {
				t.Fatalf("import: %v", err)
			}

			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var n int
			if err := db.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != len(events) {
				t.Errorf("events rows after import = %d, want %d", n, len(events))
			}
		})
	}
}

// importOurs imports through the Store, checking that every event is new.
func importOurs(ctx context.Context, path string, batches iter.Seq[[]audit.Event]) error {
	s, err := Open(ctx, path)
	if err != nil {
		return err
	}
	for batch := range batches {
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
// every token and address pair it has not seen is new, so it inserts those
// rows without conflict clause too, remembering their keys for the whole
// load.
func importCeiling(ctx context.Context, path string, batches iter.Seq[[]audit.Event]) error {
	s, err := Open(ctx, path)
	if err != nil {
		return err
	}
	var stmts [3]*sql.Stmt
	for i, query := range []string{insertEventsSQL("INSERT", 1), insertTokenSQL, insertAddressSQL} {
		if stmts[i], err = s.writer.PrepareContext(ctx, query); err != nil {
			_ = s.Close()
			return err
		}
	}

	type seenToken struct {
		event audit.Event // a copy: the batch it came from is not kept
		key   int64
	}
	tokens := map[string][]seenToken{}
	addresses := map[tokenAddress]bool{}
	tokenArgs := make([]any, 1+len(tokenColumns))
	eventArgs := make([]any, len(eventColumns))
	for batch := range batches {
		err := s.withTx(ctx, func(tx *sql.Tx) error {
			rowCtx := context.WithoutCancel(ctx) // as Append does
			insertEvent := tx.StmtContext(rowCtx, stmts[0])
			insertToken := tx.StmtContext(rowCtx, stmts[1])
			insertAddr := tx.StmtContext(rowCtx, stmts[2])
			for i := range batch {
				e := &batch[i]
				key := int64(-1)
				for _, t := range tokens[e.Token()] {
					if sameToken(&t.event, e) {
						key = t.key
						break
					}
				}
				if key < 0 {
					encodeToken(e, tokenArgs[1:])
					tokenArgs[0] = tokenDigest(tokenArgs[1:])
					res, err := insertToken.ExecContext(rowCtx, tokenArgs...)
					if err != nil {
						return err
					}
					if key, err = res.LastInsertId(); err != nil {
						return err
					}
					tokens[e.Token()] = append(tokens[e.Token()], seenToken{event: *e, key: key})
				}
				if pair := (tokenAddress{key, e.IP}); e.IP.IsValid() && !addresses[pair] {
					if _, err := insertAddr.ExecContext(rowCtx, key, encodeIP(e.IP)); err != nil {
						return err
					}
					addresses[pair] = true
				}
				encodeEvent(e, key, eventArgs)
				if _, err := insertEvent.ExecContext(rowCtx, eventArgs...); err != nil {
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
	if err := errors.Join(stmts[0].Close(), stmts[1].Close(), stmts[2].Close()); err != nil {
		_ = s.Close()
		return err
	}
	return s.Close()
}

// naiveSchema is what a first version would write: the event ID as a TEXT
// primary key (so the table is a b-tree in random key order, plus an index
// for it), the same lookup indexes, and text for times and addresses.
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

// naiveColumns is the number of columns of naiveSchema's events table.
const naiveColumns = 33

// importNaive writes the events into naiveSchema with SQLite's default
// settings, one transaction per batch, with a plain tx.ExecContext per event,
// so that SQLite compiles the INSERT for every row.
func importNaive(ctx context.Context, path string, batches iter.Seq[[]audit.Event]) error {
	return importNaiveWith(ctx, path, batches, false)
}

// importNaivePrepared is importNaive with a prepared statement, which shows
// what the layout and the settings alone are worth.
func importNaivePrepared(ctx context.Context, path string, batches iter.Seq[[]audit.Event]) error {
	return importNaiveWith(ctx, path, batches, true)
}

func importNaiveWith(ctx context.Context, path string, batches iter.Seq[[]audit.Event], prepared bool) error {
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

	query := "INSERT INTO events VALUES (" + placeholders(naiveColumns) + ")"
	stmt, err := db.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer stmt.Close()
	args := make([]any, naiveColumns)
	for batch := range batches {
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
	values := [naiveColumns]any{
		e.ID, when(e.Time), e.Kind.String(),
		nullText(e.TokenID), nullText(e.Fingerprint), nullText(e.Issuer), nullText(e.Subject), list(e.Audience), nullText(e.ClientID),
		nullText(e.SessionID), nullText(e.ParentTokenID), list(e.Scopes), when(e.IssuedAt), when(e.NotBefore), when(e.ExpiresAt),
		ip, nullText(e.UserAgent),
		nullText(e.Geo.Country), nullText(e.Geo.City), nullFloat(e.Geo.Latitude), nullFloat(e.Geo.Longitude), nullFloat(e.Geo.AccuracyKM), nullInt(int64(e.Geo.ASN)), nullText(e.Geo.Org),
		nullText(e.Method), nullText(e.Path), nullInt(int64(e.Status)), nullText(e.TraceID),
		nullText(e.Actor), nullText(e.Reason), nullText(string(e.RevocationMethod)), nullText(string(e.RejectReason)),
		nullText(e.Source),
	}
	copy(args, values[:])
}
