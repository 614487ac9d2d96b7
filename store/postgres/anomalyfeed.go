package postgres

import (
	"context"
	"fmt"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// AnomaliesAfter returns the anomalies matching q stored after position
// afterSeq, in the order they were stored, as store.AnomalyFeed requires. A
// position is the seq column. AppendAnomalies hands out seqs while it holds
// the anomalies row of feed_positions, and moves that row's last to its
// highest seq in the same transaction, so every anomaly up to last is
// committed once last is.
func (s *Store) AnomaliesAfter(ctx context.Context, afterSeq int64, q store.AnomalyQuery) ([]audit.Anomaly, int64, error) {
	switch {
	case afterSeq < 0:
		return nil, afterSeq, fmt.Errorf("postgres: read anomalies after seq %d: %w: want a position of 0 or more", afterSeq, audit.ErrInvalidValue)
	case q.Limit < 0:
		return nil, afterSeq, fmt.Errorf("postgres: read anomalies after seq %d: %w: limit %d (want 0 for no limit, or more)", afterSeq, audit.ErrInvalidValue, q.Limit)
	case q.Newest:
		return nil, afterSeq, fmt.Errorf("postgres: read anomalies after seq %d: %w: Newest is set, but the order of storage has one direction", afterSeq, audit.ErrInvalidValue)
	}
	if err := s.acquire(); err != nil {
		return nil, afterSeq, err
	}
	defer s.mu.RUnlock()
	op := fmt.Sprintf("postgres: read anomalies after seq %d", afterSeq)

	// The last seq is read before the page, so the page reads no further
	// than it, and a page that is not full has examined every anomaly up
	// to it.
	last, err := s.lastAnomalySeq(ctx)
	if err != nil {
		return nil, afterSeq, wrapError(ctx, op, err)
	}
	if last <= afterSeq {
		return nil, afterSeq, nil
	}

	f := anomalyFilter(q)
	f.add("seq > %s", afterSeq)
	f.add("seq <= %s", last)
	query := "SELECT seq, " + anomalyColumns + " FROM anomalies WHERE " + f.where() + " ORDER BY seq"
	if q.Limit > 0 {
		query += " LIMIT " + f.arg(q.Limit)
	}
	rows, err := s.pool.Query(ctx, query, f.args...)
	if err != nil {
		return nil, afterSeq, wrapError(ctx, op, err)
	}
	var seqs []int64
	list, err := collectAnomalies(rows, &seqs)
	if err != nil {
		return nil, afterSeq, wrapError(ctx, op, err)
	}

	next := afterSeq
	if len(seqs) > 0 {
		next = seqs[len(seqs)-1]
	}
	if q.Limit == 0 || len(list) < q.Limit {
		next = last
	}
	return list, next, nil
}

// LastAnomalySeq returns the seq of the last anomaly stored, or 0, as
// store.AnomalyFeed requires. It reads feed_positions, which PruneAnomalies
// does not change, so it never goes down.
func (s *Store) LastAnomalySeq(ctx context.Context) (int64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()

	last, err := s.lastAnomalySeq(ctx)
	if err != nil {
		return 0, wrapError(ctx, "postgres: read the last anomaly seq", err)
	}
	return last, nil
}

func (s *Store) lastAnomalySeq(ctx context.Context) (int64, error) {
	var last int64
	err := s.pool.QueryRow(ctx, "SELECT last FROM feed_positions WHERE name = 'anomalies'").Scan(&last)
	return last, err
}
