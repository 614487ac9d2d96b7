package detect

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// scenarioConfig turns on every rule for scenario.
func scenarioConfig() Config {
	return Config{
		ReorderWindow: 10 * time.Second,
		Rules: Rules{
			HighFrequency: HighFrequency{MaxUses: 100, Window: time.Minute},
			UnknownToken:  UnknownToken{Issuers: []string{idp}},
		},
		UserAgents: fakeFamilies{},
		IPLists:    fakeLists{"tor-exit": {mustPrefix("203.0.113.192/26")}},
	}
}

// scenario returns sorted events of several tokens that raise every rule,
// mixed with benign uses, many of them at the same second as in logs of
// second resolution.
func scenario() []audit.Event {
	var out []audit.Event
	add := func(token, id string, at time.Duration, kind audit.Kind, opts ...func(*audit.Event)) {
		out = append(out, event(id, at, kind, append(opts, withToken(token))...))
	}
	ips := []string{"192.0.2.10", "198.51.100.7", "203.0.113.9"}
	for i := range 300 {
		at := time.Duration(i) * 500 * time.Millisecond
		add("busy", fmt.Sprintf("busy-%03d", i), at.Truncate(time.Second), audit.KindUsed, withIP(ips[i/100]))
	}
	add("revoked", "rv-1", 10*time.Second, audit.KindRevoked)
	add("revoked", "rv-2", 200*time.Second, audit.KindUsed)
	add("expired", "ex-1", 0, audit.KindIssued, func(e *audit.Event) { e.ExpiresAt = t0.Add(time.Minute) })
	add("expired", "ex-2", 150*time.Second, audit.KindUsed)
	add("refresh", "rf-1", 20*time.Second, audit.KindRefreshed)
	add("refresh", "rf-2", 21*time.Second, audit.KindRefreshed)
	add("refresh", "rf-3", 40*time.Second, audit.KindRefreshed)
	add("travel", "tr-1", 30*time.Second, audit.KindUsed, withGeo(48.8566, 2.3522))
	add("travel", "tr-2", 90*time.Second, audit.KindUsed, withGeo(40.7128, -74.0060))

	add("twin", "tw-1", 50*time.Second, audit.KindUsed, withIP("198.51.100.70"), withUA("Chrome/131.0"))
	add("twin", "tw-2", 55*time.Second, audit.KindUsed, withIP("192.0.2.70"), withUA("curl/8.5"))
	add("twin", "tw-3", 60*time.Second, audit.KindUsed, withIP("198.51.100.70"), withUA("Chrome/131.0"))
	add("agent", "ag-1", 70*time.Second, audit.KindUsed, withUA("Chrome/131.0"))
	add("agent", "ag-2", 80*time.Second, audit.KindUsed, withUA("curl/8.5"))
	add("ghost", "gh-1", 100*time.Second, audit.KindUsed, withIssued(idp, 95*time.Second))
	add("tor", "to-1", 110*time.Second, audit.KindUsed, withIP("203.0.113.200"))
	for i := range 21 {
		at := 120*time.Second + time.Duration(i)*time.Second
		add(fmt.Sprintf("forged-%02d", i), fmt.Sprintf("rb-%02d", i), at, audit.KindRejected,
			withIP("11.22.33.44"), withReject(audit.RejectBadSignature))
		add(fmt.Sprintf("stolen-%02d", i), fmt.Sprintf("sh-%02d", i), at+40*time.Second, audit.KindUsed,
			withIP("11.22.33.45"), withSubject(fmt.Sprintf("user-%02d@example.com", i)))
	}
	sort.SliceStable(out, func(i, j int) bool { return eventBefore(&out[i], &out[j]) })
	return out
}

func TestShuffledWithinWindowMatchesSorted(t *testing.T) {
	cfg := scenarioConfig()
	sorted := scenario()
	want := run(t, cfg, sorted)
	rules := map[string]bool{}
	for _, a := range want {
		rules[a.Rule] = true
	}
	if len(rules) != 12 {
		t.Fatalf("sorted scenario raised %d anomalies of %d rules, want all 12 rules: %+v", len(want), len(rules), summarize(want))
	}

	for seed := range uint64(20) {
		// Each event arrives up to the window after its time, which keeps
		// every event within the window of the latest one seen.
		rng := rand.New(rand.NewPCG(seed, 1))
		arrival := make([]time.Time, len(sorted))
		for i, e := range sorted {
			arrival[i] = e.Time.Add(time.Duration(rng.Int64N(int64(cfg.ReorderWindow))))
		}
		order := make([]int, len(sorted))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return arrival[order[a]].Before(arrival[order[b]]) })
		shuffled := make([]audit.Event, len(sorted))
		for i, j := range order {
			shuffled[i] = sorted[j]
		}

		eng, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := observeAll(eng, shuffled)
		if !slices.EqualFunc(got, want, equalAnomaly) {
			t.Errorf("seed %d: shuffled anomalies = %+v, want %+v", seed, summarize(got), summarize(want))
		}
		if s := eng.Stats(); s.Late != 0 {
			t.Errorf("seed %d: Stats().Late = %d, want 0 within the window", seed, s.Late)
		}
	}
}

func equalAnomaly(a, b audit.Anomaly) bool {
	return a.ID == b.ID && a.Rule == b.Rule && a.Severity == b.Severity && a.Time.Equal(b.Time) &&
		a.TokenID == b.TokenID && a.Subject == b.Subject && slices.Equal(a.EventIDs, b.EventIDs) && a.Summary == b.Summary
}

