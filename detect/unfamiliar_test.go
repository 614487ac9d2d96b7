package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

const day = 24 * time.Hour

// from sets the client of a use: address, country, ASN with its
// organisation, and user agent.
func from(ip, country string, asn uint32, ua string) func(*audit.Event) {
	return func(e *audit.Event) {
		e.IP = mustAddr(ip)
		e.Geo.Country, e.Geo.ASN, e.Geo.Org = country, asn, fmt.Sprintf("Org %d", asn)
		e.UserAgent = ua
	}
}

// homeClient is the client a subject uses while it learns.
var homeClient = from("81.56.10.20", "FR", 3215, "Firefox/128.0")

// history returns n uses of subject's tokens, spread evenly over span from
// t0, one token a day, each from the client set by opts.
func history(subject string, n int, span time.Duration, opts ...func(*audit.Event)) []audit.Event {
	out := make([]audit.Event, 0, n)
	for i := range n {
		at := time.Duration(i) * span / time.Duration(n)
		token := fmt.Sprintf("%s-tok-%d", subject, at/day)
		all := append([]func(*audit.Event){withToken(token), withSubject(subject)}, opts...)
		out = append(out, event(fmt.Sprintf("%s-%03d", subject, i), at, audit.KindUsed, all...))
	}
	return out
}

// unfamiliarConfig turns the rules that compare a token's own uses off, so
// that the tests see unfamiliar_client alone.
func unfamiliarConfig() Config {
	return Config{
		UserAgents: fakeFamilies{},
		Rules: Rules{
			RapidIPChange:   RapidIPChange{RuleBase: RuleBase{Disabled: true}},
			ConcurrentUse:   ConcurrentUse{RuleBase: RuleBase{Disabled: true}},
			UserAgentChange: UserAgentChange{RuleBase: RuleBase{Disabled: true}},
		},
	}
}

// attack is a use of alice's token from a new country, ASN and family.
func attack(id string, at time.Duration, opts ...func(*audit.Event)) audit.Event {
	all := append([]func(*audit.Event){withToken("alice-stolen"), withSubject("alice"),
		from("164.90.1.2", "DE", 14061, "curl/8.5")}, opts...)
	return event(id, at, audit.KindUsed, all...)
}

func TestUnfamiliarClientAfterLearning(t *testing.T) {
	events := append(history("alice", 40, 10*day, homeClient), attack("evil", 11*day))
	got := run(t, unfamiliarConfig(), events)
	checkAnomalies(t, got)

	want := []found{{RuleUnfamiliarClient, audit.SeverityMedium, []string{"evil"}}}
	if !equalFound(summarize(got), want) {
		t.Fatalf("anomalies = %+v, want %+v", summarize(got), want)
	}
	a := got[0]
	for _, part := range []string{`country DE`, `AS14061 "Org 14061"`, `user-agent family "curl"`, `40 uses over 11 days`, `country FR`, `AS3215`, `user-agent family "Firefox"`} {
		if !strings.Contains(a.Summary, part) {
			t.Errorf("summary %q does not name %s", a.Summary, part)
		}
	}
	if a.Subject != "alice" || a.TokenID != "alice-stolen" || a.Country != "DE" || a.ASN != 14061 || a.UserAgent != "curl/8.5" {
		t.Errorf("anomaly = %+v, want alice's stolen token used from DE, AS14061, curl", a)
	}
}

