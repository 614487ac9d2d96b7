package revocation

import (
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// FamilyEvent returns a revoked event that revokes every token of the
// refresh family whose root token is rootTokenID, as of at. The caller adds
// Actor, Reason, RevocationMethod and, when the latest expiry of the
// family's tokens is known, ExpiresAt, and records it like any event.
func FamilyEvent(rootTokenID string, at time.Time) audit.Event {
	return audit.Event{
		ID:      audit.NewID("revocation", ActionRevokeFamily, rootTokenID, at.UTC().Format(time.RFC3339Nano)),
		Time:    at.UTC(),
		Kind:    audit.KindRevoked,
		Action:  ActionRevokeFamily,
		TokenID: rootTokenID,
	}
}

// SessionEvent returns a revoked event that revokes every token of sign-in
// session sessionID, as of at. Its TokenID is "session:" and the session ID,
// because a revoked event must name a token. The caller completes it as for
// FamilyEvent.
func SessionEvent(sessionID string, at time.Time) audit.Event {
	return audit.Event{
		ID:        audit.NewID("revocation", ActionRevokeSession, sessionID, at.UTC().Format(time.RFC3339Nano)),
		Time:      at.UTC(),
		Kind:      audit.KindRevoked,
		Action:    ActionRevokeSession,
		TokenID:   "session:" + sessionID,
		SessionID: sessionID,
	}
}

// SubjectEvent returns a revoked event that revokes every token of subject
// issued before notBefore, as of at. Its TokenID is "subject:" and the
// subject. The caller completes it as for FamilyEvent; ExpiresAt should be
// notBefore plus the longest lifetime of the subject's tokens, after which
// the entry can be dropped.
func SubjectEvent(subject string, notBefore, at time.Time) audit.Event {
	return audit.Event{
		ID:        audit.NewID("revocation", ActionRevokeSubject, subject, notBefore.UTC().Format(time.RFC3339Nano), at.UTC().Format(time.RFC3339Nano)),
		Time:      at.UTC(),
		Kind:      audit.KindRevoked,
		Action:    ActionRevokeSubject,
		TokenID:   "subject:" + subject,
		Subject:   subject,
		NotBefore: notBefore.UTC(),
	}
}
