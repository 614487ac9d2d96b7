package forensics

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// timeline merges the loaded events, oldest first. Over MaxTimeline, it
// keeps the events of the subject's tokens and those that anomalies mark,
// then the others nearest to the incident's time.
func (a *analysis) timeline() ([]TimelineEntry, bool) {
	marks := map[string][]AnomalyMark{}
	for _, an := range a.sortedAnomalies() {
		completing := a.completingEvent(an)
		for _, id := range an.EventIDs {
			role := MarkEarlier
			if id == completing {
				role = MarkCompleting
			}
			marks[id] = append(marks[id], AnomalyMark{ID: an.ID, Rule: an.Rule, Severity: an.Severity, Role: role})
		}
	}

	list := make([]*loaded, 0, len(a.events))
	for _, l := range a.events {
		list = append(list, l)
	}
	truncated := len(list) > a.opts.MaxTimeline
	if truncated {
		at := a.report.At
		priority := func(l *loaded) bool { return l.subject || len(marks[l.event.ID]) > 0 }
		distance := func(l *loaded) time.Duration { return l.event.Time.Sub(at).Abs() }
		slices.SortFunc(list, func(x, y *loaded) int {
			if px, py := priority(x), priority(y); px != py {
				if px {
					return -1
				}
				return 1
			}
			return cmp.Or(cmp.Compare(distance(x), distance(y)), compareEvents(x.event, y.event))
		})
		a.note("the timeline lists %d of the %d events found: those of the subject's tokens and those anomalies mark first, "+
			"then the others nearest to %s", a.opts.MaxTimeline, len(list), formatTime(at))
		list = list[:a.opts.MaxTimeline]
	}
	slices.SortFunc(list, func(x, y *loaded) int { return compareEvents(x.event, y.event) })

	entries := make([]TimelineEntry, 0, len(list))
	for _, l := range list {
		e := &l.event
		entry := TimelineEntry{
			Time: e.Time, Kind: e.Kind, EventID: e.ID, TokenID: e.TokenID, Fingerprint: e.Fingerprint, Subject: e.Subject, Action: e.Action,
			IP: e.IP, Location: Location{Country: e.Geo.Country, City: e.Geo.City, ASN: e.Geo.ASN, Org: e.Geo.Org},
			UserAgent: e.UserAgent, Method: e.Method, Path: e.Path, Status: e.Status,
			RejectReason: e.RejectReason, Actor: e.Actor, Reason: e.Reason,
			FromSuspiciousNetwork: l.fromNetwork, Anomalies: marks[e.ID],
		}
		if e.IP.IsValid() {
			entry.Network = Network(e.IP)
		}
		switch {
		case l.subject && l.network:
			entry.Origin = "both"
		case l.subject:
			entry.Origin = "subject"
		default:
			entry.Origin = "network"
		}
		entries = append(entries, entry)
	}
	return entries, truncated
}

// completingEvent returns the ID of the event that completed an's
// evidence: the last of its events whose time is the anomaly's time, as
// audit.Anomaly.Time documents. When none is loaded with that time, it is
// the last ID, because detection lists the completing event last.
func (a *analysis) completingEvent(an audit.Anomaly) string {
	for i := len(an.EventIDs) - 1; i >= 0; i-- {
		if l := a.events[an.EventIDs[i]]; l != nil && l.event.Time.Equal(an.Time) {
			return an.EventIDs[i]
		}
	}
	if len(an.EventIDs) == 0 {
		return ""
	}
	return an.EventIDs[len(an.EventIDs)-1]
}

