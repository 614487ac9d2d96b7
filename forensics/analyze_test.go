package forensics_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// The crafted incident: alice signs in from the office, an attacker in
// 198.51.100.0/24 replays her access token, redeems her refresh token,
// uses bob's token, and tries a burst of forged tokens, one of which a
// legacy service accepts.
const (
	officeIP    = "203.0.113.24"
	attackerIP  = "198.51.100.77"
	attacker2IP = "198.51.100.80"
	bobIP       = "192.0.2.10"
	carolIP     = "192.0.2.200"
	attackerNet = "198.51.100.0/24"
)

var (
	forgedFingerprint = audit.Fingerprint("forged token")
	victimFingerprint = audit.Fingerprint("alice access token")
)

func incidentEvents() []audit.Event {
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	ip := netip.MustParseAddr
	return []audit.Event{
		// Outside the window of 24 hours around t0.
		{ID: "old-use", Time: t0.Add(-30 * time.Hour), Kind: audit.KindUsed, TokenID: "at-old", Subject: "alice", IP: ip(attackerIP), Status: 200},

		{ID: "rt1-issued", Time: at(-60), Kind: audit.KindIssued, Action: "CODE_TO_TOKEN", TokenID: "rt-1", Subject: "alice", SessionID: "s-1",
			Scopes: []string{"openid", "offline_access"}, IP: ip(officeIP)},
		{ID: "rt1-refreshed", Time: at(0), Kind: audit.KindRefreshed, TokenID: "rt-1", Subject: "alice", SessionID: "s-1", IP: ip(officeIP)},
		{ID: "at2-issued", Time: at(0), Kind: audit.KindIssued, TokenID: "at-2", Fingerprint: victimFingerprint, Subject: "alice",
			SessionID: "s-1", ParentTokenID: "rt-1", Scopes: []string{"openid", "orders"}, IP: ip(officeIP), ExpiresAt: at(60)},
		{ID: "at2-office-1", Time: at(1), Kind: audit.KindUsed, TokenID: "at-2", Fingerprint: victimFingerprint, Subject: "alice",
			IP: ip(officeIP), UserAgent: officeUA, Path: "/api/orders", Status: 200},
		{ID: "at2-office-2", Time: at(5), Kind: audit.KindUsed, TokenID: "at-2", Fingerprint: victimFingerprint, Subject: "alice",
			IP: ip(officeIP), UserAgent: officeUA, Path: "/api/orders", Status: 200},

		// The replay.
		{ID: "at2-attacker-1", Time: at(20), Kind: audit.KindUsed, TokenID: "at-2", Fingerprint: victimFingerprint, Subject: "alice",
			IP: ip(attackerIP), UserAgent: scriptUA, Path: "/api/export?page=1", Status: 200,
			Geo: audit.Geo{Country: "NL", ASN: 64500, Org: "Example Hosting"}},
		{ID: "at2-attacker-2", Time: at(21), Kind: audit.KindUsed, TokenID: "at-2", Fingerprint: victimFingerprint, Subject: "alice",
			IP: ip(attackerIP), UserAgent: scriptUA, Path: "/api/export?page=2", Status: 200},
		{ID: "rt1-attacker", Time: at(22), Kind: audit.KindRefreshed, TokenID: "rt-1", Subject: "alice", SessionID: "s-1", IP: ip(attacker2IP)},
		{ID: "at9-issued", Time: at(22), Kind: audit.KindIssued, TokenID: "at-9", Subject: "alice", SessionID: "s-1", ParentTokenID: "rt-1",
			Scopes: []string{"openid", "orders"}, IP: ip(attacker2IP), ExpiresAt: at(82)},
		{ID: "at9-attacker", Time: at(23), Kind: audit.KindUsed, TokenID: "at-9", Subject: "alice", IP: ip(attacker2IP), Path: "/api/orders", Status: 200},

		// The attacker network also reaches bob's token.
		{ID: "bt1-issued", Time: at(-120), Kind: audit.KindIssued, TokenID: "bt-1", Subject: "bob", SessionID: "s-bob",
			Scopes: []string{"admin"}, IP: ip(bobIP), ExpiresAt: at(-60)},
		{ID: "bt1-attacker", Time: at(25), Kind: audit.KindUsed, TokenID: "bt-1", Subject: "bob", IP: ip(attackerIP), Path: "/api/admin/users", Status: 200},

		// The forged-token burst: refused by the gateway, and one accepted
		// by a legacy service.
		{ID: "forged-1", Time: at(30), Kind: audit.KindRejected, TokenID: "forged-1", Fingerprint: forgedFingerprint, Subject: "alice",
			IP: ip(attackerIP), RejectReason: audit.RejectAlgNone, Status: 401},
		{ID: "forged-2", Time: at(30).Add(time.Second), Kind: audit.KindRejected, Fingerprint: audit.Fingerprint("forged 2"),
			IP: ip(attackerIP), RejectReason: audit.RejectBadSignature, Status: 401},
		{ID: "forged-3", Time: at(30).Add(2 * time.Second), Kind: audit.KindRejected, Fingerprint: audit.Fingerprint("forged 3"),
			IP: ip(attackerIP), RejectReason: audit.RejectBadSignature, Status: 401},
		{ID: "forged-accepted", Time: at(31), Kind: audit.KindUsed, TokenID: "forged-1", Fingerprint: forgedFingerprint, Subject: "alice",
			IP: ip(attackerIP), Path: "/legacy/report", Status: 200},

		// Containment.
		{ID: "at2-revoked", Time: at(40), Kind: audit.KindRevoked, TokenID: "at-2", Subject: "alice", Actor: "soc@acme.example",
			Reason: "replay", RevocationMethod: audit.RevokedByAdmin},
		{ID: "at2-refused", Time: at(41), Kind: audit.KindRejected, TokenID: "at-2", IP: ip(attackerIP), RejectReason: audit.RejectRevoked, Status: 401},

		// Noise from a network nobody suspects.
		{ID: "carol-use", Time: at(26), Kind: audit.KindUsed, TokenID: "ct-1", Subject: "carol", IP: ip(carolIP), Status: 200},
	}
}

func incidentAnomalies() []audit.Anomaly {
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }
	ip := netip.MustParseAddr
	return []audit.Anomaly{
		// The office event completes the evidence, as the third turn of a
		// concurrent use does, and the attacker's address is only in it.
		{ID: "a-concurrent", Rule: "concurrent_use", Severity: audit.SeverityHigh, Time: at(21), TokenID: "at-2", Subject: "alice",
			EventIDs: []string{"at2-office-2", "at2-attacker-1"}, Summary: "two clients took turns", IP: ip(officeIP)},
		{ID: "a-reuse", Rule: "refresh_token_reuse", Severity: audit.SeverityCritical, Time: at(22), TokenID: "rt-1", Subject: "alice",
			EventIDs: []string{"rt1-refreshed", "rt1-attacker"}, Summary: "refresh token redeemed twice", IP: ip(attacker2IP)},
		{ID: "a-unknown", Rule: "unknown_token", Severity: audit.SeverityHigh, Time: at(31), TokenID: "forged-1", Subject: "alice",
			EventIDs: []string{"forged-accepted"}, Summary: "a jti no issuer issued", IP: ip(attackerIP)},
		// A network rule: no token, found through the network.
		{ID: "a-burst", Rule: "rejected_burst", Severity: audit.SeverityHigh, Time: at(30).Add(2 * time.Second),
			EventIDs: []string{"forged-1", "forged-2", "forged-3"}, Summary: "forged tokens from one network", IP: ip(attackerIP), ASN: 64500},
	}
}

func openIncidentStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	db := openStore(tb, incidentEvents())
	if _, err := db.AppendAnomalies(context.Background(), incidentAnomalies()); err != nil {
		tb.Fatalf("append anomalies: %v", err)
	}
	return db
}

func analyzeStory(t *testing.T, opts forensics.IncidentOptions) *forensics.IncidentReport {
	t.Helper()
	db := openIncidentStore(t)
	if opts.Now.IsZero() {
		opts.Now = t0.Add(2 * time.Hour)
	}
	r, err := forensics.AnalyzeIncident(context.Background(), db, forensics.IncidentQuery{Subject: "alice", At: t0.Add(20 * time.Minute)}, opts)
	if err != nil {
		t.Fatalf("AnalyzeIncident: %v", err)
	}
	return r
}

func TestAnalyzeIncidentTimeline(t *testing.T) {
	r := analyzeStory(t, forensics.IncidentOptions{})

	var ids []string
	for _, e := range r.Timeline {
		ids = append(ids, e.EventID)
	}
	want := []string{
		"rt1-issued", "at2-issued", "rt1-refreshed", "at2-office-1", "at2-office-2",
		"at2-attacker-1", "at2-attacker-2", "at9-issued", "rt1-attacker", "at9-attacker", "bt1-attacker",
		"forged-1", "forged-2", "forged-3", "forged-accepted", "at2-revoked", "at2-refused",
	}
	if !slices.Equal(ids, want) {
		t.Errorf("timeline = %v\nwant       %v", ids, want)
	}
	if r.Truncated {
		t.Error("Truncated = true, want false")
	}

	entry := func(id string) forensics.TimelineEntry {
		t.Helper()
		i := slices.IndexFunc(r.Timeline, func(e forensics.TimelineEntry) bool { return e.EventID == id })
		if i < 0 {
			t.Fatalf("timeline has no event %s", id)
		}
		return r.Timeline[i]
	}
	replay := entry("at2-attacker-1")
	if replay.Origin != "both" || !replay.FromSuspiciousNetwork || replay.Network != attackerNet {
		t.Errorf("replay origin, suspicious, network = %q, %v, %q, want both, true, %s", replay.Origin, replay.FromSuspiciousNetwork, replay.Network, attackerNet)
	}
	if replay.Location.ASN != 64500 || replay.Location.Country != "NL" || replay.UserAgent != scriptUA || replay.Status != 200 {
		t.Errorf("replay context = %+v, %q, %d, want ASN 64500 in NL, %q, 200", replay.Location, replay.UserAgent, replay.Status, scriptUA)
	}
	if len(replay.Anomalies) != 1 || replay.Anomalies[0].Rule != "concurrent_use" {
		t.Errorf("replay anomalies = %+v, want concurrent_use", replay.Anomalies)
	}
	if bob := entry("bt1-attacker"); bob.Origin != "network" || bob.Subject != "bob" {
		t.Errorf("bob's use origin, subject = %q, %q, want network, bob", bob.Origin, bob.Subject)
	}
	if office := entry("at2-office-1"); office.Origin != "subject" || office.FromSuspiciousNetwork {
		t.Errorf("office use origin, suspicious = %q, %v, want subject, false", office.Origin, office.FromSuspiciousNetwork)
	}
	if issued := entry("rt1-issued"); issued.Action != "CODE_TO_TOKEN" {
		t.Errorf("rt1-issued action = %q, want the source's CODE_TO_TOKEN", issued.Action)
	}
	if burst := entry("forged-2"); len(burst.Anomalies) != 1 || burst.Anomalies[0].Rule != "rejected_burst" {
		t.Errorf("forged-2 anomalies = %+v, want rejected_burst", burst.Anomalies)
	}
}

func TestAnalyzeIncidentSuspiciousSet(t *testing.T) {
	r := analyzeStory(t, forensics.IncidentOptions{})

	if len(r.Suspicious.Networks) != 1 {
		t.Fatalf("suspicious networks = %+v, want only %s", r.Suspicious.Networks, attackerNet)
	}
	n := r.Suspicious.Networks[0]
	if n.Network != attackerNet {
		t.Errorf("network = %s, want %s", n.Network, attackerNet)
	}
	if !slices.Equal(n.Addresses, []string{attacker2IP, attackerIP}) && !slices.Equal(n.Addresses, []string{attackerIP, attacker2IP}) {
		t.Errorf("addresses = %v, want %s and %s", n.Addresses, attackerIP, attacker2IP)
	}
	for _, rule := range []string{"concurrent_use", "refresh_token_reuse", "unknown_token", "rejected_burst"} {
		if !slices.Contains(n.Rules, rule) {
			t.Errorf("network rules = %v, want %s among them", n.Rules, rule)
		}
	}
	// Events from the network in the window: 2 replays, 1 refresh, 1
	// issuance, 1 use of at-9, bob's use, 3 refusals, 1 accepted forgery
	// and 1 refusal after revocation.
	if n.Events != 11 {
		t.Errorf("network events = %d, want 11", n.Events)
	}

	var tokens []string
	for _, tok := range r.Suspicious.Tokens {
		tokens = append(tokens, tok.TokenID)
	}
	slices.Sort(tokens)
	if want := []string{"at-2", "at-9", "bt-1", "forged-1", "rt-1"}; !slices.Equal(tokens, want) {
		t.Errorf("suspicious tokens = %v, want %v", tokens, want)
	}
	if r.Suspicious.Tokens[0].TokenID != "rt-1" || r.Suspicious.Tokens[0].MaxSeverity != audit.SeverityCritical {
		t.Errorf("first suspicious token = %+v, want rt-1 at critical", r.Suspicious.Tokens[0])
	}

	// The office is where alice signed in, so it is hers, not suspicious.
	if !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, "203.0.113.0/24") }) {
		t.Errorf("notes = %q, want one naming the office network 203.0.113.0/24", r.Notes)
	}
}

