package detect

import (
	"fmt"
	"hash/maphash"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// scopedRevocation is a revocation of every token of a sign-in session or
// of a refresh family, or of every token of a subject issued before a time.
type scopedRevocation struct {
	at        int64  // event time of the revocation
	notBefore int64  // subject scope: tokens issued before this time are revoked
	id        string // the revoked event's ID
	root      string // family scope: the root token id
}

// maxScopedPerKey bounds the revocations kept for one session, subject or
// family:
// a few cover every real case, and the bound keeps a flood of revocations of
// one subject from growing the state.
const maxScopedPerKey = 4

// recordScopedLocked remembers a revocation of a session, a subject or a
// refresh family, for revoked_token_use on the tokens it covers. The
// number of sessions, subjects and families kept is bounded by MaxTokens
// each; past it the revocation is not kept, and
// Stats.ScopedRevocationsDropped counts it.
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
	case audit.RevokeFamily:
		e.recordFamilyLocked(ev, rev)
		return
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
	if hasRevocation(list, rev.id) {
		return
	}
	if !known && len(*table) >= e.cfg.MaxTokens || len(list) >= maxScopedPerKey {
		e.mu.stats.ScopedRevocationsDropped++
		return
	}
	(*table)[key] = append(list, rev)
}

// recordFamilyLocked remembers a revocation of a refresh family for the
// descendants of its root; the root itself is revoked by the event as a
// token. Its bounds are recordScopedLocked's.
func (e *Engine) recordFamilyLocked(ev *audit.Event, rev scopedRevocation) {
	if ev.TokenID == "" {
		return
	}
	if e.mu.revokedFamilies == nil {
		e.mu.revokedFamilies = make(map[uint64][]scopedRevocation)
	}
	key := e.lineageKey(ev.TokenID)
	list, known := e.mu.revokedFamilies[key]
	if hasRevocation(list, rev.id) {
		return
	}
	if !known && len(e.mu.revokedFamilies) >= e.cfg.MaxTokens || len(list) >= maxScopedPerKey {
		e.mu.stats.ScopedRevocationsDropped++
		return
	}
	rev.root = strings.Clone(ev.TokenID)
	e.mu.revokedFamilies[key] = append(list, rev)
}

// hasRevocation reports whether list holds the revoked event id, which
// LoadRevocations and then Observe may both pass.
func hasRevocation(list []scopedRevocation, id string) bool {
	for _, r := range list {
		if r.id == id {
			return true
		}
	}
	return false
}

// scopedRevocationLocked returns the earliest revocation of the event's
// session, of its subject that covers the token's issuance, or of the
// token's refresh family, made more than ClockSkew before the event.
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
	// A family revocation covers every descendant of the root, even
	// one minted after it: that minting redeemed a revoked token.
	if st.root != 0 {
		for _, r := range e.mu.revokedFamilies[st.root] {
			if r.at < latest && (!ok || r.at < rev.at) {
				rev, scope, ok = r, "refresh family "+r.root, true
			}
		}
	}
	return rev, scope, ok
}

// lineageRootLocked returns the lineageKey of the root of the lineage of
// the token parent: the root its state records, or parent itself when the
// engine holds no state of parent or has no parent recorded for it.
//
// NOTE: a parent whose state was evicted (TokenTTL, MaxTokens) ends the
// walk, so a descendant minted after that is not linked to the root, and
// a family revocation misses it.
func (e *Engine) lineageRootLocked(parent string) uint64 {
	if st, ok := e.mu.tokens[parent]; ok && st.root != 0 {
		return st.root
	}
	return e.lineageKey(parent)
}

// lineageKey returns the hash of a root token id that the token states and
// revokedFamilies keep. It is never 0, which means no known root. Two
// roots whose hashes collide, at odds of 1 in 2^63, would share
// revocations.
func (e *Engine) lineageKey(root string) uint64 {
	return maphash.String(e.seed, root) | 1
}

// scopedRevokedUse raises revoked_token_use on the first use of a token
// whose session, subject or refresh family was revoked, when the token
// itself was not.
func (c *check) scopedRevokedUse() {
	cfg := c.engine.cfg.Rules.RevokedTokenUse
	st, ev := c.st, c.ev
	if cfg.Disabled || st.flags&firedRevoked != 0 || !c.isUse() ||
		(c.engine.mu.revokedSessions == nil && c.engine.mu.revokedSubjects == nil && c.engine.mu.revokedFamilies == nil) {
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
