package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// checkAnomaly runs Validate, and rejects a NUL character in a text field,
// which PostgreSQL text cannot hold.
func checkAnomaly(a *audit.Anomaly) error {
	if err := a.Validate(); err != nil {
		return err
	}
	for _, f := range [...]struct{ name, value string }{
		{"ID", a.ID}, {"Rule", a.Rule}, {"TokenID", a.TokenID}, {"Subject", a.Subject}, {"Summary", a.Summary},
		{"Org", a.Org}, {"Country", a.Country}, {"UserAgent", a.UserAgent},
	} {
		if err := checkNUL(f.name, f.value); err != nil {
			return err
		}
	}
	for _, id := range a.EventIDs {
		if err := checkNUL("EventIDs", id); err != nil {
			return err
		}
	}
	return nil
}

// AppendAnomalies stores anomalies in one transaction, as
// store.AnomalyStore requires: an anomaly whose ID is stored already is
// counted as a duplicate, and gives its client to a stored copy that has
// none, and an invalid one fails the whole call.
//
// It numbers the new anomalies from the anomalies row of feed_positions,
// which it holds locked until it commits. So concurrent calls store one
// after the other, and the positions of AnomaliesAfter become visible in
// order.
func (s *Store) AppendAnomalies(ctx context.Context, anomalies []audit.Anomaly) (store.Appended, error) {
	var got store.Appended
	for i := range anomalies {
		if err := checkAnomaly(&anomalies[i]); err != nil {
			return got, fmt.Errorf("postgres: append anomalies: anomaly %d (%s): %w", i+1, anomalies[i].ID, err)
		}
	}
	if err := s.acquire(); err != nil {
		return got, err
	}
	defer s.mu.RUnlock()
	if len(anomalies) == 0 {
		return got, nil
	}

	err := s.withTx(ctx, func(tx pgx.Tx) error {
		var last int64
		if err := tx.QueryRow(ctx, "SELECT last FROM feed_positions WHERE name = 'anomalies' FOR UPDATE").Scan(&last); err != nil {
			return fmt.Errorf("lock the anomaly positions: %w", err)
		}
		for _, a := range anomalies {
			eventIDs := a.EventIDs
			if eventIDs == nil {
				eventIDs = []string{}
			}
			tag, err := tx.Exec(ctx, `INSERT INTO anomalies
				(seq, id, rule, severity, time_ns, token_id, subject, event_ids, summary, ip, asn, org, country, user_agent)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
				ON CONFLICT (id) DO NOTHING`,
				last+1, a.ID, a.Rule, int16(a.Severity), a.Time.UnixNano(), nullText(a.TokenID), nullText(a.Subject),
				eventIDs, a.Summary, encodeIP(a.IP), nullInt(int64(a.ASN)), nullText(a.Org), nullText(a.Country), nullText(a.UserAgent))
			if err != nil {
				return fmt.Errorf("insert anomaly %s: %w", a.ID, err)
			}
			if tag.RowsAffected() == 1 {
				last++
				got.Inserted++
				continue
			}
			got.Duplicates++
			if a.IP.IsValid() || a.ASN != 0 || a.Org != "" || a.Country != "" || a.UserAgent != "" {
				_, err := tx.Exec(ctx, `UPDATE anomalies SET ip = $1, asn = $2, org = $3, country = $4, user_agent = $5
					WHERE id = $6 AND ip IS NULL AND asn IS NULL AND org IS NULL AND country IS NULL AND user_agent IS NULL`,
					encodeIP(a.IP), nullInt(int64(a.ASN)), nullText(a.Org), nullText(a.Country), nullText(a.UserAgent), a.ID)
				if err != nil {
					return fmt.Errorf("give anomaly %s its client: %w", a.ID, err)
				}
			}
		}
		_, err := tx.Exec(ctx, "UPDATE feed_positions SET last = $1 WHERE name = 'anomalies'", last)
		return err
	})
	if err != nil {
		return store.Appended{}, wrapError(ctx, "postgres: append anomalies", err)
	}
	return got, nil
}

