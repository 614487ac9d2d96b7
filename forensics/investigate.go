package forensics

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// EventQuerier reads stored events; store.Store implements it.
type EventQuerier interface {
	Events(ctx context.Context, q store.Query) ([]audit.Event, error)
}

// TokenRef names the token to investigate: by jti, by fingerprint, or both
// (as RefFromToken returns for a raw token).
type TokenRef struct {
	TokenID     string
	Fingerprint string
}

// String returns the reference as a responder would type it, with any raw
// token in it replaced by its fingerprint.
func (r TokenRef) String() string {
	jti := audit.RedactTokens(r.TokenID)
	switch {
	case r.TokenID != "" && r.Fingerprint != "":
		return fmt.Sprintf("jti %q (fingerprint %s)", jti, r.Fingerprint)
	case r.TokenID != "":
		return fmt.Sprintf("jti %q", jti)
	default:
		return "fingerprint " + r.Fingerprint
	}
}

// RefFromToken fingerprints a raw compact JWT and reads its jti. The token is
// not kept: only the returned reference is. A token that is not a JWT is
// still fingerprinted, because an opaque token's fingerprint can match
// recorded events. The parse error is then returned with the reference.
func RefFromToken(raw string) (TokenRef, error) {
	claims, err := audit.ParseToken(raw)
	if err != nil {
		return TokenRef{Fingerprint: audit.Fingerprint(raw)}, err
	}
	return TokenRef{TokenID: claims.TokenID, Fingerprint: claims.Fingerprint}, nil
}

// Options tune InvestigateToken. The zero Options work.
type Options struct {
	Now      time.Time // report time for Status; zero means time.Now()
	TopPaths int       // paths listed in Usage.Paths; 0 means 10

	// Detect, when set, runs detection over the token's events, oldest
	// first, and its findings fill TokenReport.Anomalies. detect.Run with
	// a Config is the usual choice.
	Detect func(events []audit.Event) ([]audit.Anomaly, error)
}

// InvestigateToken builds the report of one token from every stored event
// that names it by jti or by fingerprint. When the reference gives only a
// fingerprint, the events recorded under the jti those events carry are
// included too. So a token that one source logged by jti and another by
// fingerprint reads as one token.
//
// It returns ErrNoTokenRef for an empty reference and an error wrapping
// ErrTokenNotFound when no event names the token.
func InvestigateToken(ctx context.Context, db EventQuerier, ref TokenRef, opts Options) (*TokenReport, error) {
	if ref.TokenID == "" && ref.Fingerprint == "" {
		return nil, ErrNoTokenRef
	}
	if audit.ContainsToken(ref.TokenID) {
		// A raw token passed as the jti: look it up as RefFromToken does.
		fromToken, _ := RefFromToken(ref.TokenID) // an unreadable token still has a fingerprint
		if ref.Fingerprint == "" {
			ref.Fingerprint = fromToken.Fingerprint
		}
		ref.TokenID = fromToken.TokenID
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.TopPaths <= 0 {
		opts.TopPaths = 10
	}

	events, err := tokenEvents(ctx, db, ref)
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrTokenNotFound, ref)
	}

	r := &TokenReport{
		TokenID:     ref.TokenID,
		Fingerprint: ref.Fingerprint,
		GeneratedAt: opts.Now.UTC(),
		Notes:       []string{},
		Anomalies:   []audit.Anomaly{},
		Revocations: []Revocation{},
		Rejections:  []Rejection{},
		Lineage:     Lineage{Children: []TokenLink{}},
		Events:      events,
	}
	r.fill(events, opts)
	scoped, err := scopedRevocations(ctx, db, events, nil)
	if err != nil {
		return nil, err
	}
	if len(scoped) > 0 {
		r.Revocations = append(r.Revocations, scoped...)
		slices.SortStableFunc(r.Revocations, func(a, b Revocation) int { return a.Time.Compare(b.Time) })
		// Only a revocation by the report time changes the status that
		// fill gave.
		if slices.ContainsFunc(scoped, func(v Revocation) bool { return !v.Time.After(opts.Now) }) {
			r.Status, r.StatusReason = status(r, time.Time{}, events[len(events)-1].Time, opts.Now)
		}
	}
	r.addNotes(ref, events)
	uncovered, err := uncoveredBySubject(ctx, db, events)
	if err != nil {
		return nil, err
	}
	r.Notes = append(r.Notes, uncovered...)
	if r.Sessions, err = sessions(ctx, db, r, events); err != nil {
		return nil, err
	}
	r.Notes = append(r.Notes, sessionEndNotes(r, events)...)
	if opts.Detect != nil {
		found, err := opts.Detect(events)
		if err != nil {
			return nil, fmt.Errorf("detect anomalies of %s: %w", ref, err)
		}
		if found != nil {
			r.Anomalies = found
		}
	}

	if r.TokenID != "" {
		children, err := db.Events(ctx, store.Query{ParentTokenID: r.TokenID, Kinds: []audit.Kind{audit.KindIssued}})
		if err != nil {
			return nil, fmt.Errorf("query tokens minted from %q: %w", r.TokenID, err)
		}
		r.Lineage.Children = childLinks(children)
	}
	r.Type = tokenType(r)
	return r, nil
}

