package forensics

import (
	"net/netip"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// TimeLayout is the layout of the times in the sentences of the reports:
// an incident report's Notes, Exposure.Reason and plan reasons, and a token
// report's StatusReason and revocations' Covers. The text reports of the
// tokentrail command and the web UI print times in it too. The plan's
// commands and API requests give RFC 3339, the form the revoke flags take.
const TimeLayout = "2006-01-02 15:04:05Z"

// formatTime returns t in UTC as TimeLayout gives it.
func formatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// IncidentReport is the result of AnalyzeIncident. Its JSON form is stable
// in the same way as TokenReport's: fields may be added, none is renamed or
// removed without a major version.
type IncidentReport struct {
	Subject     string    `json:"subject"`
	At          time.Time `json:"at"`           // the moment the analysis centers on
	Since       time.Time `json:"since"`        // start of the window, inclusive
	Until       time.Time `json:"until"`        // end of the window, exclusive
	GeneratedAt time.Time `json:"generated_at"` // the report time

	// Notes warn of what the report leaves out or cannot tell: a timeline
	// cut at its limit, tokens or networks over their limits, or evidence
	// that reads two ways.
	Notes []string `json:"notes"`

	// Timeline merges, oldest first, the events of the subject's tokens and
	// the events from the suspicious networks in the window.
	Timeline []TimelineEntry `json:"timeline"`

	// Truncated is true when the timeline holds fewer events than were
	// found. Events of the subject and events that anomalies mark are kept
	// first.
	Truncated bool `json:"truncated,omitempty"`

	Suspicious SuspiciousSet `json:"suspicious"`
	Impact     Impact        `json:"impact"`

	// Anomalies are the findings that implicate the subject's tokens or the
	// suspicious networks, oldest first.
	Anomalies []audit.Anomaly `json:"anomalies"`

	// Patterns are the traits the subject's tokens share, such as one rule
	// on several tokens, one network behind several tokens, or forged
	// tokens tried and accepted.
	Patterns []Pattern `json:"patterns"`

	// Plan is the remediation plan, most urgent step first.
	Plan []RemediationStep `json:"plan"`
}

// TimelineEntry is one event of the incident's timeline.
type TimelineEntry struct {
	Time        time.Time  `json:"time"`
	Kind        audit.Kind `json:"kind"`
	EventID     string     `json:"event_id"`
	TokenID     string     `json:"token_id,omitempty"`
	Fingerprint string     `json:"fingerprint,omitempty"`
	Subject     string     `json:"subject,omitempty"`
	Action      string     `json:"action,omitempty"` // the source's own name for what happened, such as LOGIN_ERROR

	IP        netip.Addr `json:"ip,omitzero"`
	Network   string     `json:"network,omitempty"` // the /24 or /64 of IP
	Location  Location   `json:"location,omitzero"`
	UserAgent string     `json:"user_agent,omitempty"`
	Method    string     `json:"method,omitempty"`
	Path      string     `json:"path,omitempty"`
	Status    int        `json:"status,omitempty"`

	RejectReason audit.RejectReason `json:"reject_reason,omitempty"`
	Actor        string             `json:"actor,omitempty"`  // who revoked, for kind revoked
	Reason       string             `json:"reason,omitempty"` // why it was revoked, or the detail of a rejection

	// Origin is the reason the event is in the timeline: "subject" (an event of
	// the subject's tokens), "network" (an event from a suspicious
	// network), or "both".
	Origin string `json:"origin"`

	// FromSuspiciousNetwork is true when IP lies in a suspicious network.
	FromSuspiciousNetwork bool `json:"from_suspicious_network"`

	// Anomalies are the rules whose evidence includes this event.
	Anomalies []AnomalyMark `json:"anomalies,omitempty"`
}

// Location is where an address is, as enrichment recorded it.
type Location struct {
	Country string `json:"country,omitempty"`
	City    string `json:"city,omitempty"`
	ASN     uint32 `json:"asn,omitempty"`
	Org     string `json:"org,omitempty"`
}

// AnomalyMark names an anomaly whose evidence includes an event.
type AnomalyMark struct {
	ID       string         `json:"id"`
	Rule     string         `json:"rule"`
	Severity audit.Severity `json:"severity"`

	// Role is MarkCompleting for the event that completed the evidence,
	// and MarkEarlier for an event before it, such as the owner's use
	// before a change of user agent.
	Role string `json:"role"`
}

// The roles of an AnomalyMark.
const (
	MarkCompleting = "completing" // the event at the anomaly's time, which raised it
	MarkEarlier    = "earlier"    // an earlier event of the evidence
)

// SuspiciousSet is what the anomalies implicate.
type SuspiciousSet struct {
	Tokens   []SuspiciousToken   `json:"tokens"`
	Networks []SuspiciousNetwork `json:"networks"`
}

// SuspiciousToken is a token that an anomaly names, or that was presented
// from a suspicious network.
type SuspiciousToken struct {
	TokenID string `json:"token_id"`
	Subject string `json:"subject,omitempty"`

	// Rules are the rules that fired on the token, and "suspicious_network"
	// when it was presented from a suspicious network.
	Rules []string `json:"rules"`

	MaxSeverity audit.Severity `json:"max_severity,omitempty"`
}

// SuspiciousNetwork is the /24 (IPv4) or /64 (IPv6) of an address that an
// anomaly names.
type SuspiciousNetwork struct {
	Network   string   `json:"network"`   // the prefix, e.g. 198.51.100.0/24
	Addresses []string `json:"addresses"` // the anomalies' addresses in it
	ASN       uint32   `json:"asn,omitempty"`
	Org       string   `json:"org,omitempty"`
	Country   string   `json:"country,omitempty"`
	Rules     []string `json:"rules"` // the rules whose anomalies name it

	// Events counts the events from the network in the window, and
	// Truncated is true when more were found than the timeline takes.
	Events    int  `json:"events"`
	Truncated bool `json:"truncated,omitempty"`

	First time.Time `json:"first,omitzero"` // first event from the network in the window
	Last  time.Time `json:"last,omitzero"`  // last event from the network in the window
}

// Impact is what the suspicious networks reached.
type Impact struct {
	// Tokens were accepted from a suspicious network: used or refreshed
	// with a status below 400 or none recorded.
	Tokens []ImpactedToken `json:"tokens"`

	// Subjects are the owners of those tokens. Other is true for a subject
	// other than the one analyzed.
	Subjects []ImpactedSubject `json:"subjects"`

	Paths  []Count `json:"paths"`  // paths requested, without query string, highest count first
	Scopes []Count `json:"scopes"` // scopes of the impacted tokens, by number of tokens

	// Rejected counts, by reject reason, the tokens presented from a
	// suspicious network and refused: attempts that failed.
	Rejected map[audit.RejectReason]int `json:"rejected"`

	// Exposure is the span in which a suspicious network held working
	// tokens. Start and End are the first and last accepted use. Open is
	// true when an impacted token was neither revoked nor expired at the
	// end of the window, so the exposure may go on.
	Exposure Exposure `json:"exposure"`
}

// Exposure is when a suspicious network held working tokens.
type Exposure struct {
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	Open  bool      `json:"open"`

	// UsesAfterRevocation counts the accepted uses that came later than
	// their token's first revocation, summed over the impacted tokens, and
	// LastAfterRevocation is the last of them. A revocation takes a while
	// to reach every service, so these uses are expected within seconds
	// of it, and a sign that it is not enforced later.
	UsesAfterRevocation int       `json:"uses_after_revocation"`
	LastAfterRevocation time.Time `json:"last_after_revocation,omitzero"`

	// Reason is the one sentence that explains why the exposure is open or
	// closed.
	Reason string `json:"reason"`
}

// ImpactedToken is a token accepted from a suspicious network.
type ImpactedToken struct {
	TokenID   string    `json:"token_id"`
	Subject   string    `json:"subject,omitempty"`
	SessionID string    `json:"session_id,omitempty"`
	Family    string    `json:"family,omitempty"` // root refresh token of its lineage, when it has a parent
	Scopes    []string  `json:"scopes,omitempty"`
	Uses      int       `json:"uses"` // accepted uses and refreshes from suspicious networks
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`

	// Revoked is the time of its first revocation, zero when none is
	// recorded. ExpiresAt is zero when no expiry is recorded.
	Revoked   time.Time `json:"revoked,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`

	// UsesAfterRevocation counts the uses of Uses later than Revoked, and
	// LastAfterRevocation is the last of them. They are zero when the
	// token is not revoked, or beyond IncidentOptions.MaxTokens.
	UsesAfterRevocation int       `json:"uses_after_revocation"`
	LastAfterRevocation time.Time `json:"last_after_revocation,omitzero"`
}

// ImpactedSubject is an owner of tokens accepted from a suspicious network.
type ImpactedSubject struct {
	Subject string   `json:"subject"`
	Other   bool     `json:"other"` // not the subject analyzed
	Tokens  []string `json:"tokens"`
}

// Pattern is something several of the subject's tokens share.
type Pattern struct {
	Name        string   `json:"name"`        // one of the Pattern* constants
	Description string   `json:"description"` // one sentence a responder can read
	Tokens      []string `json:"tokens"`
	Count       int      `json:"count"` // events or tokens behind it, as Description states
}

// The pattern names.
const (
	PatternRuleOnTokens    = "rule_on_several_tokens"     // one rule fired on several tokens
	PatternNetworkOnTokens = "network_on_several_tokens"  // one suspicious network presented several tokens
	PatternForgedAttempts  = "forged_token_attempts"      // tokens refused as forged or malformed from suspicious networks
	PatternForgedAccepted  = "forged_token_accepted"      // a token refused as forged was accepted elsewhere
	PatternUnknownAccepted = "unknown_token_accepted"     // a token its issuer never issued was accepted
	PatternRefreshFamily   = "refresh_family_compromised" // a refresh lineage was used from a suspicious network
)

// RemediationStep is one step of the remediation plan.
type RemediationStep struct {
	Rank   int    `json:"rank"` // 1 is the most urgent
	Action string `json:"action"`
	Reason string `json:"reason"` // why, from the evidence

	// Command is the shell command that carries the step out, and API the
	// HTTP request of the tokentrail server for it. Either is empty when no
	// such command exists, and Manual then says what to do.
	Command string `json:"command,omitempty"`
	API     string `json:"api,omitempty"`
	Manual  string `json:"manual,omitempty"`

	Targets []string `json:"targets"` // the tokens, families, subjects, sessions or networks acted on
}

// The remediation actions.
const (
	ActionRotateSigningKey  = "rotate_signing_key"
	ActionEnforceRevocation = "enforce_revocation"
	ActionBlockNetwork      = "block_network"
	ActionRevokeToken       = "revoke_token"
	ActionRevokeFamily      = "revoke_family"
	ActionRevokeSubject     = "revoke_subject_tokens"
	ActionEndSession        = "force_reauthentication"
)