// suspiciousSet lists the tokens that anomalies name or that were presented
// from a suspicious network, and the suspicious networks.
func (a *analysis) suspiciousSet() SuspiciousSet {
	set := SuspiciousSet{Tokens: []SuspiciousToken{}, Networks: []SuspiciousNetwork{}}
	byID := map[string]*SuspiciousToken{}
	mark := func(jti, subject, rule string, severity audit.Severity) {
		if jti == "" {
			return
		}
		t := byID[jti]
		if t == nil {
			t = &SuspiciousToken{TokenID: jti, Rules: []string{}}
			byID[jti] = t
		}
		t.Subject = cmp.Or(t.Subject, subject)
		if !slices.Contains(t.Rules, rule) {
			t.Rules = append(t.Rules, rule)
		}
		t.MaxSeverity = max(t.MaxSeverity, severity)
	}
	for _, an := range a.sortedAnomalies() {
		mark(an.TokenID, an.Subject, an.Rule, an.Severity)
	}
	for _, e := range a.sortedEvents(func(l *loaded) bool { return l.fromNetwork && l.event.Kind != audit.KindIssued }) {
		mark(e.TokenID, e.Subject, "suspicious_network", 0)
	}
	for _, t := range byID {
		set.Tokens = append(set.Tokens, *t)
	}
	slices.SortFunc(set.Tokens, func(x, y SuspiciousToken) int {
		return cmp.Or(cmp.Compare(y.MaxSeverity, x.MaxSeverity), cmp.Compare(x.TokenID, y.TokenID))
	})

	for _, ns := range a.networks {
		set.Networks = append(set.Networks, SuspiciousNetwork{
			Network: ns.prefix.String(), Addresses: ns.addresses, ASN: ns.asn, Org: ns.org, Country: ns.country,
			Rules: ns.rules, Events: ns.events, Truncated: ns.truncated, First: ns.first, Last: ns.last,
		})
	}
	return set
}

// impact works out which tokens, subjects, paths and scopes the suspicious
// networks reached, and when.
func (a *analysis) impact(ctx context.Context) (Impact, error) {
	im := Impact{
		Tokens: []ImpactedToken{}, Subjects: []ImpactedSubject{}, Paths: []Count{}, Scopes: []Count{},
		Rejected: map[audit.RejectReason]int{},
	}
	var paths tally
	byID := map[string]*ImpactedToken{}
	uses := map[string][]time.Time{} // accepted uses, by token
	var order []string
	for _, e := range a.sortedEvents(func(l *loaded) bool { return l.fromNetwork }) {
		if e.Kind == audit.KindRejected {
			im.Rejected[cmp.Or(e.RejectReason, audit.RejectOther)]++
			continue
		}
		if !accepted(&e) || e.TokenID == "" {
			continue
		}
		paths.add(pathOnly(e.Path), e.Time)
		t := byID[e.TokenID]
		if t == nil {
			t = &ImpactedToken{TokenID: e.TokenID, First: e.Time}
			byID[e.TokenID] = t
			order = append(order, e.TokenID)
		}
		t.Uses++
		t.Last = e.Time
		uses[e.TokenID] = append(uses[e.TokenID], e.Time)
		t.Subject = cmp.Or(t.Subject, e.Subject)
	}
	im.Paths = paths.sorted(0)

	if len(order) > a.opts.MaxTokens {
		a.note("%d tokens were accepted from suspicious networks: the history and lineage of the first %d only are read",
			len(order), a.opts.MaxTokens)
	}
	for i, jti := range order {
		t := byID[jti]
		if i < a.opts.MaxTokens {
			if err := a.describe(ctx, t); err != nil {
				return im, err
			}
			countAfterRevocation(t, uses[jti])
		}
		a.impacted = append(a.impacted, *t)
	}
	im.Tokens = append(im.Tokens, a.impacted...)
	im.Subjects = a.impactedSubjects()
	im.Scopes = impactedScopes(a.impacted)
	im.Exposure = a.exposure()
	return im, nil
}

// countAfterRevocation counts the uses, at the times given, that came
// later than t's revocation.
func countAfterRevocation(t *ImpactedToken, uses []time.Time) {
	if t.Revoked.IsZero() {
		return
	}
	for _, at := range uses {
		if at.After(t.Revoked) {
			t.UsesAfterRevocation++
			t.LastAfterRevocation = maxTime(t.LastAfterRevocation, at)
		}
	}
}

