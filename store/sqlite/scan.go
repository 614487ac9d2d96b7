package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// scanPageSize is the number of events that one page of Scan reads. In
// BenchmarkScan, pages of 4,096 events were no faster than 1,024, and pages
// of 256 were about 8% slower. A page of generated events takes about
// 1.3 MiB, the heap per event that the all-in-memory variant holds.
const scanPageSize = 1024

// Scan returns the stored events whose time lies in r, oldest first with
// ties broken by ID, as store.Store requires.
//
// Each page is one read transaction that seeks in the events_time index,
// on (time_ns, id), to where the previous page ended, so a page costs the
// same at the end of the store as at its start. The read connection, and
// the lock that Close waits for, are released before the loop body sees
// the page's events.
//
// The index orders the IDs of one instant by their stored form: text IDs
// first, then the 16-byte blobs of hex IDs (see encodeID). Each form on its
// own is in the order of its text, so Scan merges the two within each
// instant.
func (s *Store) Scan(ctx context.Context, r store.TimeRange) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		lower, upper, matchesNothing := nanoRange(r)
		if matchesNothing {
			return
		}
		sc := newScanner(s, lower, upper, scanPageSize)
		defer sc.close()
		page := make([]audit.Event, 0, scanPageSize)
		for {
			var done bool
			var err error
			page, done, err = sc.next(ctx, page[:0])
			if err != nil {
				yield(audit.Event{}, fmt.Errorf("sqlite: scan events: %w", err))
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
			}
			if done {
				return
			}
		}
	}
}

// scanner holds the position of one Scan between its pages. Every event
// before the instant at has been returned, and of the events at that
// instant, those whose text ID is at most lastText (when hasText) and
// those whose blob ID is at most lastBlob (when hasBlob).
type scanner struct {
	s        *Store
	upper    *int64 // the exclusive bound on time_ns; nil is open
	pageSize int

	at       int64
	lastText string
	hasText  bool
	lastBlob []byte
	hasBlob  bool

	// The page queries, prepared by the first page: the text IDs of one
	// instant, its blob IDs, and the events after an instant.
	texts, blobs, after *sql.Stmt

	values []any // the row being decoded
	dest   []any // pointers to values, for Rows.Scan
}

func newScanner(s *Store, lower, upper *int64, pageSize int) *scanner {
	sc := &scanner{s: s, upper: upper, pageSize: pageSize, at: math.MinInt64}
	if lower != nil {
		sc.at = *lower
	}
	sc.values = make([]any, len(selectColumns))
	sc.dest = make([]any, len(selectColumns))
	for i := range sc.values {
		sc.dest[i] = &sc.values[i]
	}
	return sc
}

// next appends the next page of events to page and returns it, with done
// true when no event is left. A page may be empty without the scan being
// done. It is read in one transaction, so it is one snapshot of the store.
func (sc *scanner) next(ctx context.Context, page []audit.Event) (_ []audit.Event, done bool, _ error) {
	if err := ctx.Err(); err != nil {
		return page, false, err
	}
	if err := sc.s.acquire(); err != nil {
		return page, false, err
	}
	defer sc.s.mu.RUnlock()
	if sc.texts == nil {
		if err := sc.prepare(ctx); err != nil {
			return page, false, err
		}
	}
	tx, err := sc.s.reader.BeginTx(ctx, nil)
	if err != nil {
		return page, false, err
	}
	defer tx.Rollback() // the transaction only reads: ending it is all that rolling back does

	if page, err = sc.readInstant(ctx, tx, page); err != nil || len(page) == sc.pageSize {
		return page, false, err
	}
	return sc.readAfter(ctx, tx, page)
}

// readInstant appends the events of the instant sc.at that are not yet
// returned, in order, until the page is full.
func (sc *scanner) readInstant(ctx context.Context, tx *sql.Tx, page []audit.Event) ([]audit.Event, error) {
	need := sc.pageSize - len(page)
	var textFrom, blobFrom any = int64(0), []byte{} // below every text, and every blob, that encodeID makes
	if sc.hasText {
		textFrom = sc.lastText
	}
	if sc.hasBlob {
		blobFrom = sc.lastBlob
	}
	texts, err := sc.read(ctx, tx.StmtContext(ctx, sc.texts), nil, sc.at, textFrom, need)
	if err != nil {
		return page, err
	}
	blobs, err := sc.read(ctx, tx.StmtContext(ctx, sc.blobs), nil, sc.at, blobFrom, need)
	if err != nil {
		return page, err
	}

	for len(page) < sc.pageSize && (len(texts) > 0 || len(blobs) > 0) {
		if len(blobs) == 0 || len(texts) > 0 && texts[0].ID < blobs[0].ID {
			sc.lastText, sc.hasText = texts[0].ID, true
			page, texts = append(page, texts[0]), texts[1:]
			continue
		}
		sc.lastBlob, sc.hasBlob = encodeID(blobs[0].ID).([]byte), true
		page, blobs = append(page, blobs[0]), blobs[1:]
	}
	return page, nil
}

