package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// rowsPerInsert is how many events one INSERT statement writes. Each
// statement has a fixed cost besides its rows (binding, opening and closing a
// cursor on the table and each index). In the import benchmark 64 and 128
// rows were no faster than 32, which stays far below SQLite's limit of 32,766
// bound parameters.
const rowsPerInsert = 32

// statements are the writer connection's prepared statements.
type statements struct {
	insertEvent  *sql.Stmt // one events row, or none if its ID is stored
	insertEvents *sql.Stmt // rowsPerInsert events rows, skipping stored IDs
	insertToken  *sql.Stmt // a tokens row, or none if its digest is stored
	findToken    *sql.Stmt // the token_key of a digest
	insertAddr   *sql.Stmt // a token_addresses pair, or none if it is stored
}

func (st *statements) prepare(ctx context.Context, db *sql.DB) error {
	queries := []struct {
		dst   **sql.Stmt
		query string
	}{
		{&st.insertEvent, insertEventsSQL("INSERT OR IGNORE", 1)},
		{&st.insertEvents, insertEventsSQL("INSERT OR IGNORE", rowsPerInsert)},
		{&st.insertToken, insertTokenSQL + " ON CONFLICT (digest) DO NOTHING"},
		{&st.findToken, "SELECT token_key FROM tokens WHERE digest = ?"},
		{&st.insertAddr, insertAddressSQL + " ON CONFLICT DO NOTHING"},
	}
	for _, q := range queries {
		stmt, err := db.PrepareContext(ctx, q.query)
		if err != nil {
			return fmt.Errorf("prepare %.80q: %w", q.query, err)
		}
		*q.dst = stmt
	}
	return nil
}

func (st *statements) close() error {
	var errs []error
	for _, stmt := range []*sql.Stmt{st.insertEvent, st.insertEvents, st.insertToken, st.findToken, st.insertAddr} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(errs...)
}

// insertEventsSQL returns an INSERT of rows events rows, such as
// insertEventsSQL("INSERT OR IGNORE", 32).
//
// Append uses OR IGNORE, which skips a row whose ID is stored or appeared
// earlier in the same statement and leaves it out of the count of changed
// rows. ON CONFLICT (id) DO NOTHING would do the same, but with it SQLite
// keeps a statement journal for a multi-row INSERT: a copy of each page the
// statement changes, so that it can undo the rows already written if a later
// one fails. That copying took about 9% of the import time. OR IGNORE also
// skips rows that break NOT NULL, but encodeEvent always fills id, token_key,
// time_ns and kind.
func insertEventsSQL(verb string, rows int) string {
	values := make([]string, rows)
	for i := range values {
		values[i] = "(" + placeholders(len(eventColumns)) + ")"
	}
	return fmt.Sprintf("%s INTO events (%s) VALUES %s", verb, strings.Join(eventColumns, ", "), strings.Join(values, ", "))
}

// The INSERT statements of tokens and token_addresses rows, without conflict
// clause.
var (
	insertTokenSQL   = fmt.Sprintf("INSERT INTO tokens (digest, %s) VALUES (%s)", strings.Join(tokenColumns, ", "), placeholders(1+len(tokenColumns)))
	insertAddressSQL = "INSERT INTO token_addresses (token_key, ip) VALUES (?, ?)"
)

// Append stores events in one transaction, as store.Store requires. It checks
// every event before it writes anything, so an invalid event leaves the store
// unchanged. The error then names the event's position, ID and Source (the
// file and line an importer read it from), and wraps the *audit.FieldError.
// Besides Validate, this store rejects a Geo coordinate that is infinite or
// NaN, which SQLite would store as NULL.
//
// Larger batches import faster, up to about 50,000 events, because a
// transaction writes each index page it changed once, and new event IDs land
// on random pages of their index. In the import benchmark at one million
// events, batches of 50,000 imported about 1.4 times as fast as batches of
// 10,000.
func (s *Store) Append(ctx context.Context, events []audit.Event) (store.Appended, error) {
	if err := s.acquire(); err != nil {
		return store.Appended{}, err
	}
	defer s.mu.RUnlock()
	if s.writer == nil {
		return store.Appended{}, ErrReadOnly
	}

	if err := ctx.Err(); err != nil {
		return store.Appended{}, fmt.Errorf("sqlite: append: %w", err)
	}
	for i := range events {
		if err := checkEvent(&events[i]); err != nil {
			return store.Appended{}, fmt.Errorf("sqlite: append: stored none of the %d events because event %d (ID %q, source %q) is invalid, so fix or drop it and append again: %w",
				len(events), i+1, events[i].ID, events[i].Source, err)
		}
	}
	if len(events) == 0 {
		return store.Appended{}, nil
	}

	results, err := s.appendBatches(ctx, [][]audit.Event{events})
	if err != nil {
		return store.Appended{}, err
	}
	return results[0], nil
}

