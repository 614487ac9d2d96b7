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

// RelatedQuery names where FindRelatedTokens starts: a subject or a token
// (by jti), and the window whose events it reads.
type RelatedQuery struct {
	Subject string
	TokenID string
	Since   time.Time // inclusive; zero means no lower bound
	Until   time.Time // exclusive; zero means no upper bound

	Limit     int // related tokens returned, strongest first; 0 means 200
	MaxEvents int // events read by each query, the oldest first; 0 means 5,000
}

// Strength grades how surely a related token belongs to the same person or
// the same compromise.
type Strength string

// The strengths, from the Score of a RelatedToken.
const (
	StrengthStrong Strength = "strong" // score 80 and above: lineage or one sign-in session
	StrengthMedium Strength = "medium" // score 50 to 79: one subject, or one client on a network few subjects use
	StrengthWeak   Strength = "weak"   // below 50: one network, which NAT and proxies share
)

// The relations, with their scores. The score of a relation is the rough
// confidence, out of 100, that the two tokens belong to the same person
// or the same compromise. It is a ranking aid chosen by judgment, not a
// measured probability.
const (
	RelationParent       = "parent"         // the token the start token was minted from (100)
	RelationChild        = "child"          // a token minted from the start token (100)
	RelationAncestor     = "ancestor"       // further up the refresh lineage (90)
	RelationDescendant   = "descendant"     // further down the refresh lineage (90)
	RelationSession      = "session"        // the same sign-in session (80)
	RelationSharedClient = "shared_client"  // used from the same network with the same user agent (60, 30 on a crowded network)
	RelationSubject      = "subject"        // the same subject (50)
	RelationSharedNet    = "shared_network" // used from the same /24 or /64 (30, 15 on a crowded network)
)

// crowdedSubjects is the number of subjects above which a network counts
// as crowded: an office NAT, a carrier-grade NAT or a VPN exit, whose
// users share addresses and often a browser build. A shared network or
// client on a crowded network scores half, so it grades weak. The number
// is a judgment, like the scores.
const crowdedSubjects = 3

var relationScores = map[string]int{
	RelationParent: 100, RelationChild: 100, RelationAncestor: 90, RelationDescendant: 90,
	RelationSession: 80, RelationSharedClient: 60, RelationSubject: 50, RelationSharedNet: 30,
}

// RelatedToken is a token related to the start of FindRelatedTokens.
type RelatedToken struct {
	TokenID string `json:"token_id"`
	Subject string `json:"subject,omitempty"`

	// Score is the highest score of Reasons, plus 5 for each further
	// reason, at most 100. Strength grades it.
	Score    int      `json:"score"`
	Strength Strength `json:"strength"`

	Reasons []Relation `json:"reasons"` // strongest first
}

// Relation is one reason why a token is related.
type Relation struct {
	Kind   string `json:"kind"` // one of the Relation* constants
	Score  int    `json:"score"`
	Detail string `json:"detail"` // what links them, e.g. "minted from at-2"
}

// Bounds of FindRelatedTokens.
const (
	defaultRelatedLimit  = 200
	maxRelatedNetworks   = 20  // networks of the start followed for shared networks
	maxRelatedDescendant = 500 // tokens visited down the refresh lineage
)