func TestAnalyzeIncidentImpact(t *testing.T) {
	r := analyzeStory(t, forensics.IncidentOptions{})
	im := r.Impact

	var tokens []string
	for _, tok := range im.Tokens {
		tokens = append(tokens, tok.TokenID)
	}
	if want := []string{"at-2", "rt-1", "at-9", "bt-1", "forged-1"}; !slices.Equal(tokens, want) {
		t.Errorf("impacted tokens = %v, want %v (by first accepted use)", tokens, want)
	}
	byID := map[string]forensics.ImpactedToken{}
	for _, tok := range im.Tokens {
		byID[tok.TokenID] = tok
	}
	if at2 := byID["at-2"]; at2.Uses != 2 || at2.Family != "rt-1" || at2.SessionID != "s-1" || !at2.Revoked.Equal(t0.Add(40*time.Minute)) {
		t.Errorf("at-2 = %+v, want 2 uses, family rt-1, session s-1, revoked at t0+40m", at2)
	}
	if at9 := byID["at-9"]; at9.Family != "rt-1" {
		t.Errorf("at-9 family = %q, want rt-1", at9.Family)
	}
	if rt1 := byID["rt-1"]; rt1.Family != "rt-1" {
		t.Errorf("rt-1 family = %q, want rt-1 (a redeemed refresh token roots its family)", rt1.Family)
	}
	if bt1 := byID["bt-1"]; bt1.Family != "" || !slices.Equal(bt1.Scopes, []string{"admin"}) {
		t.Errorf("bt-1 = %+v, want no family and scope admin", bt1)
	}

	if len(im.Subjects) != 2 || im.Subjects[0].Subject != "alice" || im.Subjects[0].Other ||
		im.Subjects[1].Subject != "bob" || !im.Subjects[1].Other {
		t.Errorf("impacted subjects = %+v, want alice, then bob as another subject", im.Subjects)
	}
	if !slices.ContainsFunc(im.Paths, func(c forensics.Count) bool { return c.Value == "/api/export" && c.Count == 2 }) {
		t.Errorf("paths = %+v, want /api/export twice, without query string", im.Paths)
	}
	if !slices.ContainsFunc(im.Scopes, func(c forensics.Count) bool { return c.Value == "admin" && c.Count == 1 }) ||
		!slices.ContainsFunc(im.Scopes, func(c forensics.Count) bool { return c.Value == "orders" && c.Count == 2 }) {
		t.Errorf("scopes = %+v, want admin on 1 token and orders on 2", im.Scopes)
	}
	// orders is on at-2 (used at t0+20m and t0+21m) and at-9 (t0+23m).
	for _, c := range im.Scopes {
		if c.Value == "orders" && (!c.First.Equal(t0.Add(20*time.Minute)) || !c.Last.Equal(t0.Add(23*time.Minute))) {
			t.Errorf("scope orders seen %s to %s, want t0+20m to t0+23m", c.First, c.Last)
		}
	}
	if im.Rejected[audit.RejectBadSignature] != 2 || im.Rejected[audit.RejectAlgNone] != 1 || im.Rejected[audit.RejectRevoked] != 1 {
		t.Errorf("rejected = %v, want 2 bad_signature, 1 alg_none, 1 revoked", im.Rejected)
	}

	x := im.Exposure
	if !x.Start.Equal(t0.Add(20*time.Minute)) || !x.End.Equal(t0.Add(31*time.Minute)) {
		t.Errorf("exposure = %s to %s, want t0+20m to t0+31m", x.Start, x.End)
	}
	// rt-1 records neither revocation nor expiry.
	if !x.Open || !strings.Contains(x.Reason, `"rt-1"`) {
		t.Errorf("exposure open = %v, reason %q, want open because of rt-1", x.Open, x.Reason)
	}
}

func TestAnalyzeIncidentPatterns(t *testing.T) {
	r := analyzeStory(t, forensics.IncidentOptions{})
	pattern := func(name string) *forensics.Pattern {
		for i := range r.Patterns {
			if r.Patterns[i].Name == name {
				return &r.Patterns[i]
			}
		}
		return nil
	}

	if p := pattern(forensics.PatternNetworkOnTokens); p == nil || p.Count != 4 {
		t.Errorf("network pattern = %+v, want 4 of alice's tokens from %s", p, attackerNet)
	}
	if p := pattern(forensics.PatternForgedAttempts); p == nil || p.Count != 3 {
		t.Errorf("forged attempts = %+v, want 3", p)
	}
	if p := pattern(forensics.PatternForgedAccepted); p == nil || !slices.Equal(p.Tokens, []string{"forged-1"}) {
		t.Errorf("forged accepted = %+v, want forged-1", p)
	}
	if p := pattern(forensics.PatternUnknownAccepted); p == nil || !slices.Equal(p.Tokens, []string{"forged-1"}) {
		t.Errorf("unknown accepted = %+v, want forged-1", p)
	}
	if p := pattern(forensics.PatternRefreshFamily); p == nil || p.Count != 3 {
		t.Errorf("refresh family = %+v, want 3 tokens of rt-1's family", p)
	}
}

func TestAnalyzeIncidentFamilyPatternAfterRevocation(t *testing.T) {
	familyPattern := func(r *forensics.IncidentReport) string {
		t.Helper()
		for _, p := range r.Patterns {
			if p.Name == forensics.PatternRefreshFamily {
				return p.Description
			}
		}
		t.Fatalf("patterns = %+v, want %s", r.Patterns, forensics.PatternRefreshFamily)
		return ""
	}
	db := openIncidentStore(t)
	q := forensics.IncidentQuery{Subject: "alice", At: t0.Add(20 * time.Minute)}
	opts := forensics.IncidentOptions{Now: t0.Add(2 * time.Hour)}

	before, err := forensics.AnalyzeIncident(context.Background(), db, q, opts)
	if err != nil {
		t.Fatal(err)
	}
	revoke := audit.Event{ID: "rt1-family-revoked", Time: t0.Add(time.Hour), Kind: audit.KindRevoked, TokenID: "rt-1",
		RevocationScope: audit.RevokeFamily, Actor: "soc", RevocationMethod: audit.RevokedByAdmin}
	if _, err := db.Append(context.Background(), []audit.Event{revoke}); err != nil {
		t.Fatal(err)
	}
	after, err := forensics.AnalyzeIncident(context.Background(), db, q, opts)
	if err != nil {
		t.Fatal(err)
	}

	if d := familyPattern(before); !strings.Contains(d, "can mint new access tokens") {
		t.Errorf("family pattern before the revocation = %q, want it to say the family can mint tokens", d)
	}
	if d := familyPattern(after); strings.Contains(d, "can mint") || !strings.Contains(d, "revoked since") {
		t.Errorf("family pattern after the revocation = %q, want it to say the family was revoked", d)
	}
}

