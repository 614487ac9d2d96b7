package enrich

import (
	"net/netip"
	"testing"
)

func TestReserved(t *testing.T) {
	tests := []struct {
		ip        string
		wantClass string // "" when not reserved
	}{
		{"0.0.0.0", ClassUnspecified},
		{"0.1.2.3", ClassThisNetwork},
		{"::", ClassUnspecified},
		{"127.0.0.1", ClassLoopback},
		{"127.255.255.254", ClassLoopback},
		{"::1", ClassLoopback},
		{"10.0.0.1", ClassPrivate},
		{"172.16.0.1", ClassPrivate},
		{"172.31.255.255", ClassPrivate},
		{"192.168.1.1", ClassPrivate},
		{"100.64.0.1", ClassCGNAT},
		{"100.127.255.255", ClassCGNAT},
		{"169.254.169.254", ClassLinkLocal},
		{"fe80::1", ClassLinkLocal},
		{"fe80::1%eth0", ClassLinkLocal},
		{"192.0.0.8", ClassProtocol},
		{"192.0.2.1", ClassDocumentation},
		{"198.51.100.7", ClassDocumentation},
		{"203.0.113.200", ClassDocumentation},
		{"2001:db8::1", ClassDocumentation},
		{"2001:db8:ffff::1", ClassDocumentation},
		{"198.18.0.1", ClassBenchmarking},
		{"198.19.255.255", ClassBenchmarking},
		{"2001:2::1", ClassBenchmarking},
		{"224.0.0.1", ClassMulticast},
		{"239.255.255.250", ClassMulticast},
		{"ff02::1", ClassMulticast},
		{"240.0.0.1", ClassFuture},
		{"255.255.255.255", ClassBroadcast},
		{"fc00::1", ClassUniqueLocal},
		{"fd12:3456::1", ClassUniqueLocal},
		{"100::1", ClassDiscardPrefix},
		{"::ffff:10.1.2.3", ClassPrivate},
		{"::ffff:127.0.0.1", ClassLoopback},
		{"::ffff:100.64.0.1", ClassCGNAT},
		{"::ffff:192.0.2.1", ClassDocumentation},

		// Routable addresses, IPv6 included, are not reserved.
		{"8.8.8.8", ""},
		{"172.32.0.1", ""},
		{"172.15.255.255", ""},
		{"100.63.255.255", ""},
		{"100.128.0.0", ""},
		{"192.0.3.1", ""},
		{"198.51.101.1", ""},
		{"::ffff:8.8.8.8", ""},
		{"2001:4860:4860::8888", ""},
		{"2a01:cb00::1", ""},
		{"2001:db9::1", ""},
		{"fe00::1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			class, ok := Reserved(mustAddr(t, tt.ip))
			if class != tt.wantClass || ok != (tt.wantClass != "") {
				t.Errorf("Reserved(%s) = %q, %v, want %q, %v", tt.ip, class, ok, tt.wantClass, tt.wantClass != "")
			}
		})
	}
}

func TestReservedZeroAddr(t *testing.T) {
	if class, ok := Reserved(netip.Addr{}); class != ClassInvalid || !ok {
		t.Errorf("Reserved(zero Addr) = %q, %v, want %q, true", class, ok, ClassInvalid)
	}
}
