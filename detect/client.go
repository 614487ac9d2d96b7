package detect

import (
	"fmt"
	"hash/maphash"
	"net/netip"
	"strings"
	"time"
)

// The names of the rules in this file.
const (
	RuleConcurrentUse   = "concurrent_use"
	RuleUserAgentChange = "user_agent_change"
)

// maxFamilies bounds the user-agent family names the engine interns. A
// family met after the table is full is copied into each token that
// needs it.
const maxFamilies = 4096

// clientUse is the latest use of a token by one client.
type clientUse struct {
	client uint64 // see clientOf
	at     int64
	id     string // the event; empty when there is no client yet
}

// clientAddress returns the event's address when it may name a client of
// the token: a use whose address is not internal. A use without an address
// gives ok true and an invalid address. Internal addresses are those of
// services that pass the token on behind a gateway, with their own user
// agents, so they never count as clients. A trusted network, such as an
// office's egress, does hold clients: trusting it only keeps it from
// counting as a network change or a location.
func (c *check) clientAddress() (ip netip.Addr, ok bool) {
	if !c.isUse() {
		return netip.Addr{}, false
	}
	ip = c.ev.IP.Unmap()
	if ip.IsValid() && isInternal(ip) {
		return netip.Addr{}, false
	}
	return ip, true
}

// concurrentUse raises concurrent_use when a token's uses go from client A
// to client B and back to A within Window of A's last use before the switch,
// proven by that use, B's latest use and A's return. A single switch, as
// when a laptop moves from home to an office, never raises it. It raises at
// most one anomaly per token.
//
// A client is the hash of the user agent with the ASN of the address, or
// with its network when the ASN is not known, so that a phone whose carrier
// moves it between address pools, or a dual-stack host that alternates
// between IPv4 and IPv6, stays one client. Uses without an address or a
// user agent are not compared.
//
// NOTE: without ASN data, a dual-stack host that alternates between IPv4
// and IPv6 within Window looks like two clients.
func (c *check) concurrentUse() {
	cfg := c.engine.cfg.Rules.ConcurrentUse
	st, ev := c.st, c.ev
	if cfg.Disabled || st.flags&firedConcurrent != 0 || ev.UserAgent == "" {
		return
	}
	ip, ok := c.clientAddress()
	if !ok || !ip.IsValid() {
		return
	}
	now := ev.Time.UnixNano()
	cur := clientUse{client: c.engine.clientOf(ip, ev.Geo.ASN, ev.UserAgent), at: now, id: ev.ID}

	switch {
	case st.client.id == "" || st.client.client == cur.client:
		st.client = cur
		return
	case st.rare == nil || st.rare.previousClient.id == "" || st.rare.previousClient.client != cur.client:
		// A switch to a new client.
		st.rareState().previousClient = st.client
		st.client = cur
		return
	}

	// A switch back to the client before.
	rare := st.rare
	first, between := rare.previousClient, st.client
	rare.previousClient, st.client = st.client, cur
	span := time.Duration(now - first.at)
	if span > cfg.Window {
		return
	}
	st.flags |= firedConcurrent
	c.raise(RuleConcurrentUse, cfg.Severity,
		fmt.Sprintf("Token %s went back and forth between two clients (address or user agent) within %s, the last use from %s: the token is likely copied, so revoke it and find which client is not the owner's.",
			st.key, FormatDuration(span), ip),
		first.id, between.id, cur.id)
}

// clientOf returns the hash that distinguishes the clients of a token:
// the user agent with the ASN, or with the network of ip when asn is zero.
func (e *Engine) clientOf(ip netip.Addr, asn uint32, userAgent string) uint64 {
	where := mix64(uint64(asn)) // ASNs and networks hash apart
	if asn == 0 {
		cfg := e.cfg.Rules.RapidIPChange
		where = ^mix64(networkOf(ip, cfg.IPv4Prefix, cfg.IPv6Prefix))
	}
	return maphash.String(e.seed, userAgent) ^ where
}

// mix64 is the finalizer of SplitMix64: it spreads every input bit over the
// output.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// userAgentChange raises user_agent_change when the user-agent family of a
// token's use differs from the family of its use before, proven by the
// latest use of the old family and the first of the new. A new major
// version of one family is no change. It raises at most one anomaly per
// token, and gives no verdict when Config.UserAgents is nil.
func (c *check) userAgentChange() {
	cfg := c.engine.cfg.Rules.UserAgentChange
	families := c.engine.cfg.UserAgents
	st, ev := c.st, c.ev
	if cfg.Disabled || families == nil || st.flags&firedUserAgent != 0 || ev.UserAgent == "" {
		return
	}
	if _, ok := c.clientAddress(); !ok {
		return
	}
	family := c.userAgentFamily()
	if family == "" {
		return
	}

	switch {
	case st.family == "":
		st.family = c.engine.internFamilyLocked(family)
		st.familyID = ev.ID
		return
	case st.family == family:
		st.familyID = ev.ID
		return
	}

	old, oldID := st.family, st.familyID
	st.family = c.engine.internFamilyLocked(family)
	st.familyID = ev.ID
	st.flags |= firedUserAgent
	c.raise(RuleUserAgentChange, cfg.Severity,
		fmt.Sprintf("Token %s was used by %s after %s: check whether the owner runs both clients, and revoke the token if not.",
			st.key, quoteFamily(family), quoteFamily(old)),
		oldID, ev.ID)
}

// internFamilyLocked returns the engine's copy of family, so that tokens
// share one copy and do not pin the user agent it may have been cut from.
func (e *Engine) internFamilyLocked(family string) string {
	if s, ok := e.mu.families[family]; ok {
		return s
	}
	s := strings.Clone(family)
	if len(e.mu.families) < maxFamilies {
		e.mu.families[s] = s
	}
	return s
}

// quoteFamily quotes a family name for a summary, cut to 64 bytes, since it
// may come from a client's own user agent.
func quoteFamily(family string) string {
	if len(family) > 64 {
		family = family[:64] + "..."
	}
	return fmt.Sprintf("%q", family)
}
