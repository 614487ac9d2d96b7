package audit

import (
	"fmt"
	"net/netip"
	"time"
)

// Severity ranks an Anomaly. The zero Severity is invalid.
type Severity uint8

// The severities, from least to most urgent.
const (
	SeverityLow Severity = iota + 1
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{
	SeverityLow:      "low",
	SeverityMedium:   "medium",
	SeverityHigh:     "high",
	SeverityCritical: "critical",
}

// String returns the lowercase name of s.
func (s Severity) String() string {
	if s >= SeverityLow && s <= SeverityCritical {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", uint8(s))
}

// MarshalText encodes s as its lowercase name.
func (s Severity) MarshalText() ([]byte, error) {
	if s < SeverityLow || s > SeverityCritical {
		return nil, fmt.Errorf("audit: invalid severity %d", uint8(s))
	}
	return []byte(severityNames[s]), nil
}

// UnmarshalText decodes "low", "medium", "high" or "critical".
func (s *Severity) UnmarshalText(text []byte) error {
	for v := SeverityLow; v <= SeverityCritical; v++ {
		if severityNames[v] == string(text) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("%w: severity %q (want low, medium, high or critical)", ErrInvalidValue, text)
}

// Anomaly is a finding of detection: a rule that fired on one token's events.
type Anomaly struct {
	ID       string    `json:"id"` // stable: the same evidence yields the same ID
	Rule     string    `json:"rule"`
	Severity Severity  `json:"severity"`
	Time     time.Time `json:"time"` // event time of the event that completed the evidence
	TokenID  string    `json:"token_id,omitempty"`
	Subject  string    `json:"subject,omitempty"`
	EventIDs []string  `json:"event_ids"` // the events that prove it
	Summary  string    `json:"summary"`   // one sentence a responder can act on

	// The client of the event that completed the evidence, so that
	// anomalies can be grouped by network, ASN and user agent across tokens
	// and subjects. Each is zero when that event did not carry it.
	IP        netip.Addr `json:"ip,omitzero"`
	ASN       uint32     `json:"asn,omitempty"`
	Org       string     `json:"org,omitempty"`
	Country   string     `json:"country,omitempty"`
	UserAgent string     `json:"user_agent,omitempty"`
}

// Validate reports the first rule a breaks, as a *FieldError, or nil. ID,
// Rule, a valid Severity, a Time that stores can keep and a Summary must be
// present. The text fields must be valid UTF-8 of at most 8 KiB, without a
// raw JWT.
func (a *Anomaly) Validate() error {
	switch {
	case a.ID == "":
		return &FieldError{Field: "ID", Reason: "is missing"}
	case a.Rule == "":
		return &FieldError{Field: "Rule", Reason: "is missing"}
	case a.Severity < SeverityLow || a.Severity > SeverityCritical:
		return &FieldError{Field: "Severity", Value: a.Severity.String(), Reason: "is not one of low, medium, high, critical"}
	case a.Time.IsZero():
		return &FieldError{Field: "Time", Reason: "is missing"}
	case a.Time.Before(minEventTime) || a.Time.After(maxEventTime):
		return &FieldError{Field: "Time", Value: a.Time.UTC().Format(time.RFC3339), Reason: "is outside the years 1678 to 2261 that stores can keep"}
	case a.Summary == "":
		return &FieldError{Field: "Summary", Reason: "is missing"}
	}
	for _, f := range [...]struct{ name, value string }{
		{"ID", a.ID}, {"Rule", a.Rule}, {"TokenID", a.TokenID}, {"Subject", a.Subject}, {"Summary", a.Summary},
		{"Org", a.Org}, {"Country", a.Country}, {"UserAgent", a.UserAgent},
	} {
		if err := checkText(f.name, f.value); err != nil {
			return err
		}
	}
	for _, id := range a.EventIDs {
		if err := checkText("EventIDs", id); err != nil {
			return err
		}
	}
	return nil
}