// AppendBatches stores several batches of events in one transaction, all
// of them or none, and returns what it did with each batch. A server that
// receives many small batches at once, such as the ingest requests of many
// services, writes them together this way. One transaction and one lookup
// of each token then serve them all, and each request still gets its own
// counts. An invalid event fails the whole call, as in Append, with an
// error that names its batch.
func (s *Store) AppendBatches(ctx context.Context, batches [][]audit.Event) ([]store.Appended, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	if s.writer == nil {
		return nil, ErrReadOnly
	}

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: append: %w", err)
	}
	for b, events := range batches {
		for i := range events {
			if err := checkEvent(&events[i]); err != nil {
				return nil, fmt.Errorf("sqlite: append: stored none of the %d batches because event %d (ID %q, source %q) of batch %d is invalid, so fix or drop it and append again: %w",
					len(batches), i+1, events[i].ID, events[i].Source, b+1, err)
			}
		}
	}
	return s.appendBatches(ctx, batches)
}

// appendBatches writes checked batches in one transaction. s.mu must be
// read-locked.
func (s *Store) appendBatches(ctx context.Context, batches [][]audit.Event) ([]store.Appended, error) {
	results := make([]store.Appended, len(batches))
	total := 0
	for _, events := range batches {
		total += len(events)
	}
	if total == 0 {
		return results, nil
	}

	var tokens *tokenResolver
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		// modernc.org/sqlite (v1.62) starts a goroutine and installs a
		// progress handler for every statement whose context can be
		// canceled. The statements get a context without cancellation
		// instead. The loop checks ctx, and database/sql rolls the
		// transaction back as soon as ctx ends.
		rowCtx := context.WithoutCancel(ctx)
		tokens = newTokenResolver(rowCtx, tx, &s.stmts, &s.tokenKeys)
		w := &eventWriter{
			tokens: tokens,
			many:   tx.StmtContext(rowCtx, s.stmts.insertEvents),
			one:    tx.StmtContext(rowCtx, s.stmts.insertEvent),
			args:   make([]any, rowsPerInsert*len(eventColumns)),
		}
		for b, events := range batches {
			res, err := w.write(ctx, rowCtx, events)
			if err != nil {
				if len(batches) > 1 {
					return fmt.Errorf("batch %d: %w", b+1, err)
				}
				return err
			}
			results[b] = res
		}
		return nil
	})
	if err != nil {
		// After a cancellation database/sql may report the rolled-back
		// transaction (sql.ErrTxDone) instead of the context's error.
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("sqlite: append: %w (%v)", ctxErr, err)
		}
		return nil, fmt.Errorf("sqlite: append: %w", err)
	}
	// Only now are the rows of the transaction's new keys sure to exist.
	s.tokenKeys.addAll(tokens.fresh)
	return results, nil
}

// eventWriter inserts events in one transaction, rowsPerInsert at a time.
type eventWriter struct {
	tokens    *tokenResolver
	many, one *sql.Stmt
	args      []any
}

// write inserts events and counts what it did. OR IGNORE leaves out of the
// changed rows an ID that is stored or appeared earlier in the
// transaction, so an event repeated in an earlier batch of the same
// transaction counts as a duplicate of the later one.
func (w *eventWriter) write(ctx, rowCtx context.Context, events []audit.Event) (store.Appended, error) {
	var result store.Appended
	width := len(eventColumns)
	for start := 0; start < len(events); start += rowsPerInsert {
		if err := ctx.Err(); err != nil {
			return result, err
		}
		chunk := events[start:min(start+rowsPerInsert, len(events))]
		for i := range chunk {
			key, err := w.tokens.key(rowCtx, &chunk[i])
			if err == nil {
				err = w.tokens.addAddress(rowCtx, key, &chunk[i])
			}
			if err != nil {
				return result, fmt.Errorf("store the token of event %d (ID %q): %w", start+i+1, chunk[i].ID, err)
			}
			encodeEvent(&chunk[i], key, w.args[i*width:(i+1)*width])
		}

		var inserted int64
		if len(chunk) == rowsPerInsert {
			n, err := execChanges(rowCtx, w.many, w.args)
			if err != nil {
				return result, fmt.Errorf("insert events %d to %d: %w", start+1, start+len(chunk), err)
			}
			inserted = n
		} else {
			for i := range chunk {
				n, err := execChanges(rowCtx, w.one, w.args[i*width:(i+1)*width])
				if err != nil {
					return result, fmt.Errorf("insert event %d (ID %q): %w", start+i+1, chunk[i].ID, err)
				}
				inserted += n
			}
		}
		result.Inserted += int(inserted)
		result.Duplicates += len(chunk) - int(inserted)
	}
	return result, nil
}

func checkEvent(e *audit.Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	return checkStorable(e)
}