func TestAnalyzeIncidentPlan(t *testing.T) {
	r := analyzeStory(t, forensics.IncidentOptions{Actor: "soc@acme.example"})

	type step struct{ action, target string }
	var got []step
	for i, s := range r.Plan {
		if s.Rank != i+1 {
			t.Errorf("step %d has rank %d", i+1, s.Rank)
		}
		if s.Reason == "" || (s.Command == "" && s.Manual == "") {
			t.Errorf("step %d (%s) = %+v, want a reason and a command or manual action", s.Rank, s.Action, s)
		}
		got = append(got, step{s.Action, strings.Join(s.Targets, ",")})
	}
	want := []step{
		{forensics.ActionRotateSigningKey, "forged-1"},
		{forensics.ActionBlockNetwork, attackerNet},
		{forensics.ActionRevokeFamily, "rt-1"},
		{forensics.ActionRevokeToken, "bt-1"},
		{forensics.ActionRevokeToken, "forged-1"},
		{forensics.ActionRevokeSubject, "alice"},
		{forensics.ActionRevokeSubject, "bob"},
		{forensics.ActionEndSession, "s-1"},
		{forensics.ActionEndSession, "s-bob"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("plan = %v\nwant   %v", got, want)
	}

	commands := map[int]string{
		2: "iptables -I INPUT -s 198.51.100.0/24 -j DROP",
		3: "tokentrail revoke --family rt-1 --actor soc@acme.example --reason 'incident of alice at 2026-11-20 09:20:00Z'",
		4: "tokentrail revoke --jti bt-1 --actor soc@acme.example --reason 'incident of alice at 2026-11-20 09:20:00Z'",
		// The exposure is open, so every token issued until the report
		// time is revoked.
		6: "tokentrail revoke --subject alice --actor soc@acme.example --reason 'incident of alice at 2026-11-20 09:20:00Z' --issued-before 2026-11-20T11:00:00Z",
		8: "tokentrail revoke --session s-1 --actor soc@acme.example --reason 'incident of alice at 2026-11-20 09:20:00Z'",
	}
	for rank, want := range commands {
		if got := r.Plan[rank-1].Command; got != want {
			t.Errorf("step %d command = %q, want %q", rank, got, want)
		}
	}
	wantAPI := `POST /api/v1/revocations {"reason":"incident of alice at 2026-11-20 09:20:00Z","scope":"family","target":"rt-1"}`
	if got := r.Plan[2].API; got != wantAPI {
		t.Errorf("step 3 API = %q, want %q", got, wantAPI)
	}
	if r.Plan[0].Command != "" || !strings.Contains(r.Plan[0].Reason, "same fingerprint") {
		t.Errorf("rotate step = %+v, want no command and a reason citing the fingerprint evidence", r.Plan[0])
	}
}

func TestAnalyzeIncidentClosedExposure(t *testing.T) {
	events := incidentEvents()
	revoke := func(id, jti string, minutes int) audit.Event {
		return audit.Event{ID: id, Time: t0.Add(time.Duration(minutes) * time.Minute), Kind: audit.KindRevoked, TokenID: jti, Subject: "alice"}
	}
	events = append(events, revoke("rt1-revoked", "rt-1", 45), revoke("forged-revoked", "forged-1", 46))
	db := openStore(t, events)
	if _, err := db.AppendAnomalies(context.Background(), incidentAnomalies()); err != nil {
		t.Fatalf("append anomalies: %v", err)
	}

	// bt-1 expired before the attack and at-9 expires at t0+82m, so at
	// t0+3h every impacted token is revoked or expired.
	r, err := forensics.AnalyzeIncident(context.Background(), db,
		forensics.IncidentQuery{Subject: "alice", At: t0, Window: 3 * time.Hour}, forensics.IncidentOptions{Now: t0.Add(3 * time.Hour)})
	if err != nil {
		t.Fatalf("AnalyzeIncident: %v", err)
	}
	if r.Impact.Exposure.Open {
		t.Errorf("exposure open, reason %q, want closed", r.Impact.Exposure.Reason)
	}
	i := slices.IndexFunc(r.Plan, func(s forensics.RemediationStep) bool { return s.Action == forensics.ActionRevokeSubject })
	if i < 0 {
		t.Fatal("plan has no subject revocation")
	}
	// One second past the last accepted use, at t0+31m.
	if !strings.HasSuffix(r.Plan[i].Command, "--issued-before 2026-11-20T09:31:01Z") {
		t.Errorf("subject revocation = %q, want --issued-before 2026-11-20T09:31:01Z", r.Plan[i].Command)
	}
	if slices.ContainsFunc(r.Plan, func(s forensics.RemediationStep) bool {
		return s.Action == forensics.ActionRevokeToken && s.Targets[0] == "forged-1"
	}) {
		t.Error("plan revokes forged-1, which is revoked already")
	}
}

func TestAnalyzeIncidentBounds(t *testing.T) {
	r := analyzeStory(t, forensics.IncidentOptions{MaxTimeline: 5})
	if len(r.Timeline) != 5 || !r.Truncated {
		t.Fatalf("timeline has %d events, truncated %v, want 5 and true", len(r.Timeline), r.Truncated)
	}
	for _, e := range r.Timeline {
		if e.Origin == "network" && len(e.Anomalies) == 0 {
			t.Errorf("timeline keeps %s, an unmarked network event, over the subject's events", e.EventID)
		}
	}
	if !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, "the timeline lists 5 of") }) {
		t.Errorf("notes = %q, want one saying the timeline was cut", r.Notes)
	}
}

func TestAnalyzeIncidentReadsNearestEvents(t *testing.T) {
	// One use every 10 minutes for two days, more than MaxTimeline holds.
	var events []audit.Event
	for i := -144; i < 144; i++ {
		at := t0.Add(time.Duration(i) * 10 * time.Minute)
		events = append(events, audit.Event{ID: fmt.Sprintf("use-%d", i), Time: at, Kind: audit.KindUsed,
			TokenID: "at-busy", Subject: "alice", IP: netip.MustParseAddr(officeIP), Path: "/api/orders", Status: 200})
	}
	db := openStore(t, events)

	r, err := forensics.AnalyzeIncident(context.Background(), db, forensics.IncidentQuery{Subject: "alice", At: t0},
		forensics.IncidentOptions{MaxTimeline: 20, Now: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	if len(r.Timeline) == 0 {
		t.Fatal("timeline is empty")
	}
	first, last := r.Timeline[0].Time, r.Timeline[len(r.Timeline)-1].Time
	if first.After(t0) || !last.After(t0) {
		t.Errorf("timeline spans %v to %v, want the events on both sides of the incident time %v", first, last, t0)
	}
	if !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, "nearest the incident time") }) {
		t.Errorf("notes = %q, want one naming the part of the window read", r.Notes)
	}
}