func TestReplayRaisesOnce(t *testing.T) {
	cfg := scenarioConfig()
	events := scenario()
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	first := observeAll(eng, events)
	if again := observeAll(eng, events); len(again) != 0 {
		t.Errorf("replay raised %d anomalies again: %+v", len(again), summarize(again))
	}

	// A new engine, as after a restart, raises the same IDs, which a store
	// keeps once.
	if fresh := run(t, cfg, events); !slices.EqualFunc(fresh, first, equalAnomaly) {
		t.Errorf("new engine anomalies = %+v, want %+v", summarize(fresh), summarize(first))
	}
}

func TestDuplicatePendingEvent(t *testing.T) {
	eng, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := event("u1", 0, audit.KindUsed)
	eng.Observe(e)
	eng.Observe(event("u0", -time.Second, audit.KindUsed))
	eng.Observe(e)
	if s := eng.Stats(); s.Duplicates != 1 || s.Pending != 2 {
		t.Errorf("Stats() = %+v, want Duplicates 1 and Pending 2", s)
	}
}

func TestEvictionByCount(t *testing.T) {
	eng, err := New(Config{ReorderWindow: -1, MaxTokens: 2})
	if err != nil {
		t.Fatal(err)
	}
	eng.Observe(event("r1", 0, audit.KindRevoked, withToken("a")))
	eng.Observe(event("u1", time.Second, audit.KindUsed, withToken("b")))
	eng.Observe(event("u2", 2*time.Second, audit.KindUsed, withToken("c"))) // drops a

	s := eng.Stats()
	if s.EvictedByCount != 1 || s.Tokens != 2 {
		t.Errorf("Stats() = %+v, want EvictedByCount 1 and Tokens 2", s)
	}
	// The revocation of a outlives its state.
	got := eng.Observe(event("u3", time.Hour, audit.KindUsed, withToken("a")))
	if len(got) != 1 || got[0].Rule != RuleRevokedTokenUse {
		t.Errorf("use of an evicted revoked token raised %+v, want one revoked_token_use", summarize(got))
	}
}

func TestEvictionByAge(t *testing.T) {
	eng, err := New(Config{ReorderWindow: -1, TokenTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	eng.Observe(event("u1", 0, audit.KindUsed, withToken("a")))
	eng.Observe(event("u2", 30*time.Minute, audit.KindUsed, withToken("b")))
	eng.Observe(event("u3", 90*time.Minute, audit.KindUsed, withToken("c"))) // a is 90 min old

	if s := eng.Stats(); s.EvictedByAge != 1 || s.Tokens != 2 {
		t.Errorf("Stats() = %+v, want EvictedByAge 1 and Tokens 2", s)
	}
}

func TestForcedRelease(t *testing.T) {
	eng, err := New(Config{ReorderWindow: time.Hour, MaxPending: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		eng.Observe(event(fmt.Sprintf("u%d", i), time.Duration(i)*time.Second, audit.KindUsed))
	}
	if s := eng.Stats(); s.ForcedReleases != 2 || s.Pending != 3 || s.Checked != 2 {
		t.Errorf("Stats() = %+v, want ForcedReleases 2, Pending 3, Checked 2", s)
	}
}

func TestLateEventSkipsWindowRules(t *testing.T) {
	eng, err := New(Config{ReorderWindow: -1, Rules: Rules{RapidIPChange: RapidIPChange{MaxNetworks: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	eng.Observe(event("u2", time.Minute, audit.KindUsed, withIP("192.0.2.1")))
	got := eng.Observe(event("u1", 0, audit.KindUsed, withIP("198.51.100.1")))
	if len(got) != 0 {
		t.Errorf("late event raised %+v, want nothing", summarize(got))
	}
	if s := eng.Stats(); s.Late != 1 {
		t.Errorf("Stats().Late = %d, want 1", s.Late)
	}
}

func TestSessionEventWithoutToken(t *testing.T) {
	e := event("s1", 0, audit.KindSession, withToken(""))
	e.SessionID = "sid-1"
	if got := run(t, Config{}, []audit.Event{e}); len(got) != 0 {
		t.Errorf("session event raised %+v, want nothing", summarize(got))
	}
}

func TestNetworkOf(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"same IPv4 /24", "192.0.2.1", "192.0.2.254", true},
		{"other IPv4 /24", "192.0.2.1", "192.0.3.1", false},
		{"same IPv6 /64", "2001:db8:0:1::1", "2001:db8:0:1:8000::1", true},
		{"other IPv6 /64", "2001:db8:0:1::1", "2001:db8:0:2::1", false},
		{"IPv4 apart from IPv6 zero prefix", "0.0.0.1", "::1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := networkOf(mustAddr(tc.a), 24, 64)
			b := networkOf(mustAddr(tc.b), 24, 64)
			if (a == b) != tc.same {
				t.Errorf("networkOf(%s) == networkOf(%s) is %v, want %v", tc.a, tc.b, a == b, tc.same)
			}
		})
	}
}

func TestIsReserved(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", true}, {"172.16.0.1", true}, {"192.168.1.1", true}, {"127.0.0.1", true},
		{"169.254.1.1", true}, {"100.64.0.1", true}, {"192.0.2.1", true}, {"198.51.100.1", true},
		{"203.0.113.1", true}, {"0.0.0.0", true}, {"::1", true}, {"fe80::1", true}, {"fd12::1", true},
		{"2001:db8::1", true}, {"ff02::1", true},
		{"9.9.9.9", false}, {"2a01:4f8::1", false}, {"2606:4700::1", false},
	}
	for _, tc := range tests {
		if got := isReserved(mustAddr(tc.addr)); got != tc.want {
			t.Errorf("isReserved(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}
