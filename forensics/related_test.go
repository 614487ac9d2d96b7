package forensics_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
)

// relatedEvents returns a refresh lineage rt-0 > rt-1 > at-2 > at-3 > at-4
// of alice in session s-1, and tokens linked to at-2 one way each: by
// session (st-1), by subject (ot-1), by network (nt-1) and by client
// (ct-1), and one of alice outside the window (w-1).
func relatedEvents() []audit.Event {
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	ip := netip.MustParseAddr
	issued := func(jti, subject, session, parent string, minutes int) audit.Event {
		return audit.Event{ID: "issued-" + jti, Time: at(minutes), Kind: audit.KindIssued, TokenID: jti, Subject: subject,
			SessionID: session, ParentTokenID: parent, IP: ip("192.0.2.1")}
	}
	used := func(jti, subject, addr, ua string, minutes int) audit.Event {
		return audit.Event{ID: "used-" + jti, Time: at(minutes), Kind: audit.KindUsed, TokenID: jti, Subject: subject,
			IP: ip(addr), UserAgent: ua, Status: 200}
	}
	return []audit.Event{
		issued("rt-0", "alice", "s-1", "", 0),
		issued("rt-1", "alice", "s-1", "rt-0", 10),
		issued("at-2", "alice", "s-1", "rt-1", 20),
		used("at-2", "alice", "198.51.100.77", scriptUA, 21),
		issued("at-3", "alice", "s-1", "at-2", 30),
		issued("at-4", "alice", "s-1", "at-3", 40),
		issued("st-1", "alice-admin", "s-1", "", 22),
		used("ot-1", "alice", "203.0.113.50", officeUA, 23),
		used("nt-1", "bob", "198.51.100.5", officeUA, 24),
		used("ct-1", "carol", "198.51.100.9", scriptUA, 25),
		used("w-1", "alice", "198.51.100.77", scriptUA, -48*60),
	}
}

// relations returns, for each related token, its reason kinds.
func relations(list []forensics.RelatedToken) map[string][]string {
	m := map[string][]string{}
	for _, r := range list {
		for _, reason := range r.Reasons {
			m[r.TokenID] = append(m[r.TokenID], reason.Kind)
		}
	}
	return m
}

func TestFindRelatedFromToken(t *testing.T) {
	db := openStore(t, relatedEvents())
	window := forensics.RelatedQuery{Since: t0.Add(-time.Hour), Until: t0.Add(2 * time.Hour)}

	tests := []struct {
		name  string
		token string
		want  map[string][]string
	}{
		{"middle of the lineage", "at-2", map[string][]string{
			"rt-1": {forensics.RelationParent, forensics.RelationSession, forensics.RelationSubject},
			"rt-0": {forensics.RelationAncestor, forensics.RelationSession, forensics.RelationSubject},
			"at-3": {forensics.RelationChild, forensics.RelationSession, forensics.RelationSubject},
			"at-4": {forensics.RelationDescendant, forensics.RelationSession, forensics.RelationSubject},
			"st-1": {forensics.RelationSession},
			"ot-1": {forensics.RelationSubject},
			"ct-1": {forensics.RelationSharedClient, forensics.RelationSharedNet},
			"nt-1": {forensics.RelationSharedNet},
		}},
		{"bottom of the lineage", "at-4", map[string][]string{
			"at-3": {forensics.RelationParent, forensics.RelationSession, forensics.RelationSubject},
			"at-2": {forensics.RelationAncestor, forensics.RelationSession, forensics.RelationSubject},
			"rt-1": {forensics.RelationAncestor, forensics.RelationSession, forensics.RelationSubject},
			"rt-0": {forensics.RelationAncestor, forensics.RelationSession, forensics.RelationSubject},
			"st-1": {forensics.RelationSession},
			"ot-1": {forensics.RelationSubject},
		}},
		{"top of the lineage", "rt-0", map[string][]string{
			"rt-1": {forensics.RelationChild, forensics.RelationSession, forensics.RelationSubject},
			"at-2": {forensics.RelationDescendant, forensics.RelationSession, forensics.RelationSubject},
			"at-3": {forensics.RelationDescendant, forensics.RelationSession, forensics.RelationSubject},
			"at-4": {forensics.RelationDescendant, forensics.RelationSession, forensics.RelationSubject},
			"st-1": {forensics.RelationSession},
			"ot-1": {forensics.RelationSubject},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := window
			q.TokenID = tt.token
			list, err := forensics.FindRelatedTokens(context.Background(), db, q)
			if err != nil {
				t.Fatalf("FindRelatedTokens(%s): %v", tt.token, err)
			}
			got := relations(list)
			for jti, want := range tt.want {
				if !slices.Equal(got[jti], want) {
					t.Errorf("reasons of %s = %v, want %v", jti, got[jti], want)
				}
			}
			for jti := range got {
				if _, ok := tt.want[jti]; !ok {
					t.Errorf("FindRelatedTokens(%s) returned %s (%v), want it left out", tt.token, jti, got[jti])
				}
			}
		})
	}
}

