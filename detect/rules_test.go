package detect

import (
	"fmt"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

type ruleCase struct {
	name   string
	cfg    Config
	events []audit.Event
	want   []found
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, tc.cfg, tc.events)
			checkAnomalies(t, got)
			if !equalFound(summarize(got), tc.want) {
				t.Errorf("anomalies = %+v, want %+v", summarize(got), tc.want)
				for _, a := range got {
					t.Logf("summary: %s", a.Summary)
				}
			}
		})
	}
}

var (
	critical = audit.SeverityCritical
	high     = audit.SeverityHigh
	medium   = audit.SeverityMedium
)

func TestRevokedTokenUse(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{
			name: "use after revocation",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed),
				event("r1", time.Minute, audit.KindRevoked),
				event("u2", 5*time.Minute, audit.KindUsed),
				event("u3", 6*time.Minute, audit.KindUsed),
			},
			want: []found{{RuleRevokedTokenUse, critical, []string{"r1", "u2"}}},
		},
		{
			name: "use within clock skew of revocation",
			events: []audit.Event{
				event("r1", 0, audit.KindRevoked),
				event("u1", 30*time.Second, audit.KindUsed),
			},
		},
		{
			name: "use before revocation",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed),
				event("r1", time.Minute, audit.KindRevoked),
			},
		},
		{
			name: "redemption after revocation",
			events: []audit.Event{
				event("r1", 0, audit.KindRevoked),
				event("f1", time.Hour, audit.KindRefreshed),
			},
			want: []found{{RuleRevokedTokenUse, critical, []string{"r1", "f1"}}},
		},
		{
			name: "rejection after revocation",
			events: []audit.Event{
				event("r1", 0, audit.KindRevoked),
				event("x1", time.Hour, audit.KindRejected, func(e *audit.Event) { e.RejectReason = audit.RejectRevoked }),
			},
		},
		{
			name: "other token revoked",
			events: []audit.Event{
				event("r1", 0, audit.KindRevoked, withToken("tok-2")),
				event("u1", time.Hour, audit.KindUsed),
			},
		},
		{
			name: "earliest revocation proves",
			events: []audit.Event{
				event("r2", 10*time.Minute, audit.KindRevoked),
				event("r1", 5*time.Minute, audit.KindRevoked),
				event("u1", 20*time.Minute, audit.KindUsed),
			},
			want: []found{{RuleRevokedTokenUse, critical, []string{"r1", "u1"}}},
		},
		{
			name: "rule disabled",
			cfg:  Config{Rules: Rules{RevokedTokenUse: RevokedTokenUse{RuleBase{Disabled: true}}}},
			events: []audit.Event{
				event("r1", 0, audit.KindRevoked),
				event("u1", time.Hour, audit.KindUsed),
			},
		},
	})
}

func TestExpiredTokenUse(t *testing.T) {
	lifetime := func(iat, exp time.Duration) func(*audit.Event) {
		return func(e *audit.Event) { e.IssuedAt, e.ExpiresAt = t0.Add(iat), t0.Add(exp) }
	}
	runRuleCases(t, []ruleCase{
		{
			name: "use after exp stated at issue",
			events: []audit.Event{
				event("i1", 0, audit.KindIssued, lifetime(0, time.Hour)),
				event("u1", 30*time.Minute, audit.KindUsed),
				event("u2", 2*time.Hour, audit.KindUsed),
				event("u3", 3*time.Hour, audit.KindUsed),
			},
			want: []found{{RuleExpiredTokenUse, medium, []string{"i1", "u2"}}},
		},
		{
			name: "use after exp stated by the use",
			events: []audit.Event{
				event("u1", 2*time.Hour, audit.KindUsed, lifetime(0, time.Hour)),
			},
			want: []found{{RuleExpiredTokenUse, medium, []string{"u1"}}},
		},
		{
			name: "use within clock skew after exp",
			events: []audit.Event{
				event("i1", 0, audit.KindIssued, lifetime(0, time.Hour)),
				event("u1", time.Hour+45*time.Second, audit.KindUsed),
			},
		},
		{
			name: "iat in the future within clock skew",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, lifetime(40*time.Second, time.Hour)),
			},
		},
		{
			name: "iat in the future beyond clock skew",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, lifetime(5*time.Minute, time.Hour)),
			},
			want: []found{{RuleExpiredTokenUse, medium, []string{"u1"}}},
		},
		{
			name: "use before nbf",
			events: []audit.Event{
				event("i1", 0, audit.KindIssued, func(e *audit.Event) { e.NotBefore = t0.Add(time.Hour) }),
				event("u1", time.Minute, audit.KindUsed),
			},
			want: []found{{RuleExpiredTokenUse, medium, []string{"i1", "u1"}}},
		},
		{
			name: "larger skew tolerated by config",
			cfg:  Config{ClockSkew: 10 * time.Minute},
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, lifetime(5*time.Minute, time.Hour)),
				event("u2", time.Hour+5*time.Minute, audit.KindUsed),
			},
		},
		{
			name: "issued event is no use",
			events: []audit.Event{
				event("i1", 2*time.Hour, audit.KindIssued, lifetime(0, time.Hour)),
			},
		},
	})
}

