package storetest

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// networkFixture returns events from addresses inside and just outside
// 198.51.100.0/24 and 2001:db8:0:7::/64, in both IPv4 forms, with a zone,
// and one without address.
func networkFixture() []audit.Event {
	event := func(id string, minutes int, token, ip string) audit.Event {
		e := audit.Event{ID: id, Time: at(minutes), Kind: audit.KindUsed, TokenID: token, Subject: "s-" + token}
		if ip != "" {
			e.IP = netip.MustParseAddr(ip)
		}
		return e
	}
	return []audit.Event{
		event("n01", 0, "t1", "198.51.100.0"),
		event("n02", 1, "t1", "198.51.100.255"),
		event("n03", 2, "t1", "198.51.101.0"), // the next /24, same token
		event("n04", 3, "t2", "198.51.99.255"),
		event("n05", 4, "t2", "::ffff:198.51.100.9"),
		event("n06", 5, "t3", "2001:db8:0:7::1"),
		event("n07", 6, "t3", "2001:db8:0:7:ffff:ffff:ffff:ffff%eth0"),
		event("n08", 7, "t3", "2001:db8:0:8::1"),
		event("n09", 8, "t4", "198.51.100.200"),
		event("n10", 9, "t4", ""),
		event("n11", 10, "t5", "10.0.0.1"),
	}
}

func testQueryNetwork(t *testing.T, s store.Store) {
	mustAppend(t, s, networkFixture()...)
	v4 := netip.MustParsePrefix("198.51.100.0/24")

	tests := []struct {
		name  string
		query store.Query
		want  []string
	}{
		{"IPv4 /24 with its mapped form", store.Query{Network: v4}, ids("n01", "n02", "n05", "n09")},
		{"unmasked prefix", store.Query{Network: netip.MustParsePrefix("198.51.100.77/24")}, ids("n01", "n02", "n05", "n09")},
		{"IPv4 /32", store.Query{Network: netip.MustParsePrefix("198.51.100.255/32")}, ids("n02")},
		{"IPv4 /16", store.Query{Network: netip.MustParsePrefix("198.51.0.0/16")}, ids("n01", "n02", "n03", "n04", "n05", "n09")},
		{"IPv6 /64 ignores zones", store.Query{Network: netip.MustParsePrefix("2001:db8:0:7::/64")}, ids("n06", "n07")},
		{"IPv6 /48", store.Query{Network: netip.MustParsePrefix("2001:db8::/48")}, ids("n06", "n07", "n08")},
		{"mapped prefix", store.Query{Network: netip.MustParsePrefix("::ffff:198.51.100.0/120")}, ids("n05")},
		{"network and time", store.Query{Network: v4, Since: at(1), Until: at(8)}, ids("n02", "n05")},
		{"network and token", store.Query{Network: v4, TokenID: "t2"}, ids("n05")},
		{"network and an address in it", store.Query{Network: v4, IP: netip.MustParseAddr("198.51.100.255")}, ids("n02")},
		{"network and an address outside it", store.Query{Network: v4, IP: netip.MustParseAddr("198.51.101.0")}, nil},
		{"network and limit", store.Query{Network: v4, Limit: 2}, ids("n01", "n02")},
		{"network of nobody", store.Query{Network: netip.MustParsePrefix("192.0.2.0/24")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := eventIDs(mustEvents(t, s, tt.query))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Events(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}

	t.Run("zero bits", func(t *testing.T) {
		_, err := s.Events(context.Background(), store.Query{Network: netip.MustParsePrefix("0.0.0.0/0")})
		if !errors.Is(err, audit.ErrInvalidValue) {
			t.Errorf("Events(0.0.0.0/0) error = %v, want one wrapping audit.ErrInvalidValue", err)
		}
	})
	t.Run("network counts as a filter", func(t *testing.T) {
		if !(store.Query{Network: v4}).Filtered() {
			t.Error("Query{Network: 198.51.100.0/24}.Filtered() = false, want true")
		}
	})
}

// at returns the time minutes after base.
func at(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }
