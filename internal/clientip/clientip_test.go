package clientip

import (
	"net/netip"
	"testing"
)

func prefixes(tb testing.TB, s ...string) []netip.Prefix {
	tb.Helper()
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func TestClientXForwardedFor(t *testing.T) {
	r, err := NewResolver(prefixes(t, "10.0.0.0/8", "2001:db8:ffff::/48"), XForwardedFor)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		peer   string
		values []string
		want   string
	}{
		{"untrusted peer ignores header", "198.51.100.7", []string{"203.0.113.9"}, "198.51.100.7"},
		{"trusted peer without header", "10.0.0.1", nil, "10.0.0.1"},
		{"one proxy", "10.0.0.1", []string{"203.0.113.9"}, "203.0.113.9"},
		{"chain of trusted proxies", "10.0.0.1", []string{"203.0.113.9, 10.1.2.3, 10.4.5.6"}, "203.0.113.9"},
		{"spoofed left entry skipped", "10.0.0.1", []string{"1.2.3.4, 203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
		{"several header lines", "10.0.0.1", []string{"1.2.3.4, 203.0.113.9", "10.1.2.3"}, "203.0.113.9"},
		{"all trusted gives leftmost", "10.0.0.1", []string{"10.9.9.9, 10.1.2.3"}, "10.9.9.9"},
		{"port kept by proxy", "10.0.0.1", []string{"203.0.113.9:51234"}, "203.0.113.9"},
		{"ipv6 with brackets and port", "10.0.0.1", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"ipv6 bare", "2001:db8:ffff::1", []string{"2001:db8::7"}, "2001:db8::7"},
		{"ipv4-mapped peer", "::ffff:10.0.0.1", []string{"203.0.113.9"}, "203.0.113.9"},
		{"empty elements", "10.0.0.1", []string{" , 203.0.113.9 ,"}, "203.0.113.9"},
		{"garbage entry is unknown", "10.0.0.1", []string{"203.0.113.9, not-an-ip"}, "invalid IP"},
		{"garbage left of client ignored", "10.0.0.1", []string{"garbage, 203.0.113.9"}, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Client(netip.MustParseAddr(tt.peer), tt.values)
			if got.String() != tt.want {
				t.Errorf("Client(%s, %q) = %s, want %s", tt.peer, tt.values, got, tt.want)
			}
		})
	}
}

func TestClientForwarded(t *testing.T) {
	r, err := NewResolver(prefixes(t, "10.0.0.0/8"), Forwarded)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		values []string
		want   string
	}{
		{"one element", []string{"for=203.0.113.9;proto=https"}, "203.0.113.9"},
		{"case and spaces", []string{"Proto=https; FOR = 203.0.113.9"}, "203.0.113.9"},
		{"quoted ipv6 with port", []string{`for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"chain", []string{"for=1.2.3.4, for=203.0.113.9;by=10.0.0.2, for=10.3.3.3"}, "203.0.113.9"},
		{"unknown node", []string{"for=unknown, for=10.3.3.3"}, "invalid IP"},
		{"obfuscated node", []string{"for=_hidden"}, "invalid IP"},
		{"element without for", []string{"proto=https"}, "invalid IP"},
		{"comma in quoted value", []string{`for=203.0.113.9;ext="a,b"`}, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Client(netip.MustParseAddr("10.0.0.1"), tt.values)
			if got.String() != tt.want {
				t.Errorf("Client(10.0.0.1, %q) = %s, want %s", tt.values, got, tt.want)
			}
		})
	}
}

func TestZeroResolverTrustsNobody(t *testing.T) {
	var r Resolver
	got := r.Client(netip.MustParseAddr("127.0.0.1"), []string{"203.0.113.9"})
	if got.String() != "127.0.0.1" {
		t.Errorf("zero Resolver Client() = %s, want the peer 127.0.0.1", got)
	}
}

func TestNewResolverRejectsBadInput(t *testing.T) {
	if _, err := NewResolver([]netip.Prefix{{}}, XForwardedFor); err == nil {
		t.Error("NewResolver(zero prefix) = nil error, want an error")
	}
	if _, err := NewResolver(nil, Header(9)); err == nil {
		t.Error("NewResolver(header 9) = nil error, want an error")
	}
}

func TestMappedPrefixTrustsIPv4(t *testing.T) {
	r, err := NewResolver(prefixes(t, "::ffff:10.0.0.0/104"), XForwardedFor)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Trusts(netip.MustParseAddr("10.2.3.4")) {
		t.Error("Trusts(10.2.3.4) = false under ::ffff:10.0.0.0/104, want true")
	}
}

func TestPeerAddr(t *testing.T) {
	for remote, want := range map[string]string{
		"127.0.0.1:5555":       "127.0.0.1",
		"[::1]:5555":           "::1",
		"[::ffff:1.2.3.4]:80":  "1.2.3.4",
		"pipe":                 "invalid IP",
		"192.0.2.1":            "192.0.2.1",
		"[fe80::1%eth0]:12345": "fe80::1%eth0",
		"fe80::1%eth0":         "fe80::1%eth0",
		"2001:db8::1":          "2001:db8::1",
		"::ffff:192.0.2.1":     "192.0.2.1",
		"192.0.2.1:99999":      "192.0.2.1", // the port is not range checked
		"":                     "invalid IP",
		":80":                  "invalid IP",
		"192.0.2.1:":           "invalid IP",
		"192.0.2.1:http":       "invalid IP",
		"192.0.2.1:80:80":      "invalid IP",
		"host.example:443":     "invalid IP",
		"[192.0.2.1]:80":       "invalid IP",
		"[2001:db8::1]":        "invalid IP",
		"[2001:db8::1]:":       "invalid IP",
		"[2001:db8::1:80":      "invalid IP",
		"[]:80":                "invalid IP",
		"[:80":                 "invalid IP",
		"2001:db8::1]:80":      "invalid IP",
		"not an address":       "invalid IP",
	} {
		if got := PeerAddr(remote); got.String() != want {
			t.Errorf("PeerAddr(%q) = %s, want %s", remote, got, want)
		}
	}
}

func TestParseIPv4MatchesNetip(t *testing.T) {
	for _, s := range []string{
		"0.0.0.0", "192.0.2.1", "255.255.255.255", "10.0.0.255",
		"256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "1.2.3.00",
		"1..3.4", ".1.2.3", "1.2.3.", "1.2.3.4 ", "1.2.3.-4", "1.2.3.1000",
		"", "::1", "1.2.3.4%eth0", "١.2.3.4",
	} {
		want, err := netip.ParseAddr(s)
		got, ok := parseIPv4(s)
		if ok && (err != nil || got != want) {
			t.Errorf("parseIPv4(%q) = %v, want it to fail like netip.ParseAddr (%v, %v)", s, got, want, err)
		}
		if !ok && err == nil && want.Is4() {
			t.Errorf("parseIPv4(%q) failed, want %v like netip.ParseAddr", s, want)
		}
	}
}

func FuzzParseIPv4(f *testing.F) {
	f.Add("192.0.2.1")
	f.Add("01.2.3.4")
	f.Add("256.0.0.1")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := netip.ParseAddr(s)
		got, ok := parseIPv4(s)
		if ok && (err != nil || got != want) {
			t.Errorf("parseIPv4(%q) = %v, want it to fail like netip.ParseAddr (%v, %v)", s, got, want, err)
		}
		if !ok && err == nil && want.Is4() {
			t.Errorf("parseIPv4(%q) failed, want %v like netip.ParseAddr", s, want)
		}
	})
}

// BenchmarkPeerAddr compares PeerAddr with netip.ParseAddrPort, which also
// parses and checks the port:
//
//	go test -run '^$' -bench BenchmarkPeerAddr -benchmem -count 3 ./internal/clientip
func BenchmarkPeerAddr(b *testing.B) {
	for _, remote := range []string{"203.0.113.7:51234", "[2001:db8::7]:51234"} {
		b.Run("peer_addr/"+remote, func(b *testing.B) {
			for b.Loop() {
				PeerAddr(remote)
			}
		})
		b.Run("parse_addr_port/"+remote, func(b *testing.B) {
			for b.Loop() {
				if _, err := netip.ParseAddrPort(remote); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkClient(b *testing.B) {
	r, err := NewResolver(prefixes(b, "10.0.0.0/8"), XForwardedFor)
	if err != nil {
		b.Fatal(err)
	}
	peer := netip.MustParseAddr("10.0.0.1")
	values := []string{"203.0.113.9, 10.1.2.3"}
	b.ReportAllocs()
	for b.Loop() {
		r.Client(peer, values)
	}
}
