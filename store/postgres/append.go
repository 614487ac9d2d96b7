package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// copyColumns are the columns that Append writes with COPY.
var copyColumns = append(slices.Clone(eventColumns), "revocation_seq")

// Append stores events in one transaction, as store.Store requires. It checks
// every event before it writes anything, so an invalid event leaves the store
// unchanged. The error then names the event's position, ID and Source, and
// wraps the *audit.FieldError. Besides Validate, this store rejects a Geo
// coordinate that is infinite or NaN, as store/sqlite does, and a NUL
// character in a text field.
//
// The transaction inserts the IDs into event_ids, which skips the stored
// ones, and writes the events whose ID was new with COPY. Appends run
// concurrently. Two that store the same new ID wait for each other at that
// ID, and the second counts it as a duplicate.
func (s *Store) Append(ctx context.Context, events []audit.Event) (store.Appended, error) {
	if err := s.acquire(); err != nil {
		return store.Appended{}, err
	}
	defer s.mu.RUnlock()

	if err := ctx.Err(); err != nil {
		return store.Appended{}, fmt.Errorf("postgres: append: %w", err)
	}
	for i := range events {
		if err := checkEvent(&events[i]); err != nil {
			return store.Appended{}, fmt.Errorf("postgres: append: stored none of the %d events because event %d (ID %q, source %q) is invalid, so fix or drop it and append again: %w",
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
// of them or none, and returns what it did with each batch. The server
// writes the ingest requests that arrive together this way. An invalid
// event fails the whole call, as in Append, with an error that names its
// batch. An event repeated in an earlier batch of the call counts as a
// duplicate in the later one.
func (s *Store) AppendBatches(ctx context.Context, batches [][]audit.Event) ([]store.Appended, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: append: %w", err)
	}
	for b, events := range batches {
		for i := range events {
			if err := checkEvent(&events[i]); err != nil {
				return nil, fmt.Errorf("postgres: append: stored none of the %d batches because event %d (ID %q, source %q) of batch %d is invalid, so fix or drop it and append again: %w",
					len(batches), i+1, events[i].ID, events[i].Source, b+1, err)
			}
		}
	}
	return s.appendBatches(ctx, batches)
}

// candidate is the first event of a call with its ID, and its batch.
type candidate struct {
	event *audit.Event
	batch int
}

// appendBatches writes checked batches in one transaction. s.mu must be
// read-locked.
func (s *Store) appendBatches(ctx context.Context, batches [][]audit.Event) ([]store.Appended, error) {
	results := make([]store.Appended, len(batches))

	// The first copy of each ID in the call is the one to store; the
	// others are duplicates whatever the store holds.
	var candidates []candidate
	seen := map[string]bool{}
	for b, events := range batches {
		for i := range events {
			if seen[events[i].ID] {
				results[b].Duplicates++
				continue
			}
			seen[events[i].ID] = true
			candidates = append(candidates, candidate{event: &events[i], batch: b})
		}
	}
	if len(candidates) == 0 {
		return results, nil
	}

	times := make([]int64, len(candidates))
	for i, c := range candidates {
		times[i] = c.event.Time.UnixNano()
	}
	if err := s.ensurePartitions(ctx, times); err != nil {
		return nil, wrapError(ctx, "postgres: append", err)
	}

	var fresh map[string]bool
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		var err error
		if fresh, err = insertIDs(ctx, tx, candidates); err != nil {
			return err
		}
		rows, err := eventRows(ctx, tx, candidates, fresh)
		if err != nil || len(rows) == 0 {
			return err
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, copyColumns, pgx.CopyFromRows(rows))
		if err != nil {
			return fmt.Errorf("copy %d events: %w", len(rows), err)
		}
		if n != int64(len(rows)) {
			return fmt.Errorf("copy %d events: the server stored %d", len(rows), n)
		}
		return nil
	})
	if err != nil {
		return nil, wrapError(ctx, "postgres: append", err)
	}

	for _, c := range candidates {
		if fresh[c.event.ID] {
			results[c.batch].Inserted++
		} else {
			results[c.batch].Duplicates++
		}
	}
	return results, nil
}

// insertIDs inserts the IDs of candidates into event_ids, with their
// times, and returns those that were not stored yet. It inserts them in
// the order of their bytes, so that two concurrent Appends that share IDs
// lock those rows of event_ids in the same order and cannot deadlock on
// them.
func insertIDs(ctx context.Context, tx pgx.Tx, candidates []candidate) (map[string]bool, error) {
	sorted := slices.Clone(candidates)
	slices.SortFunc(sorted, func(a, b candidate) int { return strings.Compare(a.event.ID, b.event.ID) })
	ids := make([]string, len(sorted))
	times := make([]int64, len(sorted))
	for i, c := range sorted {
		ids[i], times[i] = c.event.ID, c.event.Time.UnixNano()
	}

	rows, err := tx.Query(ctx, `INSERT INTO event_ids (id, time_ns)
		SELECT id, time_ns FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS u(id, time_ns, n) ORDER BY n
		ON CONFLICT (id) DO NOTHING RETURNING id`, ids, times)
	if err != nil {
		return nil, fmt.Errorf("insert %d event IDs: %w", len(ids), err)
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("insert %d event IDs: %w", len(ids), err)
	}
	fresh := make(map[string]bool, len(inserted))
	for _, id := range inserted {
		fresh[id] = true
	}
	return fresh, nil
}

// eventRows returns the COPY rows of the candidates whose ID is fresh, in
// the order of the call. It numbers their revoked events from the
// revocations row of feed_positions, which stays locked until the
// transaction ends, so that the revocations of concurrent Appends become
// visible in the order of their numbers.
func eventRows(ctx context.Context, tx pgx.Tx, candidates []candidate, fresh map[string]bool) ([][]any, error) {
	var revoked int64
	for _, c := range candidates {
		if fresh[c.event.ID] && c.event.Kind == audit.KindRevoked {
			revoked++
		}
	}
	var next int64
	if revoked > 0 {
		var last int64
		err := tx.QueryRow(ctx, "UPDATE feed_positions SET last = last + $1 WHERE name = 'revocations' RETURNING last", revoked).Scan(&last)
		if err != nil {
			return nil, fmt.Errorf("number %d revocations: %w", revoked, err)
		}
		next = last - revoked + 1
	}

	rows := make([][]any, 0, len(fresh))
	for _, c := range candidates {
		if !fresh[c.event.ID] {
			continue
		}
		var seq any
		if c.event.Kind == audit.KindRevoked {
			seq = next
			next++
		}
		rows = append(rows, append(encodeEvent(c.event), seq))
	}
	return rows, nil
}
