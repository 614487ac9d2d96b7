package detect

import (
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// revokeSession and revokeSubject return revocations of a whole session and
// of a subject's tokens issued before notBefore, at t0+at. Neither names a
// token.
func revokeSession(id string, at time.Duration, session string) audit.Event {
	return audit.Event{ID: id, Time: t0.Add(at), Kind: audit.KindRevoked, RevocationScope: audit.RevokeSession, SessionID: session}
}

func revokeSubject(id string, at time.Duration, subject string, notBefore time.Duration) audit.Event {
	return audit.Event{ID: id, Time: t0.Add(at), Kind: audit.KindRevoked, RevocationScope: audit.RevokeSubject, Subject: subject, NotBefore: t0.Add(notBefore)}
}

// revokeFamily returns a revocation of the refresh family whose root is
// the token root, at t0+at.
func revokeFamily(id string, at time.Duration, root string) audit.Event {
	return audit.Event{ID: id, Time: t0.Add(at), Kind: audit.KindRevoked, RevocationScope: audit.RevokeFamily, TokenID: root}
}

// minted returns the options of an issued event of token, minted from the
// refresh token parent.
func minted(token, parent string) func(*audit.Event) {
	return func(e *audit.Event) { e.TokenID, e.ParentTokenID = token, parent }
}

func withSession(s string) func(*audit.Event) {
	return func(e *audit.Event) { e.SessionID = s }
}

func TestScopedRevokedTokenUse(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{
			name: "use of a token of a revoked session",
			events: []audit.Event{
				event("i1", 0, audit.KindIssued, withSession("sid-1"), withIssued("https://idp", 0)),
				revokeSession("r1", time.Minute, "sid-1"),
				event("u1", 5*time.Minute, audit.KindUsed, withSession("sid-1")),
				event("u2", 6*time.Minute, audit.KindUsed, withSession("sid-1")),
			},
			want: []found{{RuleRevokedTokenUse, critical, []string{"r1", "u1"}}},
		},
		{
			name: "use of another session",
			events: []audit.Event{
				revokeSession("r1", 0, "sid-1"),
				event("u1", 5*time.Minute, audit.KindUsed, withSession("sid-2")),
			},
		},
		{
			name: "token issued after the session was revoked",
			events: []audit.Event{
				revokeSession("r1", 0, "sid-1"),
				event("u1", 5*time.Minute, audit.KindUsed, withSession("sid-1"), withIssued("https://idp", 2*time.Minute)),
			},
		},
		{
			name: "use within clock skew of the session's revocation",
			events: []audit.Event{
				revokeSession("r1", 0, "sid-1"),
				event("u1", 30*time.Second, audit.KindUsed, withSession("sid-1")),
			},
		},
		{
			name: "use of a subject's token issued before the not-before",
			events: []audit.Event{
				event("i1", 0, audit.KindIssued, withIssued("https://idp", 0)),
				revokeSubject("r1", 10*time.Minute, "alice@example.com", 10*time.Minute),
				event("u1", 20*time.Minute, audit.KindUsed),
			},
			want: []found{{RuleRevokedTokenUse, critical, []string{"r1", "u1"}}},
		},
		{
			name: "subject's token issued after the not-before",
			events: []audit.Event{
				revokeSubject("r1", 10*time.Minute, "alice@example.com", 10*time.Minute),
				event("u1", 20*time.Minute, audit.KindUsed, withIssued("https://idp", 15*time.Minute)),
			},
		},
		{
			name: "subject's token without iat",
			events: []audit.Event{
				revokeSubject("r1", 10*time.Minute, "alice@example.com", 10*time.Minute),
				event("u1", 20*time.Minute, audit.KindUsed),
			},
		},
		{
			name: "another subject",
			events: []audit.Event{
				revokeSubject("r1", 10*time.Minute, "bob@example.com", 10*time.Minute),
				event("u1", 20*time.Minute, audit.KindUsed, withIssued("https://idp", 0)),
			},
		},
		{
			name: "placeholder subject",
			events: []audit.Event{
				revokeSubject("r1", 10*time.Minute, "unknown", 10*time.Minute),
				event("u1", 20*time.Minute, audit.KindUsed, withSubject("unknown"), withIssued("https://idp", 0)),
			},
		},
		{
			name: "use of a grandchild of a revoked family's root",
			events: []audit.Event{
				event("i0", 0, audit.KindIssued, minted("rt-1", "")),
				event("i1", time.Minute, audit.KindIssued, minted("rt-2", "rt-1")),
				event("i2", 2*time.Minute, audit.KindIssued, minted("at-3", "rt-2")),
				revokeFamily("r1", 3*time.Minute, "rt-1"),
				event("u1", 10*time.Minute, audit.KindUsed, minted("at-3", "")),
				event("u2", 11*time.Minute, audit.KindUsed, minted("at-3", "")),
			},
			want: []found{{RuleRevokedTokenUse, critical, []string{"r1", "u1"}}},
		},
		{
			name: "token minted after its family was revoked",
			events: []audit.Event{
				event("i0", 0, audit.KindIssued, minted("rt-1", "")),
				revokeFamily("r1", time.Minute, "rt-1"),
				event("i1", 5*time.Minute, audit.KindIssued, minted("at-2", "rt-1")),
				event("u1", 6*time.Minute, audit.KindUsed, minted("at-2", "")),
			},
			want: []found{{RuleRevokedTokenUse, critical, []string{"r1", "u1"}}},
		},
		{
			name: "use of a token of another family",
			events: []audit.Event{
				event("i0", 0, audit.KindIssued, minted("at-9", "rt-9")),
				revokeFamily("r1", time.Minute, "rt-1"),
				event("u1", 10*time.Minute, audit.KindUsed, minted("at-9", "")),
			},
		},
		{
			name: "use within clock skew of the family's revocation",
			events: []audit.Event{
				event("i1", 0, audit.KindIssued, minted("at-2", "rt-1")),
				revokeFamily("r1", time.Minute, "rt-1"),
				event("u1", time.Minute+30*time.Second, audit.KindUsed, minted("at-2", "")),
			},
		},
		{
			name: "token revoked itself and by its session raises once",
			events: []audit.Event{
				event("r0", 0, audit.KindRevoked, withSession("sid-1")),
				revokeSession("r1", time.Minute, "sid-1"),
				event("u1", 5*time.Minute, audit.KindUsed, withSession("sid-1")),
			},
			want: []found{{RuleRevokedTokenUse, critical, []string{"r0", "u1"}}},
		},
	})
}
