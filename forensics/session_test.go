package forensics_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
)

func signIn(id string, at time.Time, session, subject, action, outcome string) audit.Event {
	return audit.Event{
		ID: id, Time: at, Kind: audit.KindSession, Action: action, Reason: outcome,
		SessionID: session, Subject: subject, IP: netip.MustParseAddr(office), UserAgent: officeUA,
		Source: "okta.jsonl:" + id,
	}
}

func TestReportShowsTheTokensSession(t *testing.T) {
	events := append(storyEvents(),
		signIn("1", t0.Add(-2*time.Minute), "s-1", "alice", "user.session.start", "SUCCESS"),
		signIn("2", t0.Add(-time.Minute), "s-1", "alice", "user.authentication.auth_via_mfa", "SUCCESS"),
		signIn("3", t0.Add(-time.Minute), "s-other", "alice", "user.session.start", "SUCCESS"),
	)
	db := openStore(t, events)

	r, err := forensics.InvestigateToken(context.Background(), db, forensics.TokenRef{TokenID: tokenID}, forensics.Options{Now: t0})
	if err != nil {
		t.Fatal(err)
	}

	if len(r.Sessions) != 1 {
		t.Fatalf("Sessions = %+v, want the one session s-1", r.Sessions)
	}
	s := r.Sessions[0]
	if s.ID != "s-1" || s.Basis != "session_id" || s.Truncated {
		t.Errorf("session = %q basis %q truncated %v, want s-1 basis session_id, not truncated", s.ID, s.Basis, s.Truncated)
	}
	want := []forensics.SessionEvent{
		{Time: t0.Add(-2 * time.Minute), Kind: audit.KindSession, Action: "user.session.start", Outcome: "SUCCESS", Subject: "alice",
			IP: netip.MustParseAddr(office), UserAgent: officeUA, Source: "okta.jsonl:1", EventID: "1"},
		{Time: t0.Add(-time.Minute), Kind: audit.KindSession, Action: "user.authentication.auth_via_mfa", Outcome: "SUCCESS", Subject: "alice",
			IP: netip.MustParseAddr(office), UserAgent: officeUA, Source: "okta.jsonl:2", EventID: "2"},
		// The token's own issuance places it in the session's story.
		{Time: t0, Kind: audit.KindIssued, TokenID: tokenID, Subject: "alice", ClientID: "web-portal",
			IP: netip.MustParseAddr(office), Source: "keycloak.log:7", EventID: "issued"},
	}
	if fmt.Sprint(s.Events) != fmt.Sprint(want) {
		t.Errorf("session events =\n%+v\nwant\n%+v", s.Events, want)
	}
	for _, e := range r.Events {
		if e.Kind == audit.KindSession {
			t.Errorf("token trail holds session event %s; session events belong to Sessions", e.ID)
		}
	}
}

func TestReportLeadSessionBySubject(t *testing.T) {
	issued := audit.Event{
		ID: "exchange", Time: t0, Kind: audit.KindIssued, Action: "seacft", TokenID: "auth0:exchange",
		Subject: "auth0|alice", ClientID: "app", Source: "auth0.jsonl:5",
	}
	events := []audit.Event{
		issued,
		signIn("too-old", t0.Add(-2*time.Hour), "s-old", "auth0|alice", "s", "login succeeded"),
		signIn("login", t0.Add(-time.Second), "s-new", "auth0|alice", "s", "login succeeded"),
		signIn("logout", t0.Add(time.Minute), "s-new", "auth0|alice", "slo", "logout"),
		signIn("after", t0.Add(time.Second), "s-later", "auth0|alice", "s", "login succeeded"),
		func() audit.Event {
			// The same user's sign-in to another application, later than
			// the one that led to the token.
			e := signIn("other-app", t0.Add(-time.Millisecond), "s-other-app", "auth0|alice", "s", "login succeeded")
			e.ClientID = "other-app"
			return e
		}(),
		signIn("someone-else", t0.Add(-time.Second), "s-bob", "auth0|bob", "s", "login succeeded"),
	}
	db := openStore(t, events)

	r, err := forensics.InvestigateToken(context.Background(), db, forensics.TokenRef{TokenID: "auth0:exchange"}, forensics.Options{Now: t0})
	if err != nil {
		t.Fatal(err)
	}

	if len(r.Sessions) != 1 {
		t.Fatalf("Sessions = %+v, want the sign-in just before issuance", r.Sessions)
	}
	s := r.Sessions[0]
	if s.ID != "s-new" || s.Basis != "subject" {
		t.Errorf("session = %q basis %q, want s-new basis subject", s.ID, s.Basis)
	}
	if len(s.Events) != 2 || s.Events[0].EventID != "login" || s.Events[1].EventID != "logout" {
		t.Errorf("session events = %+v, want login then logout", s.Events)
	}
	if r.Created == nil || r.Created.Action != "seacft" {
		t.Errorf("Created = %+v, want the seacft exchange", r.Created)
	}
}