func TestAnalyzeIncidentTrusted(t *testing.T) {
	r := analyzeStory(t, forensics.IncidentOptions{Trusted: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/25")}})
	if len(r.Suspicious.Networks) != 0 {
		t.Errorf("suspicious networks = %+v, want none: every attacker address is trusted", r.Suspicious.Networks)
	}
}

func TestAnalyzeIncidentInvalid(t *testing.T) {
	db := openIncidentStore(t)
	tests := []struct {
		name  string
		query forensics.IncidentQuery
		want  error
	}{
		{"no subject", forensics.IncidentQuery{At: t0}, forensics.ErrInvalidQuery},
		{"no time", forensics.IncidentQuery{Subject: "alice"}, forensics.ErrInvalidQuery},
		{"negative window", forensics.IncidentQuery{Subject: "alice", At: t0, Window: -time.Hour}, forensics.ErrInvalidQuery},
		{"unknown subject", forensics.IncidentQuery{Subject: "mallory", At: t0}, forensics.ErrSubjectNotFound},
		{"subject outside the window", forensics.IncidentQuery{Subject: "carol", At: t0.Add(-48 * time.Hour)}, forensics.ErrSubjectNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := forensics.AnalyzeIncident(context.Background(), db, tt.query, forensics.IncidentOptions{})
			if !errors.Is(err, tt.want) {
				t.Errorf("AnalyzeIncident(%s) error = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

func TestAnalyzeIncidentDetect(t *testing.T) {
	db := openStore(t, incidentEvents())
	var seen int
	detect := func(events []audit.Event) ([]audit.Anomaly, error) {
		seen = len(events)
		return []audit.Anomaly{{ID: "found", Rule: "high_frequency", Severity: audit.SeverityMedium, Time: t0.Add(21 * time.Minute),
			TokenID: "at-2", Subject: "alice", EventIDs: []string{"at2-attacker-2"}, Summary: "many uses", IP: netip.MustParseAddr(attackerIP)}}, nil
	}
	r, err := forensics.AnalyzeIncident(context.Background(), db, forensics.IncidentQuery{Subject: "alice", At: t0},
		forensics.IncidentOptions{Now: t0.Add(2 * time.Hour), Detect: detect})
	if err != nil {
		t.Fatalf("AnalyzeIncident: %v", err)
	}
	// alice's 13 events in the window, and the one of her tokens without
	// subject (the refusal of at-2 after revocation).
	if seen != 14 {
		t.Errorf("Detect saw %d events, want 14", seen)
	}
	if len(r.Suspicious.Networks) != 1 || r.Suspicious.Networks[0].Network != attackerNet {
		t.Errorf("suspicious networks = %+v, want %s from the detected anomaly", r.Suspicious.Networks, attackerNet)
	}

	failing := func([]audit.Event) ([]audit.Anomaly, error) { return nil, errors.New("rules file missing") }
	_, err = forensics.AnalyzeIncident(context.Background(), db, forensics.IncidentQuery{Subject: "alice", At: t0},
		forensics.IncidentOptions{Detect: failing})
	if err == nil || !strings.Contains(err.Error(), "rules file missing") {
		t.Errorf("AnalyzeIncident with a failing Detect error = %v, want it wrapped", err)
	}
}

func TestAnalyzeIncidentPrivateAddress(t *testing.T) {
	at := t0.Add(10 * time.Minute)
	db := openStore(t, []audit.Event{
		{ID: "signin", Time: t0, Kind: audit.KindIssued, TokenID: "at-1", Subject: "alice", IP: netip.MustParseAddr(officeIP)},
		{ID: "inside", Time: at, Kind: audit.KindUsed, TokenID: "at-1", Subject: "alice", IP: netip.MustParseAddr("10.1.2.3"), Status: 200},
	})
	anomaly := audit.Anomaly{ID: "a-inside", Rule: "high_frequency", Severity: audit.SeverityMedium, Time: at, TokenID: "at-1",
		Subject: "alice", EventIDs: []string{"inside"}, Summary: "many uses", IP: netip.MustParseAddr("10.1.2.3")}
	if _, err := db.AppendAnomalies(context.Background(), []audit.Anomaly{anomaly}); err != nil {
		t.Fatalf("append anomalies: %v", err)
	}

	r, err := forensics.AnalyzeIncident(context.Background(), db, forensics.IncidentQuery{Subject: "alice", At: at},
		forensics.IncidentOptions{Now: t0.Add(time.Hour)})
	if err != nil {
		t.Fatalf("AnalyzeIncident: %v", err)
	}
	if len(r.Suspicious.Networks) != 0 {
		t.Errorf("suspicious networks = %+v, want none for a private address", r.Suspicious.Networks)
	}
	var actions []string
	for _, s := range r.Plan {
		actions = append(actions, s.Action+" "+strings.Join(s.Targets, ","))
	}
	want := []string{forensics.ActionRevokeToken + " at-1", forensics.ActionRevokeSubject + " alice"}
	if !slices.Equal(actions, want) {
		t.Errorf("plan = %v, want %v", actions, want)
	}
}

// historyFailingStore fails the reads of token histories.
type historyFailingStore struct {
	*sqlite.Store
}

var errHistory = errors.New("disk I/O error")

func (s historyFailingStore) Events(ctx context.Context, q store.Query) ([]audit.Event, error) {
	if slices.Contains(q.Kinds, audit.KindRevoked) {
		return nil, errHistory
	}
	return s.Store.Events(ctx, q)
}

func TestAnalyzeIncidentHistoryError(t *testing.T) {
	db := historyFailingStore{openIncidentStore(t)}
	_, err := forensics.AnalyzeIncident(context.Background(), db, forensics.IncidentQuery{Subject: "alice", At: t0.Add(20 * time.Minute)},
		forensics.IncidentOptions{Now: t0.Add(2 * time.Hour)})
	if !errors.Is(err, errHistory) {
		t.Errorf("AnalyzeIncident error = %v, want one wrapping %v", err, errHistory)
	}
}

func TestAnalyzeIncidentAnomalyBound(t *testing.T) {
	r := analyzeStory(t, forensics.IncidentOptions{MaxTimeline: 2})
	if !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, `subject "alice" has more than 2 anomalies`) }) {
		t.Errorf("notes = %q, want one saying alice's anomalies were cut at 2", r.Notes)
	}
	if len(r.Timeline) != 2 {
		t.Errorf("timeline has %d events, want 2", len(r.Timeline))
	}
}

// TestAnalyzeIncidentRevocationIgnored revokes at-2 at t0+10m, before the
// attacker's accepted uses of it at t0+20m and t0+21m. The
// exposure stays open, and the plan makes the service enforce revocations
// before it revokes tokens.
func TestAnalyzeIncidentRevocationIgnored(t *testing.T) {
	events := append(incidentEvents(), audit.Event{ID: "at2-revoked-early", Time: t0.Add(10 * time.Minute), Kind: audit.KindRevoked, TokenID: "at-2", Subject: "alice"})
	db := openStore(t, events)
	if _, err := db.AppendAnomalies(context.Background(), incidentAnomalies()); err != nil {
		t.Fatalf("append anomalies: %v", err)
	}

	r, err := forensics.AnalyzeIncident(context.Background(), db,
		forensics.IncidentQuery{Subject: "alice", At: t0, Window: 3 * time.Hour}, forensics.IncidentOptions{Now: t0.Add(3 * time.Hour)})
	if err != nil {
		t.Fatalf("AnalyzeIncident: %v", err)
	}
	if !r.Impact.Exposure.Open || !strings.Contains(r.Impact.Exposure.Reason, "does not enforce revocations") {
		t.Errorf("exposure = %+v, want open because at-2 was accepted after its revocation", r.Impact.Exposure)
	}
	i := slices.IndexFunc(r.Plan, func(s forensics.RemediationStep) bool { return s.Action == forensics.ActionEnforceRevocation })
	if i < 0 {
		t.Fatalf("plan = %+v, want a step that enforces revocations", r.Plan)
	}
	if j := slices.IndexFunc(r.Plan, func(s forensics.RemediationStep) bool { return s.Action == forensics.ActionRevokeToken }); j >= 0 && j < i {
		t.Errorf("plan revokes tokens (step %d) before enforcing revocations (step %d)", j+1, i+1)
	}
}

// TestAnalyzeIncidentSessionRevocationCloses revokes alice's session s-1
// in place of her refresh token: the tokens minted in it count as revoked,
// so the exposure closes as in TestAnalyzeIncidentClosedExposure.
func TestAnalyzeIncidentSessionRevocationCloses(t *testing.T) {
	events := append(incidentEvents(),
		audit.Event{ID: "s1-revoked", Time: t0.Add(45 * time.Minute), Kind: audit.KindRevoked, RevocationScope: audit.RevokeSession, SessionID: "s-1", Subject: "alice"},
		audit.Event{ID: "forged-revoked", Time: t0.Add(46 * time.Minute), Kind: audit.KindRevoked, TokenID: "forged-1", Subject: "alice"})
	db := openStore(t, events)
	if _, err := db.AppendAnomalies(context.Background(), incidentAnomalies()); err != nil {
		t.Fatalf("append anomalies: %v", err)
	}

	r, err := forensics.AnalyzeIncident(context.Background(), db,
		forensics.IncidentQuery{Subject: "alice", At: t0, Window: 3 * time.Hour}, forensics.IncidentOptions{Now: t0.Add(3 * time.Hour)})
	if err != nil {
		t.Fatalf("AnalyzeIncident: %v", err)
	}
	if r.Impact.Exposure.Open {
		t.Errorf("exposure open, reason %q, want closed by the session's revocation", r.Impact.Exposure.Reason)
	}
}

// TestAnalyzeIncidentPlanSkipsDoneScopes revokes alice's session s-1 and
// her tokens issued until the report time: the plan no longer ends that
// session or revokes her tokens again.
func TestAnalyzeIncidentPlanSkipsDoneScopes(t *testing.T) {
	now := t0.Add(3 * time.Hour)
	events := append(incidentEvents(),
		audit.Event{ID: "s1-revoked", Time: t0.Add(45 * time.Minute), Kind: audit.KindRevoked, RevocationScope: audit.RevokeSession, SessionID: "s-1", Subject: "alice"},
		audit.Event{ID: "alice-revoked", Time: t0.Add(50 * time.Minute), Kind: audit.KindRevoked, RevocationScope: audit.RevokeSubject, Subject: "alice", NotBefore: now})
	db := openStore(t, events)
	if _, err := db.AppendAnomalies(context.Background(), incidentAnomalies()); err != nil {
		t.Fatalf("append anomalies: %v", err)
	}

	r, err := forensics.AnalyzeIncident(context.Background(), db,
		forensics.IncidentQuery{Subject: "alice", At: t0, Window: 3 * time.Hour}, forensics.IncidentOptions{Now: now})
	if err != nil {
		t.Fatalf("AnalyzeIncident: %v", err)
	}
	for _, s := range r.Plan {
		if (s.Action == forensics.ActionEndSession && slices.Contains(s.Targets, "s-1")) ||
			(s.Action == forensics.ActionRevokeSubject && slices.Contains(s.Targets, "alice")) {
			t.Errorf("plan step %d (%s %v) was carried out already", s.Rank, s.Action, s.Targets)
		}
	}
}

// TestAnalyzeIncidentMarkRoles checks that an anomaly marks the event that
// completed its evidence as completing and the events before it as
// earlier, so that the owner's redemption of rt-1 does not read as the
// reuse itself.
func TestAnalyzeIncidentMarkRoles(t *testing.T) {
	r := analyzeStory(t, forensics.IncidentOptions{})

	roles := map[string]string{}
	for _, e := range r.Timeline {
		for _, m := range e.Anomalies {
			if m.Rule == "refresh_token_reuse" {
				roles[e.EventID] = m.Role
			}
		}
	}
	if got := roles["rt1-refreshed"]; got != forensics.MarkEarlier {
		t.Errorf("role of the owner's redemption rt1-refreshed = %q, want %q", got, forensics.MarkEarlier)
	}
	if got := roles["rt1-attacker"]; got != forensics.MarkCompleting {
		t.Errorf("role of the reuse rt1-attacker = %q, want %q", got, forensics.MarkCompleting)
	}
}

// TestAnalyzeIncidentUsesAfterRevocation has the attacker use at-2 30 and
// 45 seconds after its revocation at t0+40m, while the revocation reaches
// the services. Both uses are counted, and, within the clock skew, they
// do not read as a service ignoring revocations.
func TestAnalyzeIncidentUsesAfterRevocation(t *testing.T) {
	revokedAt := t0.Add(40 * time.Minute)
	late := func(id string, after time.Duration) audit.Event {
		return audit.Event{ID: id, Time: revokedAt.Add(after), Kind: audit.KindUsed, TokenID: "at-2", Subject: "alice",
			IP: netip.MustParseAddr(attackerIP), Path: "/api/export?page=9", Status: 200}
	}
	db := openStore(t, append(incidentEvents(), late("at2-late-1", 30*time.Second), late("at2-late-2", 45*time.Second)))
	if _, err := db.AppendAnomalies(context.Background(), incidentAnomalies()); err != nil {
		t.Fatalf("append anomalies: %v", err)
	}

	r, err := forensics.AnalyzeIncident(context.Background(), db,
		forensics.IncidentQuery{Subject: "alice", At: t0, Window: 3 * time.Hour}, forensics.IncidentOptions{Now: t0.Add(3 * time.Hour)})
	if err != nil {
		t.Fatalf("AnalyzeIncident: %v", err)
	}
	i := slices.IndexFunc(r.Impact.Tokens, func(tok forensics.ImpactedToken) bool { return tok.TokenID == "at-2" })
	if i < 0 {
		t.Fatalf("impact tokens = %+v, want at-2", r.Impact.Tokens)
	}
	tok := r.Impact.Tokens[i]
	if tok.Uses != 4 || tok.UsesAfterRevocation != 2 {
		t.Errorf("at-2 uses, after revocation = %d, %d, want 4, 2", tok.Uses, tok.UsesAfterRevocation)
	}
	if want := revokedAt.Add(45 * time.Second); !tok.LastAfterRevocation.Equal(want) {
		t.Errorf("at-2 last use after revocation = %s, want %s", tok.LastAfterRevocation, want)
	}
	if x := r.Impact.Exposure; x.UsesAfterRevocation != 2 || !x.LastAfterRevocation.Equal(tok.LastAfterRevocation) {
		t.Errorf("exposure uses after revocation = %d, last %s, want 2, last %s", x.UsesAfterRevocation, x.LastAfterRevocation, tok.LastAfterRevocation)
	}
	if slices.ContainsFunc(r.Plan, func(s forensics.RemediationStep) bool { return s.Action == forensics.ActionEnforceRevocation }) {
		t.Error("plan enforces revocations, want none for uses within the clock skew of the revocation")
	}
	for _, other := range r.Impact.Tokens {
		if other.TokenID != "at-2" && other.UsesAfterRevocation != 0 {
			t.Errorf("%s uses after revocation = %d, want 0", other.TokenID, other.UsesAfterRevocation)
		}
	}
}

// TestAnalyzeIncidentPlanSkipsDoneFamily revokes the refresh family of
// rt-1 before the report time: the plan no longer revokes it, whether the
// analysis reaches the root through a token minted from it or the root is
// the only token the attacker used. A family revocation after the report
// time leaves the step in.
func TestAnalyzeIncidentPlanSkipsDoneFamily(t *testing.T) {
	now := t0.Add(3 * time.Hour)
	familyRevoked := func(at time.Time) audit.Event {
		return audit.Event{ID: "rt1-family-revoked", Time: at, Kind: audit.KindRevoked, RevocationScope: audit.RevokeFamily,
			TokenID: "rt-1", Subject: "alice", Actor: "soc@acme.example", Reason: "refresh token reused"}
	}
	ip := netip.MustParseAddr
	// Only the refresh token itself is redeemed from the attacker's
	// network, so no token minted from it leads the analysis to it.
	rootOnly := []audit.Event{
		{ID: "rt1-issued", Time: t0.Add(-time.Hour), Kind: audit.KindIssued, TokenID: "rt-1", Subject: "alice", IP: ip(officeIP)},
		{ID: "rt1-attacker", Time: t0.Add(22 * time.Minute), Kind: audit.KindRefreshed, TokenID: "rt-1", Subject: "alice", IP: ip(attacker2IP)},
	}
	rootOnlyAnomaly := []audit.Anomaly{{ID: "a-reuse", Rule: "refresh_token_reuse", Severity: audit.SeverityCritical, Time: t0.Add(22 * time.Minute),
		TokenID: "rt-1", Subject: "alice", EventIDs: []string{"rt1-attacker"}, Summary: "refresh token redeemed twice", IP: ip(attacker2IP)}}

	tests := []struct {
		name      string
		events    []audit.Event
		anomalies []audit.Anomaly
		wantStep  bool
	}{
		{"revoked through a child", append(incidentEvents(), familyRevoked(t0.Add(45*time.Minute))), incidentAnomalies(), false},
		{"revoked root only", append(rootOnly, familyRevoked(t0.Add(45*time.Minute))), rootOnlyAnomaly, false},
		{"revoked after the report", append(incidentEvents(), familyRevoked(now.Add(time.Minute))), incidentAnomalies(), true},
		{"root only, not revoked", rootOnly, rootOnlyAnomaly, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t, tt.events)
			if _, err := db.AppendAnomalies(context.Background(), tt.anomalies); err != nil {
				t.Fatalf("append anomalies: %v", err)
			}
			r, err := forensics.AnalyzeIncident(context.Background(), db,
				forensics.IncidentQuery{Subject: "alice", At: t0, Window: 3 * time.Hour}, forensics.IncidentOptions{Now: now})
			if err != nil {
				t.Fatalf("AnalyzeIncident: %v", err)
			}
			gotStep := slices.ContainsFunc(r.Plan, func(s forensics.RemediationStep) bool {
				return s.Action == forensics.ActionRevokeFamily && slices.Contains(s.Targets, "rt-1")
			})
			if gotStep != tt.wantStep {
				t.Errorf("plan has a revoke_family rt-1 step: %v, want %v; plan %+v", gotStep, tt.wantStep, r.Plan)
			}
		})
	}
}

// TestAnalyzeIncidentPlanUnprintableSubject analyzes a subject with a line
// break and one with a NUL character. The plan's commands name the first
// in ANSI-C quoting, and its revocation reason quotes it. The second gets
// no subject command, since no argument can carry NUL, but a manual step.
func TestAnalyzeIncidentPlanUnprintableSubject(t *testing.T) {
	ip := netip.MustParseAddr
	tests := []struct {
		name, subject string
		wantCommand   string // of the subject step; empty for none
		wantReason    string
	}{
		{"line break", "ali\nce", `tokentrail revoke --subject $'ali\nce' --actor incident-response --reason 'incident of "ali\nce" at 2026-11-20 09:00:00Z' --issued-before 2026-11-20T12:00:00Z`,
			`'incident of "ali\nce" at 2026-11-20 09:00:00Z'`},
		{"NUL", "ali\x00ce", "", `'incident of "ali\x00ce" at 2026-11-20 09:00:00Z'`},
		{"cut at import", cutSubject(), "", ""},
		{"redacted at import", redactedSubject(), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t, []audit.Event{
				{ID: "issued", Time: t0.Add(-time.Hour), Kind: audit.KindIssued, TokenID: "at-x", Subject: tt.subject, IP: ip(officeIP)},
				{ID: "replay", Time: t0, Kind: audit.KindUsed, TokenID: "at-x", Subject: tt.subject, IP: ip(attackerIP), Status: 200},
			})
			if _, err := db.AppendAnomalies(context.Background(), []audit.Anomaly{{ID: "a-replay", Rule: "concurrent_use", Severity: audit.SeverityHigh,
				Time: t0, TokenID: "at-x", Subject: tt.subject, EventIDs: []string{"replay"}, Summary: "replayed", IP: ip(attackerIP)}}); err != nil {
				t.Fatalf("append anomalies: %v", err)
			}
			r, err := forensics.AnalyzeIncident(context.Background(), db,
				forensics.IncidentQuery{Subject: tt.subject, At: t0, Window: time.Hour}, forensics.IncidentOptions{Now: t0.Add(3 * time.Hour)})
			if err != nil {
				t.Fatalf("AnalyzeIncident: %v", err)
			}

			i := slices.IndexFunc(r.Plan, func(s forensics.RemediationStep) bool { return s.Action == forensics.ActionRevokeSubject })
			if i < 0 {
				t.Fatalf("plan = %+v, want a subject step", r.Plan)
			}
			subjectStep := r.Plan[i]
			if subjectStep.Command != tt.wantCommand {
				t.Errorf("subject step command = %q, want %q", subjectStep.Command, tt.wantCommand)
			}
			wantManual := "NUL character"
			if audit.WasRedacted(tt.subject) {
				wantManual = "replaced with its fingerprint marker"
				if subjectStep.API != "" {
					t.Errorf("subject step API = %.80q, want none for a redacted value", subjectStep.API)
				}
			}
			if audit.WasCut(tt.subject) {
				wantManual = "the import cut it"
				if subjectStep.API != "" {
					t.Errorf("subject step API = %.80q, want none for a cut value", subjectStep.API)
				}
			}
			if tt.wantCommand == "" && !strings.Contains(subjectStep.Manual, wantManual) {
				t.Errorf("subject step manual = %.300q, want it to say why there is no command (%q)", subjectStep.Manual, wantManual)
			}
			if tt.wantReason == "" {
				return
			}
			j := slices.IndexFunc(r.Plan, func(s forensics.RemediationStep) bool { return s.Action == forensics.ActionRevokeToken })
			if j < 0 {
				t.Fatalf("plan = %+v, want a token step", r.Plan)
			}
			if got := r.Plan[j].Command; !strings.HasSuffix(got, "--reason "+tt.wantReason) {
				t.Errorf("token step command = %q, want it to end in --reason %s", got, tt.wantReason)
			}
		})
	}
}

