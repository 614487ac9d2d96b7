// Package clientip finds the address of the client behind a chain of
// reverse proxies, trusting the forwarding headers only as far as the
// proxies that wrote them are trusted.
package clientip

import (
	"fmt"
	"net/netip"
	"strings"
)

// Header is the forwarding header that the trusted proxies write.
type Header uint8

// The forwarding headers. The zero Header is XForwardedFor.
const (
	// XForwardedFor is "X-Forwarded-For: client, proxy1, proxy2", the de
	// facto standard that most load balancers write.
	XForwardedFor Header = iota
	// Forwarded is RFC 7239's "Forwarded: for=client, for=proxy1".
	Forwarded
)

// String returns the header's name as it appears in a request.
func (h Header) String() string {
	switch h {
	case XForwardedFor:
		return "X-Forwarded-For"
	case Forwarded:
		return "Forwarded"
	}
	return fmt.Sprintf("header(%d)", uint8(h))
}

// Resolver finds client addresses. The zero Resolver trusts no proxy, so it
// returns the peer address. It is safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
	header  Header
}

// NewResolver returns a Resolver that trusts the proxies in trusted and
// reads header. It returns an error naming the first invalid prefix, or an
// unknown header.
func NewResolver(trusted []netip.Prefix, header Header) (*Resolver, error) {
	if header != XForwardedFor && header != Forwarded {
		return nil, fmt.Errorf("unknown forwarding header %d: use XForwardedFor or Forwarded", uint8(header))
	}
	r := &Resolver{header: header}
	for i, p := range trusted {
		if !p.IsValid() {
			return nil, fmt.Errorf("trusted proxy %d (%q) is not a valid prefix: write it as 10.0.0.0/8 or 2001:db8::/32", i, p.String())
		}
		r.trusted = append(r.trusted, netip.PrefixFrom(p.Addr().Unmap(), unmappedBits(p)).Masked())
	}
	return r, nil
}

// unmappedBits returns the prefix length of p once an IPv4-mapped IPv6
// address is written as IPv4.
func unmappedBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}
	return p.Bits()
}

// Header returns the forwarding header r reads.
func (r *Resolver) Header() Header { return r.header }

// TrustsAny reports whether r trusts any proxy, and so reads the forwarding
// header at all.
func (r *Resolver) TrustsAny() bool { return len(r.trusted) > 0 }

// Trusts reports whether addr is one of the trusted proxies.
func (r *Resolver) Trusts(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range r.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Client returns the client address for a request that arrived from peer
// with values, the forwarding header's field values in the order they
// appear. When peer is not trusted, the header is ignored and peer is the
// client, because anyone can write the header. Otherwise the entries are
// read from the right, skipping trusted proxies: the first untrusted
// address is the client, since only trusted proxies wrote the entries to its
// right. If every entry is trusted, the leftmost one is the client. If an
// entry that must be read is not an address (RFC 7239's "unknown" or an
// obfuscated name, or garbage), the client is unknown and Client returns
// the zero Addr.
func (r *Resolver) Client(peer netip.Addr, values []string) netip.Addr {
	peer = peer.Unmap()
	if len(values) == 0 || !r.Trusts(peer) {
		return peer
	}

	client := peer
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var entry string
			v, entry = lastElement(v)
			if entry == "" {
				continue // empty list element, as in "a,,b"
			}
			addr, ok := r.parse(entry)
			if !ok {
				return netip.Addr{}
			}
			client = addr
			if !r.Trusts(addr) {
				return addr
			}
		}
	}
	return client
}

// lastElement splits a comma-separated list before its last element, and
// returns the rest and that element, trimmed. Commas inside quoted strings
// do not split.
func lastElement(v string) (rest, element string) {
	inQuote := false
	for i := len(v) - 1; i >= 0; i-- {
		switch v[i] {
		case '"':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				return v[:i], strings.TrimSpace(v[i+1:])
			}
		}
	}
	return "", strings.TrimSpace(v)
}

