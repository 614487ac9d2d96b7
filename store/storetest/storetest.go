// Package storetest holds what every tokentrail store backend is tested with:
// Run, the conformance suite that checks a backend against the store.Store
// contract, and Generate, which makes realistic synthetic events for tests
// and benchmarks of any package.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// Run runs the conformance suite, one subtest per rule of the store.Store
// contract. open must return a new, empty store for each call, and Run closes
// that store when the subtest ends.
//
// Besides the contract of store.Store, the suite requires what tokentrail
// relies on:
//   - Every field of an event comes back as it was appended: times with
//     their nanoseconds (in UTC), an IPv4-mapped IPv6 address as IPv6, an IPv6
//     zone, Geo coordinates exactly. An empty Audience or Scopes slice may come
//     back nil.
//   - Query.IP matches the address as stored: 192.0.2.1 does not match
//     ::ffff:192.0.2.1.
//   - Events rejects a negative Limit and an invalid Kind with an error
//     wrapping audit.ErrInvalidValue.
//   - Close a second time returns store.ErrClosed.
//   - Scan checks its context at least once every 5,000 events, so that a
//     scan of 10,000 events canceled after its first event stops early.
//   - An event appended from the loop body of a Scan is yielded when it
//     sorts after the events already yielded and the page being read, and
//     one that sorts before them is not.
//   - A store that implements store.RevocationStore returns the revoked
//     events of every scope in the order of their Appends, an old one
//     appended late included.
//   - A store that implements store.AnomalyFeed lists the anomalies in the
//     order of their AppendAnomalies calls whatever their times, and a
//     reader that follows it while other goroutines append reads each
//     anomaly once.
//   - A store that implements store.TokenSummaryStore sums up each token,
//     keyed by jti or else fingerprint, across every set of token fields
//     its events carry. It puts the events that name no token in one
//     summary, and a subject revocation does not make a token revoked.
//   - A store that implements store.SettingStore returns the value last
//     stored under a name, an empty one included, and nothing for a name
//     never stored.
//   - A store that implements store.KeyStore returns each key as it was
//     stored, keeps the first of two PutKey calls with one ID, and keeps the
//     first revocation time of a key revoked twice.
//   - A store that implements store.AccessStore returns the accesses of one
//     instant in the reverse order of their AppendAccess calls. It keeps an
//     access's remote address in the form it was given. It rejects a
//     negative Limit, and an access without time, key ID or action, with an
//     error wrapping audit.ErrInvalidValue.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s store.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"AppendTwiceIsIdempotent", testAppendTwice},
		{"DuplicatesInOneBatch", testDuplicatesInBatch},
		{"FirstCopyOfAnIDWins", testFirstCopyWins},
		{"InvalidEventStoresNothing", testInvalidEvent},
		{"EmptyAppend", testEmptyAppend},
		{"QueryFilters", testQueryFilters},
		{"QueryTimeBounds", testQueryTimeBounds},
		{"QueryNetwork", testQueryNetwork},
		{"OrderByTimeThenID", testOrder},
		{"EmptyQuery", testEmptyQuery},
		{"InvalidQuery", testInvalidQuery},
		{"Count", testCount},
		{"Closed", testClosed},
		{"CanceledContext", testCanceledContext},
		{"CancelDuringAppend", testCancelDuringAppend},
		{"ConcurrentAppends", testConcurrentAppends},
		{"ReadsDuringWrites", testReadsDuringWrites},
		{"ScanOrder", testScanOrder},
		{"ScanTies", testScanTies},
		{"ScanRange", testScanRange},
		{"ScanEmpty", testScanEmpty},
		{"ScanRoundTrip", testScanRoundTrip},
		{"ScanCancel", testScanCancel},
		{"ScanStopAndWrite", testScanStopAndWrite},
		{"ScanClosed", testScanClosed},
		{"Anomalies", testAnomalies},
		{"AnomalyClient", testAnomalyClient},
		{"PruneAnomalies", testPruneAnomalies},
		{"AnomalyFeed", testAnomalyFeed},
		{"AnomalyFeedDuringAppends", testAnomalyFeedDuringAppends},
		{"Revocations", testRevocations},
		{"RevocationsInvalidLimit", testRevocationsInvalidLimit},
		{"LastRevocationSeq", testLastRevocationSeq},
		{"TokenSummaries", testTokenSummaries},
		{"Settings", testSettings},
		{"Keys", testKeys},
		{"RevokeKey", testRevokeKey},
		{"Accesses", testAccesses},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
					t.Errorf("Close() = %v, want nil", err)
				}
			})
			tt.test(t, s)
		})
	}
}

