package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// summaryGroup is the GROUP BY of TokenSummaries: the token fields that a
// summary takes from its events. A token whose events carry several sets of
// them gives several rows, which TokenSummaries merges.
const summaryGroup = "token_id, fingerprint, subject, issued_at, expires_at"

// summaryColumns is the SELECT list of TokenSummaries, one row for each
// group: its token fields and the sums of its events.
var summaryColumns = summaryGroup + fmt.Sprintf(`, min(time_ns), max(time_ns), count(*),
	count(*) FILTER (WHERE kind = %d),
	bool_or(kind = %d AND coalesce(revocation_scope, '') <> '%s')`,
	int16(audit.KindUsed), int16(audit.KindRevoked), audit.RevokeSubject)

// TokenSummaries sums up the events of each token that q selects, as
// store.TokenSummaryStore requires. One query sums the events of each set
// of token fields, and the sets of one token are merged here, so the
// memory grows with the tokens selected, not with their events.
func (s *Store) TokenSummaries(ctx context.Context, q store.Query) ([]store.TokenSummary, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()

	f, matchesNothing, err := buildFilter(q)
	if err != nil {
		return nil, fmt.Errorf("postgres: sum up tokens: %w", err)
	}
	if matchesNothing {
		return nil, nil
	}
	query := "SELECT " + summaryColumns + " FROM events WHERE " + f.where() + " GROUP BY " + summaryGroup

	rows, err := s.pool.Query(ctx, query, f.args...)
	if err != nil {
		return nil, wrapError(ctx, "postgres: sum up tokens", err)
	}
	defer rows.Close()
	var sums store.SummaryCollector
	for rows.Next() {
		part, err := scanTokenSums(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: sum up tokens: %w", err)
		}
		sums.Add(part)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapError(ctx, "postgres: sum up tokens", err)
	}
	return sums.List(q.Limit), nil
}

// scanTokenSums reads one row of summaryColumns.
func scanTokenSums(rows interface{ Scan(...any) error }) (store.SummaryPart, error) {
	var (
		tokenID, subject    *string
		fingerprint         []byte
		issuedAt, expiresAt pgtype.Numeric
		first, last, events int64
		uses                int64
		revoked             bool
		sums                store.SummaryPart
		err                 error
	)
	if err := rows.Scan(&tokenID, &fingerprint, &subject, &issuedAt, &expiresAt, &first, &last, &events, &uses, &revoked); err != nil {
		return sums, err
	}
	sums.TokenID, sums.Subject = text(tokenID), text(subject)
	if sums.Fingerprint, err = decodeFingerprint(fingerprint); err != nil {
		return sums, fmt.Errorf("column fingerprint: %w", err)
	}
	if sums.IssuedAt, err = decodeTime(issuedAt); err != nil {
		return sums, fmt.Errorf("column issued_at: %w", err)
	}
	if sums.ExpiresAt, err = decodeTime(expiresAt); err != nil {
		return sums, fmt.Errorf("column expires_at: %w", err)
	}
	sums.FirstSeen, sums.LastSeen = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
	sums.Events, sums.Uses, sums.Revoked = int(events), int(uses), revoked
	sums.FingerprintSince = sums.FirstSeen
	return sums, nil
}