// describe fills in t's subject, session, scopes, expiry, revocation and
// refresh family from the token's own history.
func (a *analysis) describe(ctx context.Context, t *ImpactedToken) error {
	// NOTE: The uses, the bulk of a token's events, are not read, for
	// speed. So the session, scopes and expiry of a token come from its
	// issuance, refreshes and revocations, and stay unknown for a token
	// seen only in use.
	history, err := a.db.Events(ctx, store.Query{
		TokenID: t.TokenID, Until: a.until, Limit: a.opts.MaxTimeline,
		Kinds: []audit.Kind{audit.KindIssued, audit.KindRefreshed, audit.KindRevoked},
	})
	if err != nil {
		return fmt.Errorf("query history of token %q: %w", t.TokenID, err)
	}

	parent, refreshed := "", false
	for _, e := range history {
		t.Subject = cmp.Or(t.Subject, e.Subject)
		t.SessionID = cmp.Or(t.SessionID, e.SessionID)
		parent = cmp.Or(parent, e.ParentTokenID)
		if len(t.Scopes) == 0 && len(e.Scopes) > 0 {
			t.Scopes = e.Scopes
		}
		if !e.ExpiresAt.IsZero() {
			t.ExpiresAt = e.ExpiresAt
		}
		switch e.Kind {
		case audit.KindRevoked:
			if t.Revoked.IsZero() {
				t.Revoked = e.Time
			}
		case audit.KindRefreshed:
			refreshed = true
		}
	}

	// A revocation of the token's session, subject or family ends its
	// exposure as one of the token itself does.
	if a.revocations == nil {
		a.revocations = make(map[string][]audit.Event)
	}
	scoped, err := scopedRevocations(ctx, a.db, history, a.revocations)
	if err != nil {
		return err
	}
	for _, rev := range scoped {
		if t.Revoked.IsZero() || rev.Time.Before(t.Revoked) {
			t.Revoked = rev.Time
		}
	}

	switch {
	case parent != "":
		root, err := a.lineageRoot(ctx, parent)
		if err != nil {
			return err
		}
		t.Family = root
	case refreshed:
		// A redeemed refresh token without parent starts its own family.
		t.Family = t.TokenID
	}

	// The plan leaves out a family revocation already made, so it needs the
	// revocations of the root. The walk of scopedRevocations reads them
	// only for a root above the token, not for a root that is the token
	// itself or one beyond maxLineage.
	if _, read := a.revocations[lineageKey(t.Family)]; t.Family != "" && !read {
		list, err := a.db.Events(ctx, lineageQuery(t.Family))
		if err != nil {
			return fmt.Errorf("query revocations of refresh family %q: %w", t.Family, err)
		}
		a.revocations[lineageKey(t.Family)] = list
	}
	return nil
}

// lineageRoot follows parent links up from jti to the first token that
// names no parent, or that no issuance records: the root of the refresh
// family. It remembers the root of every token on the way, since the
// tokens of one family share their ancestors.
func (a *analysis) lineageRoot(ctx context.Context, jti string) (string, error) {
	var path []string
	root := ""
	for range maxLineage {
		if known, ok := a.roots[jti]; ok {
			root = known
			break
		}
		path = append(path, jti)
		issued, err := a.db.Events(ctx, store.Query{TokenID: jti, Kinds: []audit.Kind{audit.KindIssued}, Limit: 1})
		if err != nil {
			return "", fmt.Errorf("query issuance of token %q: %w", jti, err)
		}
		if len(issued) == 0 || issued[0].ParentTokenID == "" || slices.Contains(path, issued[0].ParentTokenID) {
			root = jti
			break
		}
		jti = issued[0].ParentTokenID
	}
	if root == "" {
		a.note("the refresh lineage above token %q is longer than %d tokens: its family is named by the last token reached", jti, maxLineage)
		root = jti
	}
	for _, t := range path {
		a.roots[t] = root
	}
	return root, nil
}