// base is the time of the suite's fixtures: a whole second, so that offsets
// in nanoseconds show in failures.
var base = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fullEvent returns an event with every field set, with nanoseconds in every
// time, which a round trip must keep whole.
func fullEvent() audit.Event {
	return audit.Event{
		ID:               audit.NewID("storetest", "full"),
		Time:             base.Add(123456789 * time.Nanosecond),
		Kind:             audit.KindRevoked,
		Action:           "REVOKE_GRANT",
		TokenID:          "0b7a3c59-3f1e-4d2b-9a55-8f0c6d2e1a44",
		Fingerprint:      audit.Fingerprint("storetest full token"),
		Issuer:           "https://sso.example.com/realms/acme",
		Subject:          "f3c1e2d4-5b6a-4c7d-8e9f-0a1b2c3d4e5f",
		Audience:         []string{"orders-api", "billing-api"},
		ClientID:         "web-portal",
		SessionID:        "9d8c7b6a-5f4e-4d3c-2b1a-0f9e8d7c6b5a",
		ParentTokenID:    "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d",
		Scopes:           []string{"openid", "profile", "orders:read"},
		IssuedAt:         base.Add(-time.Hour + 1),
		NotBefore:        base.Add(-time.Hour - time.Second + 999),
		ExpiresAt:        base.Add(time.Hour + 123456),
		IP:               netip.MustParseAddr("198.51.100.23"),
		UserAgent:        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		Geo:              audit.Geo{Country: "BR", City: "São Paulo", Latitude: -23.5505, Longitude: -46.6333, AccuracyKM: 50, ASN: 28573, Org: "Claro S.A."},
		Method:           "POST",
		Path:             "/realms/acme/protocol/openid-connect/revoke",
		Status:           200,
		TraceID:          "4bf92f3577b34da6a3ce929d0e0e4736",
		Actor:            "admin@example.com",
		Reason:           "laptop reported stolen",
		RevocationMethod: audit.RevokedByAdmin,
		RevocationScope:  audit.RevokeFamily,
		RejectReason:     "",
		Source:           "keycloak-events.log:42",
	}
}

// minimalEvent returns an event with only the required fields.
func minimalEvent(id string, at time.Time, tokenID string) audit.Event {
	return audit.Event{ID: id, Time: at, Kind: audit.KindUsed, TokenID: tokenID}
}

func testRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	cases := []struct {
		name  string
		event audit.Event
	}{
		{"every field", fullEvent()},
		{"required fields only", minimalEvent("minimal", base, "tok-minimal")},
		{"fingerprint without token id", audit.Event{
			ID: "fp-only", Time: base, Kind: audit.KindRejected, Fingerprint: audit.Fingerprint("fp-only"),
			RejectReason: audit.RejectBadSignature, Status: 401,
		}},
		{"IPv6", withIP(minimalEvent("ipv6", base, "tok-ipv6"), "2001:db8::17")},
		{"IPv4-mapped IPv6", withIP(minimalEvent("mapped", base, "tok-mapped"), "::ffff:198.51.100.23")},
		{"IPv6 with zone", withIP(minimalEvent("zoned", base, "tok-zoned"), "fe80::1%eth0")},
		{"unicode", func() audit.Event {
			e := minimalEvent("événement-ünïcode-🔑", base, "jeton-ñ-東京")
			e.Subject = "zoë@example.com"
			e.Geo = audit.Geo{Country: "JP", City: "東京"}
			e.Reason = "sign-out «manual» — 手動"
			e.Audience = []string{"", "a,b", `quote"d`}
			return e
		}()},
		{"time zone other than UTC", func() audit.Event {
			e := minimalEvent("zone", base.In(time.FixedZone("UTC+5:30", 5*3600+1800)), "tok-zone")
			e.ExpiresAt = base.Add(time.Hour).In(time.FixedZone("UTC-8", -8*3600))
			return e
		}()},
		{"times far from now", func() audit.Event {
			e := minimalEvent("far", time.Date(1970, 1, 1, 0, 0, 0, 1, time.UTC), "tok-far")
			e.IssuedAt = time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC)
			e.ExpiresAt = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
			return e
		}()},
		{"zero geo and coordinates only", func() audit.Event {
			e := minimalEvent("coords", base, "tok-coords")
			e.Geo = audit.Geo{Latitude: 0, Longitude: -0.1276}
			return e
		}()},
		{"ID of 32 hex digits in upper case", minimalEvent("0123456789ABCDEF0123456789ABCDEF", base, "tok-upper")},
		{"ID of 32 hex digits", minimalEvent("0123456789abcdef0123456789abcdef", base, "tok-hex")},
		{"session event without a token", audit.Event{
			ID: "session-only", Time: base, Kind: audit.KindSession, Action: "user.authentication.auth_via_mfa",
			SessionID: "idx-session-only", Subject: "alice", Reason: "SUCCESS", IP: netip.MustParseAddr("203.0.113.9"),
		}},
	}

	events := make([]audit.Event, len(cases))
	for i, c := range cases {
		events[i] = c.event
	}
	got, err := s.Append(ctx, events)
	if err != nil {
		t.Fatalf("Append(%d events) error = %v", len(events), err)
	}
	if got.Inserted != len(events) {
		t.Errorf("Append(%d events).Inserted = %d, want %d", len(events), got.Inserted, len(events))
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := store.Query{TokenID: c.event.TokenID}
			switch {
			case c.event.TokenID != "":
			case c.event.Fingerprint != "":
				q = store.Query{Fingerprint: c.event.Fingerprint}
			default:
				q = store.Query{SessionID: c.event.SessionID}
			}
			found := mustEvents(t, s, q)
			if len(found) != 1 {
				t.Fatalf("Events(%+v) returned %d events, want 1", q, len(found))
			}
			for _, diff := range diffEvent(found[0], c.event) {
				t.Error(diff)
			}
		})
	}
}

