package detect

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// attacker is a public address: the network rules skip reserved ones, the
// documentation ranges included.
const attacker = "11.22.33.44"

// rejections returns n rejections for reason from ip, every gap apart.
func rejections(n int, gap time.Duration, reason audit.RejectReason, ip string) []audit.Event {
	var out []audit.Event
	for i := range n {
		out = append(out, event(fmt.Sprintf("x%02d", i), time.Duration(i)*gap, audit.KindRejected,
			withToken(fmt.Sprintf("forged-%02d", i)), withIP(ip), withReject(reason)))
	}
	return out
}

func TestRejectedBurst(t *testing.T) {
	fromManyNetworks := rejections(25, time.Second, audit.RejectBadSignature, attacker)
	for i := range fromManyNetworks {
		fromManyNetworks[i].IP = netip.AddrFrom4([4]byte{11, 22, byte(i), 1})
	}
	withoutToken := rejections(21, time.Second, audit.RejectMalformed, attacker)
	for i := range withoutToken {
		withoutToken[i].TokenID = ""
	}
	runRuleCases(t, []ruleCase{
		{
			name:   "21 bad signatures within a minute",
			events: rejections(21, 2*time.Second, audit.RejectBadSignature, attacker),
			want:   []found{{RuleRejectedBurst, medium, []string{"x00", "x20"}}},
		},
		{
			name:   "20 bad signatures within a minute",
			events: rejections(20, 2*time.Second, audit.RejectBadSignature, attacker),
		},
		{
			name:   "alg none over IPv6, one /64",
			events: ipv6Spread(rejections(21, time.Second, audit.RejectAlgNone, attacker)),
			want:   []found{{RuleRejectedBurst, medium, []string{"x00", "x20"}}},
		},
		{
			name:   "malformed tokens without identity",
			events: withoutToken,
			want:   []found{{RuleRejectedBurst, medium, []string{"x00", "x20"}}},
		},
		{
			name:   "expired tokens are not counted",
			events: rejections(30, time.Second, audit.RejectExpired, attacker),
		},
		{
			name:   "spread over many networks",
			events: fromManyNetworks,
		},
		{
			name:   "spread over an hour",
			events: rejections(60, time.Minute, audit.RejectUnknownKey, attacker),
		},
		{
			name:   "behind a private proxy",
			events: rejections(30, time.Second, audit.RejectBadSignature, "10.0.0.8"),
		},
		{
			name:   "documentation address",
			events: rejections(30, time.Second, audit.RejectBadSignature, "198.51.100.7"),
		},
		{
			name:   "trusted network",
			cfg:    Config{TrustedNetworks: []netip.Prefix{mustPrefix("11.22.0.0/16")}},
			events: rejections(30, time.Second, audit.RejectBadSignature, attacker),
		},
		{
			name:   "one anomaly per window",
			events: rejections(50, time.Second, audit.RejectBadSignature, attacker),
			want:   []found{{RuleRejectedBurst, medium, []string{"x00", "x20"}}},
		},
		{
			name:   "a burst a window later",
			events: rejections(90, time.Second, audit.RejectBadSignature, attacker),
			want: []found{
				{RuleRejectedBurst, medium, []string{"x00", "x20"}},
				{RuleRejectedBurst, medium, []string{"x00", "x80"}},
			},
		},
		{
			name: "reasons and threshold by config",
			cfg: Config{Rules: Rules{RejectedBurst: RejectedBurst{
				MaxRejections: 3, Window: 10 * time.Second, Reasons: []audit.RejectReason{audit.RejectExpired},
			}}},
			events: rejections(4, time.Second, audit.RejectExpired, attacker),
			want:   []found{{RuleRejectedBurst, medium, []string{"x00", "x03"}}},
		},
		{
			name:   "rule disabled",
			cfg:    Config{Rules: Rules{RejectedBurst: RejectedBurst{RuleBase: RuleBase{Disabled: true}}}},
			events: rejections(30, time.Second, audit.RejectBadSignature, attacker),
		},
	})
}