func TestFindRelatedStrength(t *testing.T) {
	db := openStore(t, relatedEvents())
	list, err := forensics.FindRelatedTokens(context.Background(), db,
		forensics.RelatedQuery{TokenID: "at-2", Since: t0.Add(-time.Hour), Until: t0.Add(2 * time.Hour)})
	if err != nil {
		t.Fatalf("FindRelatedTokens: %v", err)
	}

	for i := 1; i < len(list); i++ {
		if list[i].Score > list[i-1].Score {
			t.Errorf("result %d (%s, %d) scores above result %d (%s, %d), want strongest first",
				i, list[i].TokenID, list[i].Score, i-1, list[i-1].TokenID, list[i-1].Score)
		}
	}
	want := map[string]struct {
		score    int
		strength forensics.Strength
	}{
		"rt-1": {100, forensics.StrengthStrong}, // 100 + 5 + 5, at most 100
		"st-1": {80, forensics.StrengthStrong},
		"ct-1": {65, forensics.StrengthMedium},
		"ot-1": {50, forensics.StrengthMedium},
		"nt-1": {30, forensics.StrengthWeak},
	}
	for _, r := range list {
		if w, ok := want[r.TokenID]; ok && (r.Score != w.score || r.Strength != w.strength) {
			t.Errorf("%s score, strength = %d, %s, want %d, %s", r.TokenID, r.Score, r.Strength, w.score, w.strength)
		}
	}
	if list[len(list)-1].TokenID != "nt-1" {
		t.Errorf("weakest = %s, want nt-1, related by network only", list[len(list)-1].TokenID)
	}
}

