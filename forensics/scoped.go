package forensics

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// scopedRevocations returns the revocations that cover the token of events
// without naming it. These are revocations of its sign-in session, of its
// subject's tokens issued before a time, and of the refresh family its
// lineage starts from. A subject's revocation covers the token only when
// its iat is recorded and before the revocation's not-before time.
//
// memo, when not nil, keeps the query results across calls, so that an
// analysis of many tokens of one subject and session queries each once.
func scopedRevocations(ctx context.Context, db EventQuerier, events []audit.Event, memo map[string][]audit.Event) ([]Revocation, error) {
	query := func(key string, q store.Query) ([]audit.Event, error) {
		if list, ok := memo[key]; ok {
			return list, nil
		}
		list, err := db.Events(ctx, q)
		if err == nil && memo != nil {
			memo[key] = list
		}
		return list, err
	}

	var sessions, subjects []string
	var issuedAt time.Time
	parent := ""
	for i := range events {
		e := &events[i]
		if e.SessionID != "" && !slices.Contains(sessions, e.SessionID) {
			sessions = append(sessions, e.SessionID)
		}
		if e.Subject != "" && !slices.Contains(subjects, e.Subject) {
			subjects = append(subjects, e.Subject)
		}
		if issuedAt.IsZero() {
			issuedAt = e.IssuedAt
		}
		if parent == "" {
			parent = e.ParentTokenID
		}
	}

	var found []Revocation
	revoked := []audit.Kind{audit.KindRevoked}
	for _, sid := range sessions {
		list, err := query("session\x00"+sid, store.Query{SessionID: sid, Kinds: revoked})
		if err != nil {
			return nil, fmt.Errorf("query revocations of session %q: %w", sid, err)
		}
		for _, e := range list {
			if e.RevocationScope == audit.RevokeSession {
				found = append(found, scopedRevocation(e, "session "+sid))
			}
		}
	}
	// The subject's revocations are read even for a token without iat,
	// which none of them covers, so that memo holds them for the plan.
	for _, sub := range subjects {
		list, err := query("subject\x00"+sub, store.Query{Subject: sub, Kinds: revoked})
		if err != nil {
			return nil, fmt.Errorf("query revocations of subject %q: %w", sub, err)
		}
		for _, e := range list {
			notBefore := e.NotBefore
			if notBefore.IsZero() {
				notBefore = e.Time
			}
			if e.RevocationScope == audit.RevokeSubject && !issuedAt.IsZero() && issuedAt.Before(notBefore) {
				found = append(found, scopedRevocation(e, fmt.Sprintf("subject %s, tokens issued before %s", sub, notBefore.UTC().Format(TimeLayout))))
			}
		}
	}

	// The family revocation names the lineage's root refresh token, so
	// each ancestor is a candidate root.
	for i := 0; parent != "" && i < maxLineage; i++ {
		list, err := query(lineageKey(parent), lineageQuery(parent))
		if err != nil {
			return nil, fmt.Errorf("query the lineage of %q: %w", parent, err)
		}
		next := ""
		for _, e := range list {
			switch {
			case e.Kind == audit.KindRevoked && e.RevocationScope == audit.RevokeFamily:
				found = append(found, scopedRevocation(e, "refresh family "+parent))
			case e.Kind == audit.KindIssued && next == "":
				next = e.ParentTokenID
			}
		}
		parent = next
	}

	slices.SortFunc(found, func(a, b Revocation) int { return a.Time.Compare(b.Time) })
	return found, nil
}

// uncoveredBySubject returns a note for each revocation of the subject of
// events that would cover the token by the time of its issued event but
// does not, because no event records its iat. Services compare the
// not-before time with iat, so such a token stays valid; only a revocation
// by jti stops it. An identity provider's refresh tokens are often logged
// so.
func uncoveredBySubject(ctx context.Context, db EventQuerier, events []audit.Event) ([]string, error) {
	var issued time.Time
	var jti, subject string
	for i := range events {
		e := &events[i]
		if !e.IssuedAt.IsZero() {
			return nil, nil
		}
		if e.Kind == audit.KindIssued && issued.IsZero() {
			issued = e.Time
		}
		jti = cmp.Or(jti, e.TokenID)
		subject = cmp.Or(subject, e.Subject)
	}
	if issued.IsZero() || subject == "" || jti == "" {
		return nil, nil
	}

	list, err := db.Events(ctx, store.Query{Subject: subject, Kinds: []audit.Kind{audit.KindRevoked}})
	if err != nil {
		return nil, fmt.Errorf("query revocations of subject %q: %w", subject, err)
	}
	var notes []string
	for _, e := range list {
		notBefore := cmp.Or(e.NotBefore, e.Time)
		if e.RevocationScope != audit.RevokeSubject || !issued.Before(notBefore) {
			continue
		}
		notes = append(notes, fmt.Sprintf("the revocation of subject %s's tokens issued before %s, at %s, does not cover this token "+
			"although its issued event is at %s: no event records its iat, which services compare with that time; "+
			"revoke it by jti (tokentrail revoke --jti %s)",
			textValue(subject), notBefore.UTC().Format(TimeLayout), e.Time.UTC().Format(TimeLayout), issued.UTC().Format(TimeLayout), shellQuote(jti)))
	}
	return notes, nil
}

// lineageKey and lineageQuery are the memo key and the query of
// scopedRevocations that read a token of a lineage: its issuance, for its
// parent, and its revocations, among them those of the family it roots.
func lineageKey(jti string) string { return "token\x00" + jti }

func lineageQuery(jti string) store.Query {
	return store.Query{TokenID: jti, Kinds: []audit.Kind{audit.KindIssued, audit.KindRevoked}}
}

func scopedRevocation(e audit.Event, covers string) Revocation {
	return Revocation{
		Time: e.Time, Actor: e.Actor, Reason: e.Reason, Method: e.RevocationMethod,
		Source: e.Source, EventID: e.ID, Covers: covers,
	}
}