// redactedSubject returns a subject that held a raw JWT, as the import
// stores it: with the token's fingerprint marker in its place.
func redactedSubject() string {
	// The header {"alg":"HS256"} and the claims {"jti":"x"}, unsigned.
	e := audit.Event{Subject: "user eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJ4In0.c2ln"}
	e.Sanitize()
	return e.Subject
}

// cutSubject returns a subject longer than 8 KiB as the import stores it:
// cut, with the marker at its end.
func cutSubject() string {
	e := audit.Event{Subject: strings.Repeat("s", 9000)}
	e.Sanitize()
	return e.Subject
}

// TestAnalyzeIncidentPlanCoverage checks the family, subject and session
// steps against the tokens they would cover: a step is left out when
// every such token is revoked, and kept while one is not. No step carries
// --expires-at, since the store may not hold every token a scope covers.
func TestAnalyzeIncidentPlanCoverage(t *testing.T) {
	ip := netip.MustParseAddr
	exp := func(d time.Duration) time.Time { return t0.Add(d) }
	// dave's access token at-x, replayed from the attacker's network.
	base := []audit.Event{
		{ID: "x-issued", Time: t0.Add(-time.Hour), Kind: audit.KindIssued, TokenID: "at-x", Subject: "dave", SessionID: "s-d",
			IP: ip(officeIP), ExpiresAt: exp(time.Hour)},
		{ID: "x-replay", Time: t0, Kind: audit.KindUsed, TokenID: "at-x", Subject: "dave", SessionID: "s-d", IP: ip(attackerIP), Status: 200},
	}
	xRevoked := audit.Event{ID: "x-revoked", Time: t0.Add(10 * time.Minute), Kind: audit.KindRevoked, RevocationScope: audit.RevokeToken,
		TokenID: "at-x", Subject: "dave", Actor: "soc", Reason: "replay"}
	lateRevoked := xRevoked
	lateRevoked.ID, lateRevoked.Time = "x-revoked-late", t0.Add(2*time.Hour)
	// at-y is another token of the session, with no recorded expiry.
	yIssued := audit.Event{ID: "y-issued", Time: t0.Add(-30 * time.Minute), Kind: audit.KindIssued, TokenID: "at-y", Subject: "dave",
		SessionID: "s-d", IP: ip(officeIP)}
	// A refresh family: the root rt-f and the access token at-f minted
	// from it, replayed.
	family := []audit.Event{
		{ID: "f-root", Time: t0.Add(-2 * time.Hour), Kind: audit.KindIssued, TokenID: "rt-f", Subject: "dave", IP: ip(officeIP), ExpiresAt: exp(8 * time.Hour)},
		{ID: "f-child", Time: t0.Add(-time.Minute), Kind: audit.KindIssued, TokenID: "at-f", ParentTokenID: "rt-f", Subject: "dave",
			IP: ip(officeIP), ExpiresAt: exp(time.Hour)},
		{ID: "f-replay", Time: t0.Add(time.Second), Kind: audit.KindUsed, TokenID: "at-f", Subject: "dave", IP: ip(attackerIP), Status: 200},
	}

	tests := []struct {
		name   string
		events []audit.Event
		want   map[string]string // action to the --expires-at part of its command, "" for none; a missing action has no step
	}{
		{"nothing revoked", base, map[string]string{
			forensics.ActionRevokeToken: "", forensics.ActionRevokeSubject: "", forensics.ActionEndSession: ""}},
		{"token revoked by jti", append(slices.Clone(base), xRevoked), map[string]string{}},
		{"token revoked after the window", append(slices.Clone(base), lateRevoked), map[string]string{}},
		{"another token not revoked", append(slices.Clone(base), xRevoked, yIssued), map[string]string{
			forensics.ActionRevokeSubject: "", forensics.ActionEndSession: ""}},
		{"refresh family", family, map[string]string{
			forensics.ActionRevokeFamily: "", forensics.ActionRevokeSubject: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t, tt.events)
			replayed := "x-replay"
			if tt.name == "refresh family" {
				replayed = "f-replay"
			}
			if _, err := db.AppendAnomalies(context.Background(), []audit.Anomaly{{ID: "a-replay", Rule: "concurrent_use", Severity: audit.SeverityHigh,
				Time: t0, Subject: "dave", EventIDs: []string{replayed}, Summary: "replayed", IP: ip(attackerIP)}}); err != nil {
				t.Fatalf("append anomalies: %v", err)
			}
			r, err := forensics.AnalyzeIncident(context.Background(), db,
				forensics.IncidentQuery{Subject: "dave", At: t0, Window: time.Hour}, forensics.IncidentOptions{Now: t0.Add(3 * time.Hour)})
			if err != nil {
				t.Fatalf("AnalyzeIncident: %v", err)
			}

			got := map[string]string{}
			for _, s := range r.Plan {
				if !strings.HasPrefix(s.Command, "tokentrail ") {
					continue
				}
				expiry := ""
				if i := strings.Index(s.Command, " --expires-at "); i >= 0 {
					expiry = s.Command[i:]
				}
				got[s.Action] = expiry
			}
			for action, want := range tt.want {
				if expiry, ok := got[action]; !ok {
					t.Errorf("plan has no %s step, want one; plan %+v", action, r.Plan)
				} else if expiry != want {
					t.Errorf("%s step expiry = %q, want %q", action, expiry, want)
				}
			}
			for action := range got {
				if _, ok := tt.want[action]; !ok {
					t.Errorf("plan has a %s step, want none: every token it covers is revoked", action)
				}
			}
		})
	}
}