func (a *analysis) impactedSubjects() []ImpactedSubject {
	list := []ImpactedSubject{}
	for _, t := range a.impacted {
		name := cmp.Or(t.Subject, "(unknown)")
		i := slices.IndexFunc(list, func(s ImpactedSubject) bool { return s.Subject == name })
		if i < 0 {
			list = append(list, ImpactedSubject{Subject: name, Other: name != a.subject, Tokens: []string{}})
			i = len(list) - 1
		}
		list[i].Tokens = append(list[i].Tokens, t.TokenID)
	}
	slices.SortStableFunc(list, func(x, y ImpactedSubject) int {
		if x.Other != y.Other {
			if !x.Other {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Subject, y.Subject)
	})
	return list
}

// impactedScopes counts each scope by the impacted tokens that carry it,
// with the first and last accepted use of those tokens.
func impactedScopes(tokens []ImpactedToken) []Count {
	scopes := tally{}
	for _, t := range tokens {
		for _, s := range t.Scopes {
			c := scopes[s]
			if c == nil {
				c = &Count{Value: s, First: t.First, Last: t.Last}
				scopes[s] = c
			}
			c.Count++
			c.First = minTime(c.First, t.First)
			c.Last = maxTime(c.Last, t.Last)
		}
	}
	return scopes.sorted(0)
}

// exposure spans the accepted uses from suspicious networks. It is open
// when an impacted token was neither revoked nor expired at the end of the
// window, or at the report time when that comes first.
func (a *analysis) exposure() Exposure {
	if len(a.impacted) == 0 {
		return Exposure{Reason: "no token was accepted from a suspicious network in the window"}
	}
	x := Exposure{Start: a.impacted[0].First, End: a.impacted[0].Last}
	for _, t := range a.impacted {
		x.Start = minTime(x.Start, t.First)
		x.End = maxTime(x.End, t.Last)
		x.UsesAfterRevocation += t.UsesAfterRevocation
		x.LastAfterRevocation = maxTime(x.LastAfterRevocation, t.LastAfterRevocation)
	}

	end := minTime(a.until, a.opts.Now)
	if t, ok := a.acceptedAfterRevocation(); ok {
		// A revocation that the service ignores ends nothing.
		x.Open = true
		x.Reason = fmt.Sprintf("token %q of %q was revoked at %s but still accepted at %s: the service does not enforce revocations",
			t.TokenID, t.Subject, formatTime(t.Revoked), formatTime(t.Last))
		return x
	}
	for _, t := range a.impacted {
		revoked := !t.Revoked.IsZero() && !t.Revoked.After(end)
		expired := !t.ExpiresAt.IsZero() && !t.ExpiresAt.After(end)
		if revoked || expired {
			continue
		}
		x.Open = true
		why := "no expiry is recorded"
		if !t.ExpiresAt.IsZero() {
			why = "it expires at " + formatTime(t.ExpiresAt)
		}
		owner := ""
		if t.Subject != "" {
			owner = fmt.Sprintf(" of %q", t.Subject)
		}
		x.Reason = fmt.Sprintf("token %q%s is not revoked at %s and %s", t.TokenID, owner, formatTime(end), why)
		return x
	}
	x.Reason = fmt.Sprintf("every token accepted from a suspicious network was revoked or had expired by %s", formatTime(end))
	return x
}

func minTime(x, y time.Time) time.Time {
	if y.Before(x) {
		return y
	}
	return x
}

func maxTime(x, y time.Time) time.Time {
	if y.After(x) {
		return y
	}
	return x
}

// revocationSkew is the clock difference between the service that accepts a
// token and the one that revokes it that is not taken as the service
// ignoring the revocation: the default clock skew of package detect.
const revocationSkew = time.Minute

// acceptedAfterRevocation returns the first impacted token accepted from a
// suspicious network later than revocationSkew after its revocation.
func (a *analysis) acceptedAfterRevocation() (ImpactedToken, bool) {
	for _, t := range a.impacted {
		if !t.Revoked.IsZero() && t.Last.After(t.Revoked.Add(revocationSkew)) {
			return t, true
		}
	}
	return ImpactedToken{}, false
}