func TestRefreshTokenReuse(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{
			name: "second redemption past grace",
			events: []audit.Event{
				event("f1", 0, audit.KindRefreshed),
				event("f2", 10*time.Second, audit.KindRefreshed),
				event("f3", 20*time.Second, audit.KindRefreshed),
			},
			want: []found{{RuleRefreshTokenReuse, high, []string{"f1", "f2"}}},
		},
		{
			name: "parallel redemptions within grace",
			events: []audit.Event{
				event("f1", 0, audit.KindRefreshed),
				event("f2", 1500*time.Millisecond, audit.KindRefreshed),
			},
		},
		{
			name: "same redemption delivered twice",
			events: []audit.Event{
				event("f1", 0, audit.KindRefreshed),
				event("f1", 0, audit.KindRefreshed),
			},
		},
		{
			name: "rejected as reused",
			events: []audit.Event{
				event("f1", 0, audit.KindRefreshed),
				event("x1", time.Hour, audit.KindRejected, func(e *audit.Event) { e.RejectReason = audit.RejectReused }),
			},
			want: []found{{RuleRefreshTokenReuse, high, []string{"f1", "x1"}}},
		},
		{
			name: "longer grace by config",
			cfg:  Config{Rules: Rules{RefreshTokenReuse: RefreshTokenReuse{Grace: time.Minute}}},
			events: []audit.Event{
				event("f1", 0, audit.KindRefreshed),
				event("f2", 10*time.Second, audit.KindRefreshed),
			},
		},
	})
}