func withIP(e audit.Event, addr string) audit.Event {
	e.IP = netip.MustParseAddr(addr)
	return e
}

func testAppendTwice(t *testing.T, s store.Store) {
	ctx := context.Background()
	events := Generate(7, 5, 4)

	first, err := s.Append(ctx, events)
	if err != nil {
		t.Fatalf("first Append error = %v", err)
	}
	second, err := s.Append(ctx, events)
	if err != nil {
		t.Fatalf("second Append error = %v", err)
	}

	if want := (store.Appended{Inserted: len(events)}); first != want {
		t.Errorf("first Append(%d events) = %+v, want %+v", len(events), first, want)
	}
	if want := (store.Appended{Duplicates: len(events)}); second != want {
		t.Errorf("second Append(same %d events) = %+v, want %+v", len(events), second, want)
	}
	if n := mustCount(t, s); n != int64(len(events)) {
		t.Errorf("Count() after appending twice = %d, want %d", n, len(events))
	}
	if found := mustEvents(t, s, store.Query{TokenID: events[0].TokenID}); len(found) != 4 {
		t.Errorf("Events(token %s) returned %d events, want 4", events[0].TokenID, len(found))
	}
}

func testDuplicatesInBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := minimalEvent("dup-a", base, "tok-dup")
	b := minimalEvent("dup-b", base.Add(time.Second), "tok-dup")

	got, err := s.Append(ctx, []audit.Event{a, b, a, a})
	if err != nil {
		t.Fatalf("Append([a b a a]) error = %v", err)
	}
	if want := (store.Appended{Inserted: 2, Duplicates: 2}); got != want {
		t.Errorf("Append([a b a a]) = %+v, want %+v", got, want)
	}
	if n := mustCount(t, s); n != 2 {
		t.Errorf("Count() = %d, want 2", n)
	}

	got, err = s.Append(ctx, []audit.Event{b, minimalEvent("dup-c", base, "tok-dup")})
	if err != nil {
		t.Fatalf("Append([b c]) error = %v", err)
	}
	if want := (store.Appended{Inserted: 1, Duplicates: 1}); got != want {
		t.Errorf("Append([b c]) after [a b] = %+v, want %+v", got, want)
	}
}

func testFirstCopyWins(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := minimalEvent("same-id", base, "tok-first")
	second := minimalEvent("same-id", base.Add(time.Minute), "tok-second")
	second.Kind = audit.KindRevoked

	mustAppend(t, s, first)
	got, err := s.Append(ctx, []audit.Event{second})
	if err != nil {
		t.Fatalf("Append(second copy) error = %v", err)
	}
	if want := (store.Appended{Duplicates: 1}); got != want {
		t.Errorf("Append(second copy of ID %q) = %+v, want %+v", second.ID, got, want)
	}

	if found := mustEvents(t, s, store.Query{TokenID: "tok-second"}); len(found) != 0 {
		t.Errorf("Events(token of the second copy) returned %d events, want 0", len(found))
	}
	found := mustEvents(t, s, store.Query{TokenID: "tok-first"})
	if len(found) != 1 {
		t.Fatalf("Events(token of the first copy) returned %d events, want 1", len(found))
	}
	if found[0].Kind != audit.KindUsed {
		t.Errorf("stored Kind = %v, want %v (the first copy)", found[0].Kind, audit.KindUsed)
	}
}

