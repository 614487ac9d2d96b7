package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

var _ store.AnomalyFeed = (*Store)(nil)

// AnomaliesAfter returns the anomalies matching q stored after position
// afterSeq, in the order they were stored, as store.AnomalyFeed requires. A
// position is the seq column, which AUTOINCREMENT never hands out twice. The
// one writer connection commits anomalies in seq order, so every anomaly
// this call does not see gets a seq above the position it returns.
func (s *Store) AnomaliesAfter(ctx context.Context, afterSeq int64, q store.AnomalyQuery) ([]audit.Anomaly, int64, error) {
	switch {
	case afterSeq < 0:
		return nil, afterSeq, fmt.Errorf("sqlite: read anomalies after seq %d: %w: want a position of 0 or more", afterSeq, audit.ErrInvalidValue)
	case q.Limit < 0:
		return nil, afterSeq, fmt.Errorf("sqlite: read anomalies after seq %d: %w: limit %d (want 0 for no limit, or more)", afterSeq, audit.ErrInvalidValue, q.Limit)
	case q.Newest:
		return nil, afterSeq, fmt.Errorf("sqlite: read anomalies after seq %d: %w: Newest is set, but the order of storage has one direction", afterSeq, audit.ErrInvalidValue)
	}
	if err := s.acquire(); err != nil {
		return nil, afterSeq, err
	}
	defer s.mu.RUnlock()

	// The last seq is read before the page, so the page reads no further
	// than it, and a page that is not full has examined every anomaly up
	// to it.
	last, err := s.lastAnomalySeq(ctx)
	if err != nil {
		return nil, afterSeq, fmt.Errorf("sqlite: read anomalies after seq %d: %w", afterSeq, err)
	}
	if last <= afterSeq {
		return nil, afterSeq, nil
	}

	where, args := anomalyConditions(q)
	where = append([]string{"seq > ?", "seq <= ?"}, where...)
	args = append([]any{afterSeq, last}, args...)
	query := "SELECT seq, " + anomalyColumns + " FROM anomalies WHERE " + strings.Join(where, " AND ") + " ORDER BY seq"
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit)
	}

	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, afterSeq, fmt.Errorf("sqlite: read anomalies after seq %d: %w", afterSeq, err)
	}
	defer rows.Close()
	var list []audit.Anomaly
	next := afterSeq
	for rows.Next() {
		var seq int64
		a, err := scanAnomaly(rows, &seq)
		if err != nil {
			return nil, afterSeq, fmt.Errorf("sqlite: read anomalies after seq %d: %w", afterSeq, err)
		}
		list = append(list, a)
		next = seq
	}
	if err := rows.Err(); err != nil {
		return nil, afterSeq, fmt.Errorf("sqlite: read anomalies after seq %d: %w", afterSeq, err)
	}
	if q.Limit == 0 || len(list) < q.Limit {
		next = last
	}
	return list, next, nil
}

// LastAnomalySeq returns the seq of the last anomaly stored, or 0, as
// store.AnomalyFeed requires.
func (s *Store) LastAnomalySeq(ctx context.Context) (int64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()

	last, err := s.lastAnomalySeq(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: read the last anomaly seq: %w", err)
	}
	return last, nil
}

// lastAnomalySeq reads the greatest seq handed out to an anomaly, which
// SQLite keeps in sqlite_sequence for an AUTOINCREMENT column. Unlike
// max(seq), it does not go down when PruneAnomalies deletes the newest
// anomaly, so a position that a reader was given is never past it. The
// max with the table's own seq covers a store whose sqlite_sequence row
// is missing.
func (s *Store) lastAnomalySeq(ctx context.Context) (int64, error) {
	var last int64
	err := s.reader.QueryRowContext(ctx, `SELECT max(
		coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'anomalies'), 0),
		coalesce((SELECT max(seq) FROM anomalies), 0))`).Scan(&last)
	return last, err
}
