package detect

import (
	"net/netip"
	"slices"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// tokenState is the engine's record of one token. Times are Unix
// nanoseconds of event time, and zero means "not known". Event ID strings
// are shared with the events they came from, not copied.
//
// The fields that most tokens need sit inline. The ones that only some
// tokens need (a redemption, a raised anomaly, a second client) sit in
// rare, allocated on first need, which keeps the state of an ordinary
// token small. A token's revocation is kept apart from its state, in
// Engine.mu.revokedIDs and revokedFingerprints, so that dropping the state
// does not forget it.
type tokenState struct {
	key          string
	newer, older *tokenState // neighbours in the engine's list by last use
	last         int64       // time of the latest event checked in order

	// Validity, from the first event that stated it, and that event's ID.
	expires, notBefore, issuedAt int64
	lifetimeID                   string

	flags flags

	networks []networkUse // for rapid_ip_change, at most MaxNetworks+1

	// uses counts the uses in the buckets of HighFrequency.Window.
	uses windowCounter

	place place // the latest geolocated use, for impossible_travel

	client clientUse // the latest client, for concurrent_use

	// family is the user-agent family of the latest use that had one, and
	// familyID that use, for user_agent_change.
	family   string
	familyID string

	// root is the hash (Engine.lineageKey) of the id of the first token
	// of the refresh lineage, known from the parent an event named; 0 for
	// a token with no known parent. A family revocation names its root. A
	// hash and not the id, so that the state stays in its size class.
	root uint64

	rare *tokenRare

	custom *tokenCustom // only with custom rules
}

// tokenRare holds the state that only some tokens need.
type tokenRare struct {
	redeemedAt int64 // first redemption of a refresh token
	redeemID   string

	frequencyQuiet int64 // high_frequency stays quiet until this time

	// frequencyUses are the latest uses, at most frequencyEvidence-1,
	// checked while the count of high_frequency was close enough to
	// MaxUses that they may be cited when it passes.
	frequencyUses []timedID
	networksQuiet int64 // rapid_ip_change stays quiet until this time

	previousClient clientUse // the client before client, for concurrent_use

	raised []string // IDs of the anomalies raised on this token
}

// flags marks facts about a token: the rules that raise at most one
// anomaly per token, and whether the token was seen issued.
type flags uint16

const (
	firedRevoked flags = 1 << iota
	firedExpired
	firedNotYetValid
	firedReuse
	firedConcurrent
	firedUserAgent
	firedUnknown
	firedThreatIntel

	seenIssued    // an issued event of the token was checked
	unknownQueued // a use of the token waits for its unknown_token verdict
)

// rareState returns st.rare, allocated if needed.
func (st *tokenState) rareState() *tokenRare {
	if st.rare == nil {
		st.rare = &tokenRare{}
	}
	return st.rare
}

// check is one event being checked against the rules of one token.
type check struct {
	engine *Engine
	st     *tokenState
	ev     *audit.Event
	out    []audit.Anomaly

	// family is the user-agent family of the event, once familyRead.
	family     string
	familyRead bool
}

// userAgentFamily returns the user-agent family of the event, asking
// Config.UserAgents at most once per check. It is "" when the event has no
// user agent, the agent names no client, or Config.UserAgents is nil.
func (c *check) userAgentFamily() string {
	if !c.familyRead {
		c.familyRead = true
		if families := c.engine.cfg.UserAgents; families != nil && c.ev.UserAgent != "" {
			c.family, _ = families.UserAgent(c.ev.UserAgent)
		}
	}
	return c.family
}

// isUse reports whether the event shows the token presented and accepted:
// used, or redeemed when it is a refresh token.
func (c *check) isUse() bool {
	return c.ev.Kind == audit.KindUsed || c.ev.Kind == audit.KindRefreshed
}

// raise appends an anomaly of rule, proven by the events ids and completed
// by the event being checked, unless the token already raised one with the
// same ID.
func (c *check) raise(rule string, severity audit.Severity, summary string, ids ...string) {
	c.out = c.engine.raiseLocked(c.out, c.st, completionOf(c.ev), rule, severity, summary, ids...)
}

// completion is the part of the event that completed an anomaly's
// evidence that the anomaly keeps: its time, its subject and its client.
type completion struct {
	at        time.Time
	subject   string
	ip        netip.Addr
	asn       uint32
	org       string
	country   string
	userAgent string
}

func completionOf(ev *audit.Event) completion {
	return completion{
		at:        ev.Time,
		subject:   ev.Subject,
		ip:        ev.IP,
		asn:       ev.Geo.ASN,
		org:       ev.Geo.Org,
		country:   ev.Geo.Country,
		userAgent: ev.UserAgent,
	}
}

// anomaly returns the anomaly of rule on token, proven by the events ids
// and completed by d. Its ID is derived from the rule and the events
// idFrom, which are ids for most rules.
func (d *completion) anomaly(rule string, severity audit.Severity, token, summary string, idFrom, ids []string) audit.Anomaly {
	return audit.Anomaly{
		ID:        audit.NewID(append([]string{rule}, idFrom...)...),
		Rule:      rule,
		Severity:  severity,
		Time:      d.at,
		TokenID:   token,
		Subject:   d.subject,
		EventIDs:  ids,
		Summary:   summary,
		IP:        d.ip,
		ASN:       d.asn,
		Org:       d.org,
		Country:   d.country,
		UserAgent: d.userAgent,
	}
}

// raiseLocked appends to out an anomaly of rule on the token st, completed
// by done and proven by the events ids, unless the token already raised one
// with the same ID.
func (e *Engine) raiseLocked(out []audit.Anomaly, st *tokenState, done completion, rule string, severity audit.Severity, summary string, ids ...string) []audit.Anomaly {
	return e.raiseCitingLocked(out, st, done, rule, severity, summary, ids, ids)
}

// raiseCitingLocked is raiseLocked for an anomaly whose ID derives from
// the events idFrom while its evidence cites the events ids.
func (e *Engine) raiseCitingLocked(out []audit.Anomaly, st *tokenState, done completion, rule string, severity audit.Severity, summary string, idFrom, ids []string) []audit.Anomaly {
	a := done.anomaly(rule, severity, st.key, summary, idFrom, ids)
	if st.rare != nil && slices.Contains(st.rare.raised, a.ID) {
		return out
	}
	rare := st.rareState()
	rare.raised = append(rare.raised, a.ID)
	e.mu.stats.Anomalies++
	return append(out, a)
}

// timedID is an event's ID and its time in Unix nanoseconds.
type timedID struct {
	at int64
	id string
}
