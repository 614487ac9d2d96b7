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
