// Package revocation holds the revocations a service enforces on every
// request: revoked tokens, revoked refresh families and sign-in sessions, and
// per-subject not-before times. A Set runs Check in constant time without
// locks or allocations. A Refresher keeps it current by polling a Source,
// such as StoreSource over the tokentrail store, every few seconds.
//
// # How a revoked event names what it revokes
//
// A Set is built from audit.Event values of kind revoked. The event's
// RevocationScope says what it revokes:
//
//   - audit.RevokeToken, or empty: the token named by TokenID, by
//     Fingerprint, or by both.
//   - audit.RevokeFamily: every token whose family is TokenID. A family is
//     the refresh lineage that starts at one refresh token: its root
//     token's id names it, and the root token itself is revoked too.
//   - audit.RevokeSession: every token of sign-in session SessionID, and the
//     token named by TokenID or Fingerprint, if any.
//   - audit.RevokeSubject: every token of Subject issued before NotBefore,
//     or before the event's Time when NotBefore is zero.
//
// TokenEvent, FamilyEvent, SessionEvent and SubjectEvent build such events.
//
// An entry is dropped once the event's ExpiresAt lies more than PruneGrace in
// the past, because every token it covers has expired by then and a verifier
// rejects it anyway. An event without ExpiresAt is kept for good.
package revocation

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// PruneGrace is how long an entry outlives the expiry of the tokens it
// covers. It is longer than the clock skew that verifiers usually allow
// (60 seconds to 5 minutes), so an expired token that a lenient verifier
// still accepts stays revoked.
const PruneGrace = 10 * time.Minute

// Token is the identity of a presented token, as Check reads it. Empty fields are
// not checked.
type Token struct {
	TokenID     string    // the jti claim
	Fingerprint string    // lowercase hex SHA-256 of the compact token
	Family      string    // id of the root refresh token of the token's lineage
	SessionID   string    // the sid claim
	Subject     string    // the sub claim
	IssuedAt    time.Time // the iat claim; zero when the token has none
}

// Reason is the kind of revocation that covers a token. The zero Reason,
// NotRevoked, means none does.
type Reason uint8

// The reasons Check returns.
const (
	NotRevoked Reason = iota
	ByToken           // the token itself, by jti or fingerprint
	ByFamily          // its refresh family
	BySession         // its sign-in session
	BySubject         // its subject's not-before time
)

var reasonNames = [...]string{
	NotRevoked: "not_revoked",
	ByToken:    "token",
	ByFamily:   "family",
	BySession:  "session",
	BySubject:  "subject",
}

// String returns the lowercase name of r, such as "family".
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Set is a set of revocations. The zero Set is empty and ready to use. It is
// safe for concurrent use: Check never blocks, and Add calls are serialized.
//
// A Set keeps a large immutable base and a small immutable delta of recent
// additions, both behind one atomic pointer. Add copies only the delta,
// except when the delta outgrows a sixteenth of the base: then Add merges
// both into a new base and prunes expired entries. Each addition is thus
// copied a bounded number of times on average, and Check looks up at most
// two hash tables per field.
type Set struct {
	current   atomic.Pointer[snapshot]
	refreshed atomic.Int64 // Unix nanoseconds of the last successful refresh; 0 for never

	// heldUntil is the Unix time in nanoseconds until which a long poll
	// in flight keeps s current, or 0 when none is in flight, because a
	// live server responds to such a poll as soon as it stores a
	// revocation.
	heldUntil atomic.Int64

	mu sync.Mutex // serializes writers
}

// snapshot is one immutable state of a Set.
type snapshot struct {
	base  *tables
	delta *tables
}

// tables holds one generation of entries. Each value is the Unix time in
// nanoseconds after which the entry may be pruned, 0 for never, except in
// subjects, where it is the not-before time. subjectExpiry holds the prune
// times of subjects.
type tables struct {
	ids           idFilter // over tokens and families, built before the tables are published
	tokens        map[string]int64
	fingerprints  map[string]int64
	families      map[string]int64
	sessions      map[string]int64
	subjects      map[string]int64
	subjectExpiry map[string]int64
}

