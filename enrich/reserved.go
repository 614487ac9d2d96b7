package enrich

import "net/netip"

// Classes of reserved addresses that Reserved reports. No geolocation or ASN
// database can locate a client in these ranges, so Enrich never looks them
// up.
const (
	ClassInvalid       = "invalid"        // the zero netip.Addr
	ClassUnspecified   = "unspecified"    // 0.0.0.0, ::
	ClassThisNetwork   = "this-network"   // 0.0.0.0/8 (RFC 791)
	ClassLoopback      = "loopback"       // 127.0.0.0/8, ::1
	ClassPrivate       = "private"        // 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918)
	ClassCGNAT         = "cgnat"          // 100.64.0.0/10, carrier-grade NAT (RFC 6598)
	ClassLinkLocal     = "link-local"     // 169.254.0.0/16, fe80::/10
	ClassProtocol      = "ietf-protocol"  // 192.0.0.0/24 (RFC 6890)
	ClassDocumentation = "documentation"  // 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32
	ClassBenchmarking  = "benchmarking"   // 198.18.0.0/15, 2001:2::/48 (RFC 2544, RFC 5180)
	ClassMulticast     = "multicast"      // 224.0.0.0/4, ff00::/8
	ClassFuture        = "future-use"     // 240.0.0.0/4 except the broadcast address (RFC 1112)
	ClassBroadcast     = "broadcast"      // 255.255.255.255
	ClassUniqueLocal   = "unique-local"   // fc00::/7 (RFC 4193)
	ClassDiscardPrefix = "discard-prefix" // 100::/64 (RFC 6666)
)

// reservedRange is one row of reservedRanges.
type reservedRange struct {
	prefix netip.Prefix
	class  string
}

// reservedRanges lists the reserved IPv4 and IPv6 ranges, the more specific
// before the less specific where they overlap (the broadcast address lies
// inside 240.0.0.0/4).
var reservedRanges = []reservedRange{
	{netip.MustParsePrefix("0.0.0.0/32"), ClassUnspecified},
	{netip.MustParsePrefix("0.0.0.0/8"), ClassThisNetwork},
	{netip.MustParsePrefix("10.0.0.0/8"), ClassPrivate},
	{netip.MustParsePrefix("100.64.0.0/10"), ClassCGNAT},
	{netip.MustParsePrefix("127.0.0.0/8"), ClassLoopback},
	{netip.MustParsePrefix("169.254.0.0/16"), ClassLinkLocal},
	{netip.MustParsePrefix("172.16.0.0/12"), ClassPrivate},
	{netip.MustParsePrefix("192.0.0.0/24"), ClassProtocol},
	{netip.MustParsePrefix("192.0.2.0/24"), ClassDocumentation},
	{netip.MustParsePrefix("192.168.0.0/16"), ClassPrivate},
	{netip.MustParsePrefix("198.18.0.0/15"), ClassBenchmarking},
	{netip.MustParsePrefix("198.51.100.0/24"), ClassDocumentation},
	{netip.MustParsePrefix("203.0.113.0/24"), ClassDocumentation},
	{netip.MustParsePrefix("224.0.0.0/4"), ClassMulticast},
	{netip.MustParsePrefix("255.255.255.255/32"), ClassBroadcast},
	{netip.MustParsePrefix("240.0.0.0/4"), ClassFuture},

	{netip.MustParsePrefix("::/128"), ClassUnspecified},
	{netip.MustParsePrefix("::1/128"), ClassLoopback},
	{netip.MustParsePrefix("100::/64"), ClassDiscardPrefix},
	{netip.MustParsePrefix("2001:2::/48"), ClassBenchmarking},
	{netip.MustParsePrefix("2001:db8::/32"), ClassDocumentation},
	{netip.MustParsePrefix("fc00::/7"), ClassUniqueLocal},
	{netip.MustParsePrefix("fe80::/10"), ClassLinkLocal},
	{netip.MustParsePrefix("ff00::/8"), ClassMulticast},
}

// Reserved reports whether ip lies in a range that is not routed on the
// public internet, and names the range's class (one of the Class constants).
// An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is unmapped first, so it is
// classed as its IPv4 address. Any other IPv6 address outside the ranges
// above, global unicast 2000::/3 included, is not reserved. The zero Addr is
// reported as ClassInvalid.
func Reserved(ip netip.Addr) (class string, ok bool) {
	if !ip.IsValid() {
		return ClassInvalid, true
	}
	ip = ip.Unmap().WithZone("")
	for _, r := range reservedRanges {
		if r.prefix.Contains(ip) {
			return r.class, true
		}
	}
	return "", false
}
