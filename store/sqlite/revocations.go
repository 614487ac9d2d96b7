package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

var (
	_ store.RevocationStore = (*Store)(nil)
	_ store.RevocationEnd   = (*Store)(nil)
)

// revocationsSQL selects the revoked events after a seq, with the seq of
// each as the last column. The partial index events_revoked serves it.
var revocationsSQL = "SELECT " + strings.Join(selectColumns, ", ") + ", e.seq" +
	" FROM events e JOIN tokens t ON t.token_key = e.token_key" +
	fmt.Sprintf(" WHERE e.kind = %d AND e.seq > ? ORDER BY e.seq LIMIT ?", audit.KindRevoked)

// Revocations returns up to limit revoked events stored after position
// afterSeq, as store.RevocationStore requires. A position is the seq column,
// the rowid, which grows with each stored event.
//
// NOTE: SQLite gives a new row the largest rowid plus one. If the newest
// events were deleted, new ones would reuse seq values that a reader may
// already have passed, and it would miss them. Nothing deletes events yet;
// a retention job must keep at least the newest event.
func (s *Store) Revocations(ctx context.Context, afterSeq int64, limit int) ([]audit.Event, int64, error) {
	if limit < 1 {
		return nil, afterSeq, fmt.Errorf("sqlite: read revocations: %w: limit %d, want 1 or more", audit.ErrInvalidValue, limit)
	}
	if err := s.acquire(); err != nil {
		return nil, afterSeq, err
	}
	defer s.mu.RUnlock()

	rows, err := s.reader.QueryContext(ctx, revocationsSQL, afterSeq, limit)
	if err != nil {
		return nil, afterSeq, fmt.Errorf("sqlite: read revocations after seq %d: %w", afterSeq, err)
	}
	defer rows.Close()

	var events []audit.Event
	last := afterSeq
	values := make([]any, len(selectColumns)+1)
	dest := make([]any, len(values))
	for i := range values {
		dest[i] = &values[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, afterSeq, fmt.Errorf("sqlite: read revocations after seq %d: %w", afterSeq, err)
		}
		seq, ok := values[len(selectColumns)].(int64)
		if !ok {
			return nil, afterSeq, fmt.Errorf("sqlite: read revocations: column seq of %s: got %T, want an integer", s.path, values[len(selectColumns)])
		}
		e, err := decodeEvent(values[:len(selectColumns)])
		if err != nil {
			return nil, afterSeq, fmt.Errorf("sqlite: read revocations: decode the event at seq %d of %s: %w", seq, s.path, err)
		}
		events = append(events, e)
		last = seq
	}
	if err := rows.Err(); err != nil {
		return nil, afterSeq, fmt.Errorf("sqlite: read revocations after seq %d: %w", afterSeq, err)
	}
	return events, last, nil
}

// lastRevocationSQL reads the greatest seq of a revoked event, which the
// partial index events_revoked serves with one seek.
var lastRevocationSQL = fmt.Sprintf("SELECT coalesce(max(seq), 0) FROM events WHERE kind = %d", audit.KindRevoked)

// LastRevocationSeq returns the seq of the last revoked event stored, or 0,
// as store.RevocationEnd requires. Each revoked event that Revocations
// returned was committed before the call, so its seq is at most the one
// this returns.
func (s *Store) LastRevocationSeq(ctx context.Context) (int64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()

	var last int64
	if err := s.reader.QueryRowContext(ctx, lastRevocationSQL).Scan(&last); err != nil {
		return 0, fmt.Errorf("sqlite: read the last revocation seq: %w", err)
	}
	return last, nil
}