// maxNamedErrors is the number of unusable events that the error of Add
// names one by one.
const maxNamedErrors = 10

// minMergeDelta is the delta size below which Add never merges, so that a
// small set does not rebuild its base on every addition.
const minMergeDelta = 1024

// Check reports whether t is revoked, and by which kind of revocation. It
// runs in constant time and does not allocate. A token whose subject has a
// not-before time and whose IssuedAt is zero counts as revoked, because
// nothing shows it was issued after that time.
func (s *Set) Check(t Token) (bool, Reason) {
	// Check is small enough to inline, so that the caller's Token goes to
	// check by pointer instead of being copied.
	return s.check(&t)
}

func (s *Set) check(t *Token) (bool, Reason) {
	snap := s.current.Load()
	if snap == nil {
		return false, NotRevoked
	}
	if r := snap.delta.check(t); r != NotRevoked {
		return true, r
	}
	if r := snap.base.check(t); r != NotRevoked {
		return true, r
	}
	return false, NotRevoked
}

// check returns the reason t is revoked in tb. Most tables are empty, such
// as every table of the base until the first merge. A lookup in an empty
// map still costs a function call, which the length tests skip.
func (tb *tables) check(t *Token) Reason {
	if t.TokenID != "" && tb.ids.mayContain(t.TokenID) {
		if len(tb.tokens) > 0 {
			if _, ok := tb.tokens[t.TokenID]; ok {
				return ByToken
			}
		}
		// A family is named by its root token, which can be presented
		// itself.
		if len(tb.families) > 0 {
			if _, ok := tb.families[t.TokenID]; ok {
				return ByFamily
			}
		}
	}
	if t.Fingerprint != "" && len(tb.fingerprints) > 0 {
		if _, ok := tb.fingerprints[t.Fingerprint]; ok {
			return ByToken
		}
	}
	if t.Family != "" && len(tb.families) > 0 && tb.ids.mayContain(t.Family) {
		if _, ok := tb.families[t.Family]; ok {
			return ByFamily
		}
	}
	if t.SessionID != "" && len(tb.sessions) > 0 {
		if _, ok := tb.sessions[t.SessionID]; ok {
			return BySession
		}
	}
	if t.Subject != "" && len(tb.subjects) > 0 {
		if notBefore, ok := tb.subjects[t.Subject]; ok && (t.IssuedAt.IsZero() || t.IssuedAt.UnixNano() < notBefore) {
			return BySubject
		}
	}
	return NotRevoked
}

// Len returns the number of entries: revoked tokens, fingerprints, families,
// sessions and subjects together. An entry added twice counts twice until
// the next merge.
func (s *Set) Len() int {
	snap := s.current.Load()
	if snap == nil {
		return 0
	}
	return snap.base.len() + snap.delta.len()
}

func (tb *tables) len() int {
	return len(tb.tokens) + len(tb.fingerprints) + len(tb.families) + len(tb.sessions) + len(tb.subjects)
}

// HasFingerprints reports whether s revokes any token by fingerprint. A
// middleware that reads a token with a jti computes its fingerprint only
// then, because hashing every token costs more than the rest of Check.
func (s *Set) HasFingerprints() bool {
	snap := s.current.Load()
	return snap != nil && len(snap.base.fingerprints)+len(snap.delta.fingerprints) > 0
}