// ipv6Spread gives each event its own address within one IPv6 /64.
func ipv6Spread(events []audit.Event) []audit.Event {
	for i := range events {
		events[i].IP = netip.MustParseAddr(fmt.Sprintf("2a01:4f8:1:2:%x::1", i+1))
	}
	return events
}

// subjectUses returns a use of its own token by each subject, from ip,
// every gap apart.
func subjectUses(subjects []string, gap time.Duration, ip string) []audit.Event {
	var out []audit.Event
	for i, s := range subjects {
		out = append(out, event(fmt.Sprintf("u%02d", i), time.Duration(i)*gap, audit.KindUsed,
			withToken(fmt.Sprintf("tok-%02d", i)), withSubject(s), withIP(ip)))
	}
	return out
}

func people(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("user-%02d@example.com", i))
	}
	return out
}

func ids(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s%02d", prefix, i))
	}
	return out
}

func TestSharedIPManySubjects(t *testing.T) {
	placeholders := append(people(19), "null", "NULL", "unknown", "", "-", " none ", "n/a", "undefined")
	sameNameTwoIssuers := subjectUses(people(21), 10*time.Second, attacker)
	for i := range sameNameTwoIssuers {
		sameNameTwoIssuers[i].Subject = "user-00@example.com"
		sameNameTwoIssuers[i].Issuer = fmt.Sprintf("https://idp-%02d.example.com", i)
	}
	runRuleCases(t, []ruleCase{
		{
			name:   "21 subjects within ten minutes",
			events: subjectUses(people(21), 10*time.Second, attacker),
			want:   []found{{RuleSharedIPManySubjects, high, ids("u", 0, 20)}},
		},
		{
			name:   "20 subjects within ten minutes",
			events: subjectUses(people(20), 10*time.Second, attacker),
		},
		{
			name:   "placeholder subjects are no people",
			events: subjectUses(placeholders, 10*time.Second, attacker),
		},
		{
			name:   "one subject, many tokens",
			events: subjectUses(slicesRepeat("alice@example.com", 40), 10*time.Second, attacker),
		},
		{
			name:   "one name at many issuers",
			events: sameNameTwoIssuers,
			want:   []found{{RuleSharedIPManySubjects, high, ids("u", 0, 20)}},
		},
		{
			name:   "subjects spread over hours",
			events: subjectUses(people(30), 10*time.Minute, attacker),
		},
		{
			name:   "one IPv6 /64",
			events: ipv6Spread(subjectUses(people(21), 10*time.Second, attacker)),
			want:   []found{{RuleSharedIPManySubjects, high, ids("u", 0, 20)}},
		},
		{
			name:   "office behind a trusted egress",
			cfg:    Config{TrustedNetworks: []netip.Prefix{mustPrefix("11.22.33.0/24")}},
			events: subjectUses(people(40), 10*time.Second, attacker),
		},
		{
			name:   "private, CGNAT and documentation addresses",
			events: append(append(subjectUses(people(25), time.Second, "10.1.2.3"), subjectUses(people(25), time.Second, "100.64.0.1")...), subjectUses(people(25), time.Second, "2001:db8::1")...),
		},
		{
			name:   "rejections are no uses",
			events: rejectedBy(people(30), attacker),
		},
		{
			name:   "threshold by config",
			cfg:    Config{Rules: Rules{SharedIPManySubjects: SharedIPManySubjects{MaxSubjects: 2, Window: time.Minute}}},
			events: subjectUses(people(3), 10*time.Second, attacker),
			want:   []found{{RuleSharedIPManySubjects, high, ids("u", 0, 2)}},
		},
		{
			name:   "next anomaly needs new subjects",
			cfg:    Config{Rules: Rules{SharedIPManySubjects: SharedIPManySubjects{MaxSubjects: 2, Window: time.Minute}}},
			events: subjectUses(people(6), time.Second, attacker),
			want: []found{
				{RuleSharedIPManySubjects, high, ids("u", 0, 2)},
				{RuleSharedIPManySubjects, high, ids("u", 2, 4)},
			},
		},
		{
			name:   "rule disabled",
			cfg:    Config{Rules: Rules{SharedIPManySubjects: SharedIPManySubjects{RuleBase: RuleBase{Disabled: true}}}},
			events: subjectUses(people(30), time.Second, attacker),
		},
	})
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func rejectedBy(subjects []string, ip string) []audit.Event {
	events := subjectUses(subjects, time.Second, ip)
	for i := range events {
		events[i].Kind = audit.KindRejected
		events[i].RejectReason = audit.RejectExpired
	}
	return events
}

func TestSharedIPSummaryNamesNetwork(t *testing.T) {
	got := run(t, Config{Rules: Rules{SharedIPManySubjects: SharedIPManySubjects{MaxSubjects: 2}}},
		ipv6Spread(subjectUses(people(3), 10*time.Second, attacker)))
	if len(got) != 1 {
		t.Fatalf("anomalies = %+v, want one", summarize(got))
	}
	if want := "2a01:4f8:1:2::/64 used tokens of 3 subjects within 20s"; !strings.HasPrefix(got[0].Summary, want) {
		t.Errorf("Summary = %q, want it to start with %q", got[0].Summary, want)
	}
	if got[0].TokenID != "tok-02" || got[0].Subject != "" {
		t.Errorf("TokenID, Subject = %q, %q, want %q and an empty subject", got[0].TokenID, got[0].Subject, "tok-02")
	}
	// The first user's token is counted but not named: the table of first
	// users keeps no token.
	for _, want := range []string{"(tokens tok-01, tok-02 and 1 more)", "tokentrail anomalies --network 2a01:4f8:1:2::/64 lists"} {
		if !strings.Contains(got[0].Summary, want) {
			t.Errorf("Summary = %q, want it to contain %q", got[0].Summary, want)
		}
	}
}

func TestSharedIPSummaryCountsManyTokens(t *testing.T) {
	got := run(t, Config{}, subjectUses(people(21), time.Second, attacker))
	if len(got) != 1 {
		t.Fatalf("anomalies = %+v, want one", summarize(got))
	}
	want := "(tokens tok-01, tok-02, tok-03, tok-04, tok-05, tok-06, tok-07, tok-08, tok-09, tok-10 and 11 more)"
	if !strings.Contains(got[0].Summary, want) {
		t.Errorf("Summary = %q, want it to contain %q", got[0].Summary, want)
	}
}

func TestListTokens(t *testing.T) {
	tokens := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("t%d", i))
		}
		return out
	}
	tests := []struct {
		name   string
		tokens []string
		total  int
		want   string
	}{
		{"one", tokens(1), 1, "token t0"},
		{"three", tokens(3), 3, "tokens t0, t1 and t2"},
		{"one unnamed", tokens(2), 3, "tokens t0, t1 and 1 more"},
		{"ten", tokens(10), 10, "tokens t0, t1, t2, t3, t4, t5, t6, t7, t8 and t9"},
		{"eleven", tokens(11), 11, "tokens t0, t1, t2, t3, t4, t5, t6, t7, t8, t9 and 1 more"},
		{"none named", nil, 3, "3 tokens, none named"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := listTokens(tt.tokens, tt.total); got != tt.want {
				t.Errorf("listTokens(%v, %d) = %q, want %q", tt.tokens, tt.total, got, tt.want)
			}
		})
	}
}