func TestRapidIPChange(t *testing.T) {
	anyChangeIsHigh := Config{Rules: Rules{RapidIPChange: RapidIPChange{
		RuleBase: RuleBase{Severity: audit.SeverityHigh}, MaxNetworks: 1, Window: 5 * time.Minute,
	}}}
	trusted := Config{TrustedNetworks: []netipPrefix{mustPrefix("203.0.113.0/24")}}
	runRuleCases(t, []ruleCase{
		{
			name: "three networks within ten minutes",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("192.0.2.10")),
				event("u2", 2*time.Minute, audit.KindUsed, withIP("198.51.100.7")),
				event("u3", 3*time.Minute, audit.KindUsed, withIP("192.0.2.11")),
				event("u4", 4*time.Minute, audit.KindUsed, withIP("203.0.113.9")),
			},
			want: []found{{RuleRapidIPChange, medium, []string{"u3", "u2", "u4"}}},
		},
		{
			// A token going back and forth between two networks raises once
			// a window, not at every switch.
			name: "any change is high, back and forth",
			cfg:  anyChangeIsHigh,
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("192.0.2.10")),
				event("u2", time.Minute, audit.KindUsed, withIP("198.51.100.7")),
				event("u3", 2*time.Minute, audit.KindUsed, withIP("192.0.2.10")),
				event("u4", 3*time.Minute, audit.KindUsed, withIP("198.51.100.7")),
				event("u5", 4*time.Minute, audit.KindUsed, withIP("192.0.2.10")),
				event("u6", 7*time.Minute, audit.KindUsed, withIP("198.51.100.7")),
			},
			want: []found{
				{RuleRapidIPChange, high, []string{"u1", "u2"}},
				{RuleRapidIPChange, high, []string{"u5", "u6"}},
			},
		},
		{
			name: "two networks",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("192.0.2.10")),
				event("u2", time.Minute, audit.KindUsed, withIP("198.51.100.7")),
				event("u3", 2*time.Minute, audit.KindUsed, withIP("192.0.2.10")),
			},
		},
		{
			name: "three networks over half an hour",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("192.0.2.10")),
				event("u2", 15*time.Minute, audit.KindUsed, withIP("198.51.100.7")),
				event("u3", 30*time.Minute, audit.KindUsed, withIP("203.0.113.9")),
			},
		},
		{
			name: "one IPv6 /64",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("2001:db8:1:1::1")),
				event("u2", time.Minute, audit.KindUsed, withIP("2001:db8:1:1:ffff::2")),
				event("u3", 2*time.Minute, audit.KindUsed, withIP("::ffff:192.0.2.1")),
			},
		},
		{
			name: "any change within five minutes is high",
			cfg:  anyChangeIsHigh,
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("192.0.2.10")),
				event("u2", 4*time.Minute, audit.KindUsed, withIP("198.51.100.7")),
				event("u3", 20*time.Minute, audit.KindUsed, withIP("192.0.2.10")),
			},
			want: []found{{RuleRapidIPChange, high, []string{"u1", "u2"}}},
		},
		{
			name: "trusted network does not count",
			cfg:  trusted,
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("192.0.2.10")),
				event("u2", time.Minute, audit.KindUsed, withIP("198.51.100.7")),
				event("u3", 2*time.Minute, audit.KindUsed, withIP("203.0.113.9")),
			},
		},
		{
			name: "internal addresses do not count",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("192.0.2.10")),
				event("u2", time.Minute, audit.KindUsed, withIP("10.1.2.3")),
				event("u3", 2*time.Minute, audit.KindUsed, withIP("100.64.0.1")),
				event("u4", 3*time.Minute, audit.KindUsed, withIP("fd00::1")),
				event("u5", 4*time.Minute, audit.KindUsed, withIP("127.0.0.1")),
				event("u6", 5*time.Minute, audit.KindUsed, withIP("fe80::1")),
			},
		},
		{
			name: "rejections do not count",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("192.0.2.10")),
				event("x1", time.Minute, audit.KindRejected, withIP("198.51.100.7")),
				event("x2", 2*time.Minute, audit.KindRejected, withIP("203.0.113.9")),
			},
		},
	})
}

func TestHighFrequency(t *testing.T) {
	uses := func(n int, every time.Duration) []audit.Event {
		var out []audit.Event
		for i := range n {
			out = append(out, event(fmt.Sprintf("u%03d", i), time.Duration(i)*every, audit.KindUsed))
		}
		return out
	}
	ids := func(first, last int) []string {
		var out []string
		for i := first; i <= last; i++ {
			out = append(out, fmt.Sprintf("u%03d", i))
		}
		return out
	}
	hourly := Config{Rules: Rules{HighFrequency: HighFrequency{MaxUses: 100, Window: time.Hour}}}
	threePerMinute := Config{Rules: Rules{HighFrequency: HighFrequency{MaxUses: 3, Window: time.Minute}}}
	runRuleCases(t, []ruleCase{
		{
			name:   "101 uses within an hour by config",
			cfg:    hourly,
			events: uses(101, 29*time.Second),
			want:   []found{{RuleHighFrequency, medium, ids(93, 100)}},
		},
		{
			name:   "100 uses within an hour by config",
			cfg:    hourly,
			events: uses(100, 29*time.Second),
		},
		{
			name:   "120 uses spread over two hours",
			cfg:    hourly,
			events: uses(120, time.Minute),
		},
		{
			name:   "601 uses within a minute by default",
			events: uses(601, 50*time.Millisecond),
			want:   []found{{RuleHighFrequency, medium, ids(593, 600)}},
		},
		{
			name:   "one anomaly per window",
			cfg:    Config{Rules: Rules{HighFrequency: HighFrequency{MaxUses: 10, Window: time.Minute}}},
			events: uses(40, time.Second),
			want:   []found{{RuleHighFrequency, medium, ids(3, 10)}},
		},
		{
			name:   "fewer uses than the evidence holds",
			cfg:    threePerMinute,
			events: uses(4, time.Second),
			want:   []found{{RuleHighFrequency, medium, ids(0, 3)}},
		},
		{
			name: "uses no longer counted are not cited",
			cfg:  threePerMinute,
			events: []audit.Event{
				event("old1", 0, audit.KindUsed),
				event("old2", time.Second, audit.KindUsed),
				event("u1", 3*time.Minute, audit.KindUsed),
				event("u2", 3*time.Minute+time.Second, audit.KindUsed),
				event("u3", 3*time.Minute+2*time.Second, audit.KindUsed),
				event("u4", 3*time.Minute+3*time.Second, audit.KindUsed),
			},
			want: []found{{RuleHighFrequency, medium, []string{"u1", "u2", "u3", "u4"}}},
		},
	})
}