func testInvalidEvent(t *testing.T, s store.Store) {
	ctx := context.Background()
	cases := []struct {
		name    string
		invalid audit.Event
		field   string
	}{
		{"missing kind", audit.Event{ID: "bad-kind", Time: base, TokenID: "tok-bad"}, "Kind"},
		{"missing id", audit.Event{Time: base, Kind: audit.KindUsed, TokenID: "tok-bad"}, "ID"},
		{"missing time", audit.Event{ID: "bad-time", Kind: audit.KindUsed, TokenID: "tok-bad"}, "Time"},
		{"no token", audit.Event{ID: "bad-token", Time: base, Kind: audit.KindUsed}, "TokenID"},
		{"uppercase fingerprint", audit.Event{ID: "bad-fp", Time: base, Kind: audit.KindUsed, Fingerprint: strings.ToUpper(audit.Fingerprint("x"))}, "Fingerprint"},
		{"status out of range", audit.Event{ID: "bad-status", Time: base, Kind: audit.KindUsed, TokenID: "tok-bad", Status: 99}, "Status"},
		{"invalid UTF-8", audit.Event{ID: "bad-utf8", Time: base, Kind: audit.KindUsed, TokenID: "tok-bad", Subject: "\xff\xfe"}, "Subject"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			batch := []audit.Event{
				minimalEvent("valid-before-"+c.name, base, "tok-valid"),
				c.invalid,
				minimalEvent("valid-after-"+c.name, base, "tok-valid"),
			}

			got, err := s.Append(ctx, batch)

			if !errors.Is(err, audit.ErrInvalidValue) {
				t.Fatalf("Append(batch with %s) error = %v, want one wrapping audit.ErrInvalidValue", c.name, err)
			}
			var fieldErr *audit.FieldError
			if !errors.As(err, &fieldErr) {
				t.Errorf("Append(batch with %s) error = %v, want one wrapping *audit.FieldError", c.name, err)
			} else if fieldErr.Field != c.field {
				t.Errorf("Append(batch with %s) error names field %q, want %q", c.name, fieldErr.Field, c.field)
			}
			if got != (store.Appended{}) {
				t.Errorf("Append(batch with %s) = %+v, want zero counts", c.name, got)
			}
			if n := mustCount(t, s); n != 0 {
				t.Errorf("Count() after a rejected batch = %d, want 0", n)
			}
			if found := mustEvents(t, s, store.Query{TokenID: "tok-valid"}); len(found) != 0 {
				t.Errorf("Events(valid events of the rejected batch) returned %d events, want 0", len(found))
			}
		})
	}
}

func testEmptyAppend(t *testing.T, s store.Store) {
	for _, events := range [][]audit.Event{nil, {}} {
		got, err := s.Append(context.Background(), events)
		if err != nil {
			t.Errorf("Append(%#v) error = %v, want nil", events, err)
		}
		if got != (store.Appended{}) {
			t.Errorf("Append(%#v) = %+v, want zero counts", events, got)
		}
	}
}