// tokenEvents collects the events naming ref, following a fingerprint to its
// jti, without duplicates, oldest first.
func tokenEvents(ctx context.Context, db EventQuerier, ref TokenRef) ([]audit.Event, error) {
	seen := map[string]bool{}
	var all []audit.Event
	add := func(q store.Query) error {
		events, err := db.Events(ctx, q)
		if err != nil {
			return fmt.Errorf("query events of %s: %w", ref, err)
		}
		for _, e := range events {
			if !seen[e.ID] {
				seen[e.ID] = true
				all = append(all, e)
			}
		}
		return nil
	}

	if ref.TokenID != "" {
		if err := add(store.Query{TokenID: ref.TokenID}); err != nil {
			return nil, err
		}
	}
	if ref.Fingerprint != "" {
		if err := add(store.Query{Fingerprint: ref.Fingerprint}); err != nil {
			return nil, err
		}
		if ref.TokenID == "" {
			for _, jti := range distinctTokenIDs(all) {
				if err := add(store.Query{TokenID: jti}); err != nil {
					return nil, err
				}
			}
		}
	}

	slices.SortFunc(all, func(a, b audit.Event) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.ID, b.ID))
	})
	return all, nil
}

func distinctTokenIDs(events []audit.Event) []string {
	var ids []string
	for _, e := range events {
		if e.TokenID != "" && !slices.Contains(ids, e.TokenID) {
			ids = append(ids, e.TokenID)
		}
	}
	return ids
}