func TestImpossibleTravel(t *testing.T) {
	paris := withGeo(48.8566, 2.3522)
	newYork := withGeo(40.7128, -74.0060)
	lyon := withGeo(45.7640, 4.8357) // about 390 km from Paris
	phone := withClient(64496, "sid-1", "Mobile/1.0")
	runRuleCases(t, []ruleCase{
		{
			name: "Paris to New York in one hour",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, paris),
				event("u2", time.Hour, audit.KindUsed, newYork),
			},
			want: []found{{RuleImpossibleTravel, high, []string{"u1", "u2"}}},
		},
		{
			name: "issued in Paris, used in New York",
			events: []audit.Event{
				event("i1", 0, audit.KindIssued, paris),
				event("u1", 10*time.Minute, audit.KindUsed, newYork),
			},
			want: []found{{RuleImpossibleTravel, high, []string{"i1", "u1"}}},
		},
		{
			name: "Paris to New York in ten hours",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, paris),
				event("u2", 10*time.Hour, audit.KindUsed, newYork),
			},
		},
		{
			name: "zero coordinates",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, paris),
				event("u2", time.Minute, audit.KindUsed, withGeo(0, 0)),
				event("u3", 2*time.Minute, audit.KindUsed, func(e *audit.Event) { e.Geo.Country = "US" }),
				event("u4", 3*time.Minute, audit.KindUsed),
			},
		},
		{
			name: "reserved and private addresses",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, paris),
				event("u2", time.Minute, audit.KindUsed, newYork, withIP("192.0.2.1")),
				event("u3", 2*time.Minute, audit.KindUsed, newYork, withIP("10.0.0.1")),
				event("u4", 3*time.Minute, audit.KindUsed, newYork, withIP("2001:db8::1")),
				event("u5", 4*time.Minute, audit.KindUsed, newYork, withIP("100.100.0.1")),
				event("u6", 5*time.Minute, audit.KindUsed, newYork, withIP("fe80::1")),
				event("u7", 6*time.Minute, audit.KindUsed, newYork, withIP("::1")),
			},
		},
		{
			name: "trusted egress",
			cfg:  Config{TrustedNetworks: []netipPrefix{mustPrefix("2a01:4f8::/32")}},
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, paris),
				event("u2", time.Minute, audit.KindUsed, newYork, withIP("2a01:4f8::10")),
			},
		},
		{
			name: "routable IPv6 is located",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, paris),
				event("u2", time.Minute, audit.KindUsed, newYork, withIP("2a01:4f8::10")),
			},
			want: []found{{RuleImpossibleTravel, high, []string{"u1", "u2"}}},
		},
		{
			name: "mobile carrier hop",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, paris, phone),
				event("u2", 4*time.Minute, audit.KindUsed, lyon, phone),
			},
		},
		{
			name: "carrier hop with another user agent",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, paris, phone),
				event("u2", 4*time.Minute, audit.KindUsed, lyon, withClient(64496, "sid-1", "curl/8.0")),
			},
			want: []found{{RuleImpossibleTravel, high, []string{"u1", "u2"}}},
		},
		{
			name: "carrier hop without session",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, paris, withClient(64496, "", "Mobile/1.0")),
				event("u2", 4*time.Minute, audit.KindUsed, lyon, withClient(64496, "", "Mobile/1.0")),
			},
			want: []found{{RuleImpossibleTravel, high, []string{"u1", "u2"}}},
		},
		{
			name: "within accuracy radii",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, paris, func(e *audit.Event) { e.Geo.AccuracyKM = 200 }),
				event("u2", time.Minute, audit.KindUsed, lyon, func(e *audit.Event) { e.Geo.AccuracyKM = 200 }),
			},
		},
	})
}

func TestDistanceKM(t *testing.T) {
	// Paris to New York is about 5,837 km along a great circle.
	got := distanceKM(48.8566, 2.3522, 40.7128, -74.0060)
	if got < 5800 || got > 5870 {
		t.Errorf("distanceKM(Paris, New York) = %.0f, want about 5837", got)
	}
}