// parse reads the address of one list element of r's header.
func (r *Resolver) parse(element string) (netip.Addr, bool) {
	if r.header == Forwarded {
		node, ok := forwardedFor(element)
		if !ok {
			return netip.Addr{}, false
		}
		return parseNode(node)
	}
	return parseNode(element)
}

// forwardedFor returns the value of the "for" parameter of one
// forwarded-element ("for=192.0.2.60;proto=http;by=203.0.113.43"), without
// quotes.
func forwardedFor(element string) (string, bool) {
	for element != "" {
		var pair string
		pair, element, _ = cutUnquoted(element, ';')
		name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "for") {
			continue
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		return value, true
	}
	return "", false
}

// cutUnquoted is strings.Cut that ignores sep inside quoted strings.
func cutUnquoted(s string, sep byte) (before, after string, found bool) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case sep:
			if !inQuote {
				return s[:i], s[i+1:], true
			}
		}
	}
	return s, "", false
}

// parseNode reads an address written as "192.0.2.1", "192.0.2.1:4711",
// "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:4711". Some proxies
// append the client's port, and RFC 7239 brackets IPv6 addresses.
func parseNode(s string) (netip.Addr, bool) {
	if addr, err := netip.ParseAddr(s); err == nil {
		return addr.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if addr, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return addr.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// PeerAddr parses a "host:port" remote address such as
// http.Request.RemoteAddr, or an address without a port, and returns the
// zero Addr when it is neither. An IPv6 host with a port must be in
// brackets, and the port must be decimal digits. Unlike
// netip.ParseAddrPort, PeerAddr does not check that the port is at most
// 65535, because nothing uses it. Parsing only the host takes about half
// the time of netip.ParseAddrPort (see BenchmarkPeerAddr).
func PeerAddr(remote string) netip.Addr {
	i := strings.LastIndexByte(remote, ':')
	switch {
	case i < 0:
		// A Unix socket or a test's made-up address, such as "pipe", or
		// an address without a port.
		return parseHost(remote)
	case remote[0] == '[':
		if remote[i-1] != ']' || !isDigits(remote[i+1:]) {
			return netip.Addr{}
		}
		addr, err := netip.ParseAddr(remote[1 : i-1])
		if err != nil || !addr.Is6() { // only IPv6 addresses go in brackets
			return netip.Addr{}
		}
		return addr.Unmap()
	case strings.IndexByte(remote[:i], ':') >= 0:
		// An IPv6 address without brackets has no port.
		return parseHost(remote)
	case !isDigits(remote[i+1:]):
		return netip.Addr{}
	}
	return parseHost(remote[:i])
}

// parseHost parses an address without a port and unmaps an IPv4-mapped
// IPv6 address. It returns the zero Addr when host is not an address.
func parseHost(host string) netip.Addr {
	if addr, ok := parseIPv4(host); ok {
		return addr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return addr.Unmap()
}

// isDigits reports whether s is a non-empty run of decimal digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseIPv4 parses a dotted-decimal IPv4 address in the form that
// netip.ParseAddr accepts: four decimal fields of at most 255 without
// leading zeros. It returns false for anything else, which the caller
// passes on to netip.ParseAddr. The middleware parses the peer address of
// every request, and most are IPv4, so this one loop saves the general
// parser's work there.
func parseIPv4(s string) (netip.Addr, bool) {
	var ip [4]byte
	field, digits, value := 0, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 1 && value == 0 {
				return netip.Addr{}, false // leading zero
			}
			value = value*10 + int(c-'0')
			digits++
			if value > 255 {
				return netip.Addr{}, false
			}
		case c == '.' && digits > 0 && field < 3:
			ip[field] = byte(value)
			field++
			digits, value = 0, 0
		default:
			return netip.Addr{}, false
		}
	}
	if field != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	ip[3] = byte(value)
	return netip.AddrFrom4(ip), true
}
