package revocation

import (
	"context"
	"fmt"
	"slices"
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
//
// A token revocation named by jti is also covered by a stored revocation of
// the token's fingerprint, and the reverse, when the stored events link the
// two (see LinkedIDs).
func Covering(ctx context.Context, db EventReader, e *audit.Event) (*audit.Event, error) {
	var queries []store.Query
	switch e.RevocationScope {
	case audit.RevokeToken:
		var err error
		if queries, err = tokenRevocationQueries(ctx, db, e); err != nil {
			return nil, err
		}
	case audit.RevokeFamily:
		queries = []store.Query{{TokenID: e.TokenID}}
	case audit.RevokeSession:
		queries = []store.Query{{SessionID: e.SessionID}}
	case audit.RevokeSubject:
		queries = []store.Query{{Subject: e.Subject}}
	}
	return firstCovering(ctx, db, queries, e)
}

// tokenRevocationQueries returns the queries of the stored revocations that
// may cover the token revocation e: by its jti and fingerprint, and by each
// jti or fingerprint that the stored events link to it.
func tokenRevocationQueries(ctx context.Context, db EventReader, e *audit.Event) ([]store.Query, error) {
	tokenIDs, fingerprints := []string{}, []string{}
	if e.TokenID != "" {
		tokenIDs = append(tokenIDs, e.TokenID)
	}
	if e.Fingerprint != "" {
		fingerprints = append(fingerprints, e.Fingerprint)
	}

	// A fingerprint names one token, so every jti it is seen with names
	// that token too. A jti may name more than one token when an issuer
	// reuses it, so a fingerprint revocation covers it only when the jti
	// is seen with that fingerprint alone.
	linked, err := LinkedIDs(ctx, db, e.TokenID, e.Fingerprint)
	if err != nil {
		return nil, err
	}
	if e.Fingerprint != "" {
		tokenIDs = appendNew(tokenIDs, linked.TokenIDs...)
	}
	if e.TokenID != "" && e.Fingerprint == "" && len(linked.Fingerprints) == 1 {
		fingerprints = appendNew(fingerprints, linked.Fingerprints...)
	}

	var queries []store.Query
	for _, id := range tokenIDs {
		queries = append(queries, store.Query{TokenID: id})
	}
	for _, fp := range fingerprints {
		queries = append(queries, store.Query{Fingerprint: fp})
	}
	return queries, nil
}

// firstCovering runs each query for revoked events and returns the first
// that covers e, treating e as also named by the linked ids in queries.
func firstCovering(ctx context.Context, db EventReader, queries []store.Query, e *audit.Event) (*audit.Event, error) {
	for _, q := range queries {
		q.Kinds = []audit.Kind{audit.KindRevoked}
		stored, err := db.Events(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("look up earlier revocations: %w", err)
		}
		// A query by a linked id checks e as if that id named it.
		named := *e
		if e.RevocationScope == audit.RevokeToken {
			if q.TokenID != "" {
				named.TokenID = q.TokenID
			}
			if q.Fingerprint != "" {
				named.Fingerprint = q.Fingerprint
			}
		}
		for i := range stored {
			if covers(&stored[i], &named) {
				return &stored[i], nil
			}
		}
	}
	return nil, nil
}

// Linked is the other ids of a token that its stored events name.
type Linked struct {
	TokenIDs     []string // the jtis seen with the token's fingerprint
	Fingerprints []string // the fingerprints seen with the token's jti
}

// LinkedIDs returns the jtis that stored events name together with
// fingerprint, and the fingerprints that they name together with tokenID.
// Then a token named one way is found when stored the other way. It reads
// up to 100 events for each id given, and returns the zero Linked when
// both are empty.
func LinkedIDs(ctx context.Context, db EventReader, tokenID, fingerprint string) (Linked, error) {
	var linked Linked
	if fingerprint != "" {
		events, err := db.Events(ctx, store.Query{Fingerprint: fingerprint, Limit: tokenLookupLimit})
		if err != nil {
			return linked, fmt.Errorf("look up the jti of token %q: %w", fingerprint, err)
		}
		for _, ev := range events {
			if ev.TokenID != "" && ev.TokenID != tokenID {
				linked.TokenIDs = appendNew(linked.TokenIDs, ev.TokenID)
			}
		}
	}
	if tokenID != "" {
		events, err := db.Events(ctx, store.Query{TokenID: tokenID, Limit: tokenLookupLimit})
		if err != nil {
			return linked, fmt.Errorf("look up the fingerprint of token %q: %w", tokenID, err)
		}
		for _, ev := range events {
			if ev.Fingerprint != "" && ev.Fingerprint != fingerprint {
				linked.Fingerprints = appendNew(linked.Fingerprints, ev.Fingerprint)
			}
		}
	}
	return linked, nil
}

func appendNew(list []string, values ...string) []string {
	for _, v := range values {
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
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
