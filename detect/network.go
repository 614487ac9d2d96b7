package detect

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// RuleRapidIPChange is the name of the rule in this file.
const RuleRapidIPChange = "rapid_ip_change"

// networkUse is the latest use of a token from one network.
type networkUse struct {
	network uint64
	at      int64
	id      string
}

// rapidIPChange raises rapid_ip_change when the token has been used from
// more than MaxNetworks networks within Window, proven by the latest use
// from each. It then clears every network but the current one, so that the
// next anomaly needs MaxNetworks new networks.
//
// Internal addresses (see isInternal) and trusted networks do not count:
// a token that moves between services inside a data centre, or leaves
// through a corporate VPN, does not change hands. Documentation ranges do
// count, as they stand for public addresses in examples.
func (c *check) rapidIPChange() {
	cfg := c.engine.cfg.Rules.RapidIPChange
	ev := c.ev
	if cfg.Disabled || !c.isObservation() || !ev.IP.IsValid() {
		return
	}
	ip := ev.IP.Unmap()
	if isInternal(ip) || c.engine.isTrusted(ip) {
		return
	}
	now := ev.Time.UnixNano()
	net := networkOf(ip, cfg.IPv4Prefix, cfg.IPv6Prefix)

	// Forget the networks last used before the window, and refresh or add
	// the current one.
	st := c.st
	cutoff := now - int64(cfg.Window)
	kept := st.networks[:0]
	found := false
	for _, u := range st.networks {
		if u.at < cutoff {
			continue
		}
		if u.network == net {
			u.at, u.id = now, ev.ID
			found = true
		}
		kept = append(kept, u)
	}
	clear(st.networks[len(kept):])
	st.networks = kept
	if !found {
		if st.networks == nil {
			st.networks = make([]networkUse, 0, cfg.MaxNetworks+1)
		}
		st.networks = append(st.networks, networkUse{network: net, at: now, id: ev.ID})
	}
	if len(st.networks) <= cfg.MaxNetworks {
		return
	}
	if st.rare != nil && now < st.rare.networksQuiet {
		// Raised within the last window: a token that goes back and forth
		// between two networks would otherwise raise at every switch. The
		// count starts again from the current network, as after raising.
		clear(st.networks)
		st.networks = append(st.networks[:0], networkUse{network: net, at: now, id: ev.ID})
		return
	}

	ids := make([]string, len(st.networks))
	for i, u := range st.networks {
		ids[i] = u.id
	}
	var span time.Duration
	for _, u := range st.networks {
		span = max(span, time.Duration(now-u.at))
	}
	c.raise(RuleRapidIPChange, cfg.Severity,
		fmt.Sprintf("Token %s was used from %d networks within %s, the last from %s: check whether the subject moved, or whether the token was copied to another client.",
			c.st.key, len(ids), FormatDuration(span), ip),
		ids...)

	st.rareState().networksQuiet = now + int64(cfg.Window)
	clear(st.networks)
	st.networks = append(st.networks[:0], networkUse{network: net, at: now, id: ev.ID})
}

// isObservation reports whether the event shows the token in a client's
// hands: issued to it, used or redeemed. Rejected presentations are left
// to the rules on rejections.
func (c *check) isObservation() bool {
	return c.isUse() || c.ev.Kind == audit.KindIssued
}

// networkOf returns the network of a: the first v4bits of an IPv4 address,
// marked by all ones in the upper 32 bits, or the first v6bits of an IPv6
// address. The IPv4 marking shares its values with IPv6 networks in
// ffff:ffff::/32, which is reserved and not routed.
func networkOf(a netip.Addr, v4bits, v6bits int) uint64 {
	if a.Is4() {
		b := a.As4()
		v := uint64(binary.BigEndian.Uint32(b[:]))
		v &^= 1<<(32-v4bits) - 1
		return 0xffff_ffff<<32 | v
	}
	b := a.As16()
	v := binary.BigEndian.Uint64(b[:8])
	if v6bits < 64 {
		v &^= 1<<(64-v6bits) - 1
	}
	return v
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598).
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// isInternal reports whether a is an address that never reaches the public
// Internet: unspecified, loopback, private (RFC 1918, IPv6 unique local),
// link-local, multicast or carrier-grade NAT.
func isInternal(a netip.Addr) bool {
	return a.IsUnspecified() || a.IsLoopback() || a.IsPrivate() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsMulticast() ||
		cgnat.Contains(a)
}

// reserved lists the special-purpose ranges, besides the internal ones,
// whose addresses have no place on a map. They come from the IANA IPv4 and
// IPv6 special-purpose address registries. For IPv4 they are "this network",
// documentation, benchmarking, future use and broadcast. For IPv6 they are
// the discard, benchmarking, ORCHID and documentation prefixes.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001:2::/48"),
	netip.MustParsePrefix("2001:10::/28"),
	netip.MustParsePrefix("2001:20::/28"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("3fff::/20"),
}

// isReserved reports whether a is internal or in another special-purpose
// range, so that no location of it can be trusted.
func isReserved(a netip.Addr) bool {
	if isInternal(a) {
		return true
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
