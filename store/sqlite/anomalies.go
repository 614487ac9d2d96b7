package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// AppendAnomalies stores anomalies in one transaction, as
// store.AnomalyStore requires: an anomaly whose ID is stored already is
// counted as a duplicate, and gives its client to a stored copy that has
// none, and an invalid one fails the whole call.
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
			(id, rule, severity, time_ns, token_id, subject, event_ids, summary, ip, asn, org, country, user_agent)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		fill, err := tx.PrepareContext(ctx, `UPDATE anomalies SET ip = ?, asn = ?, org = ?, country = ?, user_agent = ?
			WHERE id = ? AND ip IS NULL AND asn IS NULL AND org IS NULL AND country IS NULL AND user_agent IS NULL`)
		if err != nil {
			return err
		}
		defer fill.Close()
		for _, a := range anomalies {
			ids, err := json.Marshal(a.EventIDs)
			if err != nil {
				return err
			}
			res, err := stmt.ExecContext(ctx, a.ID, a.Rule, int64(a.Severity), a.Time.UnixNano(),
				nullText(a.TokenID), nullText(a.Subject), string(ids), a.Summary,
				encodeIP(a.IP), nullInt(int64(a.ASN)), nullText(a.Org), nullText(a.Country), nullText(a.UserAgent))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				got.Inserted++
				continue
			}
			got.Duplicates++
			if a.IP.IsValid() || a.ASN != 0 || a.Org != "" || a.Country != "" || a.UserAgent != "" {
				_, err := fill.ExecContext(ctx, encodeIP(a.IP), nullInt(int64(a.ASN)), nullText(a.Org), nullText(a.Country), nullText(a.UserAgent), a.ID)
				if err != nil {
					return err
				}
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
// by ID, or the reverse with q.Newest, as store.AnomalyStore requires.
func (s *Store) Anomalies(ctx context.Context, q store.AnomalyQuery) ([]audit.Anomaly, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	if q.Limit < 0 {
		return nil, fmt.Errorf("sqlite: query anomalies: %w: limit %d (want 0 for no limit, or more)", audit.ErrInvalidValue, q.Limit)
	}

	where, args := anomalyConditions(q)
	query := "SELECT " + anomalyColumns + " FROM anomalies"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	if q.Newest {
		query += " ORDER BY time_ns DESC, id DESC"
	} else {
		query += " ORDER BY time_ns, id"
	}
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
		a, err := scanAnomaly(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: query anomalies: %w", err)
		}
		list = append(list, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: query anomalies: %w", err)
	}
	return list, nil
}

// anomalyConditions returns the SQL conditions that select the anomalies q
// matches, to be joined with AND, and their arguments. Limit and Newest
// are left to the caller.
func anomalyConditions(q store.AnomalyQuery) ([]string, []any) {
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
	if q.ASN != 0 {
		add("asn = ?", int64(q.ASN))
	}
	if q.Network.IsValid() {
		condition, bounds := networkCondition(q.Network)
		add(condition, bounds...)
	}

	return where, args
}

// anomalyColumns are the columns that scanAnomaly reads, in its order.
const anomalyColumns = "id, rule, severity, time_ns, token_id, subject, event_ids, summary, ip, asn, org, country, user_agent"

// scanAnomaly reads one row of anomalyColumns, after the columns that
// leading receives, such as the seq that AnomaliesAfter selects first.
func scanAnomaly(rows *sql.Rows, leading ...any) (audit.Anomaly, error) {
	var (
		a                       audit.Anomaly
		severity, ns            int64
		tokenID, subject        sql.NullString
		eventIDs, summary       string
		ip                      []byte
		asn                     sql.NullInt64
		org, country, userAgent sql.NullString
	)
	dest := append(leading, &a.ID, &a.Rule, &severity, &ns, &tokenID, &subject, &eventIDs, &summary,
		&ip, &asn, &org, &country, &userAgent)
	err := rows.Scan(dest...)
	if err != nil {
		return a, err
	}
	a.Severity = audit.Severity(severity)
	a.Time = time.Unix(0, ns).UTC()
	a.TokenID, a.Subject, a.Summary = tokenID.String, subject.String, summary
	if err := json.Unmarshal([]byte(eventIDs), &a.EventIDs); err != nil {
		return a, fmt.Errorf("event ids of anomaly %s: %w", a.ID, err)
	}
	if ip != nil {
		if err := a.IP.UnmarshalBinary(ip); err != nil {
			return a, fmt.Errorf("ip of anomaly %s: %w", a.ID, err)
		}
	}
	a.ASN = uint32(asn.Int64)
	a.Org, a.Country, a.UserAgent = org.String, country.String, userAgent.String
	return a, nil
}

// networkCondition returns the SQL condition that the anomaly's ip lies in
// p, and its arguments. ip holds netip.Addr.MarshalBinary: 4 bytes for
// IPv4, and for IPv6 16 bytes followed by the zone, so the first 16 bytes
// are compared and the zone is ignored.
func networkCondition(p netip.Prefix) (string, []any) {
	p = p.Masked()
	first, last := p.Addr(), lastAddr(p)
	if first.Is4() {
		mappedFirst, mappedLast := netip.AddrFrom16(first.As16()), netip.AddrFrom16(last.As16())
		return "((length(ip) = 4 AND ip BETWEEN ? AND ?) OR (length(ip) >= 16 AND substr(ip, 1, 16) BETWEEN ? AND ?))",
			[]any{first.AsSlice(), last.AsSlice(), mappedFirst.AsSlice(), mappedLast.AsSlice()}
	}
	return "(length(ip) >= 16 AND substr(ip, 1, 16) BETWEEN ? AND ?)", []any{first.AsSlice(), last.AsSlice()}
}

// lastAddr returns the highest address of p, whose address must be masked.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		hostBits := len(b)*8 - p.Bits() - (len(b)-1-i)*8 // host bits that fall in byte i and after
		switch {
		case hostBits >= 8:
			b[i] = 0xff
		case hostBits > 0:
			b[i] |= byte(1)<<hostBits - 1
		}
	}
	addr, _ := netip.AddrFromSlice(b)
	return addr
}

