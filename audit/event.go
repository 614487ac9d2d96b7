// Package audit holds the tokentrail data model: one Event for each fact in a
// token's life (issued, used, refreshed, revoked, rejected) or in its sign-in
// session, the Geo context of an address, and the Anomaly that detection
// raises over events.
//
// An Event never carries a raw token. A token is known by its jti (TokenID)
// and by the SHA-256 fingerprint of its compact form; ParseToken derives both.
package audit

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is one fact in the life of a token. ID, Time, Kind, and TokenID or
// Fingerprint are required, except on session events and on revocations of
// a session or subject; every other field is optional and its zero value
// means "not known". Validate checks the rules.
type Event struct {
	// ID identifies the event. It is stable: importing the same record twice,
	// or delivering it twice over an at-least-once transport, yields the same
	// ID, and stores keep only the first copy. See NewID.
	ID string `json:"id"`

	// Time is when the fact happened (event time, not ingestion time), in UTC.
	Time time.Time `json:"time"`

	Kind Kind `json:"kind"`

	// Action is the source's own name for what happened, such as Okta's
	// eventType, Auth0's log type or Keycloak's event type, so that a
	// responder can find the original record.
	Action string `json:"action,omitempty"`

	// Identity of the token.
	TokenID       string    `json:"token_id,omitempty"`        // the jti claim, or the identity provider's token id
	Fingerprint   string    `json:"fingerprint,omitempty"`     // lowercase hex SHA-256 of the compact token
	Issuer        string    `json:"issuer,omitempty"`          // iss, or the realm or tenant that minted it
	Subject       string    `json:"subject,omitempty"`         // sub, or the user or service account
	Audience      []string  `json:"audience,omitempty"`        // aud
	ClientID      string    `json:"client_id,omitempty"`       // azp or client_id
	SessionID     string    `json:"session_id,omitempty"`      // sid, or the identity provider's session
	ParentTokenID string    `json:"parent_token_id,omitempty"` // the refresh token this token was minted from
	Scopes        []string  `json:"scopes,omitempty"`
	IssuedAt      time.Time `json:"issued_at,omitzero"`
	NotBefore     time.Time `json:"not_before,omitzero"`
	ExpiresAt     time.Time `json:"expires_at,omitzero"`

	// Context of the request that issued, used or presented the token.
	IP        netip.Addr `json:"ip,omitzero"`
	UserAgent string     `json:"user_agent,omitempty"`
	Geo       Geo        `json:"geo,omitzero"`
	Method    string     `json:"method,omitempty"` // HTTP method or API verb
	Path      string     `json:"path,omitempty"`   // request path or URI
	Status    int        `json:"status,omitempty"` // HTTP status code, 0 when unknown
	TraceID   string     `json:"trace_id,omitempty"`

	// Revocation and rejection.
	Actor            string           `json:"actor,omitempty"`  // who revoked the token
	Reason           string           `json:"reason,omitempty"` // why, in the actor's words
	RevocationMethod RevocationMethod `json:"revocation_method,omitempty"`
	RevocationScope  RevocationScope  `json:"revocation_scope,omitempty"` // what a revoked event revokes; empty means one token
	RejectReason     RejectReason     `json:"reject_reason,omitempty"`

	// Source is the origin of the event: a service instance, or an
	// importer's "file:line".
	Source string `json:"source,omitempty"`
}

// Geo is the location of an address, as an enrichment database or the
// identity provider reported it. The zero Geo means "no location".
type Geo struct {
	Country    string  `json:"country,omitempty"` // ISO 3166-1 alpha-2 code where known, else a name
	City       string  `json:"city,omitempty"`
	Latitude   float64 `json:"latitude,omitempty"`
	Longitude  float64 `json:"longitude,omitempty"`
	AccuracyKM float64 `json:"accuracy_km,omitempty"` // radius of the location's uncertainty
	ASN        uint32  `json:"asn,omitempty"`
	Org        string  `json:"org,omitempty"` // the network's owner
}

// HasCoordinates reports whether g carries a usable position. 0/0 is what
// exports write when they have none, so it counts as no position.
func (g Geo) HasCoordinates() bool {
	return (g.Latitude != 0 || g.Longitude != 0) &&
		g.Latitude >= -90 && g.Latitude <= 90 &&
		g.Longitude >= -180 && g.Longitude <= 180
}

// IsZero reports whether g holds nothing.
func (g Geo) IsZero() bool { return g == Geo{} }

// maxFieldBytes bounds every free-text field, so that one hostile record
// cannot make the store or a report grow without bound.
const maxFieldBytes = 8 << 10

// Validate reports the first rule e breaks, as a *FieldError naming the field
// and the value, or nil when e is valid. These are the rules:
//   - ID, Time and a valid Kind are present, and Time lies between the years
//     1678 and 2261.
//   - TokenID or Fingerprint is present. A KindSession event may have a
//     SessionID instead. A Fingerprint is 64 lowercase hex digits.
//   - RevocationScope is set on revoked events only, and the field that
//     names its target is present: TokenID for RevokeFamily, SessionID for
//     RevokeSession and Subject for RevokeSubject. A session or subject
//     revocation needs no TokenID or Fingerprint.
//   - Text fields are valid UTF-8 of at most 8 KiB and contain no raw JWT.
//     Sanitize repairs them.
//   - Status, when present, is an HTTP status code (100 to 599).
func (e *Event) Validate() error {
	if err := e.validateFields(); err != nil {
		return err
	}
	return e.validateText()
}

// Prepare runs Sanitize and then Validate, as every importer and the
// recorder do with each event before they hand it on. It scans the text
// fields once: Sanitize leaves no raw token, invalid UTF-8 or over-long
// text, so Validate's look at the text would find nothing.
func (e *Event) Prepare() error {
	e.Sanitize()
	return e.validateFields()
}

