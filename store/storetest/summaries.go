package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// formatSummaries writes summaries in one line each, with times as
// minutes after base, for failures that show what differs.
func formatSummaries(list []store.TokenSummary) string {
	minutes := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Sub(base).String()
	}
	out := ""
	for _, s := range list {
		fp := s.Fingerprint
		if len(fp) > 8 {
			fp = fp[:8]
		}
		out += fmt.Sprintf("\n  {token %q fp %q subject %q seen %s to %s, %d events, %d uses, revoked %v, issued %s, expires %s}",
			s.TokenID, fp, s.Subject, minutes(s.FirstSeen), minutes(s.LastSeen), s.Events, s.Uses, s.Revoked, minutes(s.IssuedAt), minutes(s.ExpiresAt))
	}
	return out
}

// testTokenSummaries checks a store that implements
// store.TokenSummaryStore: tokens known by jti or by fingerprint only, a
// token whose events have several sets of token fields, the events that
// name no token, subject revocations, filters, time bounds, the limit and
// invalid queries. A store that does not implement it is skipped.
func testTokenSummaries(t *testing.T, s store.Store) {
	ss, ok := s.(store.TokenSummaryStore)
	if !ok {
		t.Skip("the store does not implement store.TokenSummaryStore")
	}
	ctx := context.Background()
	at := func(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }
	fpA, fpB := audit.Fingerprint("summary token a"), audit.Fingerprint("summary token b")
	ip := netip.MustParseAddr("198.51.100.20")
	mustAppend(t, s,
		// tok-a: first without its fingerprint, then with it, then under a
		// new subject: three sets of token fields.
		audit.Event{ID: "a1", Time: at(0), Kind: audit.KindIssued, TokenID: "tok-a", Subject: "alice", IssuedAt: at(0), ExpiresAt: at(60)},
		audit.Event{ID: "a2", Time: at(1), Kind: audit.KindUsed, TokenID: "tok-a", Fingerprint: fpA, Subject: "alice", IssuedAt: at(0), ExpiresAt: at(60), IP: ip},
		audit.Event{ID: "a3", Time: at(2), Kind: audit.KindUsed, TokenID: "tok-a", Fingerprint: fpA, Subject: "alice", IssuedAt: at(0), ExpiresAt: at(60)},
		audit.Event{ID: "a4", Time: at(5), Kind: audit.KindUsed, TokenID: "tok-a", Fingerprint: fpA, Subject: "alice@new", IssuedAt: at(0), ExpiresAt: at(120)},
		// A token known by its fingerprint only, then revoked.
		audit.Event{ID: "b1", Time: at(3), Kind: audit.KindUsed, Fingerprint: fpB, Subject: "alice", IP: ip},
		audit.Event{ID: "b2", Time: at(4), Kind: audit.KindRevoked, Fingerprint: fpB, Subject: "alice", RevocationScope: audit.RevokeToken},
		// Events that name no token.
		audit.Event{ID: "s1", Time: at(6), Kind: audit.KindSession, SessionID: "sess-1", Subject: "alice"},
		audit.Event{ID: "r1", Time: at(7), Kind: audit.KindRevoked, Subject: "alice", RevocationScope: audit.RevokeSubject, NotBefore: at(7)},
		// A subject revocation that also names a token does not make that
		// token revoked.
		audit.Event{ID: "c1", Time: at(8), Kind: audit.KindUsed, TokenID: "tok-c", Subject: "alice"},
		audit.Event{ID: "c2", Time: at(9), Kind: audit.KindRevoked, TokenID: "tok-c", Subject: "alice", RevocationScope: audit.RevokeSubject, NotBefore: at(9)},
		// Another subject's token.
		audit.Event{ID: "d1", Time: at(10), Kind: audit.KindUsed, TokenID: "tok-d", Subject: "bob", IP: ip},
	)

	tokA := store.TokenSummary{TokenID: "tok-a", Fingerprint: fpA, Subject: "alice", FirstSeen: at(0), LastSeen: at(2), Events: 3, Uses: 2, IssuedAt: at(0), ExpiresAt: at(60)}
	tokB := store.TokenSummary{Fingerprint: fpB, Subject: "alice", FirstSeen: at(3), LastSeen: at(4), Events: 2, Uses: 1, Revoked: true}
	noToken := store.TokenSummary{Subject: "alice", FirstSeen: at(6), LastSeen: at(7), Events: 2}
	tokC := store.TokenSummary{TokenID: "tok-c", Subject: "alice", FirstSeen: at(8), LastSeen: at(9), Events: 2, Uses: 1}
	tokD := store.TokenSummary{TokenID: "tok-d", Subject: "bob", FirstSeen: at(10), LastSeen: at(10), Events: 1, Uses: 1}
	tests := []struct {
		name  string
		query store.Query
		want  []store.TokenSummary
	}{
		{"subject", store.Query{Subject: "alice"}, []store.TokenSummary{tokC, noToken, tokB, tokA}},
		{"subject, limit 2", store.Query{Subject: "alice", Limit: 2}, []store.TokenSummary{tokC, noToken}},
		{"token across subjects", store.Query{TokenID: "tok-a"}, []store.TokenSummary{{
			TokenID: "tok-a", Fingerprint: fpA, Subject: "alice@new", FirstSeen: at(0), LastSeen: at(5), Events: 4, Uses: 3, IssuedAt: at(0), ExpiresAt: at(120)}}},
		{"fingerprint", store.Query{Fingerprint: fpB}, []store.TokenSummary{tokB}},
		{"time bounds", store.Query{Subject: "alice", Since: at(1), Until: at(4)}, []store.TokenSummary{
			{Fingerprint: fpB, Subject: "alice", FirstSeen: at(3), LastSeen: at(3), Events: 1, Uses: 1},
			{TokenID: "tok-a", Fingerprint: fpA, Subject: "alice", FirstSeen: at(1), LastSeen: at(2), Events: 2, Uses: 2, IssuedAt: at(0), ExpiresAt: at(60)}}},
		{"address", store.Query{IP: ip}, []store.TokenSummary{tokD,
			{Fingerprint: fpB, Subject: "alice", FirstSeen: at(3), LastSeen: at(3), Events: 1, Uses: 1},
			{TokenID: "tok-a", Fingerprint: fpA, Subject: "alice", FirstSeen: at(1), LastSeen: at(1), Events: 1, Uses: 1, IssuedAt: at(0), ExpiresAt: at(60)}}},
		{"kinds", store.Query{Subject: "alice", Kinds: []audit.Kind{audit.KindRevoked}}, []store.TokenSummary{
			{TokenID: "tok-c", Subject: "alice", FirstSeen: at(9), LastSeen: at(9), Events: 1},
			{Subject: "alice", FirstSeen: at(7), LastSeen: at(7), Events: 1},
			{Fingerprint: fpB, Subject: "alice", FirstSeen: at(4), LastSeen: at(4), Events: 1, Revoked: true}}},
		{"no match", store.Query{Subject: "nobody"}, nil},
	}
	for _, tt := range tests {
		got, err := ss.TokenSummaries(ctx, tt.query)
		if err != nil {
			t.Errorf("TokenSummaries(%s) = %v", tt.name, err)
			continue
		}
		if formatSummaries(got) != formatSummaries(tt.want) || !sameSummaries(got, tt.want) {
			t.Errorf("TokenSummaries(%s) = %s\nwant %s", tt.name, formatSummaries(got), formatSummaries(tt.want))
		}
	}

	invalid := []struct {
		name  string
		query store.Query
		want  error
	}{
		{"no filter", store.Query{}, store.ErrEmptyQuery},
		{"negative limit", store.Query{Subject: "alice", Limit: -1}, audit.ErrInvalidValue},
		{"invalid kind", store.Query{Subject: "alice", Kinds: []audit.Kind{audit.Kind(99)}}, audit.ErrInvalidValue},
	}
	for _, tt := range invalid {
		if _, err := ss.TokenSummaries(ctx, tt.query); !errors.Is(err, tt.want) {
			t.Errorf("TokenSummaries(%s) error = %v, want one wrapping %v", tt.name, err, tt.want)
		}
	}
}

// sameSummaries reports whether a and b hold the same summaries in the
// same order, with times compared as instants and the whole fingerprint.
func sameSummaries(a, b []store.TokenSummary) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.TokenID != y.TokenID || x.Fingerprint != y.Fingerprint || x.Subject != y.Subject ||
			x.Events != y.Events || x.Uses != y.Uses || x.Revoked != y.Revoked ||
			!x.FirstSeen.Equal(y.FirstSeen) || !x.LastSeen.Equal(y.LastSeen) ||
			!x.IssuedAt.Equal(y.IssuedAt) || !x.ExpiresAt.Equal(y.ExpiresAt) {
			return false
		}
	}
	return true
}