// Refreshed returns the time as of which s holds every revocation of its
// Source: the start of the last call of a successful refresh, or the end
// of that call when it was a long poll that found nothing new. It returns
// the zero time when s was never refreshed, which is the case for a Set
// filled with Add alone. A long poll in flight does not move it, but
// Stale counts it.
func (s *Set) Refreshed() time.Time {
	ns := s.refreshed.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Stale reports whether s was never refreshed, or was last refreshed more
// than maxAge before now while no long poll keeps it current. A long poll
// (LongPollSource) keeps s current from its start until its wait plus
// LongPollGrace have passed, unless the Refresher's poll before it failed.
// A service that must not accept a revoked token rejects requests while
// its Set is stale.
func (s *Set) Stale(now time.Time, maxAge time.Duration) bool {
	ns := s.refreshed.Load()
	if ns == 0 {
		return true
	}
	n := now.UnixNano()
	if n <= s.heldUntil.Load() {
		return false
	}
	return n-ns > int64(maxAge)
}

// markRefreshed records that s holds every revocation of its Source as of
// at.
func (s *Set) markRefreshed(at time.Time) {
	s.refreshed.Store(at.UnixNano())
}

// holdUntil records that a long poll in flight keeps s current until
// deadline; the zero time clears it.
func (s *Set) holdUntil(deadline time.Time) {
	if deadline.IsZero() {
		s.heldUntil.Store(0)
		return
	}
	s.heldUntil.Store(deadline.UnixNano())
}

// Add adds the revocations that events state, as the package documentation
// describes, and prunes expired entries when it merges. Events of another
// kind than revoked are skipped. Add applies every usable event even when
// some are not. It then returns an error that names the first 10 unusable
// events by their IDs and counts the others.
func (s *Set) Add(events ...audit.Event) error {
	return s.add(time.Now(), events)
}

func (s *Set) add(now time.Time, events []audit.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	old := s.current.Load()
	if old == nil {
		old = &snapshot{base: newTables(0), delta: newTables(0)}
	}

	delta := old.delta.clone(len(events))
	var errs []error
	unusable := 0
	for i := range events {
		if err := delta.apply(&events[i]); err != nil {
			// The first few name the events; the rest are counted, so
			// that a bad batch does not make a log line without bound.
			if unusable++; unusable <= maxNamedErrors {
				errs = append(errs, err)
			}
		}
	}
	if unusable > maxNamedErrors {
		errs = append(errs, fmt.Errorf("and %d more unusable revoked events", unusable-maxNamedErrors))
	}

	next := &snapshot{base: old.base, delta: delta}
	if n := delta.len(); n > minMergeDelta && n > old.base.len()/16 {
		next = &snapshot{base: merge(old.base, delta, now.Add(-PruneGrace).UnixNano()), delta: newTables(0)}
		next.base.ids = newIDFilter(next.base.tokens, next.base.families)
	} else {
		delta.ids = newIDFilter(delta.tokens, delta.families)
	}
	s.current.Store(next)
	return errors.Join(errs...)
}

func newTables(n int) *tables {
	return &tables{
		tokens:        make(map[string]int64, n),
		fingerprints:  make(map[string]int64),
		families:      make(map[string]int64),
		sessions:      make(map[string]int64),
		subjects:      make(map[string]int64),
		subjectExpiry: make(map[string]int64),
	}
}

// clone returns a copy of tb with room for extra more tokens.
func (tb *tables) clone(extra int) *tables {
	c := &tables{
		tokens:        make(map[string]int64, len(tb.tokens)+extra),
		fingerprints:  make(map[string]int64, len(tb.fingerprints)),
		families:      make(map[string]int64, len(tb.families)),
		sessions:      make(map[string]int64, len(tb.sessions)),
		subjects:      make(map[string]int64, len(tb.subjects)),
		subjectExpiry: make(map[string]int64, len(tb.subjectExpiry)),
	}
	copyEntries(c.tokens, tb.tokens, 0)
	copyEntries(c.fingerprints, tb.fingerprints, 0)
	copyEntries(c.families, tb.families, 0)
	copyEntries(c.sessions, tb.sessions, 0)
	for k, v := range tb.subjects {
		c.subjects[k] = v
	}
	for k, v := range tb.subjectExpiry {
		c.subjectExpiry[k] = v
	}
	return c
}

// apply adds the revocation e states to tb.
func (tb *tables) apply(e *audit.Event) error {
	if e.Kind != audit.KindRevoked {
		return nil
	}
	expires := int64(0)
	if !e.ExpiresAt.IsZero() {
		expires = e.ExpiresAt.UnixNano()
	}

	switch e.RevocationScope {
	case audit.RevokeFamily:
		if e.TokenID == "" {
			return fmt.Errorf("revoked event %q: scope %s needs the family's root token id in TokenID", e.ID, e.RevocationScope)
		}
		addEntry(tb.families, e.TokenID, expires)
		return nil

	case audit.RevokeSession:
		if e.SessionID == "" {
			return fmt.Errorf("revoked event %q: scope %s needs SessionID", e.ID, e.RevocationScope)
		}
		addEntry(tb.sessions, e.SessionID, expires)
		tb.addToken(e, expires)
		return nil

	case audit.RevokeSubject:
		if e.Subject == "" {
			return fmt.Errorf("revoked event %q: scope %s needs Subject", e.ID, e.RevocationScope)
		}
		notBefore := e.NotBefore
		if notBefore.IsZero() {
			notBefore = e.Time
		}
		if notBefore.IsZero() {
			return fmt.Errorf("revoked event %q: scope %s needs NotBefore or Time", e.ID, e.RevocationScope)
		}
		// A later not-before covers every token an earlier one covers.
		if old, ok := tb.subjects[e.Subject]; !ok || notBefore.UnixNano() > old {
			tb.subjects[e.Subject] = notBefore.UnixNano()
		}
		addEntry(tb.subjectExpiry, e.Subject, expires)
		return nil

	case "", audit.RevokeToken:
		if e.TokenID == "" && e.Fingerprint == "" {
			return fmt.Errorf("revoked event %q names no token: set TokenID or Fingerprint", e.ID)
		}
		tb.addToken(e, expires)
		return nil
	}
	return fmt.Errorf("revoked event %q: unknown RevocationScope %q, want token, family, session or subject", e.ID, e.RevocationScope)
}

// addToken adds the token that e names, if any.
func (tb *tables) addToken(e *audit.Event, expires int64) {
	if e.TokenID != "" {
		addEntry(tb.tokens, e.TokenID, expires)
	}
	if e.Fingerprint != "" {
		addEntry(tb.fingerprints, e.Fingerprint, expires)
	}
}

// addEntry stores key with the later of its prune times, where 0 (never)
// is the latest.
func addEntry(m map[string]int64, key string, expires int64) {
	old, ok := m[key]
	switch {
	case !ok:
		m[key] = expires
	case old == 0 || expires == 0:
		m[key] = 0
	case expires > old:
		m[key] = expires
	}
}

// copyEntries copies the entries of src into dst, leaving out those whose
// prune time is before cutoff. A cutoff of 0 keeps every entry.
func copyEntries(dst, src map[string]int64, cutoff int64) {
	for k, v := range src {
		if cutoff != 0 && v != 0 && v < cutoff {
			continue
		}
		addEntry(dst, k, v)
	}
}

// merge returns a new base holding base and delta without the entries whose
// prune time is before cutoff.
func merge(base, delta *tables, cutoff int64) *tables {
	m := &tables{
		tokens:        make(map[string]int64, len(base.tokens)+len(delta.tokens)),
		fingerprints:  make(map[string]int64, len(base.fingerprints)+len(delta.fingerprints)),
		families:      make(map[string]int64, len(base.families)+len(delta.families)),
		sessions:      make(map[string]int64, len(base.sessions)+len(delta.sessions)),
		subjects:      make(map[string]int64, len(base.subjects)+len(delta.subjects)),
		subjectExpiry: make(map[string]int64, len(base.subjectExpiry)+len(delta.subjectExpiry)),
	}
	for _, src := range [...]*tables{base, delta} {
		copyEntries(m.tokens, src.tokens, cutoff)
		copyEntries(m.fingerprints, src.fingerprints, cutoff)
		copyEntries(m.families, src.families, cutoff)
		copyEntries(m.sessions, src.sessions, cutoff)
		copyEntries(m.subjectExpiry, src.subjectExpiry, cutoff)
	}
	for _, src := range [...]*tables{base, delta} {
		for subject, notBefore := range src.subjects {
			if _, kept := m.subjectExpiry[subject]; !kept {
				continue
			}
			if old, ok := m.subjects[subject]; !ok || notBefore > old {
				m.subjects[subject] = notBefore
			}
		}
	}
	return m
}