func TestUnfamiliarClientEachKindAlone(t *testing.T) {
	tests := []struct {
		name   string
		client func(*audit.Event)
		want   string
	}{
		{"country", from("81.56.10.21", "BE", 3215, "Firefox/130.0"), "country BE"},
		{"asn", from("81.56.10.21", "FR", 12322, "Firefox/130.0"), "AS12322"},
		{"family", from("81.56.10.21", "FR", 3215, "python-requests/2.32"), `user-agent family "python-requests"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events := append(history("alice", 30, 8*day, homeClient), attack("new", 9*day, tc.client))
			got := run(t, unfamiliarConfig(), events)
			if len(got) != 1 || got[0].Rule != RuleUnfamiliarClient {
				t.Fatalf("anomalies = %+v, want one unfamiliar_client", summarize(got))
			}
			if !strings.Contains(got[0].Summary, tc.want) {
				t.Errorf("summary %q does not name %s", got[0].Summary, tc.want)
			}
		})
	}
}

func TestUnfamiliarClientNotDuringLearning(t *testing.T) {
	tests := []struct {
		name   string
		events []audit.Event
	}{
		// 100 uses, but within 3 days of the first.
		{"period not over", append(history("alice", 100, 3*day, homeClient), attack("evil", 3*day))},
		// 8 days, but only 19 uses before the new client.
		{"too few uses", append(history("alice", 19, 8*day, homeClient), attack("evil", 9*day))},
		// The new client is the first use.
		{"first use", append([]audit.Event{attack("evil", 0)}, history("alice", 40, 10*day, homeClient)[1:]...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(t, unfamiliarConfig(), tc.events); len(got) != 0 {
				t.Errorf("anomalies = %+v, want none while the subject learns", summarize(got))
			}
		})
	}
}

func TestUnfamiliarClientLearningBounds(t *testing.T) {
	cfg := unfamiliarConfig()
	cfg.Rules.UnfamiliarClient = UnfamiliarClient{LearningPeriod: 2 * day, MinEvents: 5}
	// 5 uses over 2 days and a bit: both bounds are met.
	events := append(history("alice", 5, 2*day+time.Hour, homeClient), attack("evil", 2*day+2*time.Hour))
	if got := run(t, cfg, events); len(got) != 1 {
		t.Errorf("with learning_period 48h and min_events 5: anomalies = %+v, want one", summarize(got))
	}
	events = append(history("alice", 4, 2*day+time.Hour, homeClient), attack("evil", 2*day+2*time.Hour))
	if got := run(t, cfg, events); len(got) != 0 {
		t.Errorf("after 4 uses with min_events 5: anomalies = %+v, want none", summarize(got))
	}
}

func TestUnfamiliarClientPlaceholderSubjects(t *testing.T) {
	for _, subject := range []string{"", "-", "null", "None", " unknown ", "undefined", "n/a"} {
		t.Run(fmt.Sprintf("%q", subject), func(t *testing.T) {
			events := append(history(subject, 40, 10*day, homeClient), attack("evil", 11*day, withSubject(subject)))
			eng, err := New(unfamiliarConfig())
			if err != nil {
				t.Fatal(err)
			}
			if got := observeAll(eng, events); len(got) != 0 {
				t.Errorf("anomalies = %+v, want none for a placeholder subject", summarize(got))
			}
			if n := eng.Stats().Subjects; n != 0 {
				t.Errorf("Stats.Subjects = %d, want 0: placeholders get no state", n)
			}
		})
	}
}

func TestUnfamiliarClientSubjectsApart(t *testing.T) {
	// Bob uses DE from the start, but alice's first use from DE is still
	// new to her. The same subject name at another issuer is another
	// subject.
	events := append(history("alice", 40, 10*day, homeClient, withIssued("https://a.example", 0)),
		history("bob", 40, 10*day, from("164.90.1.3", "DE", 14061, "curl/8.5"), withIssued("https://a.example", 0))...)
	events = append(events, history("alice", 40, 10*day, from("164.90.1.4", "DE", 14061, "curl/8.5"), withIssued("https://b.example", 0))...)
	events = append(events, attack("evil", 11*day, withIssued("https://a.example", 0)))
	sortEvents(events)
	got := run(t, unfamiliarConfig(), events)
	want := []found{{RuleUnfamiliarClient, audit.SeverityMedium, []string{"evil"}}}
	if !equalFound(summarize(got), want) {
		t.Errorf("anomalies = %+v, want %+v", summarize(got), want)
	}
}

func TestUnfamiliarClientMissingValues(t *testing.T) {
	tests := []struct {
		name   string
		client func(*audit.Event)
	}{
		{"no geo, no user agent", func(e *audit.Event) { e.Geo = audit.Geo{}; e.UserAgent = "" }},
		{"unknown country codes", func(e *audit.Event) { e.Geo.Country = "ZZ"; e.Geo.ASN = 0; e.UserAgent = "" }},
		{"placeholder country", func(e *audit.Event) { e.Geo.Country = " unknown"; e.Geo.ASN = 0; e.UserAgent = "" }},
		{"family not known", func(e *audit.Event) { e.Geo = audit.Geo{Country: "FR", ASN: 3215}; e.UserAgent = "/nothing" }},
		{"same values, other case", func(e *audit.Event) { e.Geo = audit.Geo{Country: "fr ", ASN: 3215}; e.UserAgent = "Firefox/140.0" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events := append(history("alice", 40, 10*day, homeClient), attack("evil", 11*day, tc.client))
			if got := run(t, unfamiliarConfig(), events); len(got) != 0 {
				t.Errorf("anomalies = %+v, want none", summarize(got))
			}
		})
	}
}

func TestUnfamiliarClientOncePerValue(t *testing.T) {
	events := append(history("alice", 40, 10*day, homeClient),
		attack("evil-1", 11*day),
		attack("evil-2", 11*day+time.Hour),
		attack("evil-3", 11*day+2*time.Hour, withToken("alice-other")),
		// Known country and family, new ASN: raises for the ASN alone.
		attack("evil-4", 12*day, withToken("alice-third"), from("5.6.7.8", "DE", 16276, "curl/8.6")),
	)
	got := run(t, unfamiliarConfig(), events)
	want := []found{
		{RuleUnfamiliarClient, audit.SeverityMedium, []string{"evil-1"}},
		{RuleUnfamiliarClient, audit.SeverityMedium, []string{"evil-4"}},
	}
	if !equalFound(summarize(got), want) {
		t.Fatalf("anomalies = %+v, want %+v", summarize(got), want)
	}
	if s := got[1].Summary; !strings.Contains(s, "AS16276") || strings.Contains(s, "country DE") || strings.Contains(s, `"curl"`) {
		t.Errorf("second summary = %q, want only AS16276 as new", s)
	}
}

func TestUnfamiliarClientTrustedAndInternal(t *testing.T) {
	cfg := unfamiliarConfig()
	cfg.TrustedNetworks = []netipPrefix{mustPrefix("198.51.100.0/24")}
	tests := []struct {
		name   string
		client func(*audit.Event)
	}{
		{"trusted network", from("198.51.100.9", "DE", 14061, "Firefox/128.0")},
		{"private", from("10.1.2.3", "DE", 14061, "curl/8.5")},
		{"cgnat", from("100.64.0.9", "DE", 14061, "curl/8.5")},
		{"loopback", from("::1", "DE", 14061, "curl/8.5")},
		{"unique local", from("fd00::5", "DE", 14061, "curl/8.5")},
		{"link-local", from("169.254.0.7", "DE", 14061, "curl/8.5")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events := append(history("alice", 40, 10*day, homeClient), attack("evil", 11*day, tc.client))
			if got := run(t, cfg, events); len(got) != 0 {
				t.Errorf("anomalies = %+v, want none", summarize(got))
			}
		})
	}

	// A trusted network's family is the subject's own, and its uses count
	// towards learning: a subject that only works through the VPN learns
	// its family, and a new family outside it raises.
	events := append(history("alice", 40, 10*day, from("198.51.100.9", "NL", 64500, "Firefox/128.0")),
		attack("evil", 11*day, from("164.90.1.2", "DE", 14061, "curl/8.5")))
	got := run(t, cfg, events)
	if len(got) != 1 || !strings.Contains(got[0].Summary, `"curl"`) || strings.Contains(got[0].Summary, "country DE") {
		t.Errorf("VPN-only subject: anomalies = %+v, want one naming the family alone", got)
	}
}

func TestUnfamiliarClientVariedSubject(t *testing.T) {
	// A subject that used more ASNs than a state keeps is too varied for
	// a new ASN to raise; a new country still does.
	var events []audit.Event
	for i := range 40 {
		asn := uint32(64496 + i%(knownValues+1))
		events = append(events, history("alice", 1, time.Hour, from("81.56.10.20", "FR", asn, "Firefox/128.0"))[0])
		events[i].ID = fmt.Sprintf("h-%02d", i)
		events[i].Time = t0.Add(time.Duration(i) * 6 * time.Hour)
	}
	events = append(events,
		attack("new-asn", 11*day, from("81.56.10.30", "FR", 12322, "Firefox/128.0")),
		attack("new-country", 11*day+time.Hour, from("81.56.10.30", "BE", 12322, "Firefox/128.0")))
	got := run(t, unfamiliarConfig(), events)
	want := []found{{RuleUnfamiliarClient, audit.SeverityMedium, []string{"new-country"}}}
	if !equalFound(summarize(got), want) {
		t.Errorf("anomalies = %+v, want %+v", summarize(got), want)
	}
}

func TestUnfamiliarClientDisabled(t *testing.T) {
	cfg := unfamiliarConfig()
	cfg.Rules.UnfamiliarClient.Disabled = true
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	events := append(history("alice", 40, 10*day, homeClient), attack("evil", 11*day))
	if got := observeAll(eng, events); len(got) != 0 {
		t.Errorf("anomalies = %+v, want none with the rule disabled", summarize(got))
	}
	if n := eng.Stats().Subjects; n != 0 {
		t.Errorf("Stats.Subjects = %d, want 0 with the rule disabled and no custom rules", n)
	}
}

func TestSubjectStateEvictedByCount(t *testing.T) {
	cfg := unfamiliarConfig()
	cfg.SubjectState.MaxSubjects = 1
	// Bob's uses push alice out; she then learns again from scratch, so
	// her new client raises nothing.
	events := append(history("alice", 40, 10*day, homeClient),
		history("bob", 2, time.Hour, homeClient)...)
	for i := range events[40:] {
		events[40+i].Time = t0.Add(10*day + time.Duration(i)*time.Minute)
	}
	events = append(events, attack("evil", 11*day))
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := observeAll(eng, events); len(got) != 0 {
		t.Errorf("anomalies = %+v, want none after alice's state was dropped", summarize(got))
	}
	s := eng.Stats()
	if s.SubjectsEvictedByCount != 2 || s.Subjects != 1 {
		t.Errorf("Stats = %d subjects, %d evicted by count, want 1 and 2 (alice for bob, bob for alice)", s.Subjects, s.SubjectsEvictedByCount)
	}
}

func TestSubjectStateEvictedByAge(t *testing.T) {
	cfg := unfamiliarConfig()
	cfg.SubjectState.TTL = 5 * day
	events := append(history("alice", 40, 10*day, homeClient), attack("evil", 16*day))
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := observeAll(eng, events); len(got) != 0 {
		t.Errorf("anomalies = %+v, want none after alice's state aged out", summarize(got))
	}
	if s := eng.Stats(); s.SubjectsEvictedByAge != 1 || s.Subjects != 1 {
		t.Errorf("Stats = %d subjects, %d evicted by age, want 1 and 1", s.Subjects, s.SubjectsEvictedByAge)
	}

	// Within the TTL the state is kept and the new client raises.
	events = append(history("alice", 40, 10*day, homeClient), attack("evil", 14*day))
	if got := run(t, cfg, events); len(got) != 1 {
		t.Errorf("within the TTL: anomalies = %+v, want one", summarize(got))
	}
}

func sortEvents(events []audit.Event) {
	for i := 1; i < len(events); i++ {
		for j := i; j > 0 && eventBefore(&events[j], &events[j-1]); j-- {
			events[j], events[j-1] = events[j-1], events[j]
		}
	}
}

func TestSubjectStateKeptWhileUsed(t *testing.T) {
	// Alice is seen every six hours, so her state outlives a TTL of two
	// days, though her list position is only refreshed now and then.
	cfg := unfamiliarConfig()
	cfg.SubjectState.TTL = 2 * day
	events := append(history("alice", 48, 12*day, homeClient),
		history("bob", 3, 12*day, homeClient)...)
	sortEvents(events)
	events = append(events, attack("evil", 12*day))
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := observeAll(eng, events)
	want := []found{{RuleUnfamiliarClient, audit.SeverityMedium, []string{"evil"}}}
	if !equalFound(summarize(got), want) {
		t.Errorf("anomalies = %+v, want %+v", summarize(got), want)
	}
	// Bob, seen on days 0, 4 and 8, ages out after each.
	if s := eng.Stats(); s.SubjectsEvictedByAge != 3 {
		t.Errorf("Stats.SubjectsEvictedByAge = %d, want 3 (bob's alone)", s.SubjectsEvictedByAge)
	}
}

func TestIsPlaceholderSubject(t *testing.T) {
	tests := []struct {
		subject string
		want    bool
	}{
		{"", true}, {"-", true}, {"NULL", true}, {"nil", true}, {"n/a", true},
		{"  undefined  ", true}, {"\tUnknown\n", true}, {"\u00a0none\u00a0", true},
		{"undefined1", false}, {"alice@example.com", false}, {"nullable", false}, {"n/a x", false},
	}
	for _, tc := range tests {
		if got := isPlaceholderSubject(tc.subject); got != tc.want {
			t.Errorf("isPlaceholderSubject(%q) = %t, want %t", tc.subject, got, tc.want)
		}
	}
}
