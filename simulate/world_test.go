package simulate

import (
	"net/netip"
	"testing"
)

func TestEveryHomeReachesAGateway(t *testing.T) {
	for _, r := range regions {
		for _, c := range r.cities {
			for _, car := range r.carriers {
				near := 0
				for _, gw := range car.gateways {
					if distanceKM(c, gw.city) <= 350 {
						near++
					}
				}
				if near == 0 {
					t.Errorf("%s in %s has no gateway of %s within 350 km", c.name, r.name, car.org)
				}
			}
		}
	}
}

// TestNetworksAreDistinctAndPublic checks the address plan: every network
// is public, since detection skips reserved ranges, and no two overlap
// except the sites and offices that lie within their network on purpose.
func TestNetworksAreDistinctAndPublic(t *testing.T) {
	nets := map[string]*network{}
	for _, r := range regions {
		for _, n := range r.isps {
			nets[n.org] = n
		}
		for _, c := range r.carriers {
			nets[c.org] = &c.network
		}
	}
	for _, n := range []*network{zenithSASE, nimbusCloud, bluefin, carpatHost, nordlys, alpen, songHong, lagoonNet, moskvaTel, skyportNet} {
		nets[n.org] = n
	}

	var prefixes []netip.Prefix
	for _, n := range nets {
		prefixes = append(prefixes, n.v4)
		if n.v6.IsValid() {
			prefixes = append(prefixes, n.v6)
		}
	}
	for i, p := range prefixes {
		a := p.Addr()
		if a.IsPrivate() || a.IsLoopback() || a.IsMulticast() || a.IsUnspecified() || a.IsLinkLocalUnicast() ||
			netip.MustParsePrefix("100.64.0.0/10").Overlaps(p) || netip.MustParsePrefix("2001:db8::/32").Overlaps(p) {
			t.Errorf("%s is not a public range", p)
		}
		for _, q := range prefixes[i+1:] {
			if p.Overlaps(q) {
				t.Errorf("%s overlaps %s", p, q)
			}
		}
	}

	for _, r := range regions {
		if r.office != nil && !r.office.network.v4.Contains(r.office.egress.Addr()) {
			t.Errorf("office egress %s lies outside %s", r.office.egress, r.office.network.org)
		}
	}
	for _, s := range vpnSites {
		if !zenithSASE.v4.Contains(s.v4.Addr()) {
			t.Errorf("VPN site %s lies outside the provider's %s", s.v4, zenithSASE.v4)
		}
	}
	for _, e := range torExits {
		if !e.site.v4.Contains(e.addr) {
			t.Errorf("Tor exit %s lies outside its site %s", e.addr, e.site.v4)
		}
	}
}

func TestAddressArithmetic(t *testing.T) {
	tests := []struct {
		name string
		got  netip.Addr
		want string
	}{
		{"IPv4 offset", addrAt(netip.MustParsePrefix("77.180.0.0/16"), 256*3+7), "77.180.3.7"},
		{"IPv4 subprefix", subPrefix(netip.MustParsePrefix("80.187.0.0/16"), 20, 3).Addr(), "80.187.48.0"},
		{"IPv6 subprefix", subPrefix(netip.MustParsePrefix("2a0a:a540::/32"), 40, 2).Addr(), "2a0a:a540:200::"},
		{"IPv6 interface", addrAt(subPrefix(netip.MustParsePrefix("2a0a:a540:200::/40"), 64, 5), 0x1234), "2a0a:a540:200:5::1234"},
	}
	for _, tt := range tests {
		if tt.got.String() != tt.want {
			t.Errorf("%s = %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}
