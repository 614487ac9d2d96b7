package detect

import (
	"fmt"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// scopedRevocation is a revocation of every token of a sign-in session, or
// of every token of a subject issued before a time.
type scopedRevocation struct {
	at        int64  // event time of the revocation
	notBefore int64  // subject scope: tokens issued before this time are revoked
	id        string // the revoked event's ID
}

// maxScopedPerKey bounds the revocations kept for one session or subject:
// a few cover every real case, and the bound keeps a flood of revocations of
// one subject from growing the state.
const maxScopedPerKey = 4

// recordScopedLocked remembers a revocation of a session or a subject, for
// revoked_token_use on the tokens it covers. The number of sessions and
// subjects kept is bounded by MaxTokens each; past it the revocation is not
// kept, and Stats.ScopedRevocationsDropped counts it.
func (e *Engine) recordScopedLocked(ev *audit.Event) {
	var table *map[string][]scopedRevocation
	var key string
	rev := scopedRevocation{at: ev.Time.UnixNano(), id: ev.ID}
	switch ev.RevocationScope {
	case audit.RevokeSession:
		table, key = &e.mu.revokedSessions, ev.SessionID
	case audit.RevokeSubject:
		table, key = &e.mu.revokedSubjects, ev.Subject
		rev.notBefore = rev.at
		if !ev.NotBefore.IsZero() {
			rev.notBefore = ev.NotBefore.UnixNano()
		}
	default:
		return
	}
	if key == "" || isPlaceholderSubject(key) {
		return
	}
	if *table == nil {
		*table = make(map[string][]scopedRevocation)
	}
	list, known := (*table)[key]
	if !known && len(*table) >= e.cfg.MaxTokens || len(list) >= maxScopedPerKey {
		e.mu.stats.ScopedRevocationsDropped++
		return
	}
	(*table)[key] = append(list, rev)
}

// scopedRevocationLocked returns the earliest revocation of the event's
// session, or of its subject that covers the token's issuance, made more
// than ClockSkew before the event.
func (e *Engine) scopedRevocationLocked(st *tokenState, ev *audit.Event) (rev scopedRevocation, scope string, ok bool) {
	latest := ev.Time.UnixNano() - int64(e.cfg.ClockSkew)
	issuedAt := st.issuedAt
	if !ev.IssuedAt.IsZero() {
		issuedAt = ev.IssuedAt.UnixNano()
	}

	if ev.SessionID != "" {
		for _, r := range e.mu.revokedSessions[ev.SessionID] {
			// A token issued after the session's revocation belongs to a
			// new sign-in that reused the id.
			if r.at < latest && (issuedAt == 0 || issuedAt <= r.at) && (!ok || r.at < rev.at) {
				rev, scope, ok = r, "session "+ev.SessionID, true
			}
		}
	}
	// A subject's revocation covers the tokens whose iat is known to be
	// before its time: a token without iat may have been issued after it.
	if ev.Subject != "" && issuedAt != 0 {
		for _, r := range e.mu.revokedSubjects[ev.Subject] {
			if r.at < latest && issuedAt < r.notBefore && (!ok || r.at < rev.at) {
				rev, scope, ok = r, "subject "+ev.Subject, true
			}
		}
	}
	return rev, scope, ok
}

// scopedRevokedUse raises revoked_token_use on the first use of a token
// whose session or subject was revoked, when the token itself was not.
func (c *check) scopedRevokedUse() {
	cfg := c.engine.cfg.Rules.RevokedTokenUse
	st, ev := c.st, c.ev
	if cfg.Disabled || st.flags&firedRevoked != 0 || !c.isUse() ||
		(c.engine.mu.revokedSessions == nil && c.engine.mu.revokedSubjects == nil) {
		return
	}
	rev, scope, ok := c.engine.scopedRevocationLocked(st, ev)
	if !ok {
		return
	}
	st.flags |= firedRevoked
	after := time.Duration(ev.Time.UnixNano() - rev.at)
	c.raise(RuleRevokedTokenUse, cfg.Severity,
		fmt.Sprintf("Token %s was %s %s after every token of %s was revoked: find why the service still accepts it, and check who used it.",
			st.key, pastTense(ev.Kind), FormatDuration(after), scope),
		rev.id, ev.ID)
}
