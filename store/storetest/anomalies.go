package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// testAnomalies checks a store that also keeps anomalies
// (store.AnomalyStore); a store that does not is skipped.
func testAnomalies(t *testing.T, s store.Store) {
	as, ok := s.(store.AnomalyStore)
	if !ok {
		t.Skip("the store keeps no anomalies (it does not implement store.AnomalyStore)")
	}
	ctx := context.Background()
	at := func(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }
	list := []audit.Anomaly{
		{ID: "a1", Rule: "rapid_ip_change", Severity: audit.SeverityMedium, Time: at(1), TokenID: "t1", Subject: "alice", EventIDs: []string{"e1", "e2"}, Summary: "used from 3 networks"},
		{ID: "a2", Rule: "revoked_token_use", Severity: audit.SeverityCritical, Time: at(2), TokenID: "t1", Subject: "alice", EventIDs: []string{"e3"}, Summary: "used after revocation"},
		{ID: "a3", Rule: "rejected_burst", Severity: audit.SeverityMedium, Time: at(3), EventIDs: []string{"e4", "e5"}, Summary: "many rejections from one network"},
		{ID: "a0", Rule: "high_frequency", Severity: audit.SeverityLow, Time: at(2), TokenID: "t2", Subject: "bob", EventIDs: []string{}, Summary: "many uses"},
	}

	got, err := as.AppendAnomalies(ctx, list)
	if err != nil {
		t.Fatalf("AppendAnomalies: %v", err)
	}
	if got.Inserted != 4 || got.Duplicates != 0 {
		t.Errorf("AppendAnomalies = %+v, want 4 inserted", got)
	}
	again, err := as.AppendAnomalies(ctx, list[:2])
	if err != nil || again.Inserted != 0 || again.Duplicates != 2 {
		t.Errorf("AppendAnomalies again = %+v, %v; want 2 duplicates", again, err)
	}

	ids := func(q store.AnomalyQuery) []string {
		t.Helper()
		found, err := as.Anomalies(ctx, q)
		if err != nil {
			t.Fatalf("Anomalies(%+v): %v", q, err)
		}
		var out []string
		for _, a := range found {
			out = append(out, a.ID)
		}
		return out
	}
	tests := []struct {
		name  string
		query store.AnomalyQuery
		want  []string
	}{
		{"every anomaly, by time then ID", store.AnomalyQuery{}, []string{"a1", "a0", "a2", "a3"}},
		{"token", store.AnomalyQuery{TokenID: "t1"}, []string{"a1", "a2"}},
		{"subject", store.AnomalyQuery{Subject: "bob"}, []string{"a0"}},
		{"rules", store.AnomalyQuery{Rules: []string{"rejected_burst", "high_frequency"}}, []string{"a0", "a3"}},
		{"minimum severity", store.AnomalyQuery{MinSeverity: audit.SeverityHigh}, []string{"a2"}},
		{"since and until", store.AnomalyQuery{Since: at(2), Until: at(3)}, []string{"a0", "a2"}},
		{"limit keeps the oldest", store.AnomalyQuery{Limit: 2}, []string{"a1", "a0"}},
	}
	for _, tt := range tests {
		if got := ids(tt.query); !slices.Equal(got, tt.want) {
			t.Errorf("Anomalies(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}

	found, err := as.Anomalies(ctx, store.AnomalyQuery{TokenID: "t1", Limit: 1})
	if err != nil || len(found) != 1 {
		t.Fatalf("Anomalies(t1) = %v, %v", found, err)
	}
	if diff := fmt.Sprintf("%+v", found[0]); diff != fmt.Sprintf("%+v", withUTC(list[0])) {
		t.Errorf("round trip = %s, want %s", diff, fmt.Sprintf("%+v", withUTC(list[0])))
	}

	bad := []audit.Anomaly{
		{ID: "b1", Rule: "r", Severity: audit.SeverityLow, Time: at(4), Summary: "fine"},
		{ID: "b2", Rule: "r", Time: at(4), Summary: "no severity"},
	}
	if _, err := as.AppendAnomalies(ctx, bad); !errors.Is(err, audit.ErrInvalidValue) {
		t.Errorf("AppendAnomalies(invalid) error = %v, want one wrapping audit.ErrInvalidValue", err)
	}
	if got := ids(store.AnomalyQuery{Rules: []string{"r"}}); len(got) != 0 {
		t.Errorf("after a failed append, anomalies %v are stored, want none", got)
	}
}

func withUTC(a audit.Anomaly) audit.Anomaly {
	a.Time = a.Time.UTC()
	return a
}

// testAnomalyClient checks the client fields of anomalies: their round trip
// and the Network and ASN filters.
func testAnomalyClient(t *testing.T, s store.Store) {
	as, ok := s.(store.AnomalyStore)
	if !ok {
		t.Skip("the store keeps no anomalies (it does not implement store.AnomalyStore)")
	}
	ctx := context.Background()
	anomaly := func(id, ip string, asn uint32) audit.Anomaly {
		a := audit.Anomaly{ID: id, Rule: "rapid_ip_change", Severity: audit.SeverityMedium, Time: base, TokenID: "t-" + id,
			Subject: "s-" + id, EventIDs: []string{"e-" + id}, Summary: "used from 3 networks", ASN: asn}
		if ip != "" {
			a.IP = netip.MustParseAddr(ip)
		}
		return a
	}
	full := anomaly("full", "198.51.100.23", 28573)
	full.Org, full.Country = "Claro S.A.", "BR"
	full.UserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	list := []audit.Anomaly{
		full,
		anomaly("v4a", "203.0.113.7", 64500),
		anomaly("v4b", "203.0.113.200", 64500),
		anomaly("v4c", "203.0.114.1", 64501),
		anomaly("mapped", "::ffff:203.0.113.9", 0),
		anomaly("v6a", "2001:db8:1:2::5", 64502),
		anomaly("v6zone", "2001:db8:1:2:ffff::1%eth0", 0),
		anomaly("v6b", "2001:db8:1:3::1", 64502),
		anomaly("none", "", 0),
	}
	if _, err := as.AppendAnomalies(ctx, list); err != nil {
		t.Fatalf("AppendAnomalies: %v", err)
	}

	found, err := as.Anomalies(ctx, store.AnomalyQuery{TokenID: "t-full"})
	if err != nil || len(found) != 1 {
		t.Fatalf("Anomalies(t-full) = %v, %v; want one anomaly", found, err)
	}
	if got, want := fmt.Sprintf("%+v", found[0]), fmt.Sprintf("%+v", withUTC(full)); got != want {
		t.Errorf("round trip = %s, want %s", got, want)
	}
	// A copy with a client fills a stored anomaly without one, and changes
	// nothing else, nor a client already stored.
	again := full
	again.IP, again.ASN = netip.MustParseAddr("192.0.2.1"), 64999
	noClient := anomaly("none", "", 0)
	filled := anomaly("none", "192.0.2.9", 64499)
	filled.Summary = "another summary"
	got, err := as.AppendAnomalies(ctx, []audit.Anomaly{again, filled})
	if err != nil || got.Inserted != 0 || got.Duplicates != 2 {
		t.Errorf("AppendAnomalies(copies with a client) = %+v, %v; want 2 duplicates", got, err)
	}
	byToken := func(token string) audit.Anomaly {
		t.Helper()
		found, err := as.Anomalies(ctx, store.AnomalyQuery{TokenID: token})
		if err != nil || len(found) != 1 {
			t.Fatalf("Anomalies(%s) = %v, %v; want one anomaly", token, found, err)
		}
		return found[0]
	}
	if a := byToken("t-full"); a.IP != full.IP || a.ASN != full.ASN {
		t.Errorf("client after a copy with another client = %v AS%d, want the first %v AS%d", a.IP, a.ASN, full.IP, full.ASN)
	}
	want := noClient
	want.IP, want.ASN = filled.IP, filled.ASN
	if got, wantText := fmt.Sprintf("%+v", byToken("t-none")), fmt.Sprintf("%+v", withUTC(want)); got != wantText {
		t.Errorf("anomaly without a client after a copy with one = %s, want %s", got, wantText)
	}

	zoned, err := as.Anomalies(ctx, store.AnomalyQuery{TokenID: "t-v6zone"})
	if err != nil || len(zoned) != 1 || zoned[0].IP != netip.MustParseAddr("2001:db8:1:2:ffff::1%eth0") {
		t.Errorf("Anomalies(t-v6zone) = %+v, %v; want its address with the zone", zoned, err)
	}

	prefix := netip.MustParsePrefix
	tests := []struct {
		name  string
		query store.AnomalyQuery
		want  []string
	}{
		{"IPv4 /24 with its mapped form", store.AnomalyQuery{Network: prefix("203.0.113.0/24")}, ids("mapped", "v4a", "v4b")},
		{"prefix not masked", store.AnomalyQuery{Network: prefix("203.0.113.77/24")}, ids("mapped", "v4a", "v4b")},
		{"IPv4 /32", store.AnomalyQuery{Network: prefix("203.0.113.7/32")}, ids("v4a")},
		{"IPv6 /64, zone ignored", store.AnomalyQuery{Network: prefix("2001:db8:1:2::/64")}, ids("v6a", "v6zone")},
		{"IPv6 /32", store.AnomalyQuery{Network: prefix("2001:db8::/32")}, ids("v6a", "v6b", "v6zone")},
		{"IPv4 that an IPv6 address starts with", store.AnomalyQuery{Network: prefix("32.1.13.0/24")}, nil},
		{"every IPv4 address", store.AnomalyQuery{Network: prefix("0.0.0.0/0")}, ids("full", "mapped", "none", "v4a", "v4b", "v4c")},
		{"ASN", store.AnomalyQuery{ASN: 64500}, ids("v4a", "v4b")},
		{"ASN and network", store.AnomalyQuery{ASN: 64502, Network: prefix("2001:db8:1:3::/64")}, ids("v6b")},
	}
	for _, tt := range tests {
		found, err := as.Anomalies(ctx, tt.query)
		if err != nil {
			t.Errorf("Anomalies(%s) error = %v", tt.name, err)
			continue
		}
		var got []string
		for _, a := range found {
			got = append(got, a.ID)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Anomalies(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// testPruneAnomalies checks that PruneAnomalies deletes exactly the
// anomalies in its range that are not kept and whose evidence lies wholly
// in the range.
func testPruneAnomalies(t *testing.T, s store.Store) {
	as, ok := s.(store.AnomalyStore)
	if !ok {
		t.Skip("the store keeps no anomalies (it does not implement store.AnomalyStore)")
	}
	ctx := context.Background()
	at := func(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }
	hexID := audit.NewID("storetest", "prune")
	mustAppend(t, s,
		minimalEvent("e1", at(0), "tok-prune"),
		minimalEvent("e2", at(10), "tok-prune"),
		minimalEvent("e3", at(20), "tok-prune"),
		minimalEvent(hexID, at(30), "tok-prune"),
	)
	anomaly := func(id string, minutes int, events ...string) audit.Anomaly {
		return audit.Anomaly{ID: id, Rule: "r", Severity: audit.SeverityLow, Time: at(minutes), TokenID: "tok-prune", EventIDs: events, Summary: "s"}
	}
	if _, err := as.AppendAnomalies(ctx, []audit.Anomaly{
		anomaly("stale", 15, "e2", "e3"),
		anomaly("kept", 20, "e3"),
		anomaly("evidence-before-range", 20, "e1", "e3"),
		anomaly("evidence-not-stored", 30, "missing"),
		anomaly("after-range", 45, hexID),
		anomaly("before-range", 2, "e1"),
		anomaly("stale-hex-evidence", 30, hexID),
	}); err != nil {
		t.Fatalf("AppendAnomalies: %v", err)
	}
	remaining := func() []string {
		t.Helper()
		found, err := as.Anomalies(ctx, store.AnomalyQuery{})
		if err != nil {
			t.Fatalf("Anomalies: %v", err)
		}
		var list []string
		for _, a := range found {
			list = append(list, a.ID)
		}
		slices.Sort(list)
		return list
	}
	r := store.TimeRange{Since: at(5), Until: at(40)}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := as.PruneAnomalies(canceled, r, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("PruneAnomalies(canceled context) error = %v, want one wrapping context.Canceled", err)
	}
	if got := remaining(); len(got) != 7 {
		t.Errorf("after a canceled PruneAnomalies, anomalies %v remain, want all 7", got)
	}

	n, err := as.PruneAnomalies(ctx, r, []string{"kept"})
	if err != nil {
		t.Fatalf("PruneAnomalies: %v", err)
	}
	if n != 2 {
		t.Errorf("PruneAnomalies(%s) = %d, want 2", describeRange(r), n)
	}
	want := ids("after-range", "before-range", "evidence-before-range", "evidence-not-stored", "kept")
	if got := remaining(); !slices.Equal(got, want) {
		t.Errorf("after PruneAnomalies(%s), anomalies %v remain, want %v", describeRange(r), got, want)
	}

	if n, err := as.PruneAnomalies(ctx, r, []string{"kept"}); err != nil || n != 0 {
		t.Errorf("second PruneAnomalies(%s) = %d, %v; want 0, nil", describeRange(r), n, err)
	}

	n, err = as.PruneAnomalies(ctx, store.TimeRange{}, nil)
	if err != nil || n != 4 {
		t.Errorf("PruneAnomalies(every time, keep none) = %d, %v; want 4, nil", n, err)
	}
	if got := remaining(); !slices.Equal(got, ids("evidence-not-stored")) {
		t.Errorf("after pruning every time, anomalies %v remain, want only the one whose evidence is not stored", got)
	}
}
