package forensics

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// Bounds of the session context, so that a session that lived for months
// does not drown the report.
const (
	maxSessions      = 5   // sessions listed per report
	maxSessionEvents = 200 // events listed per session, the oldest first
)

// subjectWindow is how long before its issuance a token's sign-in is looked
// for when the issuing record names no session, as Auth0's code exchange
// does not. The session of the latest session event of the same subject,
// issuer and client within this window is taken as the one that led to the
// token.
const subjectWindow = time.Hour

// Session is the sign-in session in which a token was minted or used, as
// the identity provider logged it: logins, second factors, policy decisions,
// logout.
type Session struct {
	ID string `json:"id"`

	// Basis is the link between the session and the token. It is "session_id"
	// when the token's own events name the session. It is "subject" when
	// the issuing record names none, and the session is that of the latest
	// session event of the same subject, issuer and client in the hour
	// before issuance: a lead, not proof.
	Basis string `json:"basis"`

	Events []SessionEvent `json:"events"`

	// Truncated is true when the session holds more events than the report
	// lists.
	Truncated bool `json:"truncated,omitempty"`
}

// SessionEvent is one event of a sign-in session: a session fact (login,
// second factor, policy decision, logout), or the issuance of a token in
// the session, such as the Entra sign-in that set it up.
type SessionEvent struct {
	Time      time.Time  `json:"time"`
	Kind      audit.Kind `json:"kind"`               // session or issued
	TokenID   string     `json:"token_id,omitempty"` // the token issued, for kind issued
	Action    string     `json:"action,omitempty"`   // the source's own name, e.g. user.session.start
	Outcome   string     `json:"outcome,omitempty"`  // the result as the source gave it, e.g. FAILURE: INVALID_CREDENTIALS
	Subject   string     `json:"subject,omitempty"`
	ClientID  string     `json:"client_id,omitempty"`
	IP        netip.Addr `json:"ip,omitzero"`
	UserAgent string     `json:"user_agent,omitempty"`
	Geo       audit.Geo  `json:"geo,omitzero"`
	Source    string     `json:"source,omitempty"`
	EventID   string     `json:"event_id"`
}

// sessionEnds are the actions by which identity providers log the end of a
// sign-in session: Keycloak's LOGOUT, Okta's user.session.end, and Auth0's
// slo and back-channel logout. A session event with one of them, and no
// failure as its outcome, ends the session.
var sessionEnds = []string{"LOGOUT", "user.session.end", "slo", "oidc_backchannel_logout_succeeded"}

// sessionEndNotes returns a note for each session of r that ended, with
// the token's uses after the end. The provider then refuses the session's
// refresh tokens, but a service that verifies the token itself accepts it
// until it expires, so a use after the end is suspect: the owner signed out.
func sessionEndNotes(r *TokenReport, events []audit.Event) []string {
	var notes []string
	for _, s := range r.Sessions {
		if s.Basis != "session_id" {
			continue // a lead, not proof that the token belongs to it
		}
		i := slices.IndexFunc(s.Events, func(e SessionEvent) bool {
			return e.Kind == audit.KindSession && slices.Contains(sessionEnds, e.Action) && !strings.HasPrefix(strings.ToUpper(e.Outcome), "FAIL")
		})
		if i < 0 {
			continue
		}
		end := s.Events[i]
		after, first := 0, time.Time{}
		for _, e := range events {
			if (e.Kind == audit.KindUsed || e.Kind == audit.KindRefreshed) && e.Time.After(end.Time) {
				if after == 0 {
					first = e.Time
				}
				after++
			}
		}
		note := fmt.Sprintf("its sign-in session %s ended at %s (%s)", textValue(s.ID), end.Time.UTC().Format(TimeLayout), end.Action)
		if after == 0 {
			notes = append(notes, note+"; no use of the token is recorded after that")
			continue
		}
		notes = append(notes, fmt.Sprintf("%s, but the token was used %s after that, first at %s: the owner had signed out, "+
			"so check who used it, and revoke it (tokentrail revoke --session %s) if the service does not check sessions",
			note, counted(after, "time", "times"), first.UTC().Format(TimeLayout), shellQuote(s.ID)))
	}
	return notes
}