// execChanges runs stmt and returns the number of rows it inserted.
func execChanges(ctx context.Context, stmt *sql.Stmt, args []any) (int64, error) {
	res, err := stmt.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// tokenResolver finds or creates the tokens row of each event of one write
// transaction, and records the event's address in token_addresses. It
// remembers the rows of the transaction, so that the events of a token in the
// batch cost one insert. What it finds reaches the Store's tokenKeyCache
// only after the transaction commits, so the cache never holds a key that a
// rolled-back transaction created.
type tokenResolver struct {
	insert     *sql.Stmt
	find       *sql.Stmt
	insertAddr *sql.Stmt
	known      map[string][]knownToken // by audit.Event.Token
	addresses  map[tokenAddress]bool   // pairs stored by this transaction
	args       []any                   // digest, then tokenColumns

	committed *tokenKeyCache   // keys of rows that committed transactions hold
	fresh     map[string]int64 // keys this transaction found or created, by digest
}

// maxCachedTokenKeys bounds the tokenKeyCache: about 100 bytes each, so
// about 10 MB. When it is full it starts again empty.
const maxCachedTokenKeys = 100_000

// tokenKeyCache maps the digest of a tokens row to its token_key, for the
// rows of committed transactions, so that a token seen in an earlier batch
// costs a map lookup instead of an insert attempt. Its keys stay valid
// because nothing deletes or rewrites tokens rows; a retention job that
// deletes them must clear it.
type tokenKeyCache struct {
	mu   sync.Mutex
	keys map[string]int64
}

func (c *tokenKeyCache) get(digest []byte) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key, ok := c.keys[string(digest)]
	return key, ok
}

// addAll adds the keys of a committed transaction.
func (c *tokenKeyCache) addAll(fresh map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil || len(c.keys)+len(fresh) > maxCachedTokenKeys {
		c.keys = make(map[string]int64, min(len(fresh), maxCachedTokenKeys))
	}
	for digest, key := range fresh {
		if len(c.keys) == maxCachedTokenKeys {
			return
		}
		c.keys[digest] = key
	}
}

type tokenAddress struct {
	key int64
	ip  netip.Addr
}

type knownToken struct {
	event *audit.Event // the first event seen with these token fields
	key   int64
}

// newTokenResolver returns a resolver whose statements run in tx.
func newTokenResolver(ctx context.Context, tx *sql.Tx, st *statements, committed *tokenKeyCache) *tokenResolver {
	return &tokenResolver{
		insert:     tx.StmtContext(ctx, st.insertToken),
		find:       tx.StmtContext(ctx, st.findToken),
		insertAddr: tx.StmtContext(ctx, st.insertAddr),
		known:      make(map[string][]knownToken),
		addresses:  make(map[tokenAddress]bool),
		args:       make([]any, 1+len(tokenColumns)),
		committed:  committed,
		fresh:      make(map[string]int64),
	}
}

// addAddress records that the token with key was used from e.IP.
func (r *tokenResolver) addAddress(ctx context.Context, key int64, e *audit.Event) error {
	pair := tokenAddress{key: key, ip: e.IP}
	if !e.IP.IsValid() || r.addresses[pair] {
		return nil
	}
	if _, err := r.insertAddr.ExecContext(ctx, key, encodeIP(e.IP)); err != nil {
		return err
	}
	r.addresses[pair] = true
	return nil
}

// key returns the token_key of the tokens row that holds the token fields of
// e, inserting the row if there is none.
//
// NOTE: The row is inserted before the event, so an event that turns out to
// be a duplicate, with token fields other than the stored copy's, leaves a
// tokens row that no event uses. Queries never return it, since they join
// through events, but nothing deletes it.
func (r *tokenResolver) key(ctx context.Context, e *audit.Event) (int64, error) {
	for _, k := range r.known[e.Token()] {
		if sameToken(k.event, e) {
			return k.key, nil
		}
	}

	encodeToken(e, r.args[1:])
	digest := tokenDigest(r.args[1:])
	if key, ok := r.committed.get(digest); ok {
		r.known[e.Token()] = append(r.known[e.Token()], knownToken{event: e, key: key})
		return key, nil
	}
	r.args[0] = digest
	res, err := r.insert.ExecContext(ctx, r.args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	var key int64
	if n == 1 {
		key, err = res.LastInsertId()
	} else {
		err = r.find.QueryRowContext(ctx, digest).Scan(&key)
	}
	if err != nil {
		return 0, err
	}
	r.known[e.Token()] = append(r.known[e.Token()], knownToken{event: e, key: key})
	r.fresh[string(digest)] = key
	return key, nil
}

// WithTx runs fn in a write transaction on the writer connection. It commits
// when fn returns nil, and rolls back when fn returns an error or panics (the
// panic then continues). The transaction begins IMMEDIATE: it takes the
// file's write lock at BEGIN, waiting up to the busy timeout for another
// process to release it, so fn never meets a locked file halfway.
//
// fn must use only tx, because another call on the Store would wait for the
// writer connection that fn holds. The tables are internal to this package and
// change with its schema version. WithTx returns store.ErrClosed after Close.
func (s *Store) WithTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if s.writer == nil {
		return ErrReadOnly
	}

	return s.withTx(ctx, fn)
}

func (s *Store) withTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		// This also runs while a panic unwinds, which then goes on.
		rollbackErr := tx.Rollback()
		if err != nil && rollbackErr != nil && !errors.Is(rollbackErr, sql.ErrTxDone) {
			err = errors.Join(err, fmt.Errorf("roll back: %w", rollbackErr))
		}
	}()

	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	return nil
}