// validateFields checks every rule of Validate but those on text fields.
func (e *Event) validateFields() error {
	switch {
	case e.ID == "":
		return &FieldError{Field: "ID", Reason: "is missing"}
	case e.Time.IsZero():
		return &FieldError{Field: "Time", Reason: "is missing"}
	case e.Time.Before(minEventTime) || e.Time.After(maxEventTime):
		return &FieldError{Field: "Time", Value: e.Time.UTC().Format(time.RFC3339), Reason: "is outside the years 1678 to 2261 that stores can keep"}
	case e.Kind == 0:
		return &FieldError{Field: "Kind", Reason: "is missing: want one of " + kindList}
	case !e.Kind.Valid():
		return &FieldError{Field: "Kind", Value: e.Kind.String(), Reason: "is not one of " + kindList}
	case e.Kind == KindSession && e.SessionID == "" && e.TokenID == "" && e.Fingerprint == "":
		return &FieldError{Field: "SessionID", Reason: "is missing, and a session event names no token either"}
	}
	if err := e.validateTarget(); err != nil {
		return err
	}
	if e.Fingerprint != "" && !IsFingerprint(e.Fingerprint) {
		return &FieldError{Field: "Fingerprint", Value: e.Fingerprint, Reason: "is not 64 lowercase hex digits (a SHA-256)"}
	}
	if e.Status != 0 && (e.Status < 100 || e.Status > 599) {
		return &FieldError{Field: "Status", Value: strconv.Itoa(e.Status), Reason: "is not an HTTP status code (100 to 599)"}
	}
	if !e.RevocationMethod.Valid() {
		return &FieldError{Field: "RevocationMethod", Value: string(e.RevocationMethod), Reason: "is not one of api, admin, logout, automated"}
	}
	if !e.RejectReason.Valid() {
		return &FieldError{Field: "RejectReason", Value: string(e.RejectReason), Reason: "is not one of " + rejectReasonList}
	}
	return nil
}

// validateTarget checks that an event other than a session event names what
// it concerns: a token, or the family, session or subject that a revoked
// event revokes.
func (e *Event) validateTarget() error {
	if !e.RevocationScope.Valid() {
		return &FieldError{Field: "RevocationScope", Value: string(e.RevocationScope), Reason: "is not one of token, family, session, subject"}
	}
	if e.RevocationScope != "" && e.Kind != KindRevoked {
		return &FieldError{Field: "RevocationScope", Value: string(e.RevocationScope), Reason: "is set on a " + e.Kind.String() + " event, but only revoked events have one"}
	}

	switch e.RevocationScope {
	case RevokeFamily:
		if e.TokenID == "" {
			return &FieldError{Field: "TokenID", Reason: "is missing, and a family revocation names its family by the id of the root refresh token"}
		}
	case RevokeSession:
		if e.SessionID == "" {
			return &FieldError{Field: "SessionID", Reason: "is missing, and a session revocation names the session it revokes"}
		}
	case RevokeSubject:
		if e.Subject == "" {
			return &FieldError{Field: "Subject", Reason: "is missing, and a subject revocation names the subject it revokes"}
		}
	default:
		if e.Kind != KindSession && e.TokenID == "" && e.Fingerprint == "" {
			return &FieldError{Field: "TokenID", Reason: "is missing, and so is the fingerprint, so the event names no token: give the token's jti, its SHA-256 fingerprint or both"}
		}
	}
	return nil
}

// validateText checks every free-text field without allocating, because
// Validate runs once for every imported or recorded event.
func (e *Event) validateText() error {
	fields := [...]struct{ name, value string }{
		{"ID", e.ID}, {"Action", e.Action}, {"TokenID", e.TokenID}, {"Issuer", e.Issuer}, {"Subject", e.Subject},
		{"ClientID", e.ClientID}, {"SessionID", e.SessionID}, {"ParentTokenID", e.ParentTokenID},
		{"UserAgent", e.UserAgent}, {"Method", e.Method}, {"Path", e.Path}, {"TraceID", e.TraceID},
		{"Actor", e.Actor}, {"Reason", e.Reason}, {"Source", e.Source},
		{"Geo.Country", e.Geo.Country}, {"Geo.City", e.Geo.City}, {"Geo.Org", e.Geo.Org},
	}
	for _, f := range fields {
		if err := checkText(f.name, f.value); err != nil {
			return err
		}
	}
	for _, a := range e.Audience {
		if err := checkText("Audience", a); err != nil {
			return err
		}
	}
	for _, s := range e.Scopes {
		if err := checkText("Scopes", s); err != nil {
			return err
		}
	}
	return nil
}

func checkText(name, value string) error {
	if ContainsToken(value) {
		// The value is not quoted: it holds the token.
		return &FieldError{Field: name, Reason: "contains a raw JWT, which must never be stored; pass the event through Sanitize, or record the jti and Fingerprint instead"}
	}
	if !utf8.ValidString(value) {
		return &FieldError{Field: name, Value: strings.ToValidUTF8(value, "\uFFFD"), Reason: "is not valid UTF-8"}
	}
	if len(value) > maxFieldBytes {
		return &FieldError{Field: name, Value: strings.ToValidUTF8(value[:64], "") + "...", Reason: "is longer than 8 KiB"}
	}
	return nil
}

// Token returns the identity that groups e with the other events of the same
// token: the TokenID when known, else the Fingerprint.
func (e *Event) Token() string {
	if e.TokenID != "" {
		return e.TokenID
	}
	return e.Fingerprint
}

func quote(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strconv.Quote(s)
}
