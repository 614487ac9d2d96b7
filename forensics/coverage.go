package forensics

import (
	"context"
	"fmt"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// coverage is the store's record of the tokens that a family, session or
// subject revocation of the plan would cover.
type coverage struct {
	tokens    int  // tokens found
	unrevoked int  // of them, those no stored revocation covers at the report time; counting stops at 1
	complete  bool // the tokens were read to the end, within MaxTimeline events
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

// cover counts the tokens that events name, and whether a stored
// revocation made at or before the report time covers each of them. It
// stops at the first token left uncovered, since the step is needed then,
// and checks the newest tokens first because they are the likeliest to be
// uncovered.
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
	for i := len(order) - 1; i >= 0; i-- {
		revoked, err := a.tokenRevoked(ctx, byToken[order[i]])
		if err != nil {
			return coverage{}, err
		}
		if !revoked {
			c.unrevoked++
			break
		}
	}
	return c, nil
}

// tokenRevoked reports whether a stored revocation made at or before the
// report time covers the token of events. It reads the token's own
// revocations, then those of its session, subject and refresh family.
func (a *analysis) tokenRevoked(ctx context.Context, events []audit.Event) (bool, error) {
	now := a.opts.Now
	if jti := events[0].TokenID; jti != "" {
		key := lineageKey(jti)
		own, read := a.revocations[key]
		if !read {
			var err error
			if own, err = a.db.Events(ctx, lineageQuery(jti)); err != nil {
				return false, fmt.Errorf("query history of token %q: %w", jti, err)
			}
			a.revocations[key] = own
		}
		for _, e := range own {
			// A revocation that names the token by jti revokes it, whether
			// of the token alone or of the family it roots.
			if e.Kind == audit.KindRevoked && !e.Time.After(now) {
				return true, nil
			}
		}
		events = append(events[:len(events):len(events)], own...)
	}

	scoped, err := scopedRevocations(ctx, a.db, events, a.revocations)
	if err != nil {
		return false, err
	}
	for _, rev := range scoped {
		if !rev.Time.After(now) {
			return true, nil
		}
	}
	return false, nil
}

// anyUncovered reports whether one of the tokens named by ids is covered
// by no stored revocation made at or before the report time. The step of
// their scope is needed then, whatever the rest of the scope holds.
func (a *analysis) anyUncovered(ctx context.Context, ids []string) (bool, error) {
	for _, id := range ids {
		revoked, err := a.tokenRevoked(ctx, []audit.Event{{TokenID: id}})
		if err != nil {
			return false, err
		}
		if !revoked {
			return true, nil
		}
	}
	return false, nil
}

// impactedIDs returns the ids of the impacted tokens that match selects.
func (a *analysis) impactedIDs(match func(ImpactedToken) bool) []string {
	var ids []string
	for _, t := range a.impacted {
		if match(t) {
			ids = append(ids, t.TokenID)
		}
	}
	return ids
}
