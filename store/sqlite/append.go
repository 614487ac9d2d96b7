package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// rowsPerInsert is how many events one INSERT statement writes. Each
// statement costs a fixed amount on top of its rows (binding, opening and
// closing a cursor on the table and each index), and 32 rows make that a few
// percent of the total. It stays far below SQLite's limit of 32,766 bound
// parameters.
const rowsPerInsert = 32

// statements are the writer connection's prepared statements.
type statements struct {
	insertEvent  *sql.Stmt // one row; skips an event whose ID is stored
	insertEvents *sql.Stmt // rowsPerInsert rows; the same
	insertToken  *sql.Stmt // skips a row whose digest is stored
	findToken    *sql.Stmt // token_key by digest
	insertAddr   *sql.Stmt // a token_addresses pair; skips a stored one
}

func (st *statements) prepare(ctx context.Context, db *sql.DB) error {
	rows := make([]string, rowsPerInsert)
	for i := range rows {
		rows[i] = "(" + placeholders(len(eventColumns)) + ")"
	}
	queries := []struct {
		dst   **sql.Stmt
		query string
	}{
		{&st.insertEvent, insertEventSQL + " ON CONFLICT (id) DO NOTHING"},
		{&st.insertEvents, "INSERT OR IGNORE" + strings.TrimPrefix(insertEventsPrefix, "INSERT") + strings.Join(rows, ", ")},
		{&st.insertToken, insertTokenSQL + " ON CONFLICT (digest) DO NOTHING"},
		{&st.findToken, "SELECT token_key FROM tokens WHERE digest = ?"},
		{&st.insertAddr, "INSERT INTO token_addresses (token_key, ip) VALUES (?, ?) ON CONFLICT DO NOTHING"},
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

// The INSERT statements without conflict clause, which the import benchmark
// shares.
var (
	insertEventsPrefix = fmt.Sprintf("INSERT INTO events (%s) VALUES ", strings.Join(eventColumns, ", "))
	insertEventSQL     = insertEventsPrefix + "(" + placeholders(len(eventColumns)) + ")"
	insertTokenSQL     = fmt.Sprintf("INSERT INTO tokens (digest, %s) VALUES (%s)", strings.Join(tokenColumns, ", "), placeholders(1+len(tokenColumns)))
)

// Append stores events in one transaction, as store.Store requires. Every
// event is checked before anything is written, so an invalid one leaves the
// store unchanged; the error names its position, ID and Source (the file and
// line an importer read it from) and wraps the *audit.FieldError. Besides
// Validate, this store rejects a Time outside the years 1678 to 2262 and a Geo
// coordinate that is NaN or infinite.
//
// Larger batches import faster, up to about 50,000 events: a batch writes
// each index page it changes once, and the indexes on event IDs and addresses
// change at random places.
func (s *Store) Append(ctx context.Context, events []audit.Event) (store.Appended, error) {
	if err := s.acquire(); err != nil {
		return store.Appended{}, err
	}
	defer s.mu.RUnlock()

	if err := ctx.Err(); err != nil {
		return store.Appended{}, fmt.Errorf("sqlite: append: %w", err)
	}
	for i := range events {
		if err := checkEvent(&events[i]); err != nil {
			return store.Appended{}, fmt.Errorf("sqlite: append: event %d of %d (ID %q, source %q): %w; nothing of this batch was stored, so fix or drop the event and append the batch again",
				i+1, len(events), events[i].ID, events[i].Source, err)
		}
	}
	if len(events) == 0 {
		return store.Appended{}, nil
	}

	var result store.Appended
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		// modernc.org/sqlite starts a goroutine to watch the context of
		// every statement that can be canceled, which costs more than a
		// row. The statements get a context without cancellation; the loop
		// checks ctx instead, and database/sql rolls the transaction back
		// as soon as ctx ends.
		rowCtx := context.WithoutCancel(ctx)
		tokens := newTokenResolver(rowCtx, tx, &s.stmts)
		many := tx.StmtContext(rowCtx, s.stmts.insertEvents)
		one := tx.StmtContext(rowCtx, s.stmts.insertEvent)
		width := len(eventColumns)
		args := make([]any, rowsPerInsert*width)

		for start := 0; start < len(events); start += rowsPerInsert {
			if err := ctx.Err(); err != nil {
				return err
			}
			chunk := events[start:min(start+rowsPerInsert, len(events))]
			for i := range chunk {
				key, err := tokens.key(rowCtx, &chunk[i])
				if err == nil {
					err = tokens.addAddress(rowCtx, key, &chunk[i])
				}
				if err != nil {
					return fmt.Errorf("store the token of event %d (ID %q): %w", start+i+1, chunk[i].ID, err)
				}
				encodeEvent(&chunk[i], key, args[i*width:(i+1)*width])
			}

			var inserted int64
			if len(chunk) == rowsPerInsert {
				n, err := execChanges(rowCtx, many, args)
				if err != nil {
					return fmt.Errorf("insert events %d to %d: %w", start+1, start+len(chunk), err)
				}
				inserted = n
			} else {
				for i := range chunk {
					n, err := execChanges(rowCtx, one, args[i*width:(i+1)*width])
					if err != nil {
						return fmt.Errorf("insert event %d (ID %q): %w", start+i+1, chunk[i].ID, err)
					}
					inserted += n
				}
			}
			// ON CONFLICT DO NOTHING leaves a stored ID out of the count
			// of changed rows, and so does an ID that appeared earlier in
			// the same statement.
			result.Inserted += int(inserted)
			result.Duplicates += len(chunk) - int(inserted)
		}
		return nil
	})
	if err != nil {
		// After a cancellation database/sql may report the rolled-back
		// transaction (sql.ErrTxDone) instead of the context's error.
		if ctxErr := ctx.Err(); ctxErr != nil {
			return store.Appended{}, fmt.Errorf("sqlite: append: %w (%v)", ctxErr, err)
		}
		return store.Appended{}, fmt.Errorf("sqlite: append: %w", err)
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
// batch cost one insert. It keeps nothing across transactions, so it never
// holds a key that a rolled-back transaction created.
type tokenResolver struct {
	insert     *sql.Stmt
	find       *sql.Stmt
	insertAddr *sql.Stmt
	known      map[string][]knownToken // by audit.Event.Token
	addresses  map[tokenAddress]bool   // pairs stored by this transaction
	args       []any                   // digest, then tokenColumns
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
func newTokenResolver(ctx context.Context, tx *sql.Tx, st *statements) *tokenResolver {
	return &tokenResolver{
		insert:     tx.StmtContext(ctx, st.insertToken),
		find:       tx.StmtContext(ctx, st.findToken),
		insertAddr: tx.StmtContext(ctx, st.insertAddr),
		known:      make(map[string][]knownToken),
		addresses:  make(map[tokenAddress]bool),
		args:       make([]any, 1+len(tokenColumns)),
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
func (r *tokenResolver) key(ctx context.Context, e *audit.Event) (int64, error) {
	for _, k := range r.known[e.Token()] {
		if sameToken(k.event, e) {
			return k.key, nil
		}
	}

	encodeToken(e, r.args[1:])
	digest := tokenDigest(r.args[1:])
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
	return key, nil
}

// WithTx runs fn in a write transaction on the writer connection. It commits
// when fn returns nil, and rolls back when fn returns an error or panics (the
// panic then continues). The transaction begins IMMEDIATE, so it holds the
// file's write lock from the start and cannot fail halfway with SQLITE_BUSY.
//
// fn must use only tx: another call on the Store would wait for the writer
// connection that fn holds. WithTx returns store.ErrClosed after Close.
func (s *Store) WithTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()

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
