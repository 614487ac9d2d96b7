package detect

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// t0 is the start of every scenario.
var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// event returns a valid event of token "tok-1" at t0+at, changed by opts.
func event(id string, at time.Duration, kind audit.Kind, opts ...func(*audit.Event)) audit.Event {
	e := audit.Event{
		ID:      id,
		Time:    t0.Add(at),
		Kind:    kind,
		TokenID: "tok-1",
		Subject: "alice@example.com",
	}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func withIP(s string) func(*audit.Event) {
	return func(e *audit.Event) { e.IP = netip.MustParseAddr(s) }
}

func withToken(id string) func(*audit.Event) {
	return func(e *audit.Event) { e.TokenID = id }
}

func withGeo(lat, lon float64) func(*audit.Event) {
	return func(e *audit.Event) { e.Geo.Latitude, e.Geo.Longitude = lat, lon }
}

func withClient(asn uint32, session, userAgent string) func(*audit.Event) {
	return func(e *audit.Event) { e.Geo.ASN, e.SessionID, e.UserAgent = asn, session, userAgent }
}

// run observes events in order through a new engine for cfg and flushes it.
func run(tb testing.TB, cfg Config, events []audit.Event) []audit.Anomaly {
	tb.Helper()
	eng, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return observeAll(eng, events)
}

func observeAll(eng *Engine, events []audit.Event) []audit.Anomaly {
	var out []audit.Anomaly
	for _, e := range events {
		out = append(out, eng.Observe(e)...)
	}
	return append(out, eng.Flush()...)
}

// found is the part of an anomaly that rule tests compare.
type found struct {
	rule     string
	severity audit.Severity
	ids      []string
}

func summarize(anomalies []audit.Anomaly) []found {
	var out []found
	for _, a := range anomalies {
		out = append(out, found{a.Rule, a.Severity, a.EventIDs})
	}
	return out
}

func equalFound(a, b []found) bool {
	return slices.EqualFunc(a, b, func(x, y found) bool {
		return x.rule == y.rule && x.severity == y.severity && slices.Equal(x.ids, y.ids)
	})
}

// checkAnomalies checks the invariants every anomaly keeps: a stable ID over
// rule and evidence, a time and a summary, and a token unless a network
// rule raised it.
func checkAnomalies(tb testing.TB, anomalies []audit.Anomaly) {
	tb.Helper()
	for _, a := range anomalies {
		idFrom := a.EventIDs
		if a.Rule == RuleHighFrequency && len(idFrom) > 0 {
			// Its ID derives from the use that passed the threshold only,
			// as before the anomaly cited the uses before it.
			idFrom = idFrom[len(idFrom)-1:]
		}
		if want := audit.NewID(append([]string{a.Rule}, idFrom...)...); a.ID != want {
			tb.Errorf("anomaly %s: ID = %s, want NewID(rule, %v) = %s", a.Rule, a.ID, idFrom, want)
		}
		networkRule := a.Rule == RuleRejectedBurst || a.Rule == RuleSharedIPManySubjects
		if (a.TokenID == "" && !networkRule) || a.Time.IsZero() || a.Summary == "" || len(a.EventIDs) == 0 {
			tb.Errorf("anomaly %s lacks token, time, summary or events: %+v", a.Rule, a)
		}
	}
}

type netipPrefix = netip.Prefix

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func withUA(ua string) func(*audit.Event) {
	return func(e *audit.Event) { e.UserAgent = ua }
}

func withASN(asn uint32) func(*audit.Event) {
	return func(e *audit.Event) { e.Geo.ASN = asn }
}

func withSubject(s string) func(*audit.Event) {
	return func(e *audit.Event) { e.Subject = s }
}

// withIssued sets the issuer and iat, at t0+iat.
func withIssued(issuer string, iat time.Duration) func(*audit.Event) {
	return func(e *audit.Event) { e.Issuer, e.IssuedAt = issuer, t0.Add(iat) }
}

func withReject(r audit.RejectReason) func(*audit.Event) {
	return func(e *audit.Event) { e.RejectReason = r }
}

// fakeFamilies takes the family of a user agent "Name/1.2" to be Name and
// its major version 1, as a user-agent parser would for simple clients.
type fakeFamilies struct{}

func (fakeFamilies) UserAgent(ua string) (family, major string) {
	name, version, _ := strings.Cut(ua, "/")
	major, _, _ = strings.Cut(version, ".")
	return name, major
}

// fakeLists maps list names to the ranges they hold.
type fakeLists map[string][]netip.Prefix

func (l fakeLists) Lists(ip netip.Addr) []string {
	var names []string
	for _, name := range slices.Sorted(maps.Keys(l)) {
		for _, p := range l[name] {
			if p.Contains(ip) {
				names = append(names, name)
				break
			}
		}
	}
	return names
}
