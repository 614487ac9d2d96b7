package revocation

import (
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// The constructors below return revoked events whose ID derives from what
// they revoke and when, so that recording the same revocation twice stores
// it once. The caller adds Actor, Reason, RevocationMethod and, when the
// latest expiry of the tokens covered is known, ExpiresAt, after which a Set
// drops the entry. Then it records the event like any other.

// TokenEvent returns a revoked event that revokes the token named by
// tokenID, fingerprint or both, as of at.
func TokenEvent(tokenID, fingerprint string, at time.Time) audit.Event {
	return audit.Event{
		ID:              audit.NewID("revocation", string(audit.RevokeToken), tokenID, fingerprint, stamp(at)),
		Time:            at.UTC(),
		Kind:            audit.KindRevoked,
		RevocationScope: audit.RevokeToken,
		TokenID:         tokenID,
		Fingerprint:     fingerprint,
	}
}

// FamilyEvent returns a revoked event that revokes every token of the
// refresh family whose root token is rootTokenID, as of at.
func FamilyEvent(rootTokenID string, at time.Time) audit.Event {
	return audit.Event{
		ID:              audit.NewID("revocation", string(audit.RevokeFamily), rootTokenID, stamp(at)),
		Time:            at.UTC(),
		Kind:            audit.KindRevoked,
		RevocationScope: audit.RevokeFamily,
		TokenID:         rootTokenID,
	}
}

// SessionEvent returns a revoked event that revokes every token of sign-in
// session sessionID, as of at.
func SessionEvent(sessionID string, at time.Time) audit.Event {
	return audit.Event{
		ID:              audit.NewID("revocation", string(audit.RevokeSession), sessionID, stamp(at)),
		Time:            at.UTC(),
		Kind:            audit.KindRevoked,
		RevocationScope: audit.RevokeSession,
		SessionID:       sessionID,
	}
}

// SubjectEvent returns a revoked event that revokes every token of subject
// issued before notBefore, as of at. Its ExpiresAt should be notBefore plus
// the longest lifetime of the subject's tokens.
func SubjectEvent(subject string, notBefore, at time.Time) audit.Event {
	return audit.Event{
		ID:              audit.NewID("revocation", string(audit.RevokeSubject), subject, stamp(notBefore), stamp(at)),
		Time:            at.UTC(),
		Kind:            audit.KindRevoked,
		RevocationScope: audit.RevokeSubject,
		Subject:         subject,
		NotBefore:       notBefore.UTC(),
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
