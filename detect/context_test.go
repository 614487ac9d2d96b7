package detect

import (
	"fmt"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
)

// TestAnomalyClientContext checks that every anomaly carries the address,
// ASN, organisation, country and user agent of the event that completed its
// evidence: the proving event at the anomaly's time.
func TestAnomalyClientContext(t *testing.T) {
	events := scenario()
	byID := make(map[string]audit.Event, len(events))
	for i := range events {
		e := &events[i]
		// Fields that no rule of the scenario reads, distinct per event.
		e.Geo.Org = "org of " + e.ID
		e.Geo.Country = fmt.Sprintf("C%d", i)
		byID[e.ID] = *e
	}

	anomalies := run(t, scenarioConfig(), events)
	rules := map[string]bool{}
	for _, a := range anomalies {
		rules[a.Rule] = true
		var done *audit.Event
		for _, id := range a.EventIDs {
			if e, ok := byID[id]; ok && e.Time.Equal(a.Time) {
				done = &e
			}
		}
		if done == nil {
			t.Errorf("%s anomaly %s: no proving event at its time %s", a.Rule, a.ID, a.Time)
			continue
		}
		if a.IP != done.IP || a.ASN != done.Geo.ASN || a.Org != done.Geo.Org || a.Country != done.Geo.Country || a.UserAgent != done.UserAgent {
			t.Errorf("%s anomaly client = (%v, %d, %q, %q, %q), want the client of %s: (%v, %d, %q, %q, %q)",
				a.Rule, a.IP, a.ASN, a.Org, a.Country, a.UserAgent,
				done.ID, done.IP, done.Geo.ASN, done.Geo.Org, done.Geo.Country, done.UserAgent)
		}
	}
	for _, rule := range []string{RuleUnknownToken, RuleSharedIPManySubjects, RuleRejectedBurst, RuleConcurrentUse} {
		if !rules[rule] {
			t.Errorf("scenario raised no %s anomaly, so its client went unchecked", rule)
		}
	}
}

// TestAnomalyClientOfLastUse checks the client of a rule whose evidence
// spans several clients: rapid_ip_change names the use that passed the
// threshold, not an earlier one.
func TestAnomalyClientOfLastUse(t *testing.T) {
	client := func(ip, ua string, asn uint32, country string) func(*audit.Event) {
		return func(e *audit.Event) {
			e.IP, e.UserAgent, e.Geo.ASN, e.Geo.Country, e.Geo.Org = mustAddr(ip), ua, asn, country, fmt.Sprintf("AS%d org", asn)
		}
	}
	got := run(t, Config{}, []audit.Event{
		event("u1", 0, audit.KindUsed, client("198.51.100.7", "Firefox/128.0", 64496, "FR")),
		event("u2", 60e9, audit.KindUsed, client("192.0.2.8", "Firefox/128.0", 64497, "FR")),
		event("u3", 120e9, audit.KindUsed, client("203.0.113.9", "curl/8.5", 64498, "NL")),
	})
	if len(got) != 1 || got[0].Rule != RuleRapidIPChange {
		t.Fatalf("anomalies = %+v, want one rapid_ip_change", summarize(got))
	}
	a := got[0]
	if a.IP != mustAddr("203.0.113.9") || a.ASN != 64498 || a.Org != "AS64498 org" || a.Country != "NL" || a.UserAgent != "curl/8.5" {
		t.Errorf("rapid_ip_change client = (%v, %d, %q, %q, %q), want that of u3", a.IP, a.ASN, a.Org, a.Country, a.UserAgent)
	}
}