// fill computes every part of the report that comes from the token's own
// events.
func (r *TokenReport) fill(events []audit.Event, opts Options) {
	var (
		ips, networks, countries, agents, paths, subjects tally
		sources                                           []string
		expiresAt                                         time.Time
	)
	for i := range events {
		e := &events[i]
		if r.TokenID == "" {
			r.TokenID = e.TokenID
		}
		if r.Fingerprint == "" {
			r.Fingerprint = e.Fingerprint
		}
		if !e.ExpiresAt.IsZero() {
			expiresAt = e.ExpiresAt
		}
		if src := sourceName(e.Source); src != "" && !slices.Contains(sources, src) {
			sources = append(sources, src)
		}
		if r.Lineage.Parent == "" && e.ParentTokenID != "" && e.Kind == audit.KindIssued {
			r.Lineage.Parent = e.ParentTokenID
		}

		switch e.Kind {
		case audit.KindIssued:
			if r.Created == nil {
				r.Created = creation(e)
			}
		case audit.KindUsed:
			u := &r.Usage
			u.Total++
			if u.First.IsZero() {
				u.First = e.Time
			}
			u.Last = e.Time
			u.Hourly[e.Time.UTC().Hour()]++
			if e.IP.IsValid() {
				ips.add(e.IP.String(), e.Time)
				networks.add(Network(e.IP), e.Time)
			}
			countries.add(e.Geo.Country, e.Time)
			agents.add(e.UserAgent, e.Time)
			subjects.add(e.Subject, e.Time)
			paths.add(pathOnly(e.Path), e.Time)
		case audit.KindRefreshed:
			r.Usage.Refreshes++
		case audit.KindRevoked:
			r.Revocations = append(r.Revocations, Revocation{
				Time: e.Time, Actor: e.Actor, Reason: e.Reason, Method: e.RevocationMethod,
				Source: e.Source, EventID: e.ID,
			})
		case audit.KindRejected:
			r.Rejections = append(r.Rejections, Rejection{
				Time: e.Time, Reason: e.RejectReason, Detail: e.Reason, IP: e.IP,
				UserAgent: e.UserAgent, Method: e.Method, Path: e.Path, Status: e.Status,
				Source: e.Source, EventID: e.ID,
			})
		}
	}

	u := &r.Usage
	if u.Total > 0 {
		span := u.Last.Sub(u.First)
		u.SpanSeconds = span.Seconds()
		u.PerMinute = float64(u.Total) / max(span.Minutes(), 1)
	}
	u.IPs = ips.sorted(0)
	u.Networks = networks.sorted(0)
	u.Countries = countries.sorted(0)
	u.UserAgents = agents.sorted(0)
	u.Subjects = subjects.sorted(0)
	u.Paths = paths.sorted(opts.TopPaths)
	if sources == nil {
		sources = []string{}
	}
	r.Sources = sources
	if r.Created != nil && r.Created.ExpiresAt.IsZero() {
		r.Created.ExpiresAt = expiresAt
	}

	r.Status, r.StatusReason = status(r, expiresAt, events[len(events)-1].Time, opts.Now)
}

// addNotes warns of what the figures alone would hide: a jti shared by
// several tokens, or a token given by value that no event recorded.
func (r *TokenReport) addNotes(ref TokenRef, events []audit.Event) {
	var fingerprints, issuers, subjects []string
	for _, e := range events {
		if e.Fingerprint != "" && !slices.Contains(fingerprints, e.Fingerprint) {
			fingerprints = append(fingerprints, e.Fingerprint)
		}
		// A Keycloak event names the realm ("acme") where the token's
		// claims give its URL: the same issuer.
		if e.Issuer != "" && !slices.ContainsFunc(issuers, func(known string) bool { return SameIssuer(known, e.Issuer) }) {
			issuers = append(issuers, e.Issuer)
		}
		if e.Subject != "" && !slices.Contains(subjects, e.Subject) {
			subjects = append(subjects, e.Subject)
		}
	}

	if ref.Fingerprint != "" && len(fingerprints) > 0 && !slices.Contains(fingerprints, ref.Fingerprint) {
		r.Notes = append(r.Notes, fmt.Sprintf("no recorded event carries the fingerprint of the token given (%.16s...): "+
			"the events were found by its jti, and carry other fingerprints, so the token given may be a different token "+
			"with the same jti, such as a forged one", ref.Fingerprint))
	}
	if ref.Fingerprint != "" && ref.TokenID != "" && len(fingerprints) == 0 {
		r.Notes = append(r.Notes, "the events were matched by jti only: none of them records a fingerprint, "+
			"so they may concern another token with the same jti")
	}
	if len(fingerprints) > 1 {
		r.Notes = append(r.Notes, fmt.Sprintf("the events carry %d different fingerprints, so more than one token has this jti", len(fingerprints)))
	}
	if len(issuers) > 1 {
		r.Notes = append(r.Notes, fmt.Sprintf("the events name %d issuers (%s): tokens of different issuers may share this jti",
			len(issuers), strings.Join(issuers, ", ")))
	}
	if len(subjects) > 1 {
		r.Notes = append(r.Notes, fmt.Sprintf("the events name %d subjects (%s)", len(subjects), strings.Join(subjects, ", ")))
	}
}