func TestReportWithoutSessionEvents(t *testing.T) {
	db := openStore(t, storyEvents())

	r, err := forensics.InvestigateToken(context.Background(), db, forensics.TokenRef{TokenID: tokenID}, forensics.Options{Now: t0})
	if err != nil {
		t.Fatal(err)
	}

	if r.Sessions == nil || len(r.Sessions) != 0 {
		t.Errorf("Sessions = %#v, want an empty list", r.Sessions)
	}
}

func TestReportCutsALongSession(t *testing.T) {
	events := storyEvents()
	for i := range 250 {
		events = append(events, signIn(fmt.Sprint("mfa-", i), t0.Add(time.Duration(i)*time.Second), "s-1", "alice", "user.authentication.auth_via_mfa", "SUCCESS"))
	}
	db := openStore(t, events)

	r, err := forensics.InvestigateToken(context.Background(), db, forensics.TokenRef{TokenID: tokenID}, forensics.Options{Now: t0})
	if err != nil {
		t.Fatal(err)
	}

	if len(r.Sessions) != 1 {
		t.Fatalf("Sessions = %d sessions, want 1", len(r.Sessions))
	}
	if s := r.Sessions[0]; len(s.Events) != 200 || !s.Truncated {
		t.Errorf("session has %d events, truncated %v, want 200 events marked truncated", len(s.Events), s.Truncated)
	}
}

func TestSameIssuer(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"acme", "acme", true},
		{"acme", "https://sso.example.com/realms/acme", true},
		{"https://sso.example.com/realms/acme/", "acme", true},
		{"acme", "https://sso.example.com/realms/acme2", false},
		{"acme", "beta", false},
		{"", "acme", false},
	}
	for _, tt := range tests {
		if got := forensics.SameIssuer(tt.a, tt.b); got != tt.want {
			t.Errorf("SameIssuer(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestReportSessionListsOtherTokensIssued(t *testing.T) {
	// An Entra session: a blocked sign-in, then the sign-in that issued
	// another token. The report of a later token of the session shows both.
	blocked := signIn("blocked", t0.Add(-3*time.Minute), "s-1", "alice", "SignInLogs", "error 53003")
	first := audit.Event{
		ID: "first", Time: t0.Add(-2 * time.Minute), Kind: audit.KindIssued, Action: "SignInLogs",
		TokenID: "uti-first", Subject: "alice", SessionID: "s-1", Source: "signins.json:2",
	}
	db := openStore(t, append(storyEvents(), blocked, first))

	r, err := forensics.InvestigateToken(context.Background(), db, forensics.TokenRef{TokenID: tokenID}, forensics.Options{Now: t0})
	if err != nil {
		t.Fatal(err)
	}

	if len(r.Sessions) != 1 {
		t.Fatalf("Sessions = %+v, want session s-1", r.Sessions)
	}
	var ids []string
	for _, e := range r.Sessions[0].Events {
		ids = append(ids, e.EventID)
	}
	if want := []string{"blocked", "first", "issued"}; !slices.Equal(ids, want) {
		t.Errorf("session events = %v, want %v", ids, want)
	}
}

func TestReportNotesUseAfterSignOut(t *testing.T) {
	tests := []struct {
		name string
		end  audit.Event
		want string // part of the note, or "" for none
	}{
		{"used after", signIn("9", t0.Add(30*time.Minute), "s-1", "alice", "LOGOUT", ""),
			"ended at 2026-11-20 09:30:00Z (LOGOUT), but the token was used 3 times after that, first at 2026-11-20 10:01:00Z"},
		{"not used after", signIn("9", t0.Add(2*time.Hour), "s-1", "alice", "user.session.end", "SUCCESS"),
			"no use of the token is recorded after that"},
		{"failed logout", signIn("9", t0.Add(30*time.Minute), "s-1", "alice", "user.session.end", "FAILURE: UNKNOWN"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t, append(storyEvents(), tt.end))

			r, err := forensics.InvestigateToken(context.Background(), db, forensics.TokenRef{TokenID: tokenID}, forensics.Options{Now: t0.Add(3 * time.Hour)})
			if err != nil {
				t.Fatal(err)
			}

			found := slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, "sign-in session") })
			switch {
			case tt.want == "" && found:
				t.Errorf("notes = %q, want none about the session's end", r.Notes)
			case tt.want != "" && !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, tt.want) }):
				t.Errorf("notes = %q, want one containing %q", r.Notes, tt.want)
			}
		})
	}
}