func TestRejectedBurstSummaryNamesCommand(t *testing.T) {
	got := run(t, Config{}, rejections(21, time.Second, audit.RejectBadSignature, attacker))
	if len(got) != 1 {
		t.Fatalf("anomalies = %+v, want one", summarize(got))
	}
	if want := "tokentrail anomalies --network 11.22.33.44 lists"; !strings.Contains(got[0].Summary, want) {
		t.Errorf("Summary = %q, want it to contain %q", got[0].Summary, want)
	}
}

// Five networks that share one set of four slots of the table of first
// users replace the first user used longest ago, whose network then needs
// one more subject.
func TestFirstUseSlotReplaced(t *testing.T) {
	cfg := Config{
		ReorderWindow: -1,
		NetworkState:  NetworkState{FirstUseSlots: 4},
		Rules:         Rules{SharedIPManySubjects: SharedIPManySubjects{MaxSubjects: 2}},
	}
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	use := func(id string, at time.Duration, subject, ip string) audit.Event {
		return event(id, at, audit.KindUsed, withToken(id), withSubject(subject), withIP(ip))
	}
	events := []audit.Event{
		use("a0", 0, "ann", attacker),
		use("b0", time.Second, "bob", "11.22.34.1"),
		use("c0", 2*time.Second, "cat", "11.22.35.1"),
		use("d0", 3*time.Second, "dee", "11.22.36.1"),
		use("e0", 4*time.Second, "eli", "11.22.37.1"), // replaces a0
		use("a1", 5*time.Second, "cid", attacker),     // replaces b0
		use("a2", 6*time.Second, "dan", attacker),
		use("a3", 7*time.Second, "eve", attacker),
	}
	got := observeAll(eng, events)
	if want := []found{{RuleSharedIPManySubjects, high, []string{"a1", "a2", "a3"}}}; !equalFound(summarize(got), want) {
		t.Errorf("anomalies = %+v, want %+v", summarize(got), want)
	}
	if s := eng.Stats(); s.FirstUsesReplaced != 2 || s.Networks != 1 {
		t.Errorf("Stats() = %+v, want FirstUsesReplaced 2 and Networks 1", s)
	}
}

