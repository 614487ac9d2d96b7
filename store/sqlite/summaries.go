package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

var _ store.TokenSummaryStore = (*Store)(nil)

// summaryColumns is the SELECT list of TokenSummaries, one row for each
// tokens row: its token fields, which have one value per group, and the
// sums of its events.
var summaryColumns = fmt.Sprintf(`t.token_id, t.fingerprint, t.subject, t.issued_at, t.expires_at,
	min(e.time_ns), max(e.time_ns), count(*), sum(e.kind = %d),
	max(e.kind = %d AND coalesce(e.revocation_scope, '') <> '%s')`,
	int64(audit.KindUsed), int64(audit.KindRevoked), audit.RevokeSubject)

// TokenSummaries sums up the events of each token that q selects, as
// store.TokenSummaryStore requires. One query sums the events of each
// tokens row, which holds one set of token fields, and the rows of one
// token are merged here. The work grows with the events selected and the
// memory with their tokens rows, about one per token, so a subject with
// millions of events costs one pass over its index entries and rows, not
// one decoded event each (see BenchmarkTokenSummaries).
func (s *Store) TokenSummaries(ctx context.Context, q store.Query) ([]store.TokenSummary, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()

	f, matchesNothing, err := buildFilter(q)
	if err != nil {
		return nil, fmt.Errorf("sqlite: sum up tokens: %w", err)
	}
	if matchesNothing {
		return nil, nil
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(summaryColumns)
	f.writeTo(&b)
	b.WriteString(" GROUP BY e.token_key")

	rows, err := s.reads.query(ctx, s.reader, b.String(), f.args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: sum up tokens: %w", err)
	}
	defer rows.Close()
	var sums store.SummaryCollector
	for rows.Next() {
		part, err := scanTokenSums(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: sum up tokens: %w", err)
		}
		sums.Add(part)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: sum up tokens: %w", err)
	}
	return sums.List(q.Limit), nil
}

// scanTokenSums reads one row of summaryColumns.
func scanTokenSums(rows interface{ Scan(...any) error }) (store.SummaryPart, error) {
	var (
		tokenID, subject    any
		fingerprint         any
		issuedAt, expiresAt any
		first, last, events int64
		uses                int64
		revoked             int64
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
	sums.Events, sums.Uses, sums.Revoked = int(events), int(uses), revoked != 0
	sums.FingerprintSince = sums.FirstSeen
	return sums, nil
}