// FindRelatedTokens returns the tokens related to a subject or to a token,
// strongest first, each with why it is related. From a subject, the
// subject's tokens with events in the window are the start, and are
// returned too, each with the reasons that link it to the others. From a
// token, the token itself is left out.
//
// Lineage (parent, child, ancestor, descendant) is followed whatever the
// window, because it is a fact of the tokens. Subject, session, network and
// client relations come from the events in the window.
//
// It returns an error wrapping ErrInvalidQuery when neither or both of
// Subject and TokenID are set, and one wrapping ErrTokenNotFound (or
// ErrSubjectNotFound) when the start has no event in the window.
func FindRelatedTokens(ctx context.Context, db EventQuerier, q RelatedQuery) ([]RelatedToken, error) {
	if (q.Subject == "") == (q.TokenID == "") {
		return nil, fmt.Errorf("%w: set exactly one of Subject and TokenID (got subject %q and token %q)", ErrInvalidQuery, q.Subject, q.TokenID)
	}
	if q.Limit <= 0 {
		q.Limit = defaultRelatedLimit
	}
	if q.MaxEvents <= 0 {
		q.MaxEvents = defaultMaxTimeline
	}
	f := &relatedFinder{db: db, q: q, found: map[string]*RelatedToken{}}

	start, err := f.events(ctx, store.Query{Subject: q.Subject, TokenID: q.TokenID}, "start")
	if err != nil {
		return nil, err
	}
	if len(start) == 0 {
		if q.TokenID != "" {
			return nil, fmt.Errorf("%w: jti %q in the window", ErrTokenNotFound, q.TokenID)
		}
		return nil, fmt.Errorf("%w: %q", ErrSubjectNotFound, q.Subject)
	}
	f.collectStart(start)

	if err := f.bySubject(ctx); err != nil {
		return nil, err
	}
	if err := f.bySession(ctx); err != nil {
		return nil, err
	}
	if err := f.byLineage(ctx); err != nil {
		return nil, err
	}
	if err := f.byNetwork(ctx); err != nil {
		return nil, err
	}
	return f.results(), nil
}

// relatedFinder holds the state of one FindRelatedTokens call.
type relatedFinder struct {
	db EventQuerier
	q  RelatedQuery

	tokens   []string // the start tokens
	subjects []string
	sessions []string
	networks []netip.Prefix

	// clients holds, for each network of the start, the user agents that
	// each start token was used with from it.
	clients map[netip.Prefix]map[string][]string

	found map[string]*RelatedToken
}

func (f *relatedFinder) events(ctx context.Context, q store.Query, scope string) ([]audit.Event, error) {
	q.Since, q.Until, q.Limit = f.q.Since, f.q.Until, f.q.MaxEvents
	events, err := f.db.Events(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("query events of %s: %w", scope, err)
	}
	return events, nil
}

func (f *relatedFinder) collectStart(events []audit.Event) {
	f.clients = map[netip.Prefix]map[string][]string{}
	for _, e := range events {
		if e.TokenID != "" && !slices.Contains(f.tokens, e.TokenID) {
			f.tokens = append(f.tokens, e.TokenID)
		}
		if e.Subject != "" && !slices.Contains(f.subjects, e.Subject) {
			f.subjects = append(f.subjects, e.Subject)
		}
		if e.SessionID != "" && !slices.Contains(f.sessions, e.SessionID) {
			f.sessions = append(f.sessions, e.SessionID)
		}
		if !e.IP.IsValid() || e.Kind == audit.KindIssued {
			// Issuance happens at the identity provider, whose address
			// may be logged in place of the client's.
			continue
		}
		p := networkPrefix(e.IP)
		if _, ok := f.clients[p]; !ok {
			f.networks = append(f.networks, p)
			f.clients[p] = map[string][]string{}
		}
		if agents := f.clients[p][e.Token()]; !slices.Contains(agents, e.UserAgent) {
			f.clients[p][e.Token()] = append(agents, e.UserAgent)
		}
	}
	if len(f.networks) > maxRelatedNetworks {
		f.networks = f.networks[:maxRelatedNetworks]
	}
}

// relate records that jti is related by kind. A start token is related to
// itself by nothing, and from a token it is left out.
func (f *relatedFinder) relate(jti, subject, kind, detail string) {
	f.relateOn(jti, subject, kind, detail, false)
}

// relateOn is relate for a relation through a network, whose score is
// halved when the network is crowded.
func (f *relatedFinder) relateOn(jti, subject, kind, detail string, crowded bool) {
	if jti == "" || (f.q.TokenID != "" && jti == f.q.TokenID) {
		return
	}
	t := f.found[jti]
	if t == nil {
		t = &RelatedToken{TokenID: jti, Reasons: []Relation{}}
		f.found[jti] = t
	}
	t.Subject = cmp.Or(t.Subject, subject)
	r := Relation{Kind: kind, Score: relationScores[kind], Detail: detail}
	if crowded {
		r.Score /= 2
	}
	if !slices.Contains(t.Reasons, r) {
		t.Reasons = append(t.Reasons, r)
	}
}