// Anomalies returns the anomalies matching q, oldest first with ties broken
// by ID, or the reverse with q.Newest, as store.AnomalyStore requires.
func (s *Store) Anomalies(ctx context.Context, q store.AnomalyQuery) ([]audit.Anomaly, error) {
	if q.Limit < 0 {
		return nil, fmt.Errorf("postgres: query anomalies: %w: limit %d (want 0 for no limit, or more)", audit.ErrInvalidValue, q.Limit)
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()

	f := anomalyFilter(q)
	query := "SELECT " + anomalyColumns + " FROM anomalies WHERE " + f.where()
	if q.Newest {
		query += " ORDER BY time_ns DESC, id DESC"
	} else {
		query += " ORDER BY time_ns, id"
	}
	if q.Limit > 0 {
		query += " LIMIT " + f.arg(q.Limit)
	}

	rows, err := s.pool.Query(ctx, query, f.args...)
	if err != nil {
		return nil, wrapError(ctx, "postgres: query anomalies", err)
	}
	list, err := collectAnomalies(rows, nil)
	if err != nil {
		return nil, wrapError(ctx, "postgres: query anomalies", err)
	}
	return list, nil
}

// anomalyFilter returns the conditions that select the anomalies q
// matches. Limit and Newest are left to the caller.
func anomalyFilter(q store.AnomalyQuery) *filter {
	f := &filter{}
	if q.TokenID != "" {
		f.add("token_id = %s", q.TokenID)
	}
	if q.Subject != "" {
		f.add("subject = %s", q.Subject)
	}
	if len(q.Rules) > 0 {
		f.add("rule = ANY(%s)", q.Rules)
	}
	if q.MinSeverity != 0 {
		f.add("severity >= %s", int16(q.MinSeverity))
	}
	if !q.Since.IsZero() {
		f.add("time_ns >= %s", clampNanos(q.Since))
	}
	if !q.Until.IsZero() {
		f.add("time_ns < %s", clampNanos(q.Until))
	}
	if q.ASN != 0 {
		f.add("asn = %s", int64(q.ASN))
	}
	if q.Network.IsValid() {
		// Unlike Query.Network, a prefix of zero bits is allowed: the
		// anomalies are few.
		f.addNetwork("ip", q.Network)
	}
	return f
}

// anomalyColumns are the columns that collectAnomalies reads, in its order.
const anomalyColumns = "id, rule, severity, time_ns, token_id, subject, event_ids, summary, ip, asn, org, country, user_agent"

// collectAnomalies reads rows of anomalyColumns, after the seq column when
// seqs is not nil, which then receives the seq of each row.
func collectAnomalies(rows pgx.Rows, seqs *[]int64) ([]audit.Anomaly, error) {
	defer rows.Close()
	var list []audit.Anomaly
	for rows.Next() {
		var (
			a                                         audit.Anomaly
			seq                                       int64
			severity                                  int16
			ns                                        int64
			tokenID, subject, org, country, userAgent *string
			ip                                        []byte
			asn                                       *int64
		)
		dest := []any{&a.ID, &a.Rule, &severity, &ns, &tokenID, &subject, &a.EventIDs, &a.Summary, &ip, &asn, &org, &country, &userAgent}
		if seqs != nil {
			dest = append([]any{&seq}, dest...)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		a.Severity = audit.Severity(severity)
		a.Time = time.Unix(0, ns).UTC()
		a.TokenID, a.Subject = text(tokenID), text(subject)
		a.Org, a.Country, a.UserAgent = text(org), text(country), text(userAgent)
		if asn != nil {
			a.ASN = uint32(*asn)
		}
		var err error
		if a.IP, err = decodeIP(ip); err != nil {
			return nil, fmt.Errorf("ip of anomaly %s: %w", a.ID, err)
		}
		list = append(list, a)
		if seqs != nil {
			*seqs = append(*seqs, seq)
		}
	}
	return list, rows.Err()
}

// PruneAnomalies deletes the stored anomalies that a detection run over r
// saw the whole evidence of and did not raise again, as
// store.AnomalyStore requires, in one transaction. The times of the
// evidence come from event_ids.
func (s *Store) PruneAnomalies(ctx context.Context, r store.TimeRange, keep []string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("postgres: prune anomalies: %w", err)
	}
	lower, upper, matchesNothing := nanoRange(r)
	if matchesNothing {
		return 0, nil
	}
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	if keep == nil {
		keep = []string{}
	}

	f := &filter{}
	if lower != nil {
		f.add("a.time_ns >= %s", *lower)
	}
	if upper != nil {
		f.add("a.time_ns < %s", *upper)
	}
	f.add("a.id <> ALL(%s)", keep)
	// An anomaly goes when each of its events is stored with a time in r:
	// none is missing from event_ids, and none lies outside r.
	evidence := "SELECT count(*) FROM unnest(a.event_ids) AS x(id) LEFT JOIN event_ids i ON i.id = x.id WHERE i.id IS NULL"
	if lower != nil {
		evidence += " OR i.time_ns < " + f.arg(*lower)
	}
	if upper != nil {
		evidence += " OR i.time_ns >= " + f.arg(*upper)
	}
	query := "DELETE FROM anomalies a WHERE " + f.where() + " AND (" + evidence + ") = 0"

	var deleted int64
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, query, f.args...)
		deleted = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, wrapError(ctx, "postgres: prune anomalies", err)
	}
	return int(deleted), nil
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