// filterFixture returns events that differ in one dimension at a time, so
// that each filter of a Query selects a known subset.
func filterFixture() []audit.Event {
	ip4 := netip.MustParseAddr("198.51.100.7")
	ip6 := netip.MustParseAddr("2001:db8::7")
	mapped := netip.MustParseAddr("::ffff:198.51.100.7")
	fp1 := audit.Fingerprint("token one")
	fp2 := audit.Fingerprint("token two")
	at := func(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }
	return []audit.Event{
		{ID: "f01", Time: at(0), Kind: audit.KindIssued, TokenID: "t1", Fingerprint: fp1, Subject: "alice", SessionID: "s1", IP: ip4},
		{ID: "f02", Time: at(1), Kind: audit.KindUsed, TokenID: "t1", Fingerprint: fp1, Subject: "alice", SessionID: "s1", IP: ip4},
		{ID: "f03", Time: at(2), Kind: audit.KindUsed, TokenID: "t1", Fingerprint: fp1, Subject: "alice", SessionID: "s1", IP: ip6},
		{ID: "f04", Time: at(3), Kind: audit.KindRefreshed, TokenID: "t1", Fingerprint: fp1, Subject: "alice", SessionID: "s1", IP: ip4},
		{ID: "f05", Time: at(3), Kind: audit.KindIssued, TokenID: "t2", Fingerprint: fp2, Subject: "alice", SessionID: "s1", ParentTokenID: "t1", IP: ip4},
		{ID: "f06", Time: at(4), Kind: audit.KindUsed, TokenID: "t2", Fingerprint: fp2, Subject: "alice", SessionID: "s1", ParentTokenID: "t1", IP: mapped},
		{ID: "f07", Time: at(5), Kind: audit.KindRevoked, TokenID: "t2", Fingerprint: fp2, Subject: "alice", SessionID: "s1", ParentTokenID: "t1"},
		{ID: "f08", Time: at(6), Kind: audit.KindRejected, TokenID: "t2", Fingerprint: fp2, Subject: "alice", IP: ip6},
		{ID: "f09", Time: at(2), Kind: audit.KindIssued, TokenID: "t3", Subject: "bob", SessionID: "s2", IP: ip4},
		{ID: "f10", Time: at(7), Kind: audit.KindUsed, TokenID: "t3", Subject: "bob", SessionID: "s2", IP: ip6},
		{ID: "f11", Time: at(8), Kind: audit.KindRejected, Fingerprint: audit.Fingerprint("unknown token"), IP: ip4},
		{ID: "f12", Time: at(9), Kind: audit.KindIssued, TokenID: "t4", Subject: "carol", ParentTokenID: "t3", SessionID: "s2"},
		{ID: "f13", Time: at(1), Kind: audit.KindSession, Action: "user.session.start", Subject: "bob", SessionID: "s2"},
	}
}

