package detect

import (
	"slices"

	"github.com/tokentrail/tokentrail/audit"
)

// tokenState is the engine's record of one token. Times are Unix
// nanoseconds of event time, and zero means "not known". Event ID strings
// are shared with the events they came from, not copied.
type tokenState struct {
	key          string
	newer, older *tokenState // neighbours in the engine's list by last use
	last         int64       // time of the latest event checked in order

	// Validity, from the first event that stated it, and that event's ID.
	expires, notBefore, issuedAt int64
	lifetimeID                   string

	revokedAt  int64
	revokeID   string
	redeemedAt int64 // first redemption of a refresh token
	redeemID   string

	fired fired

	networks []networkUse // for rapid_ip_change, at most MaxNetworks+1

	// uses counts the uses of each of the last frequencyBuckets buckets of
	// HighFrequency.Window/frequencyBuckets, the last one being bucket.
	uses           [frequencyBuckets]uint32
	bucket         int64
	frequencyQuiet int64 // high_frequency stays quiet until this time

	place place // the latest geolocated use, for impossible_travel

	raised []string // IDs of the anomalies raised on this token
}

// fired marks the rules that raise at most one anomaly per token.
type fired uint8

const (
	firedRevoked fired = 1 << iota
	firedExpired
	firedNotYetValid
	firedReuse
)

// check is one event being checked against the rules of one token.
type check struct {
	engine *Engine
	st     *tokenState
	ev     *audit.Event
	out    []audit.Anomaly
}

// isUse reports whether the event shows the token presented and accepted:
// used, or redeemed when it is a refresh token.
func (c *check) isUse() bool {
	return c.ev.Kind == audit.KindUsed || c.ev.Kind == audit.KindRefreshed
}

// raise appends an anomaly of rule, proven by the events ids, unless the
// token already raised one with the same ID.
func (c *check) raise(rule string, severity audit.Severity, summary string, ids ...string) {
	id := audit.NewID(append([]string{rule}, ids...)...)
	if slices.Contains(c.st.raised, id) {
		return
	}
	c.st.raised = append(c.st.raised, id)
	c.engine.mu.stats.Anomalies++
	c.out = append(c.out, audit.Anomaly{
		ID:       id,
		Rule:     rule,
		Severity: severity,
		Time:     c.ev.Time,
		TokenID:  c.st.key,
		Subject:  c.ev.Subject,
		EventIDs: ids,
		Summary:  summary,
	})
}