func TestFindRelatedFromSubject(t *testing.T) {
	db := openStore(t, relatedEvents())
	list, err := forensics.FindRelatedTokens(context.Background(), db,
		forensics.RelatedQuery{Subject: "bob", Since: t0.Add(-time.Hour), Until: t0.Add(2 * time.Hour)})
	if err != nil {
		t.Fatalf("FindRelatedTokens: %v", err)
	}
	got := relations(list)
	want := map[string][]string{
		"nt-1": {forensics.RelationSubject}, // its own network relates it to nothing
		"at-2": {forensics.RelationSharedNet},
		"ct-1": {forensics.RelationSharedNet},
	}
	for jti, w := range want {
		if !slices.Equal(got[jti], w) {
			t.Errorf("reasons of %s = %v, want %v", jti, got[jti], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("FindRelatedTokens(bob) = %v, want only %v", got, want)
	}
	// w-1 used the same network two days earlier, outside the window.
	if _, ok := got["w-1"]; ok {
		t.Error("FindRelatedTokens(bob) returned w-1, whose only event lies outside the window")
	}
}

// TestFindRelatedFromSubjectSession checks that, from a subject, a session
// relates the tokens that another subject or no subject names, and not the
// subject's own, which would then grade by whether their log named a
// session.
func TestFindRelatedFromSubjectSession(t *testing.T) {
	db := openStore(t, relatedEvents())
	list, err := forensics.FindRelatedTokens(context.Background(), db,
		forensics.RelatedQuery{Subject: "alice", Since: t0.Add(-time.Hour), Until: t0.Add(2 * time.Hour)})
	if err != nil {
		t.Fatalf("FindRelatedTokens: %v", err)
	}
	got := relations(list)

	for _, jti := range []string{"rt-0", "at-2", "ot-1"} {
		if slices.Contains(got[jti], forensics.RelationSession) {
			t.Errorf("reasons of %s, a token of alice, = %v, want no session relation", jti, got[jti])
		}
		if !slices.Contains(got[jti], forensics.RelationSubject) {
			t.Errorf("reasons of %s = %v, want the subject relation", jti, got[jti])
		}
	}
	if !slices.Contains(got["st-1"], forensics.RelationSession) {
		t.Errorf("reasons of st-1, another subject's token in alice's session, = %v, want the session relation", got["st-1"])
	}
}

func TestFindRelatedInvalid(t *testing.T) {
	db := openStore(t, relatedEvents())
	tests := []struct {
		name  string
		query forensics.RelatedQuery
		want  error
	}{
		{"neither", forensics.RelatedQuery{}, forensics.ErrInvalidQuery},
		{"both", forensics.RelatedQuery{Subject: "alice", TokenID: "at-2"}, forensics.ErrInvalidQuery},
		{"unknown token", forensics.RelatedQuery{TokenID: "at-404"}, forensics.ErrTokenNotFound},
		{"token outside the window", forensics.RelatedQuery{TokenID: "w-1", Since: t0}, forensics.ErrTokenNotFound},
		{"unknown subject", forensics.RelatedQuery{Subject: "mallory"}, forensics.ErrSubjectNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := forensics.FindRelatedTokens(context.Background(), db, tt.query)
			if !errors.Is(err, tt.want) {
				t.Errorf("FindRelatedTokens(%s) error = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

// TestFindRelatedCrowdedNetwork starts from alice's token, used from an
// office NAT that four colleagues use with the same browser. A network
// that many subjects share is weak evidence, so the colleagues' tokens
// grade weak, and their reasons give the number of subjects.
func TestFindRelatedCrowdedNetwork(t *testing.T) {
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	used := func(jti, subject string, minutes int) audit.Event {
		return audit.Event{ID: "used-" + jti, Time: at(minutes), Kind: audit.KindUsed, TokenID: jti, Subject: subject,
			IP: netip.MustParseAddr("203.0.113.7"), UserAgent: officeUA, Status: 200}
	}
	events := []audit.Event{used("at-alice", "alice", 1)}
	for i, colleague := range []string{"bob", "carol", "dave", "erin"} {
		events = append(events, used("at-"+colleague, colleague, 2+i))
	}
	db := openStore(t, events)

	list, err := forensics.FindRelatedTokens(context.Background(), db,
		forensics.RelatedQuery{TokenID: "at-alice", Since: t0, Until: t0.Add(time.Hour)})
	if err != nil {
		t.Fatalf("FindRelatedTokens: %v", err)
	}
	if len(list) != 4 {
		t.Fatalf("related = %v, want the 4 colleagues' tokens", relations(list))
	}
	for _, r := range list {
		if r.Strength != forensics.StrengthWeak {
			t.Errorf("%s strength = %s (score %d), want weak", r.TokenID, r.Strength, r.Score)
		}
		for _, reason := range r.Reasons {
			if !strings.Contains(reason.Detail, "5 subjects used this network") {
				t.Errorf("%s reason %s detail = %q, want the count of subjects sharing the network", r.TokenID, reason.Kind, reason.Detail)
			}
		}
	}
}

// Each relation through a network words what the token's events there
// did: an accepted use wins over a rejection, and a token with neither is
// named by the kinds of its events.
func TestFindRelatedNetworkWording(t *testing.T) {
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	event := func(id, jti string, kind audit.Kind, minutes int) audit.Event {
		return audit.Event{ID: id, Time: at(minutes), Kind: kind, TokenID: jti, Subject: "bob",
			IP: netip.MustParseAddr("192.0.2.10"), UserAgent: officeUA}
	}
	db := openStore(t, []audit.Event{
		event("e-start", "start", audit.KindUsed, 1),
		event("e-used", "used", audit.KindUsed, 2),
		event("e-refreshed", "refreshed", audit.KindRefreshed, 3),
		event("e-rejected", "rejected", audit.KindRejected, 4),
		event("e-mixed-1", "mixed", audit.KindRejected, 5),
		event("e-mixed-2", "mixed", audit.KindUsed, 6),
		event("e-revoked", "revoked", audit.KindRevoked, 7),
		event("e-session-1", "session", audit.KindSession, 8),
		event("e-session-2", "session", audit.KindRevoked, 9),
	})

	list, err := forensics.FindRelatedTokens(context.Background(), db,
		forensics.RelatedQuery{TokenID: "start", Since: t0, Until: t0.Add(time.Hour)})
	if err != nil {
		t.Fatalf("FindRelatedTokens: %v", err)
	}
	want := map[string]string{
		"used":      "used from 192.0.2.0/24",
		"refreshed": "used from 192.0.2.0/24",
		"rejected":  "presented from 192.0.2.0/24 and rejected",
		"mixed":     "used from 192.0.2.0/24",
		"revoked":   "revoked from 192.0.2.0/24",
		"session":   "seen from 192.0.2.0/24 in revoked and session events",
	}
	got := map[string]string{}
	for _, r := range list {
		for _, reason := range r.Reasons {
			if reason.Kind == forensics.RelationSharedNet {
				got[r.TokenID] = reason.Detail
			}
		}
	}
	for jti, detail := range want {
		if got[jti] != detail {
			t.Errorf("shared_network detail of %s = %q, want %q", jti, got[jti], detail)
		}
	}
}
