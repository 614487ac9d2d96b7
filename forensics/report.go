// Package forensics turns stored events into the reports a responder reads.
// InvestigateToken reports, for one token, where it came from, who used it
// when, whether it was revoked, and which tokens it was minted from or
// minted.
package forensics

import (
	"net/netip"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// Status is a token's state at report time.
type Status string

// The token states.
const (
	StatusActive  Status = "active"  // issued or used, not revoked, and its expiry is in the future
	StatusExpired Status = "expired" // its expiry is in the past
	StatusRevoked Status = "revoked" // a revocation was recorded
	StatusUnknown Status = "unknown" // seen, but no expiry was recorded, so it may still be valid
)

// TokenReport is the result of InvestigateToken. Its JSON form is stable:
// fields may be added, none is renamed or removed without a major version.
type TokenReport struct {
	TokenID     string    `json:"token_id,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"` // the first fingerprint recorded for the token
	GeneratedAt time.Time `json:"generated_at"`          // the report time that Status refers to

	// Type is "refresh" when the token was redeemed or tokens were minted
	// from it, "access" when it was only presented to services, and
	// "unknown" otherwise. It is inferred from the events, which carry no
	// token type.
	Type string `json:"type"`

	Status       Status `json:"status"`
	StatusReason string `json:"status_reason"` // one sentence saying why

	// Notes warn of what could mislead: events of one jti that carry
	// different fingerprints, issuers or subjects (more than one token may
	// share the jti), or a token given by value whose fingerprint no event
	// carries.
	Notes []string `json:"notes"`

	// Created is the issuing event, nil when no issuance was recorded (the
	// token was only seen in use, or its issuer's logs were not imported).
	Created *Creation `json:"created"`

	// Sessions are the sign-in sessions the token belongs to, with what the
	// identity provider logged in them (logins, second factors, policy
	// decisions, logout). Empty when no session event was imported.
	Sessions []Session `json:"sessions"`

	Usage Usage `json:"usage"`

	// Anomalies are the detection findings on this token, oldest first.
	Anomalies []audit.Anomaly `json:"anomalies"`

	Revocations []Revocation `json:"revocations"`
	Rejections  []Rejection  `json:"rejections"`
	Lineage     Lineage      `json:"lineage"`

	// Sources lists where the token's events came from (importer files or
	// service instances, without line numbers): the systems that saw the
	// token.
	Sources []string `json:"sources"`

	// Events is the token's whole trail, oldest first.
	Events []audit.Event `json:"events"`
}

// Creation is the context in which a token was issued.
type Creation struct {
	Time          time.Time  `json:"time"`
	Action        string     `json:"action,omitempty"` // the source's own name for the issuing event
	Subject       string     `json:"subject,omitempty"`
	Issuer        string     `json:"issuer,omitempty"`
	ClientID      string     `json:"client_id,omitempty"`
	SessionID     string     `json:"session_id,omitempty"`
	IP            netip.Addr `json:"ip,omitzero"`
	UserAgent     string     `json:"user_agent,omitempty"`
	Geo           audit.Geo  `json:"geo,omitzero"`
	Scopes        []string   `json:"scopes,omitempty"`
	Audience      []string   `json:"audience,omitempty"`
	ExpiresAt     time.Time  `json:"expires_at,omitzero"`
	ParentTokenID string     `json:"parent_token_id,omitempty"`
	Source        string     `json:"source,omitempty"`
	EventID       string     `json:"event_id"`
}

// Usage summarises the token's "used" events.
type Usage struct {
	Total       int       `json:"total"`
	First       time.Time `json:"first,omitzero"`
	Last        time.Time `json:"last,omitzero"`
	SpanSeconds float64   `json:"span_seconds"`
	// PerMinute is Total divided by the span in minutes, with a span of less
	// than one minute counted as one minute.
	PerMinute float64 `json:"per_minute"`

	// Refreshes counts the times this token was redeemed as a refresh token.
	Refreshes int `json:"refreshes"`

	// Each list is ordered by count, highest first, then by value.
	IPs        []Count `json:"ips"`
	Networks   []Count `json:"networks"` // IPv4 /24 and IPv6 /64 prefixes
	Countries  []Count `json:"countries"`
	UserAgents []Count `json:"user_agents"`
	Subjects   []Count `json:"subjects"` // who the uses were made as
	Paths      []Count `json:"paths"`    // the most used without query string, at most Options.TopPaths

	// Hourly counts uses by hour of the day in UTC: Hourly[0] is 00:00-00:59.
	Hourly [24]int `json:"hourly_utc"`
}

// Count is a value and how many uses carried it.
type Count struct {
	Value string    `json:"value"`
	Count int       `json:"count"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// Revocation is one recorded revocation of the token, or of a session,
// subject or refresh family that it belongs to.
type Revocation struct {
	Time    time.Time              `json:"time"`
	Actor   string                 `json:"actor,omitempty"`
	Reason  string                 `json:"reason,omitempty"`
	Method  audit.RevocationMethod `json:"method,omitempty"`
	Source  string                 `json:"source,omitempty"`
	EventID string                 `json:"event_id"`

	// Covers is the session, subject or refresh family that the revocation
	// revoked with the token, such as "session 8d1c" or "refresh family
	// rt-1". It is empty for a revocation of the token itself.
	Covers string `json:"covers,omitempty"`
}

// Rejection is one recorded refusal of the token.
type Rejection struct {
	Time      time.Time          `json:"time"`
	Reason    audit.RejectReason `json:"reason,omitempty"`
	Detail    string             `json:"detail,omitempty"`
	IP        netip.Addr         `json:"ip,omitzero"`
	UserAgent string             `json:"user_agent,omitempty"`
	Method    string             `json:"method,omitempty"`
	Path      string             `json:"path,omitempty"`
	Status    int                `json:"status,omitempty"`
	Source    string             `json:"source,omitempty"`
	EventID   string             `json:"event_id"`
}

// Lineage links a token to the refresh token it was minted from and to the
// tokens minted from it.
type Lineage struct {
	Parent   string      `json:"parent,omitempty"`
	Children []TokenLink `json:"children"`
}

// TokenLink is a token minted from the investigated one.
type TokenLink struct {
	TokenID string     `json:"token_id"`
	Time    time.Time  `json:"time"`
	Kind    audit.Kind `json:"kind"`
}