// sessions finds the sign-in sessions of a token's events: those the events
// name, or failing that, the session of the latest session event of the
// token's subject, issuer and client before it was issued.
func sessions(ctx context.Context, db EventQuerier, r *TokenReport, events []audit.Event) ([]Session, error) {
	var ids []string
	for _, e := range events {
		if e.SessionID != "" && !slices.Contains(ids, e.SessionID) {
			ids = append(ids, e.SessionID)
		}
	}

	list := []Session{}
	for _, id := range ids {
		if len(list) == maxSessions {
			break
		}
		s, err := loadSession(ctx, db, id, "session_id")
		if err != nil {
			return nil, err
		}
		if s.tellsMore(r.TokenID) {
			list = append(list, s)
		}
	}
	if len(ids) > 0 || r.Created == nil || r.Created.Subject == "" {
		return list, nil
	}

	// The issuing record names no session: take the session of the
	// subject's latest session event before the issuance.
	issued := r.Created.Time
	recent, err := db.Events(ctx, store.Query{
		Subject: r.Created.Subject,
		Kinds:   []audit.Kind{audit.KindSession},
		Since:   issued.Add(-subjectWindow),
		Until:   issued.Add(time.Nanosecond),
	})
	if err != nil {
		return nil, fmt.Errorf("query sign-ins of subject %q: %w", r.Created.Subject, err)
	}
	for i := len(recent) - 1; i >= 0; i-- {
		e := &recent[i]
		if !compatible(e.Issuer, r.Created.Issuer) || !compatible(e.ClientID, r.Created.ClientID) {
			// Another realm, tenant or application of the same user.
			continue
		}
		if id := e.SessionID; id != "" {
			s, err := loadSession(ctx, db, id, "subject")
			if err != nil {
				return nil, err
			}
			return append(list, s), nil
		}
	}
	return list, nil
}

// tellsMore reports whether s holds more than the issuance of the token
// itself, which the report shows already.
func (s *Session) tellsMore(tokenID string) bool {
	return slices.ContainsFunc(s.Events, func(e SessionEvent) bool {
		return e.Kind == audit.KindSession || e.TokenID != tokenID
	})
}

// compatible reports whether two values of a field can belong to one
// session: equal, one of them unknown, or one issuer written two ways (see
// SameIssuer).
func compatible(a, b string) bool {
	return a == "" || b == "" || SameIssuer(a, b)
}

func loadSession(ctx context.Context, db EventQuerier, id, basis string) (Session, error) {
	found, err := db.Events(ctx, store.Query{
		SessionID: id,
		Kinds:     []audit.Kind{audit.KindSession, audit.KindIssued},
		Limit:     maxSessionEvents + 1,
	})
	if err != nil {
		return Session{}, fmt.Errorf("query events of session %q: %w", id, err)
	}
	s := Session{ID: id, Basis: basis, Events: []SessionEvent{}}
	if len(found) > maxSessionEvents {
		found = found[:maxSessionEvents]
		s.Truncated = true
	}
	for _, e := range found {
		s.Events = append(s.Events, SessionEvent{
			Time: e.Time, Kind: e.Kind, TokenID: e.TokenID, Action: e.Action, Outcome: e.Reason, Subject: e.Subject,
			ClientID: e.ClientID, IP: e.IP, UserAgent: e.UserAgent, Geo: e.Geo,
			Source: e.Source, EventID: e.ID,
		})
	}
	return s, nil
}

// SameIssuer reports whether two issuer values name the same issuer: equal,
// or one is the other's last path segment, as Keycloak events name a realm
// ("acme") whose tokens carry the URL (".../realms/acme").
func SameIssuer(a, b string) bool {
	if a == b {
		return true
	}
	if len(a) < len(b) {
		a, b = b, a
	}
	return b != "" && strings.HasSuffix(strings.TrimRight(a, "/"), "/"+b)
}