// PruneAnomalies deletes the stored anomalies that a detection run over r
// saw the whole evidence of and did not raise again, as
// store.AnomalyStore requires, in one transaction.
func (s *Store) PruneAnomalies(ctx context.Context, r store.TimeRange, keep []string) (int, error) {
	lower, upper, matchesNothing := nanoRange(r)
	if matchesNothing {
		return 0, nil
	}
	kept := make(map[string]bool, len(keep))
	for _, id := range keep {
		kept[id] = true
	}

	deleted := 0
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		candidates, err := pruneCandidates(ctx, tx, lower, upper, kept)
		if err != nil {
			return err
		}
		eventTime, err := tx.PrepareContext(ctx, "SELECT time_ns FROM events WHERE id = ?")
		if err != nil {
			return err
		}
		defer eventTime.Close()
		remove, err := tx.PrepareContext(ctx, "DELETE FROM anomalies WHERE id = ?")
		if err != nil {
			return err
		}
		defer remove.Close()

		for _, c := range candidates {
			inRange, err := evidenceInRange(ctx, eventTime, c.eventIDs, lower, upper)
			if err != nil {
				return fmt.Errorf("read the evidence of anomaly %s: %w", c.id, err)
			}
			if !inRange {
				continue
			}
			if _, err := remove.ExecContext(ctx, c.id); err != nil {
				return err
			}
			deleted++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune anomalies: %w", err)
	}
	return deleted, nil
}

// pruneCandidate is a stored anomaly in the range that the run did not
// raise.
type pruneCandidate struct {
	id       string
	eventIDs []string
}

// pruneCandidates returns the stored anomalies whose time lies within the
// bounds and whose ID is not kept.
func pruneCandidates(ctx context.Context, tx *sql.Tx, lower, upper *int64, kept map[string]bool) ([]pruneCandidate, error) {
	query := "SELECT id, event_ids FROM anomalies"
	var where []string
	var args []any
	if lower != nil {
		where = append(where, "time_ns >= ?")
		args = append(args, *lower)
	}
	if upper != nil {
		where = append(where, "time_ns < ?")
		args = append(args, *upper)
	}
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}

	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []pruneCandidate
	for rows.Next() {
		var c pruneCandidate
		var eventIDs string
		if err := rows.Scan(&c.id, &eventIDs); err != nil {
			return nil, err
		}
		if kept[c.id] {
			continue
		}
		if err := json.Unmarshal([]byte(eventIDs), &c.eventIDs); err != nil {
			return nil, fmt.Errorf("event ids of anomaly %s: %w", c.id, err)
		}
		list = append(list, c)
	}
	return list, rows.Err()
}

// evidenceInRange reports whether every event of ids is stored with a time
// within the bounds.
func evidenceInRange(ctx context.Context, eventTime *sql.Stmt, ids []string, lower, upper *int64) (bool, error) {
	for _, id := range ids {
		var ns int64
		err := eventTime.QueryRowContext(ctx, encodeID(id)).Scan(&ns)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return false, nil
		case err != nil:
			return false, err
		case lower != nil && ns < *lower, upper != nil && ns >= *upper:
			return false, nil
		}
	}
	return true, nil
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
