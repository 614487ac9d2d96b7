package detect

import (
	"net/netip"
	"slices"
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
// rule and evidence, a token, a time and a summary.
func checkAnomalies(tb testing.TB, anomalies []audit.Anomaly) {
	tb.Helper()
	for _, a := range anomalies {
		if want := audit.NewID(append([]string{a.Rule}, a.EventIDs...)...); a.ID != want {
			tb.Errorf("anomaly %s: ID = %s, want NewID(rule, event IDs) = %s", a.Rule, a.ID, want)
		}
		if a.TokenID == "" || a.Time.IsZero() || a.Summary == "" || len(a.EventIDs) == 0 {
			tb.Errorf("anomaly %s lacks token, time, summary or events: %+v", a.Rule, a)
		}
	}
}

type netipPrefix = netip.Prefix

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
