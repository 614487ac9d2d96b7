package postgres

import (
	"context"
	"fmt"

	"github.com/tokentrail/tokentrail/audit"
)

// Revocations returns up to limit revoked events stored after position
// afterSeq, as store.RevocationStore requires. A position is the
// revocation_seq column, which Append takes from the revocations row of
// feed_positions while it holds that row locked. So a position becomes
// visible only after every lower one, and a reader that has passed it
// misses nothing stored later.
func (s *Store) Revocations(ctx context.Context, afterSeq int64, limit int) ([]audit.Event, int64, error) {
	if limit < 1 {
		return nil, afterSeq, fmt.Errorf("postgres: read revocations: %w: limit %d, want 1 or more", audit.ErrInvalidValue, limit)
	}
	if err := s.acquire(); err != nil {
		return nil, afterSeq, err
	}
	defer s.mu.RUnlock()

	rows, err := s.pool.Query(ctx, "SELECT "+selectColumns+", revocation_seq FROM events"+
		" WHERE revocation_seq > $1 ORDER BY revocation_seq LIMIT $2", afterSeq, limit)
	if err != nil {
		return nil, afterSeq, wrapError(ctx, fmt.Sprintf("postgres: read revocations after seq %d", afterSeq), err)
	}
	defer rows.Close()

	var events []audit.Event
	last := afterSeq
	var row eventRow
	var seq int64
	dest := row.dest(&seq)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, afterSeq, fmt.Errorf("postgres: read revocations after seq %d: %w", afterSeq, err)
		}
		e, err := row.event()
		if err != nil {
			return nil, afterSeq, fmt.Errorf("postgres: read revocations: decode the event at seq %d: %w", seq, err)
		}
		events = append(events, e)
		last = seq
	}
	if err := rows.Err(); err != nil {
		return nil, afterSeq, wrapError(ctx, fmt.Sprintf("postgres: read revocations after seq %d", afterSeq), err)
	}
	return events, last, nil
}

// LastRevocationSeq returns the position of the last revoked event stored,
// or 0, as store.RevocationEnd requires. It reads the revocations row of
// feed_positions, which only a committed append moves, and only forward.
func (s *Store) LastRevocationSeq(ctx context.Context) (int64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()

	var last int64
	err := s.pool.QueryRow(ctx, "SELECT last FROM feed_positions WHERE name = 'revocations'").Scan(&last)
	if err != nil {
		return 0, wrapError(ctx, "postgres: read the last revocation seq", err)
	}
	return last, nil
}