// TestAnalyzeIncidentEnforceFromOwnNetwork checks the plan when a revoked
// token is accepted again from the owner's own network: no network is
// suspicious, but the service's failure to check revocations is proven.
func TestAnalyzeIncidentEnforceFromOwnNetwork(t *testing.T) {
	ip := netip.MustParseAddr(officeIP)
	events := []audit.Event{
		{ID: "c-issued", Time: t0, Kind: audit.KindIssued, TokenID: "at-carol", Subject: "carol", IssuedAt: t0, IP: ip},
		{ID: "c-revoked", Time: t0.Add(10 * time.Minute), Kind: audit.KindRevoked, TokenID: "at-carol", Actor: "soc", RevocationMethod: audit.RevokedByAdmin},
		{ID: "c-used", Time: t0.Add(20 * time.Minute), Kind: audit.KindUsed, TokenID: "at-carol", Subject: "carol", IP: ip, UserAgent: officeUA, Path: "/api/orders", Status: 200},
	}
	db := openStore(t, events)
	anomaly := audit.Anomaly{ID: "a-revoked-use", Time: t0.Add(20 * time.Minute), Rule: "revoked_token_use", Severity: audit.SeverityCritical,
		TokenID: "at-carol", Subject: "carol", EventIDs: []string{"c-revoked", "c-used"}, Summary: "Token at-carol was used after its revocation."}
	if _, err := db.AppendAnomalies(context.Background(), []audit.Anomaly{anomaly}); err != nil {
		t.Fatal(err)
	}

	r, err := forensics.AnalyzeIncident(context.Background(), db, forensics.IncidentQuery{Subject: "carol", At: t0.Add(20 * time.Minute)},
		forensics.IncidentOptions{Now: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	if !slices.ContainsFunc(r.Plan, func(s forensics.RemediationStep) bool {
		return s.Action == forensics.ActionEnforceRevocation && slices.Equal(s.Targets, []string{"at-carol"})
	}) {
		t.Errorf("plan = %+v, want a step to enforce revocations, proven by at-carol", r.Plan)
	}
}
