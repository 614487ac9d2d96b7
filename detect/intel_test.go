package detect

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

func TestThreatIntelIP(t *testing.T) {
	lists := fakeLists{
		"tor-exit":  {mustPrefix("203.0.113.0/28")},
		"blocklist": {mustPrefix("203.0.113.8/29"), mustPrefix("2001:db8:bad::/48")},
	}
	withLists := Config{IPLists: lists}
	runRuleCases(t, []ruleCase{
		{
			name: "use from a listed address",
			cfg:  withLists,
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("198.51.100.7")),
				event("u2", time.Minute, audit.KindUsed, withIP("203.0.113.2")),
				event("u3", 2*time.Minute, audit.KindUsed, withIP("203.0.113.3")),
			},
			want: []found{{RuleThreatIntelIP, high, []string{"u2"}}},
		},
		{
			name: "issued to a listed IPv6 address",
			cfg:  withLists,
			events: []audit.Event{
				event("i1", 0, audit.KindIssued, withIP("2001:db8:bad::1")),
			},
			want: []found{{RuleThreatIntelIP, high, []string{"i1"}}},
		},
		{
			name: "IPv4-mapped address",
			cfg:  withLists,
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("::ffff:203.0.113.2")),
			},
			want: []found{{RuleThreatIntelIP, high, []string{"u1"}}},
		},
		{
			name: "rejection from a listed address",
			cfg:  withLists,
			events: []audit.Event{
				event("x1", 0, audit.KindRejected, withIP("203.0.113.2"), withReject(audit.RejectBadSignature)),
			},
		},
		{
			name: "trusted egress on a list",
			cfg:  Config{IPLists: lists, TrustedNetworks: []netip.Prefix{mustPrefix("203.0.113.0/24")}},
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("203.0.113.2")),
			},
		},
		{
			name: "no lists given",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("203.0.113.2")),
			},
		},
		{
			name: "rule disabled",
			cfg:  Config{IPLists: lists, Rules: Rules{ThreatIntelIP: ThreatIntelIP{RuleBase{Disabled: true}}}},
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("203.0.113.2")),
			},
		},
	})
}

func TestThreatIntelIPSummaryNamesLists(t *testing.T) {
	lists := fakeLists{
		"tor-exit":  {mustPrefix("203.0.113.0/28")},
		"blocklist": {mustPrefix("203.0.113.8/29")},
	}
	tests := []struct {
		name, ip, want string
	}{
		{"one list", "203.0.113.2", "Token tok-1 was used from 203.0.113.2, which is on the list tor-exit: revoke the token unless its owner is known to use that address."},
		{"two lists", "203.0.113.9", "Token tok-1 was used from 203.0.113.9, which is on the lists blocklist, tor-exit: revoke the token unless its owner is known to use that address."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, Config{IPLists: lists}, []audit.Event{event("u1", 0, audit.KindUsed, withIP(tc.ip))})
			if len(got) != 1 {
				t.Fatalf("anomalies = %+v, want one", summarize(got))
			}
			if got[0].Summary != tc.want {
				t.Errorf("Summary = %q, want %q", got[0].Summary, tc.want)
			}
		})
	}
}