func (f *relatedFinder) bySubject(ctx context.Context) error {
	for _, subject := range f.subjects {
		events, err := f.events(ctx, store.Query{Subject: subject}, fmt.Sprintf("subject %q", subject))
		if err != nil {
			return err
		}
		for _, e := range events {
			f.relate(e.TokenID, e.Subject, RelationSubject, "subject "+subject)
		}
	}
	return nil
}

func (f *relatedFinder) bySession(ctx context.Context) error {
	for _, id := range f.sessions {
		events, err := f.events(ctx, store.Query{SessionID: id}, fmt.Sprintf("session %q", id))
		if err != nil {
			return err
		}

		// From a subject, the sessions are the subject's own, so a token
		// of the subject is no closer for having been minted in one: the
		// relation would grade it only by whether its log named a
		// session. A token in the session that names another subject, or
		// none, is related by the session alone.
		own := map[string]bool{}
		if f.q.Subject != "" {
			for _, e := range events {
				if e.Subject == f.q.Subject {
					own[e.TokenID] = true
				}
			}
		}
		for _, e := range events {
			if !own[e.TokenID] {
				f.relate(e.TokenID, e.Subject, RelationSession, "session "+id)
			}
		}
	}
	return nil
}

// byLineage follows parent links up and child links down from each start
// token, whatever the window.
func (f *relatedFinder) byLineage(ctx context.Context) error {
	for _, jti := range f.tokens {
		current, kind := jti, RelationParent
		seen := map[string]bool{jti: true}
		for range maxLineage {
			issued, err := f.db.Events(ctx, store.Query{TokenID: current, Kinds: []audit.Kind{audit.KindIssued}, Limit: 1})
			if err != nil {
				return fmt.Errorf("query issuance of token %q: %w", current, err)
			}
			if len(issued) == 0 || issued[0].ParentTokenID == "" || seen[issued[0].ParentTokenID] {
				break
			}
			parent := issued[0].ParentTokenID
			seen[parent] = true
			subject := ""
			if up, err := f.db.Events(ctx, store.Query{TokenID: parent, Limit: 1}); err != nil {
				return fmt.Errorf("query token %q: %w", parent, err)
			} else if len(up) > 0 {
				subject = up[0].Subject
			}
			f.relate(parent, subject, kind, fmt.Sprintf("%s was minted from it", current))
			current, kind = parent, RelationAncestor
		}

		// Breadth first, so that a child is met as a child before any
		// deeper path could reach it.
		level, kind, visited := []string{jti}, RelationChild, 0
		for len(level) > 0 && visited < maxRelatedDescendant {
			var next []string
			for _, parent := range level {
				children, err := f.db.Events(ctx, store.Query{ParentTokenID: parent, Kinds: []audit.Kind{audit.KindIssued}})
				if err != nil {
					return fmt.Errorf("query tokens minted from %q: %w", parent, err)
				}
				for _, c := range children {
					if c.TokenID == "" || seen[c.TokenID] {
						continue
					}
					seen[c.TokenID] = true
					visited++
					f.relate(c.TokenID, c.Subject, kind, "minted from "+parent)
					next = append(next, c.TokenID)
				}
			}
			level, kind = next, RelationDescendant
		}
	}
	return nil
}

// byNetwork relates the tokens seen on a network that another start
// token was seen on, and by client those seen there with one of that
// token's user agents. On a crowded network, both relations score half.
// A relation's detail words what the token's events there did, so that a
// token whose only event there is a rejected presentation does not read
// as used from there.
func (f *relatedFinder) byNetwork(ctx context.Context) error {
	for _, p := range f.networks {
		events, err := f.events(ctx, store.Query{Network: p}, "network "+p.String())
		if err != nil {
			return err
		}
		crowd := crowdOf(events, len(events) >= f.q.MaxEvents)
		var presences []*networkPresence
		byKey := map[presenceKey]*networkPresence{}
		note := func(e *audit.Event, kind, agent string) {
			key := presenceKey{jti: e.TokenID, kind: kind, agent: agent}
			pr := byKey[key]
			if pr == nil {
				pr = &networkPresence{presenceKey: key}
				byKey[key] = pr
				presences = append(presences, pr)
			}
			pr.subject = cmp.Or(pr.subject, e.Subject)
			pr.kinds |= 1 << e.Kind
		}
		for i := range events {
			e := &events[i]
			if e.Kind == audit.KindIssued {
				continue
			}
			shared, sameAgent := false, false
			for jti, agents := range f.clients[p] {
				if jti == e.Token() {
					continue
				}
				shared = true
				sameAgent = sameAgent || (e.UserAgent != "" && slices.Contains(agents, e.UserAgent))
			}
			if shared {
				note(e, RelationSharedNet, "")
			}
			if sameAgent {
				note(e, RelationSharedClient, e.UserAgent)
			}
		}

		for _, pr := range presences {
			place := p.String()
			if pr.kind == RelationSharedClient {
				place = fmt.Sprintf("%s with user agent %q", p, pr.agent)
			}
			f.relateOn(pr.jti, pr.subject, pr.kind, pr.phrase(place)+crowd, crowd != "")
		}
	}
	return nil
}

// presenceKey names one relation through a network: kind is
// RelationSharedNet, or RelationSharedClient with the user agent of the
// token's events.
type presenceKey struct{ jti, kind, agent string }

// networkPresence is the summary of one token's events on a network, for
// one relation.
type networkPresence struct {
	presenceKey
	subject string
	kinds   uint64 // bit k set for each audit.Kind k among the events
}

// phrase words what the token did at place: "used from" when an event
// there was accepted, "presented from ... and rejected" when every
// presentation there was rejected, "revoked from" when it was only
// revoked there, and else the kinds of its events.
func (pr *networkPresence) phrase(place string) string {
	has := func(k audit.Kind) bool { return pr.kinds&(1<<k) != 0 }
	switch {
	case has(audit.KindUsed) || has(audit.KindRefreshed):
		return "used from " + place
	case has(audit.KindRejected):
		return "presented from " + place + " and rejected"
	case pr.kinds == 1<<audit.KindRevoked:
		return "revoked from " + place
	}
	var kinds []string
	for _, k := range audit.Kinds {
		if has(k) {
			kinds = append(kinds, k.String())
		}
	}
	return "seen from " + place + " in " + strings.Join(kinds, " and ") + " events"
}

// crowdOf returns, for the events of one network, "" when at most
// crowdedSubjects subjects used it, and else the clause that ends the
// details of its relations. cut is true when the events are the oldest of
// more, so that the count is a minimum.
func crowdOf(events []audit.Event, cut bool) string {
	var subjects []string
	for _, e := range events {
		// As in byNetwork, an issuance may carry the identity
		// provider's address in place of the client's.
		if e.Kind != audit.KindIssued && e.Subject != "" && !slices.Contains(subjects, e.Subject) {
			subjects = append(subjects, e.Subject)
		}
	}
	if len(subjects) <= crowdedSubjects {
		return ""
	}
	n := fmt.Sprint(len(subjects))
	if cut {
		n = "at least " + n
	}
	return fmt.Sprintf("; %s subjects used this network in the window, so it links tokens weakly (a NAT, a VPN exit, or an attacker holding many tokens)", n)
}

// results scores the related tokens and sorts them, strongest first.
func (f *relatedFinder) results() []RelatedToken {
	list := make([]RelatedToken, 0, len(f.found))
	for _, t := range f.found {
		slices.SortFunc(t.Reasons, func(x, y Relation) int {
			return cmp.Or(cmp.Compare(y.Score, x.Score), cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Detail, y.Detail))
		})
		t.Score = min(100, t.Reasons[0].Score+5*(len(t.Reasons)-1))
		switch {
		case t.Score >= 80:
			t.Strength = StrengthStrong
		case t.Score >= 50:
			t.Strength = StrengthMedium
		default:
			t.Strength = StrengthWeak
		}
		list = append(list, *t)
	}
	slices.SortFunc(list, func(x, y RelatedToken) int {
		return cmp.Or(cmp.Compare(y.Score, x.Score), cmp.Compare(x.TokenID, y.TokenID))
	})
	if len(list) > f.q.Limit {
		list = list[:f.q.Limit]
	}
	return list
}
