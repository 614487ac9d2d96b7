package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// AppendAnomalies stores anomalies in one transaction, as
// store.AnomalyStore requires: an anomaly whose ID is stored already is
// counted as a duplicate, and an invalid one fails the whole call.
func (s *Store) AppendAnomalies(ctx context.Context, anomalies []audit.Anomaly) (store.Appended, error) {
	var got store.Appended
	for i := range anomalies {
		if err := anomalies[i].Validate(); err != nil {
			return got, fmt.Errorf("sqlite: append anomalies: anomaly %d (%s): %w", i+1, anomalies[i].ID, err)
		}
	}
	if len(anomalies) == 0 {
		return got, nil
	}

	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO anomalies
			(id, rule, severity, time_ns, token_id, subject, event_ids, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, a := range anomalies {
			ids, err := json.Marshal(a.EventIDs)
			if err != nil {
				return err
			}
			res, err := stmt.ExecContext(ctx, a.ID, a.Rule, int64(a.Severity), a.Time.UnixNano(),
				nullText(a.TokenID), nullText(a.Subject), string(ids), a.Summary)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				got.Inserted++
			} else {
				got.Duplicates++
			}
		}
		return nil
	})
	if err != nil {
		return store.Appended{}, fmt.Errorf("sqlite: append anomalies: %w", err)
	}
	return got, nil
}

// Anomalies returns the anomalies matching q, oldest first with ties broken
// by ID, as store.AnomalyStore requires.
func (s *Store) Anomalies(ctx context.Context, q store.AnomalyQuery) ([]audit.Anomaly, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	if q.Limit < 0 {
		return nil, fmt.Errorf("sqlite: query anomalies: %w: limit %d (want 0 for no limit, or more)", audit.ErrInvalidValue, q.Limit)
	}

	var where []string
	var args []any
	add := func(condition string, arg ...any) {
		where = append(where, condition)
		args = append(args, arg...)
	}
	if q.TokenID != "" {
		add("token_id = ?", q.TokenID)
	}
	if q.Subject != "" {
		add("subject = ?", q.Subject)
	}
	if len(q.Rules) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(q.Rules)), ", ")
		rules := make([]any, len(q.Rules))
		for i, r := range q.Rules {
			rules[i] = r
		}
		add("rule IN ("+marks+")", rules...)
	}
	if q.MinSeverity != 0 {
		add("severity >= ?", int64(q.MinSeverity))
	}
	if !q.Since.IsZero() {
		add("time_ns >= ?", clampNanos(q.Since))
	}
	if !q.Until.IsZero() {
		add("time_ns < ?", clampNanos(q.Until))
	}

	query := "SELECT id, rule, severity, time_ns, token_id, subject, event_ids, summary FROM anomalies"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY time_ns, id"
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit)
	}

	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query anomalies: %w", err)
	}
	defer rows.Close()
	var list []audit.Anomaly
	for rows.Next() {
		var (
			a                 audit.Anomaly
			severity, ns      int64
			tokenID, subject  sql.NullString
			eventIDs, summary string
		)
		if err := rows.Scan(&a.ID, &a.Rule, &severity, &ns, &tokenID, &subject, &eventIDs, &summary); err != nil {
			return nil, fmt.Errorf("sqlite: query anomalies: %w", err)
		}
		a.Severity = audit.Severity(severity)
		a.Time = time.Unix(0, ns).UTC()
		a.TokenID, a.Subject, a.Summary = tokenID.String, subject.String, summary
		if err := json.Unmarshal([]byte(eventIDs), &a.EventIDs); err != nil {
			return nil, fmt.Errorf("sqlite: query anomalies: event ids of %s: %w", a.ID, err)
		}
		list = append(list, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: query anomalies: %w", err)
	}
	return list, nil
}

// clampNanos returns t as nanoseconds since the Unix epoch, clamped to the
// range of int64, so that a bound far in the past or future still compares.
func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(minNanoTime):
		return minNanoTime.UnixNano()
	case t.After(maxNanoTime):
		return maxNanoTime.UnixNano()
	}
	return t.UnixNano()
}
