package audit

import (
	"fmt"
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
}
