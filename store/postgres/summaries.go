package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
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
	byToken := map[string]*tokenSums{}
	for rows.Next() {
		row, err := scanTokenSums(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: sum up tokens: %w", err)
		}
		key := cmp.Or(row.TokenID, row.Fingerprint)
		if sums, ok := byToken[key]; ok {
			sums.merge(row)
		} else {
			byToken[key] = &row
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrapError(ctx, "postgres: sum up tokens", err)
	}

	list := make([]store.TokenSummary, 0, len(byToken))
	for _, sums := range byToken {
		list = append(list, sums.TokenSummary)
	}
	slices.SortFunc(list, func(a, b store.TokenSummary) int {
		return cmp.Or(b.LastSeen.Compare(a.LastSeen), strings.Compare(a.TokenID, b.TokenID), strings.Compare(a.Fingerprint, b.Fingerprint))
	})
	if q.Limit > 0 && len(list) > q.Limit {
		list = list[:q.Limit]
	}
	return list, nil
}

// tokenSums is the summary of the events of one or more groups, with the
// first time of the group that gave it its Fingerprint.
type tokenSums struct {
	store.TokenSummary
	fingerprintSeen time.Time
}

// scanTokenSums reads one row of summaryColumns.
func scanTokenSums(rows interface{ Scan(...any) error }) (tokenSums, error) {
	var (
		tokenID, subject    *string
		fingerprint         []byte
		issuedAt, expiresAt pgtype.Numeric
		first, last, events int64
		uses                int64
		revoked             bool
		sums                tokenSums
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
	sums.fingerprintSeen = sums.FirstSeen
	return sums, nil
}

// merge adds the sums of another group of the same token.
func (s *tokenSums) merge(o tokenSums) {
	if o.Fingerprint != "" && (s.Fingerprint == "" || o.fingerprintSeen.Before(s.fingerprintSeen)) {
		s.Fingerprint, s.fingerprintSeen = o.Fingerprint, o.fingerprintSeen
	}
	if o.LastSeen.After(s.LastSeen) || (o.LastSeen.Equal(s.LastSeen) && o.Subject > s.Subject) {
		s.Subject = o.Subject
	}
	s.FirstSeen = minTime(s.FirstSeen, o.FirstSeen)
	s.LastSeen = maxTime(s.LastSeen, o.LastSeen)
	s.Events += o.Events
	s.Uses += o.Uses
	s.Revoked = s.Revoked || o.Revoked
	if !o.IssuedAt.IsZero() && (s.IssuedAt.IsZero() || o.IssuedAt.Before(s.IssuedAt)) {
		s.IssuedAt = o.IssuedAt
	}
	s.ExpiresAt = maxTime(s.ExpiresAt, o.ExpiresAt)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
