package revocation

import (
	"context"
	"fmt"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// tokenLookupLimit bounds the events of a revoked token that Record reads
// to find its subject, issuer and expiry, which every event of the token
// repeats.
const tokenLookupLimit = 100

// EventReader reads stored events; store.Store implements it.
type EventReader interface {
	Events(ctx context.Context, q store.Query) ([]audit.Event, error)
}

// EventStore reads and appends events; store.Store implements it.
type EventStore interface {
	EventReader
	Append(ctx context.Context, events []audit.Event) (store.Appended, error)
}

// Recorded is the outcome of Record.
type Recorded struct {
	// Event is the revocation stored, with what Record copied into it.
	Event audit.Event

	// Earlier is the stored revocation that already covered Event, in
	// which case Record stored nothing. It is nil when Event was stored,
	// and also when a revocation with Event's ID was stored by another
	// caller between the check and the append (Duplicate is then true).
	Earlier *audit.Event

	// Duplicate is true when nothing was stored: Earlier covers Event, or
	// an event with Event's ID is stored already.
	Duplicate bool

	// Known is false for a token revocation when no event of the token is
	// stored, which often means a mistyped jti or fingerprint. It is true
	// for the other scopes.
	Known bool
}

// Record stores the revoked event e, built by TokenEvent, FamilyEvent,
// SessionEvent or SubjectEvent with its Actor, Reason and
// RevocationMethod set, unless a stored revocation already covers it.
//
// For a token revocation it first copies the token's subject and issuer
// from its stored events, and its latest expiry when fillExpiry is set.
// Then a query by subject finds the revocation, and services drop the
// entry once the token has expired.
//
// An earlier revocation covers e when it revokes every token e revokes:
// the same token, family or session, a family revocation for a token that
// is the family's root, or a subject revocation whose not-before is the
// same or later.
//
// It returns the error of e.Validate unwrapped, so that a caller can name
// its own field for it (audit.FieldError), and wraps the store's errors.
func Record(ctx context.Context, db EventStore, e audit.Event, fillExpiry bool) (Recorded, error) {
	res := Recorded{Known: true}
	if e.RevocationScope == audit.RevokeToken {
		known, err := DescribeToken(ctx, db, &e, fillExpiry)
		if err != nil {
			return res, err
		}
		res.Known = known
	}
	res.Event = e

	earlier, err := Covering(ctx, db, &e)
	if err != nil {
		return res, err
	}
	if earlier != nil {
		res.Earlier, res.Duplicate = earlier, true
		return res, nil
	}

	if err := e.Validate(); err != nil {
		return res, err
	}
	appended, err := db.Append(ctx, []audit.Event{e})
	if err != nil {
		return res, fmt.Errorf("append revocation %s: %w", e.ID, err)
	}
	// Only a revocation with the same ID, stored between the check above
	// and the Append, is skipped here.
	res.Duplicate = appended.Inserted == 0
	return res, nil
}

// DescribeToken copies into the token revocation e the subject and issuer
// of the token from its stored events, and its latest expiry when
// fillExpiry is set. Then a query by subject finds the revocation, and
// services drop the entry once the token has expired. It reports whether
// any event of the token is stored.
func DescribeToken(ctx context.Context, db EventReader, e *audit.Event, fillExpiry bool) (bool, error) {
	q := store.Query{TokenID: e.TokenID, Fingerprint: e.Fingerprint, Limit: tokenLookupLimit}
	events, err := db.Events(ctx, q)
	if err != nil {
		return false, fmt.Errorf("look up the events of token %q: %w", e.Token(), err)
	}
	for _, stored := range events {
		if e.Subject == "" {
			e.Subject = stored.Subject
		}
		if e.Issuer == "" {
			e.Issuer = stored.Issuer
		}
		if fillExpiry && stored.ExpiresAt.After(e.ExpiresAt) {
			e.ExpiresAt = stored.ExpiresAt
		}
	}
	return len(events) > 0, nil
}

// Covering returns a stored revocation that already revokes everything e
// revokes, or nil. See Record for when one covers another.
func Covering(ctx context.Context, db EventReader, e *audit.Event) (*audit.Event, error) {
	q := store.Query{Kinds: []audit.Kind{audit.KindRevoked}}
	switch e.RevocationScope {
	case audit.RevokeToken, audit.RevokeFamily:
		q.TokenID, q.Fingerprint = e.TokenID, e.Fingerprint
	case audit.RevokeSession:
		q.SessionID = e.SessionID
	case audit.RevokeSubject:
		q.Subject = e.Subject
	}
	stored, err := db.Events(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("look up earlier revocations: %w", err)
	}
	for i := range stored {
		if covers(&stored[i], e) {
			return &stored[i], nil
		}
	}
	return nil, nil
}

// covers reports whether the revocation old revokes every token that e
// revokes.
func covers(old, e *audit.Event) bool {
	switch e.RevocationScope {
	case audit.RevokeToken:
		switch old.RevocationScope {
		case "", audit.RevokeToken:
			return (e.TokenID != "" && old.TokenID == e.TokenID) || (e.Fingerprint != "" && old.Fingerprint == e.Fingerprint)
		case audit.RevokeFamily:
			return e.TokenID != "" && old.TokenID == e.TokenID
		}
	case audit.RevokeFamily:
		return old.RevocationScope == audit.RevokeFamily && old.TokenID == e.TokenID
	case audit.RevokeSession:
		return old.RevocationScope == audit.RevokeSession && old.SessionID == e.SessionID
	case audit.RevokeSubject:
		return old.RevocationScope == audit.RevokeSubject && old.Subject == e.Subject && !notBefore(old).Before(notBefore(e))
	}
	return false
}

// notBefore returns the time before which a subject revocation revokes the
// subject's tokens.
func notBefore(e *audit.Event) time.Time {
	if e.NotBefore.IsZero() {
		return e.Time
	}
	return e.NotBefore
}
