package detect

import (
	"context"
	"fmt"
	"strings"

	"github.com/tokentrail/tokentrail/audit"
)

// tokenRevocation is the earliest revocation of one jti or fingerprint.
type tokenRevocation struct {
	at int64  // event time of the revocation
	id string // the revoked event's ID
}

// LoadRevocations remembers the revocations among events, such as those
// that a store kept from before the engine started, so that
// revoked_token_use raises on the later uses of the tokens, sessions,
// subjects and refresh families they revoke. It does not check the events
// against the rules, count them in Stats.Events or hold them for
// reordering, and it skips the events of other kinds. It returns how many
// revocations it read.
//
// A revocation that is loaded and also observed, or loaded twice, is kept
// once, so the anomalies do not depend on which path fed it. The bounds of
// the revocations kept are those that Stats.TokenRevocationsDropped and
// Stats.ScopedRevocationsDropped count.
func (e *Engine) LoadRevocations(events []audit.Event) int {
	e.mu.Lock()
	defer e.mu.Unlock()

	n := 0
	for i := range events {
		if events[i].Kind != audit.KindRevoked {
			continue
		}
		e.recordRevocationLocked(&events[i])
		n++
	}
	return n
}

// recordRevocationLocked remembers a revoked event: the revocation of its
// jti and of its fingerprint as a token, and of its session, subject or
// refresh family (recordScopedLocked).
func (e *Engine) recordRevocationLocked(ev *audit.Event) {
	rev := tokenRevocation{at: ev.Time.UnixNano(), id: ev.ID}
	if ev.TokenID != "" {
		e.keepRevocationLocked(&e.mu.revokedIDs, ev.TokenID, rev)
	}
	if ev.Fingerprint != "" {
		e.keepRevocationLocked(&e.mu.revokedFingerprints, ev.Fingerprint, rev)
	}
	e.recordScopedLocked(ev)
}

// keepRevocationLocked stores rev under key in table unless an earlier
// revocation, or one at the same time with a smaller ID, is there. Events
// are checked in order of time and then ID, so that choice matches what
// checking every revocation in order keeps. A table holds at most
// MaxTokens keys: past that, a new key is not kept and
// Stats.TokenRevocationsDropped counts it.
//
// NOTE: keys are never removed, not even once the revoked token has
// expired, so an engine that runs long enough to see MaxTokens revoked
// jtis keeps the oldest and drops every later one.
func (e *Engine) keepRevocationLocked(table *map[string]tokenRevocation, key string, rev tokenRevocation) {
	if *table == nil {
		*table = make(map[string]tokenRevocation)
	}
	old, known := (*table)[key]
	switch {
	case known && (old.at < rev.at || old.at == rev.at && old.id <= rev.id):
	case known:
		(*table)[key] = rev
	case len(*table) >= e.cfg.MaxTokens:
		e.mu.stats.TokenRevocationsDropped++
	default:
		// The key is cloned so that the table does not pin the buffer of
		// the record it was read from.
		(*table)[strings.Clone(key)] = rev
	}
}

// tokenRevocationLocked returns the earliest revocation of the event's
// jti or of its fingerprint.
func (e *Engine) tokenRevocationLocked(ev *audit.Event) (rev tokenRevocation, ok bool) {
	if ev.TokenID != "" {
		rev, ok = e.mu.revokedIDs[ev.TokenID]
	}
	if ev.Fingerprint != "" {
		if r, found := e.mu.revokedFingerprints[ev.Fingerprint]; found && (!ok || r.at < rev.at) {
			rev, ok = r, true
		}
	}
	return rev, ok
}

// RevocationReader reads stored revocations by their position in the
// store, as store.RevocationStore does.
type RevocationReader interface {
	Revocations(ctx context.Context, afterSeq int64, limit int) (events []audit.Event, lastSeq int64, err error)
}

// revocationPage is how many revocations LoadStoredRevocations reads at a
// time.
const revocationPage = 1000

// LoadStoredRevocations loads the revocations that src stored after
// position after, in pages, and returns the position of the last one it
// loaded, which the next call passes as after to read only newer ones.
// On an error it returns the position it reached, so that nothing loaded
// is read twice.
func (e *Engine) LoadStoredRevocations(ctx context.Context, src RevocationReader, after int64) (int64, error) {
	for {
		events, next, err := src.Revocations(ctx, after, revocationPage)
		if err != nil {
			return after, fmt.Errorf("detect: load the stored revocations after position %d: %w", after, err)
		}
		e.LoadRevocations(events)
		after = next
		if len(events) < revocationPage {
			return after, nil
		}
	}
}
