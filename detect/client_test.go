package detect

import (
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

func TestConcurrentUse(t *testing.T) {
	laptop := []func(*audit.Event){withIP("198.51.100.7"), withUA("Chrome/131.0")}
	thief := []func(*audit.Event){withIP("203.0.113.9"), withUA("curl/8.5")}
	use := func(id string, at time.Duration, client []func(*audit.Event), more ...func(*audit.Event)) audit.Event {
		return event(id, at, audit.KindUsed, append(append([]func(*audit.Event){}, client...), more...)...)
	}
	runRuleCases(t, []ruleCase{
		{
			name: "two clients take turns",
			events: []audit.Event{
				use("a1", 0, laptop),
				use("a2", 5*time.Second, laptop),
				use("b1", 10*time.Second, thief),
				use("b2", 15*time.Second, thief),
				use("a3", 30*time.Second, laptop),
			},
			want: []found{{RuleConcurrentUse, high, []string{"a2", "b2", "a3"}}},
		},
		{
			name: "single switch",
			events: []audit.Event{
				use("a1", 0, laptop),
				use("b1", 10*time.Second, thief),
				use("b2", 20*time.Second, thief),
			},
		},
		{
			name: "return after the window",
			events: []audit.Event{
				use("a1", 0, laptop),
				use("b1", 30*time.Second, thief),
				use("a2", 2*time.Minute, laptop),
			},
		},
		{
			name: "longer window by config",
			cfg:  Config{Rules: Rules{ConcurrentUse: ConcurrentUse{Window: 5 * time.Minute}}},
			events: []audit.Event{
				use("a1", 0, laptop),
				use("b1", 30*time.Second, thief),
				use("a2", 2*time.Minute, laptop),
			},
			want: []found{{RuleConcurrentUse, high, []string{"a1", "b1", "a2"}}},
		},
		{
			name: "same network, other user agent",
			events: []audit.Event{
				use("a1", 0, laptop),
				use("b1", 10*time.Second, laptop, withUA("python-requests/2.31")),
				use("a2", 20*time.Second, laptop),
			},
			want: []found{{RuleConcurrentUse, high, []string{"a1", "b1", "a2"}}},
		},
		{
			name: "third client is no return",
			events: []audit.Event{
				use("a1", 0, laptop),
				use("b1", 10*time.Second, thief),
				use("c1", 20*time.Second, laptop, withUA("Firefox/128.0")),
			},
		},
		{
			name: "carrier moves the phone between pools",
			events: []audit.Event{
				use("a1", 0, laptop, withIP("198.51.100.7"), withASN(64496), withUA("Mobile/1.0")),
				use("a2", 10*time.Second, laptop, withIP("203.0.113.80"), withASN(64496), withUA("Mobile/1.0")),
				use("a3", 20*time.Second, laptop, withIP("198.51.100.7"), withASN(64496), withUA("Mobile/1.0")),
			},
		},
		{
			name: "dual-stack host of one ASN",
			events: []audit.Event{
				use("a1", 0, laptop, withASN(64496)),
				use("a2", 2*time.Second, laptop, withIP("2001:db8:7::1"), withASN(64496)),
				use("a3", 4*time.Second, laptop, withASN(64496)),
			},
		},
		{
			name: "backend behind the gateway",
			events: []audit.Event{
				use("a1", 0, laptop),
				use("s1", time.Second, laptop, withIP("10.0.3.7"), withUA("Go-http-client/1.1")),
				use("a2", 2*time.Second, laptop),
				use("s2", 3*time.Second, laptop, withIP("fd00::7"), withUA("Go-http-client/1.1")),
			},
		},
		{
			// Trusting an office's egress keeps it from counting as a
			// network change, but the office still holds a client.
			name: "client behind a trusted egress",
			cfg:  Config{TrustedNetworks: []netipPrefix{mustPrefix("203.0.113.0/24")}},
			events: []audit.Event{
				use("a1", 0, laptop),
				use("b1", 10*time.Second, thief),
				use("a2", 20*time.Second, laptop),
			},
			want: []found{{RuleConcurrentUse, high, []string{"a1", "b1", "a2"}}},
		},
		{
			name: "uses without user agent or address",
			events: []audit.Event{
				use("a1", 0, laptop),
				use("n1", 10*time.Second, laptop, withUA("")),
				event("n2", 15*time.Second, audit.KindUsed, withUA("curl/8.5")),
				use("a2", 20*time.Second, laptop),
			},
		},
		{
			name: "issuance by the backend is no client",
			events: []audit.Event{
				event("i1", 0, audit.KindIssued, thief...),
				use("a1", 10*time.Second, laptop),
				event("i2", 20*time.Second, audit.KindIssued, thief...),
				use("a2", 30*time.Second, laptop),
			},
		},
		{
			name: "one anomaly per token",
			events: []audit.Event{
				use("a1", 0, laptop),
				use("b1", 5*time.Second, thief),
				use("a2", 10*time.Second, laptop),
				use("b2", 15*time.Second, thief),
				use("a3", 20*time.Second, laptop),
			},
			want: []found{{RuleConcurrentUse, high, []string{"a1", "b1", "a2"}}},
		},
		{
			name: "rule disabled",
			cfg:  Config{Rules: Rules{ConcurrentUse: ConcurrentUse{RuleBase: RuleBase{Disabled: true}}}},
			events: []audit.Event{
				use("a1", 0, laptop),
				use("b1", 5*time.Second, thief),
				use("a2", 10*time.Second, laptop),
			},
		},
	})
}

func TestUserAgentChange(t *testing.T) {
	families := Config{UserAgents: fakeFamilies{}}
	runRuleCases(t, []ruleCase{
		{
			name: "browser to curl",
			cfg:  families,
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withUA("Chrome/131.0")),
				event("u2", time.Hour, audit.KindUsed, withUA("Chrome/131.0")),
				event("u3", 2*time.Hour, audit.KindUsed, withUA("curl/8.5")),
				event("u4", 3*time.Hour, audit.KindUsed, withUA("Chrome/131.0")),
			},
			want: []found{{RuleUserAgentChange, medium, []string{"u2", "u3"}}},
		},
		{
			name: "major upgrade of one family",
			cfg:  families,
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withUA("Chrome/130.0")),
				event("u2", time.Hour, audit.KindUsed, withUA("Chrome/131.0")),
			},
		},
		{
			name: "from a trusted office to a script",
			cfg:  Config{UserAgents: fakeFamilies{}, TrustedNetworks: []netipPrefix{mustPrefix("203.0.113.0/24")}},
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("203.0.113.24"), withUA("Chrome/131.0")),
				event("u2", time.Hour, audit.KindUsed, withIP("198.51.100.77"), withUA("curl/8.5")),
			},
			want: []found{{RuleUserAgentChange, medium, []string{"u1", "u2"}}},
		},
		{
			name: "no families given",
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withUA("Chrome/131.0")),
				event("u2", time.Hour, audit.KindUsed, withUA("curl/8.5")),
			},
		},
		{
			name: "internal service passes the token on",
			cfg:  families,
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withIP("198.51.100.7"), withUA("Chrome/131.0")),
				event("u2", time.Second, audit.KindUsed, withIP("10.0.3.7"), withUA("Go-http-client/1.1")),
				event("u3", 2*time.Second, audit.KindUsed, withIP("127.0.0.1"), withUA("okhttp/4.12")),
			},
		},
		{
			name: "issued to the backend, used by the browser",
			cfg:  families,
			events: []audit.Event{
				event("i1", 0, audit.KindIssued, withUA("node-fetch/1.0")),
				event("u1", time.Second, audit.KindUsed, withUA("Chrome/131.0")),
			},
		},
		{
			name: "use without user agent",
			cfg:  families,
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withUA("Chrome/131.0")),
				event("u2", time.Minute, audit.KindUsed),
				event("u3", 2*time.Minute, audit.KindUsed, withUA("Chrome/131.0")),
			},
		},
		{
			name: "rule disabled",
			cfg:  Config{UserAgents: fakeFamilies{}, Rules: Rules{UserAgentChange: UserAgentChange{RuleBase{Disabled: true}}}},
			events: []audit.Event{
				event("u1", 0, audit.KindUsed, withUA("Chrome/131.0")),
				event("u2", time.Hour, audit.KindUsed, withUA("curl/8.5")),
			},
		},
	})
}

func TestUserAgentChangeSummaryNamesFamilies(t *testing.T) {
	got := run(t, Config{UserAgents: fakeFamilies{}}, []audit.Event{
		event("u1", 0, audit.KindUsed, withUA("Chrome/131.0")),
		event("u2", time.Hour, audit.KindUsed, withUA("curl/8.5")),
	})
	if len(got) != 1 {
		t.Fatalf("anomalies = %+v, want one", summarize(got))
	}
	want := `Token tok-1 was used by "curl" after "Chrome": check whether the owner runs both clients, and revoke the token if not.`
	if got[0].Summary != want {
		t.Errorf("Summary = %q, want %q", got[0].Summary, want)
	}
}