func testQueryFilters(t *testing.T, s store.Store) {
	events := filterFixture()
	mustAppend(t, s, events...)
	fp1 := audit.Fingerprint("token one")
	ip4 := netip.MustParseAddr("198.51.100.7")

	tests := []struct {
		name  string
		query store.Query
		want  []string
	}{
		{"token id", store.Query{TokenID: "t1"}, ids("f01", "f02", "f03", "f04")},
		{"fingerprint", store.Query{Fingerprint: fp1}, ids("f01", "f02", "f03", "f04")},
		{"fingerprint of a token without jti", store.Query{Fingerprint: audit.Fingerprint("unknown token")}, ids("f11")},
		{"subject", store.Query{Subject: "alice"}, ids("f01", "f02", "f03", "f04", "f05", "f06", "f07", "f08")},
		{"IPv4", store.Query{IP: ip4}, ids("f01", "f02", "f09", "f04", "f05", "f11")},
		{"IPv4-mapped is not IPv4", store.Query{IP: netip.MustParseAddr("::ffff:198.51.100.7")}, ids("f06")},
		{"IPv6", store.Query{IP: netip.MustParseAddr("2001:db8::7")}, ids("f03", "f08", "f10")},
		{"session", store.Query{SessionID: "s2"}, ids("f13", "f09", "f10", "f12")},
		{"session events only", store.Query{SessionID: "s2", Kinds: []audit.Kind{audit.KindSession}}, ids("f13")},
		{"parent token", store.Query{ParentTokenID: "t1"}, ids("f05", "f06", "f07")},
		{"unknown token", store.Query{TokenID: "t404"}, nil},
		{"kinds", store.Query{Subject: "alice", Kinds: []audit.Kind{audit.KindIssued, audit.KindRevoked}}, ids("f01", "f05", "f07")},
		{"kind that none has", store.Query{TokenID: "t3", Kinds: []audit.Kind{audit.KindRevoked}}, nil},
		{"since is inclusive", store.Query{Subject: "alice", Since: base.Add(3 * time.Minute)}, ids("f04", "f05", "f06", "f07", "f08")},
		{"until is exclusive", store.Query{Subject: "alice", Until: base.Add(3 * time.Minute)}, ids("f01", "f02", "f03")},
		{"since and until", store.Query{Subject: "alice", Since: base.Add(2 * time.Minute), Until: base.Add(5 * time.Minute)}, ids("f03", "f04", "f05", "f06")},
		{"until before since", store.Query{Subject: "alice", Since: base.Add(5 * time.Minute), Until: base.Add(2 * time.Minute)}, nil},
		{"limit keeps the oldest", store.Query{Subject: "alice", Limit: 3}, ids("f01", "f02", "f03")},
		{"limit above the count", store.Query{TokenID: "t3", Limit: 10}, ids("f09", "f10")},
		{"token and IP", store.Query{TokenID: "t1", IP: ip4}, ids("f01", "f02", "f04")},
		{"subject and session", store.Query{Subject: "bob", SessionID: "s2"}, ids("f13", "f09", "f10")},
		{"another subject and session", store.Query{Subject: "alice", SessionID: "s1"}, ids("f01", "f02", "f03", "f04", "f05", "f06", "f07")},
		{"session and parent", store.Query{SessionID: "s2", ParentTokenID: "t3"}, ids("f12")},
		{"IP, kinds and time", store.Query{IP: ip4, Kinds: []audit.Kind{audit.KindIssued}, Since: base.Add(time.Minute)}, ids("f09", "f05")},
		{"every filter", store.Query{
			TokenID: "t2", Fingerprint: audit.Fingerprint("token two"), Subject: "alice", IP: ip4, SessionID: "s1", ParentTokenID: "t1",
			Kinds: []audit.Kind{audit.KindIssued}, Since: base, Until: base.Add(time.Hour), Limit: 5,
		}, ids("f05")},
		{"filters that exclude each other", store.Query{TokenID: "t1", Subject: "bob"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := eventIDs(mustEvents(t, s, tt.query))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Events(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func ids(list ...string) []string { return list }

func testQueryTimeBounds(t *testing.T, s store.Store) {
	mustAppend(t, s,
		minimalEvent("old", time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC), "tok-bounds"),
		minimalEvent("new", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), "tok-bounds"),
	)
	tests := []struct {
		name  string
		query store.Query
		want  []string
	}{
		{"since the year 1", store.Query{TokenID: "tok-bounds", Since: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}, ids("old", "new")},
		{"until the year 9999", store.Query{TokenID: "tok-bounds", Until: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, ids("old", "new")},
		{"since the year 9999", store.Query{TokenID: "tok-bounds", Since: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, nil},
		{"until the year 1", store.Query{TokenID: "tok-bounds", Until: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}, nil},
		{"until the newer event", store.Query{TokenID: "tok-bounds", Until: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}, ids("old")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := eventIDs(mustEvents(t, s, tt.query))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Events(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func testOrder(t *testing.T, s store.Store) {
	// IDs of every form at the same instant: the text order of the IDs is
	// what breaks the tie, whatever a backend stores them as.
	hexLow := "00000000000000000000000000000001"
	hexHigh := "ffffffffffffffffffffffffffffffff"
	events := []audit.Event{
		minimalEvent("zz-last", base, "tok-order"),
		minimalEvent(hexHigh, base, "tok-order"),
		minimalEvent("a-text", base, "tok-order"),
		minimalEvent("later", base.Add(time.Nanosecond), "tok-order"),
		minimalEvent(hexLow, base, "tok-order"),
		minimalEvent("earliest", base.Add(-time.Hour), "tok-order"),
		minimalEvent("0-text", base, "tok-order"),
		minimalEvent("ABCDEF00000000000000000000000000", base, "tok-order"),
	}
	mustAppend(t, s, events[:4]...)
	mustAppend(t, s, events[4:]...)

	got := eventIDs(mustEvents(t, s, store.Query{TokenID: "tok-order"}))
	want := ids("earliest", "0-text", hexLow, "ABCDEF00000000000000000000000000", "a-text", hexHigh, "zz-last", "later")
	if !slices.Equal(got, want) {
		t.Errorf("Events(token with ties) order = %v, want %v", got, want)
	}

	got = eventIDs(mustEvents(t, s, store.Query{TokenID: "tok-order", Limit: 4}))
	if !slices.Equal(got, want[:4]) {
		t.Errorf("Events(token with ties, limit 4) = %v, want %v", got, want[:4])
	}
}

func testEmptyQuery(t *testing.T, s store.Store) {
	mustAppend(t, s, minimalEvent("e1", base, "tok-1"))
	queries := []struct {
		name  string
		query store.Query
	}{
		{"zero", store.Query{}},
		{"kinds only", store.Query{Kinds: []audit.Kind{audit.KindUsed}}},
		{"time and limit only", store.Query{Since: base.Add(-time.Hour), Until: base.Add(time.Hour), Limit: 10}},
		{"zero address", store.Query{IP: netip.Addr{}}},
	}
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			got, err := s.Events(context.Background(), q.query)
			if !errors.Is(err, store.ErrEmptyQuery) {
				t.Errorf("Events(%s) error = %v, want one wrapping store.ErrEmptyQuery", q.name, err)
			}
			if len(got) != 0 {
				t.Errorf("Events(%s) returned %d events, want 0", q.name, len(got))
			}
		})
	}
}

func testInvalidQuery(t *testing.T, s store.Store) {
	queries := []struct {
		name  string
		query store.Query
	}{
		{"negative limit", store.Query{TokenID: "t1", Limit: -1}},
		{"zero kind", store.Query{TokenID: "t1", Kinds: []audit.Kind{0}}},
		{"unknown kind", store.Query{TokenID: "t1", Kinds: []audit.Kind{audit.KindUsed, audit.Kind(200)}}},
	}
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			_, err := s.Events(context.Background(), q.query)
			if !errors.Is(err, audit.ErrInvalidValue) {
				t.Errorf("Events(%s) error = %v, want one wrapping audit.ErrInvalidValue", q.name, err)
			}
		})
	}
}

func testCount(t *testing.T, s store.Store) {
	if n := mustCount(t, s); n != 0 {
		t.Errorf("Count() of a new store = %d, want 0", n)
	}
	events := Generate(3, 10, 5)
	mustAppend(t, s, events[:20]...)
	if n := mustCount(t, s); n != 20 {
		t.Errorf("Count() after 20 events = %d, want 20", n)
	}
	mustAppend(t, s, events...)
	if n := mustCount(t, s); n != int64(len(events)) {
		t.Errorf("Count() after %d events, 20 of them twice = %d, want %d", len(events), n, len(events))
	}
}

func testClosed(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustAppend(t, s, minimalEvent("before-close", base, "tok-closed"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}

	if _, err := s.Append(ctx, []audit.Event{minimalEvent("after-close", base, "tok-closed")}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Append after Close error = %v, want one wrapping store.ErrClosed", err)
	}
	if _, err := s.Events(ctx, store.Query{TokenID: "tok-closed"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Events after Close error = %v, want one wrapping store.ErrClosed", err)
	}
	if _, err := s.Count(ctx); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Count after Close error = %v, want one wrapping store.ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close() = %v, want one wrapping store.ErrClosed", err)
	}
}

func testCanceledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := s.Append(ctx, []audit.Event{minimalEvent("canceled", base, "tok-canceled")})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Append(canceled context) error = %v, want one wrapping context.Canceled", err)
	}
	if _, err := s.Events(ctx, store.Query{TokenID: "tok-canceled"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Events(canceled context) error = %v, want one wrapping context.Canceled", err)
	}
	if _, err := s.Count(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Count(canceled context) error = %v, want one wrapping context.Canceled", err)
	}
	if n := mustCount(t, s); n != 0 {
		t.Errorf("Count() after an Append with a canceled context = %d, want 0", n)
	}
}

// testCancelDuringAppend cancels while a large Append may be running. Either
// the Append finished first and stored everything, or it stopped and stored
// nothing. A partial batch breaks the contract.
func testCancelDuringAppend(t *testing.T, s store.Store) {
	events := Generate(11, 200, 10)
	for round := range 3 {
		batch := events[round*600 : (round+1)*600]
		before := mustCount(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		go cancel()

		got, err := s.Append(ctx, batch)

		after := mustCount(t, s)
		switch {
		case err == nil:
			if got.Inserted != len(batch) {
				t.Errorf("round %d: Append(%d events) = %+v without error, want %d inserted", round, len(batch), got, len(batch))
			}
			if after != before+int64(len(batch)) {
				t.Errorf("round %d: Count() after a successful Append = %d, want %d", round, after, before+int64(len(batch)))
			}
		case errors.Is(err, context.Canceled):
			if got != (store.Appended{}) {
				t.Errorf("round %d: canceled Append = %+v, want zero counts", round, got)
			}
			if after != before {
				t.Errorf("round %d: Count() after a canceled Append = %d, want %d (nothing of the batch)", round, after, before)
			}
			mustAppend(t, s, batch...) // so that the next round starts from a known count
		default:
			t.Fatalf("round %d: Append error = %v, want nil or one wrapping context.Canceled", round, err)
		}
	}
}

// testConcurrentAppends runs writers that append their own events and,
// mixed into their batches, events that every writer appends.
func testConcurrentAppends(t *testing.T, s store.Store) {
	const writers = 6
	const perWriter = 80
	events := Generate(5, 58, 10) // 580 events
	shared := events[:100]

	var wg sync.WaitGroup
	totals := make([]store.Appended, writers)
	sent := make([]int, writers)
	errs := make([]error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := events[100+w*perWriter : 100+(w+1)*perWriter]
			for i := range perWriter / 20 {
				batch := slices.Concat(own[i*20:(i+1)*20], shared[i*25:(i+1)*25])
				got, err := s.Append(context.Background(), batch)
				if err != nil {
					errs[w] = err
					return
				}
				sent[w] += len(batch)
				totals[w].Inserted += got.Inserted
				totals[w].Duplicates += got.Duplicates
			}
		}()
	}
	wg.Wait()

	var sum store.Appended
	total := 0
	for w := range writers {
		if errs[w] != nil {
			t.Fatalf("writer %d: Append error = %v", w, errs[w])
		}
		sum.Inserted += totals[w].Inserted
		sum.Duplicates += totals[w].Duplicates
		total += sent[w]
	}
	unique := len(shared) + writers*perWriter
	if sum.Inserted != unique {
		t.Errorf("concurrent appends inserted %d, want %d unique events", sum.Inserted, unique)
	}
	if sum.Duplicates != total-unique {
		t.Errorf("concurrent appends counted %d duplicates, want %d", sum.Duplicates, total-unique)
	}
	if n := mustCount(t, s); n != int64(unique) {
		t.Errorf("Count() after concurrent appends = %d, want %d", n, unique)
	}
}

// testReadsDuringWrites runs queries while appends commit, and checks that
// they see a batch whole or not at all.
func testReadsDuringWrites(t *testing.T, s store.Store) {
	first := Generate(13, 40, 10)
	token := first[0].TokenID
	want := 0
	for _, e := range first {
		if e.TokenID == token {
			want++
		}
	}

	done := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		defer close(readErr)
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := s.Count(context.Background()); err != nil {
				readErr <- err
				return
			}
			found, err := s.Events(context.Background(), store.Query{TokenID: token})
			if err != nil {
				readErr <- err
				return
			}
			if len(found) != 0 && len(found) != want {
				readErr <- fmt.Errorf("Events(token %s) during appends returned %d events, want 0 or %d", token, len(found), want)
				return
			}
		}
	}()

	mustAppend(t, s, first...)
	for seed := range int64(5) {
		mustAppend(t, s, Generate(100+seed, 20, 10)...)
	}
	close(done)
	if err := <-readErr; err != nil {
		t.Error(err)
	}
}

// diffEvent returns one line for each field in which got differs from want,
// reading "Field = got, want x". Times compare as instants, and an empty
// Audience or Scopes equals nil.
func diffEvent(got, want audit.Event) []string {
	var diffs []string
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	var walk func(prefix string, g, w reflect.Value)
	walk = func(prefix string, g, w reflect.Value) {
		for i := range g.NumField() {
			name := prefix + g.Type().Field(i).Name
			gf, wf := g.Field(i), w.Field(i)
			if gf.Type() == reflect.TypeOf(audit.Geo{}) {
				walk(name+".", gf, wf)
				continue
			}
			if !equalField(gf.Interface(), wf.Interface()) {
				diffs = append(diffs, fmt.Sprintf("%s = %#v, want %#v", name, gf.Interface(), wf.Interface()))
			}
		}
	}
	walk("", gv, wv)
	return diffs
}

func equalField(got, want any) bool {
	switch w := want.(type) {
	case time.Time:
		g := got.(time.Time)
		return g.Equal(w) && g.Location() == time.UTC
	case []string:
		g := got.([]string)
		return len(g) == len(w) && (len(w) == 0 || slices.Equal(g, w))
	}
	return reflect.DeepEqual(got, want)
}

func mustAppend(tb testing.TB, s store.Store, events ...audit.Event) {
	tb.Helper()
	got, err := s.Append(context.Background(), events)
	if err != nil {
		tb.Fatalf("Append(%d events) error = %v", len(events), err)
	}
	if got.Inserted+got.Duplicates != len(events) {
		tb.Fatalf("Append(%d events) = %+v, want counts that add up to %d", len(events), got, len(events))
	}
}

func mustEvents(tb testing.TB, s store.Store, q store.Query) []audit.Event {
	tb.Helper()
	events, err := s.Events(context.Background(), q)
	if err != nil {
		tb.Fatalf("Events(%+v) error = %v", q, err)
	}
	return events
}

func mustCount(tb testing.TB, s store.Store) int64 {
	tb.Helper()
	n, err := s.Count(context.Background())
	if err != nil {
		tb.Fatalf("Count() error = %v", err)
	}
	return n
}

func eventIDs(events []audit.Event) []string {
	var list []string
	for _, e := range events {
		list = append(list, e.ID)
	}
	return list
}