// tokenType infers whether the report is about a refresh or an access
// token from what happened to it.
func tokenType(r *TokenReport) string {
	switch {
	case r.Usage.Refreshes > 0 || len(r.Lineage.Children) > 0:
		return "refresh"
	case r.Usage.Total > 0 || len(r.Rejections) > 0:
		return "access"
	}
	return "unknown"
}

func creation(e *audit.Event) *Creation {
	return &Creation{
		Time: e.Time, Action: e.Action, Subject: e.Subject, Issuer: e.Issuer, ClientID: e.ClientID,
		SessionID: e.SessionID, IP: e.IP, UserAgent: e.UserAgent, Geo: e.Geo,
		Scopes: e.Scopes, Audience: e.Audience, ExpiresAt: e.ExpiresAt,
		ParentTokenID: e.ParentTokenID, Source: e.Source, EventID: e.ID,
	}
}

// status decides the token's state at now. A revocation recorded at or
// before now wins over expiry, because it is the stronger statement.
func status(r *TokenReport, expiresAt, lastSeen, now time.Time) (Status, string) {
	for _, rev := range r.Revocations {
		if !rev.Time.After(now) {
			who := rev.Actor
			if who == "" {
				who = "an unknown actor"
			}
			if rev.Covers != "" {
				return StatusRevoked, fmt.Sprintf("revoked at %s by %s, with every token of %s", rev.Time.UTC().Format(TimeLayout), who, rev.Covers)
			}
			return StatusRevoked, fmt.Sprintf("revoked at %s by %s", rev.Time.UTC().Format(TimeLayout), who)
		}
	}
	switch {
	case r.Created != nil && now.Before(r.Created.Time):
		return StatusUnknown, fmt.Sprintf("not yet issued at the report time: issued at %s", r.Created.Time.UTC().Format(TimeLayout))
	case expiresAt.IsZero():
		return StatusUnknown, fmt.Sprintf("no expiry was recorded; last seen at %s", lastSeen.UTC().Format(TimeLayout))
	case !expiresAt.After(now):
		return StatusExpired, fmt.Sprintf("expired at %s", expiresAt.UTC().Format(TimeLayout))
	default:
		return StatusActive, fmt.Sprintf("valid until %s unless revoked where it is checked", expiresAt.UTC().Format(TimeLayout))
	}
}

func childLinks(events []audit.Event) []TokenLink {
	links := []TokenLink{}
	for _, e := range events {
		if e.TokenID == "" || slices.ContainsFunc(links, func(l TokenLink) bool { return l.TokenID == e.TokenID }) {
			continue
		}
		links = append(links, TokenLink{TokenID: e.TokenID, Time: e.Time, Kind: e.Kind})
	}
	return links
}

// Network returns the network an address belongs to for counting distinct
// networks: its /24 for IPv4 (and IPv4-mapped IPv6), its /64 for IPv6.
func Network(ip netip.Addr) string {
	ip = ip.Unmap()
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	prefix, err := ip.Prefix(bits)
	if err != nil {
		return ip.String()
	}
	return prefix.String()
}

// pathOnly drops the query string, so that one endpoint paged through with
// ?page=N counts as one path.
func pathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// sourceName drops the ":line" suffix of an importer's "file:line" source,
// so one file counts once.
func sourceName(source string) string {
	if i := strings.LastIndexByte(source, ':'); i > 0 && isDigits(source[i+1:]) {
		source = source[:i]
	}
	return source
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// tally counts values and remembers when each was first and last seen.
type tally map[string]*Count

func (t *tally) add(value string, at time.Time) {
	if value == "" {
		return
	}
	if *t == nil {
		*t = tally{}
	}
	c := (*t)[value]
	if c == nil {
		c = &Count{Value: value, First: at}
		(*t)[value] = c
	}
	c.Count++
	c.Last = at
}

// sorted returns the counts, highest first, at most limit of them (0 means
// all).
func (t tally) sorted(limit int) []Count {
	out := make([]Count, 0, len(t))
	for _, c := range t {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
