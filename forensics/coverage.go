package forensics

import (
	"context"
	"fmt"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// coverage is the store's record of the tokens that a family, session or
// subject revocation of the plan would cover.
type coverage struct {
	tokens    int  // tokens found
	unrevoked int  // of them, those no stored revocation covers at the report time
	complete  bool // the tokens were read to the end, within MaxTimeline events

	// expiresAt is the latest expiry of the tokens, zero when one of them
	// has no recorded expiry, none was found, or the read was cut.
	//
	// NOTE: A family or session revocation also covers the tokens minted
	// in it after the report, which may expire later. They are minted only
	// while the issuer redeems the family's refresh tokens despite the
	// revocation, and docs/incident.md asks the responder to remove
	// --expires-at then.
	expiresAt time.Time
}

// done reports whether every token that the step would cover is revoked
// already, so that the step can be left out. Unknown counts as not done.
func (c coverage) done() bool {
	return c.complete && c.tokens > 0 && c.unrevoked == 0
}

// coveredKinds are the events that show a token the service accepted or
// the issuer minted. A token only rejected, such as a forgery, was never
// valid, so no revocation needs to cover it.
var coveredKinds = []audit.Kind{audit.KindIssued, audit.KindUsed, audit.KindRefreshed}

// coverQuery reads the tokens that q selects: a session's tokens, or a
// subject's tokens used or issued before a time.
func (a *analysis) coverQuery(ctx context.Context, q store.Query) (coverage, error) {
	q.Kinds, q.Limit = coveredKinds, a.opts.MaxTimeline+1
	events, err := a.db.Events(ctx, q)
	if err != nil {
		return coverage{}, fmt.Errorf("query the tokens a revocation would cover: %w", err)
	}
	complete := len(events) <= a.opts.MaxTimeline
	if !complete {
		events = events[:a.opts.MaxTimeline]
	}
	return a.cover(ctx, events, complete)
}

// coverFamily reads the tokens of the refresh family rooted at root: the
// root and every token minted from it, following the parent links down.
func (a *analysis) coverFamily(ctx context.Context, root string) (coverage, error) {
	events, err := a.db.Events(ctx, store.Query{TokenID: root, Kinds: coveredKinds, Limit: a.opts.MaxTimeline + 1})
	if err != nil {
		return coverage{}, fmt.Errorf("query the tokens of refresh family %q: %w", root, err)
	}
	seen := map[string]bool{root: true}
	for queue := []string{root}; len(queue) > 0 && len(events) <= a.opts.MaxTimeline; queue = queue[1:] {
		children, err := a.db.Events(ctx, store.Query{ParentTokenID: queue[0], Kinds: []audit.Kind{audit.KindIssued}, Limit: a.opts.MaxTimeline + 1})
		if err != nil {
			return coverage{}, fmt.Errorf("query the tokens of refresh family %q: %w", root, err)
		}
		for _, e := range children {
			events = append(events, e)
			if e.TokenID != "" && !seen[e.TokenID] {
				seen[e.TokenID] = true
				queue = append(queue, e.TokenID)
			}
		}
	}
	complete := len(events) <= a.opts.MaxTimeline
	if !complete {
		events = events[:a.opts.MaxTimeline]
	}
	return a.cover(ctx, events, complete)
}

// cover counts the tokens that events name, and finds which of them a
// stored revocation covers at the report time and when the last expires.
func (a *analysis) cover(ctx context.Context, events []audit.Event, complete bool) (coverage, error) {
	byToken := map[string][]audit.Event{}
	var order []string
	for _, e := range events {
		key := e.TokenID
		if key == "" {
			key = "sha256:" + e.Fingerprint
		}
		if _, ok := byToken[key]; !ok {
			order = append(order, key)
		}
		byToken[key] = append(byToken[key], e)
	}

	c := coverage{tokens: len(order), complete: complete}
	allExpire := complete && len(order) > 0
	for _, key := range order {
		own := byToken[key]
		revoked, exp, err := a.tokenState(ctx, own)
		if err != nil {
			return coverage{}, err
		}
		if !revoked {
			c.unrevoked++
		}
		if exp.IsZero() {
			allExpire = false
		}
		c.expiresAt = maxTime(c.expiresAt, exp)
	}
	if !allExpire {
		c.expiresAt = time.Time{}
	}
	return c, nil
}

// tokenState reports whether a stored revocation made at or before the
// report time covers the token of events, and returns its latest recorded
// expiry. It reads the token's issuance and own revocations, then the
// revocations of its session, subject and refresh family.
func (a *analysis) tokenState(ctx context.Context, events []audit.Event) (revoked bool, expiresAt time.Time, err error) {
	now := a.opts.Now
	if jti := events[0].TokenID; jti != "" {
		key := lineageKey(jti)
		own, read := a.revocations[key]
		if !read {
			if own, err = a.db.Events(ctx, lineageQuery(jti)); err != nil {
				return false, time.Time{}, fmt.Errorf("query history of token %q: %w", jti, err)
			}
			a.revocations[key] = own
		}
		for _, e := range own {
			// A revocation that names the token by jti revokes it, whether
			// of the token alone or of the family it roots.
			if e.Kind == audit.KindRevoked && !e.Time.After(now) {
				revoked = true
			}
		}
		events = append(events, own...)
	}
	for _, e := range events {
		expiresAt = maxTime(expiresAt, e.ExpiresAt)
	}
	if revoked {
		return true, expiresAt, nil
	}

	scoped, err := scopedRevocations(ctx, a.db, events, a.revocations)
	if err != nil {
		return false, time.Time{}, err
	}
	for _, rev := range scoped {
		if !rev.Time.After(now) {
			return true, expiresAt, nil
		}
	}
	return false, expiresAt, nil
}
