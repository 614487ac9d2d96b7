package forensics_test

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
)

// TestReportShowsScopedRevocations investigates access token at-3, minted
// in session s-1 from refresh token rt-2, itself minted from the root
// rt-1, after a revocation of its session, its subject or its family. Each
// makes the token revoked, and names what it covered.
func TestReportShowsScopedRevocations(t *testing.T) {
	at := func(minutes int) time.Time { return time.Date(2026, 11, 20, 9, minutes, 0, 0, time.UTC) }
	lineage := []audit.Event{
		{ID: "rt1", Time: at(0), Kind: audit.KindIssued, TokenID: "rt-1", Subject: "alice", SessionID: "s-1", IssuedAt: at(0)},
		{ID: "rt2", Time: at(5), Kind: audit.KindIssued, TokenID: "rt-2", Subject: "alice", SessionID: "s-1", ParentTokenID: "rt-1", IssuedAt: at(5)},
		{ID: "at3", Time: at(10), Kind: audit.KindIssued, TokenID: "at-3", Subject: "alice", SessionID: "s-1", ParentTokenID: "rt-2",
			IssuedAt: at(10), ExpiresAt: at(59)},
		{ID: "at3-use", Time: at(12), Kind: audit.KindUsed, TokenID: "at-3", Subject: "alice", SessionID: "s-1"},
	}
	tests := []struct {
		name       string
		revocation audit.Event
		covers     string // empty: the token is not revoked
	}{
		{"session", audit.Event{ID: "rv", Time: at(20), Kind: audit.KindRevoked, RevocationScope: audit.RevokeSession, SessionID: "s-1", Actor: "oncall"},
			"session s-1"},
		{"another session", audit.Event{ID: "rv", Time: at(20), Kind: audit.KindRevoked, RevocationScope: audit.RevokeSession, SessionID: "s-2", Actor: "oncall"},
			""},
		{"subject, issued before", audit.Event{ID: "rv", Time: at(20), Kind: audit.KindRevoked, RevocationScope: audit.RevokeSubject, Subject: "alice", NotBefore: at(15), Actor: "oncall"},
			"subject alice, tokens issued before 2026-11-20 09:15:00Z"},
		{"subject, issued after", audit.Event{ID: "rv", Time: at(20), Kind: audit.KindRevoked, RevocationScope: audit.RevokeSubject, Subject: "alice", NotBefore: at(8), Actor: "oncall"},
			""},
		{"family of the root", audit.Event{ID: "rv", Time: at(20), Kind: audit.KindRevoked, RevocationScope: audit.RevokeFamily, TokenID: "rt-1", Actor: "oncall"},
			"refresh family rt-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t, append(append([]audit.Event(nil), lineage...), tt.revocation))
			r, err := forensics.InvestigateToken(context.Background(), db, forensics.TokenRef{TokenID: "at-3"}, forensics.Options{Now: at(30)})
			if err != nil {
				t.Fatalf("InvestigateToken: %v", err)
			}

			if tt.covers == "" {
				if r.Status != forensics.StatusActive || len(r.Revocations) != 0 {
					t.Errorf("status %s, revocations %+v; want active and none", r.Status, r.Revocations)
				}
				return
			}
			if r.Status != forensics.StatusRevoked || !strings.Contains(r.StatusReason, tt.covers) {
				t.Errorf("status %s (%s), want revoked with every token of %s", r.Status, r.StatusReason, tt.covers)
			}
			if len(r.Revocations) != 1 || r.Revocations[0].Covers != tt.covers || r.Revocations[0].EventID != "rv" {
				t.Errorf("revocations = %+v, want the one covering %s", r.Revocations, tt.covers)
			}
		})
	}
}

// TestSubjectRevocationWithoutIssuedAt checks the note on a token that a
// subject revocation would cover by its issued event, but that no event
// gives an iat, so services still accept it.
func TestSubjectRevocationWithoutIssuedAt(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.1")
	events := []audit.Event{
		{ID: "rt-issued", Time: t0, Kind: audit.KindIssued, TokenID: "rt-no-iat", Subject: "alice", IP: ip},
		{ID: "at-issued", Time: t0, Kind: audit.KindIssued, TokenID: "at-iat", Subject: "alice", IssuedAt: t0, IP: ip},
		{ID: "alice-revoked", Time: t0.Add(2 * time.Hour), Kind: audit.KindRevoked, Subject: "alice",
			RevocationScope: audit.RevokeSubject, NotBefore: t0.Add(time.Hour), Actor: "soc", RevocationMethod: audit.RevokedByAdmin},
	}
	db := openStore(t, events)
	investigate := func(jti string) *forensics.TokenReport {
		t.Helper()
		r, err := forensics.InvestigateToken(context.Background(), db, forensics.TokenRef{TokenID: jti}, forensics.Options{Now: t0.Add(3 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	noIAT := investigate("rt-no-iat")
	withIAT := investigate("at-iat")

	if !slices.ContainsFunc(noIAT.Notes, func(n string) bool {
		return strings.Contains(n, "does not cover this token") && strings.Contains(n, "tokentrail revoke --jti rt-no-iat")
	}) {
		t.Errorf("notes of the token without iat = %q, want one saying the subject revocation misses it", noIAT.Notes)
	}
	if len(withIAT.Revocations) != 1 || slices.ContainsFunc(withIAT.Notes, func(n string) bool { return strings.Contains(n, "does not cover") }) {
		t.Errorf("token with iat: revocations %+v, notes %q, want the subject revocation and no note", withIAT.Revocations, withIAT.Notes)
	}
}