// readAfter appends the events after the instant sc.at, until the page is
// full, and moves sc.at on. The index gives each instant's IDs in the order
// of their stored form, so each instant is sorted here. An instant that
// the page cuts may have more events, so it is left for the next page,
// which reads it with readInstant.
func (sc *scanner) readAfter(ctx context.Context, tx *sql.Tx, page []audit.Event) (_ []audit.Event, done bool, _ error) {
	limit := sc.pageSize - len(page)
	start := len(page)
	page, err := sc.read(ctx, tx.StmtContext(ctx, sc.after), page, sc.at, limit)
	if err != nil {
		return page, false, err
	}
	done = len(page)-start < limit

	if !done {
		// Leave out the last instant, which may go on past the page.
		last := page[len(page)-1].Time
		cut := len(page)
		for cut > start && page[cut-1].Time.Equal(last) {
			cut--
		}
		page = page[:cut]
		sc.at = last.UnixNano()
		sc.lastText, sc.hasText, sc.lastBlob, sc.hasBlob = "", false, nil, false
	}

	added := page[start:]
	for i := 0; i < len(added); {
		j := i + 1
		for j < len(added) && added[j].Time.Equal(added[i].Time) {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(added[i:j], func(a, b audit.Event) int { return cmp.Compare(a.ID, b.ID) })
		}
		i = j
	}
	return page, done, nil
}

// prepare prepares the page queries of scanQueries.
func (sc *scanner) prepare(ctx context.Context) error {
	queries := scanQueries(sc.upper)
	for i, dst := range []**sql.Stmt{&sc.texts, &sc.blobs, &sc.after} {
		stmt, err := sc.s.reader.PrepareContext(ctx, queries[i])
		if err != nil {
			return err
		}
		*dst = stmt
	}
	return nil
}

// scanQueries returns the SQL of the page queries, with upper, when not
// nil, as the exclusive bound on time_ns:
//   - the text IDs of an instant after a given text, or after the integer
//     0, which sorts before every text;
//   - the blob IDs of an instant after a given blob, or after an empty
//     blob, which encodeID never makes;
//   - the events after an instant.
//
// Each takes the arguments of its condition and then the number of events
// to read. SQLite sorts integers before texts and texts before blobs, so
// the texts are the IDs below the empty blob.
func scanQueries(upper *int64) [3]string {
	build := func(condition, order string) string {
		var b strings.Builder
		b.WriteString("SELECT ")
		b.WriteString(strings.Join(selectColumns, ", "))
		b.WriteString(" FROM events e JOIN tokens t ON t.token_key = e.token_key WHERE ")
		b.WriteString(condition)
		if upper != nil {
			fmt.Fprintf(&b, " AND e.time_ns < %d", *upper)
		}
		b.WriteString(" ORDER BY ")
		b.WriteString(order)
		b.WriteString(" LIMIT ?")
		return b.String()
	}
	return [3]string{
		build("e.time_ns = ? AND e.id > ? AND e.id < x''", "e.id"),
		build("e.time_ns = ? AND e.id > ?", "e.id"),
		build("e.time_ns > ?", "e.time_ns, e.id"),
	}
}

// close closes the prepared statements.
func (sc *scanner) close() {
	for _, stmt := range []*sql.Stmt{sc.texts, sc.blobs, sc.after} {
		if stmt != nil {
			_ = stmt.Close() // an error here changes nothing the scan returned
		}
	}
}

// read appends to page the events that stmt selects with args.
func (sc *scanner) read(ctx context.Context, stmt *sql.Stmt, page []audit.Event, args ...any) ([]audit.Event, error) {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(sc.dest...); err != nil {
			return page, err
		}
		e, err := decodeEvent(sc.values)
		if err != nil {
			return page, fmt.Errorf("decode an event at %s in %s: %w", sc.instant(), sc.s.path, err)
		}
		page = append(page, e)
	}
	return page, rows.Err()
}

// instant names sc.at for an error message.
func (sc *scanner) instant() string {
	return time.Unix(0, sc.at).UTC().Format(time.RFC3339Nano) + " or later"
}

// nanoRange returns the bounds of r on time_ns: nil for an open bound or one
// that every stored time satisfies. matchesNothing is true when no stored
// time can lie in r.
func nanoRange(r store.TimeRange) (lower, upper *int64, matchesNothing bool) {
	if !r.Since.IsZero() {
		switch {
		case r.Since.After(maxNanoTime):
			return nil, nil, true
		case r.Since.After(minNanoTime):
			n := r.Since.UnixNano()
			lower = &n
		}
	}
	if !r.Until.IsZero() {
		switch {
		case !r.Until.After(minNanoTime):
			return nil, nil, true
		case !r.Until.After(maxNanoTime):
			n := r.Until.UnixNano()
			upper = &n
		}
	}
	if lower != nil && upper != nil && *lower >= *upper {
		return nil, nil, true
	}
	return lower, upper, false
}
