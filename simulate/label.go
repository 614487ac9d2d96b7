package simulate

import (
	"net/netip"
	"time"
)

// Label describes one injected attack: the rule that should find it and
// the events the attacker caused.
type Label struct {
	// ID names the attack, such as "concurrent_use-3".
	ID string `json:"id"`

	// Rule is the rule the attack was built for.
	Rule string `json:"rule"`

	// Token is the jti that the rule's anomaly should name: the victim's
	// token, a forged one or one minted for the attacker. It is empty for
	// the network rules, rejected_burst and shared_ip_many_subjects.
	Token string `json:"token,omitempty"`

	// Network is the attacker's address as a prefix, for the network rules.
	Network netip.Prefix `json:"network,omitzero"`

	// Subject is the victim; empty for attacks on many subjects.
	Subject string `json:"subject,omitempty"`

	// Start and End are the times of the attack's first and last event.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`

	// EventIDs are the IDs of every event the attack caused, as written in
	// events.jsonl. An import derives new IDs from them (see
	// docs/import.md), so they match the events of a Run, not those of a
	// store.
	EventIDs []string `json:"event_ids"`

	// Description says what the attacker did, in one sentence.
	Description string `json:"description"`
}