func TestNetworkEviction(t *testing.T) {
	eng, err := New(Config{ReorderWindow: -1, NetworkState: NetworkState{MaxNetworks: 2, TTL: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	reject := func(id string, at time.Duration, ip string) {
		eng.Observe(event(id, at, audit.KindRejected, withIP(ip), withReject(audit.RejectBadSignature)))
	}
	reject("x1", 0, "11.0.0.1")
	reject("x2", time.Minute, "11.0.1.1")
	reject("x3", 2*time.Minute, "11.0.2.1") // drops 11.0.0.1
	if s := eng.Stats(); s.NetworksEvictedByCount != 1 || s.Networks != 2 {
		t.Errorf("Stats() = %+v, want NetworksEvictedByCount 1 and Networks 2", s)
	}
	reject("x4", 90*time.Minute, "11.0.3.1") // drops 11.0.1.1 and 11.0.2.1 by age
	if s := eng.Stats(); s.NetworksEvictedByAge != 2 || s.Networks != 1 {
		t.Errorf("Stats() = %+v, want NetworksEvictedByAge 2 and Networks 1", s)
	}
}

// The table of first users grows as networks arrive, and keeps each
// network's first user as it grows.
func TestFirstUseTableGrows(t *testing.T) {
	cfg := Config{
		ReorderWindow: -1,
		NetworkState:  NetworkState{FirstUseSlots: 4096},
		Rules:         Rules{SharedIPManySubjects: SharedIPManySubjects{MaxSubjects: 1}},
	}
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		ip := netip.AddrFrom4([4]byte{11, byte(i >> 8), byte(i), 1}).String()
		id := fmt.Sprintf("first-%04d", i)
		if got := eng.Observe(event(id, time.Duration(i)*time.Millisecond, audit.KindUsed, withToken(id), withIP(ip))); len(got) != 0 {
			t.Fatalf("first use %s raised %+v", id, summarize(got))
		}
	}
	if n := len(eng.mu.firstUses); n != 4096 {
		t.Errorf("table size = %d, want 4096 after 1,000 networks", n)
	}

	got := eng.Observe(event("second", 2*time.Second, audit.KindUsed, withToken("t2"), withSubject("bob@example.com"), withIP("11.0.0.1")))
	if want := []found{{RuleSharedIPManySubjects, high, []string{"first-0000", "second"}}}; !equalFound(summarize(got), want) {
		t.Errorf("anomalies = %+v, want %+v", summarize(got), want)
	}
	if s := eng.Stats(); s.FirstUsesReplaced > 10 {
		t.Errorf("Stats().FirstUsesReplaced = %d, want at most 1%% of 1,000 networks in 4,096 slots", s.FirstUsesReplaced)
	}
}
