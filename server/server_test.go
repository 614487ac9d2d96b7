package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/store"
)

func TestAuthRoles(t *testing.T) {
	ts := newTestServer(t, nil)
	events := mustJSON(t, []audit.Event{usedEvent("tok-1", "alice", 0)})
	revoke := []byte(`{"scope":"token","target":"tok-1","reason":"leaked in a CI log"}`)

	tests := []struct {
		name   string
		method string
		path   string
		secret string
		body   []byte
		want   int
	}{
		{"no key", http.MethodGet, "/api/v1/anomalies", "", nil, http.StatusUnauthorized},
		{"wrong key", http.MethodGet, "/api/v1/anomalies", "tt_nobody", nil, http.StatusUnauthorized},
		{"revoked key", http.MethodGet, "/api/v1/anomalies", ts.keys.revoked, nil, http.StatusUnauthorized},
		{"ingest may ingest", http.MethodPost, "/api/v1/events", ts.keys.ingest, events, http.StatusOK},
		{"read may not ingest", http.MethodPost, "/api/v1/events", ts.keys.read, events, http.StatusForbidden},
		{"ingest may not read", http.MethodGet, "/api/v1/anomalies", ts.keys.ingest, nil, http.StatusForbidden},
		{"read may read", http.MethodGet, "/api/v1/anomalies", ts.keys.read, nil, http.StatusOK},
		{"ingest may follow feed", http.MethodGet, "/api/v1/revocations", ts.keys.ingest, nil, http.StatusOK},
		{"read may follow feed", http.MethodGet, "/api/v1/revocations", ts.keys.read, nil, http.StatusOK},
		{"read may not revoke", http.MethodPost, "/api/v1/revocations", ts.keys.read, revoke, http.StatusForbidden},
		{"read may not list access", http.MethodGet, "/api/v1/access-log", ts.keys.read, nil, http.StatusForbidden},
		{"admin may read", http.MethodGet, "/api/v1/tokens/tok-1", ts.keys.admin, nil, http.StatusOK},
		{"admin may revoke", http.MethodPost, "/api/v1/revocations", ts.keys.admin, revoke, http.StatusCreated},
		{"admin may list access", http.MethodGet, "/api/v1/access-log", ts.keys.admin, nil, http.StatusOK},
		{"health needs no key", http.MethodGet, "/healthz", "", nil, http.StatusOK},
		{"ready needs no key", http.MethodGet, "/readyz", "", nil, http.StatusOK},
		{"metrics need no key", http.MethodGet, "/metrics", "", nil, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.do(t, tt.method, tt.path, tt.secret, tt.body)
			if resp.StatusCode != tt.want {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, resp.StatusCode, body, tt.want)
			}
			if resp.StatusCode == http.StatusUnauthorized && errorCode(body) != CodeUnauthenticated {
				t.Errorf("error code = %q, want %q", errorCode(body), CodeUnauthenticated)
			}
			if resp.StatusCode == http.StatusForbidden && errorCode(body) != CodeForbidden {
				t.Errorf("error code = %q, want %q", errorCode(body), CodeForbidden)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("response has no X-Request-Id")
			}
		})
	}
}

// TestCallerKey checks that each key learns its own name and roles, and
// never a secret.
func TestCallerKey(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, tt := range []struct {
		secret, name string
		role         apikey.Role
	}{
		{ts.keys.ingest, "payments-api", apikey.RoleIngest},
		{ts.keys.read, "responder", apikey.RoleRead},
		{ts.keys.admin, "oncall", apikey.RoleAdmin},
	} {
		resp, body := ts.do(t, http.MethodGet, "/api/v1/key", tt.secret, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/v1/key as %s = %d %s, want 200", tt.name, resp.StatusCode, body)
		}
		var got apikey.Key
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		if got.Name != tt.name || !slices.Equal(got.Roles, []apikey.Role{tt.role}) {
			t.Errorf("GET /api/v1/key as %s = name %q roles %v, want %q %v", tt.name, got.Name, got.Roles, tt.name, []apikey.Role{tt.role})
		}
		if strings.Contains(string(body), "tt_") {
			t.Errorf("GET /api/v1/key as %s shows a secret: %s", tt.name, body)
		}
	}
	if resp, _ := ts.do(t, http.MethodGet, "/api/v1/key", ts.keys.revoked, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/key with a revoked key = %d, want 401", resp.StatusCode)
	}
}

func TestErrorHidesKeyDetails(t *testing.T) {
	ts := newTestServer(t, nil)
	_, unknown := ts.do(t, http.MethodGet, "/api/v1/anomalies", "tt_nobody", nil)
	_, revoked := ts.do(t, http.MethodGet, "/api/v1/anomalies", ts.keys.revoked, nil)
	if string(unknown) != string(revoked) {
		t.Errorf("unknown key body %s differs from revoked key body %s, which tells a guesser which keys existed", unknown, revoked)
	}
}

func TestIngestKeepsValidRecords(t *testing.T) {
	ts := newTestServer(t, nil)
	bad := usedEvent("tok-2", "bob", 1)
	bad.TokenID = "" // names no token: invalid
	body := fmt.Sprintf(`[%s,{"id":"x","time":"not a time"},%s,%s]`,
		mustJSON(t, usedEvent("tok-1", "alice", 0)), mustJSON(t, bad), mustJSON(t, usedEvent("tok-1", "alice", 2)))

	resp, data := ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, []byte(body))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v1/events = %d %s, want 200", resp.StatusCode, data)
	}
	var res ingestResult
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 2 {
		t.Errorf("accepted = %d, want 2", res.Accepted)
	}
	var indexes []int
	for _, r := range res.Rejected {
		indexes = append(indexes, r.Index)
	}
	if fmt.Sprint(indexes) != "[1 2]" {
		t.Errorf("rejected indexes = %v, want [1 2] (%s)", indexes, data)
	}
	if n, err := ts.db.Count(context.Background()); err != nil || n != 2 {
		t.Errorf("stored events = %d, %v, want 2", n, err)
	}

	_, data = ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, []byte(body))
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 0 || res.Duplicates != 2 {
		t.Errorf("second send: accepted %d, duplicates %d, want 0 and 2", res.Accepted, res.Duplicates)
	}
}

// TestIngestRevokedNeedsRevokeRole sends a subject's revocation with an
// ingest key, which must not reach the revocation feed that middleware
// enforce, and then with a key that has the revoke role as well.
func TestIngestRevokedNeedsRevokeRole(t *testing.T) {
	ts := newTestServer(t, nil)
	revoke := audit.Event{ID: "rv-1", Time: now.Add(-time.Minute), Kind: audit.KindRevoked, Subject: "carol",
		RevocationScope: audit.RevokeSubject, RevocationMethod: audit.RevokedByAdmin, Actor: "admin", Reason: "forged"}
	body := fmt.Sprintf("[%s,%s]", mustJSON(t, usedEvent("tok-1", "alice", 0)), mustJSON(t, revoke))

	_, data := ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, []byte(body))
	var res ingestResult
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 1 {
		t.Errorf("ingest key: accepted = %d, want 1, the use only (%s)", res.Accepted, data)
	}
	if len(res.Rejected) != 1 || res.Rejected[0].Index != 1 || !strings.Contains(res.Rejected[0].Error, "revoke role") {
		t.Errorf("ingest key: rejected = %+v, want record 1 rejected for lacking the revoke role", res.Rejected)
	}
	if _, feed := ts.do(t, http.MethodGet, "/api/v1/revocations", ts.keys.ingest, nil); strings.Contains(string(feed), "carol") {
		t.Errorf("revocation feed = %s, want no revocation of carol", feed)
	}

	_, data = ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.tokenService, []byte(body))
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 1 || res.Duplicates != 1 || len(res.Rejected) != 0 {
		t.Errorf("ingest and revoke key: %s, want the revocation accepted and the use a duplicate", data)
	}
	if _, feed := ts.do(t, http.MethodGet, "/api/v1/revocations", ts.keys.ingest, nil); !strings.Contains(string(feed), "carol") {
		t.Errorf("revocation feed = %s, want the revocation of carol", feed)
	}
}

func TestIngestNDJSON(t *testing.T) {
	ts := newTestServer(t, nil)
	body := fmt.Sprintf("%s\n\n{broken\n%s\n", mustJSON(t, usedEvent("tok-1", "alice", 0)), mustJSON(t, usedEvent("tok-1", "alice", 1)))
	resp, data := ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, []byte(body), "Content-Type", "application/x-ndjson")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST NDJSON = %d %s, want 200", resp.StatusCode, data)
	}
	var res ingestResult
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 2 || len(res.Rejected) != 1 || res.Rejected[0].Index != 1 {
		t.Errorf("NDJSON result = %s, want 2 accepted and record 1 rejected", data)
	}
}

func TestIngestBadBodies(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.MaxBodyBytes = 4096; c.MaxRecords = 3 })
	event := string(mustJSON(t, usedEvent("tok-1", "alice", 0)))
	tests := []struct {
		name        string
		body        string
		contentType string
		status      int
		code        Code
	}{
		{"broken JSON", `[{"id":`, "", http.StatusBadRequest, CodeBadRequest},
		{"object not array", event, "application/json", http.StatusBadRequest, CodeBadRequest},
		{"empty array", `[]`, "", http.StatusBadRequest, CodeBadRequest},
		{"data after array", "[" + event + "] x", "", http.StatusBadRequest, CodeBadRequest},
		{"other content type", "a,b", "text/csv", http.StatusBadRequest, CodeBadRequest},
		{"too many records", "[" + strings.Repeat(event+",", 3) + event + "]", "", http.StatusRequestEntityTooLarge, CodeTooLarge},
		{"body too large", `["` + strings.Repeat("a", 5000) + `"]`, "", http.StatusRequestEntityTooLarge, CodeTooLarge},
		{"NDJSON line too large", strings.Repeat("a", 5000), "application/x-ndjson", http.StatusRequestEntityTooLarge, CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header []string
			if tt.contentType != "" {
				header = []string{"Content-Type", tt.contentType}
			}
			resp, data := ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, []byte(tt.body), header...)
			if resp.StatusCode != tt.status || errorCode(data) != tt.code {
				t.Errorf("POST = %d %s, want %d with code %s", resp.StatusCode, data, tt.status, tt.code)
			}
		})
	}
	if n, err := ts.db.Count(context.Background()); err != nil || n != 0 {
		t.Errorf("stored events = %d, %v, want 0 after only bad bodies", n, err)
	}
}

func TestRateLimit(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.RatePerKey = 1; c.RateBurst = 2 })
	for i := range 2 {
		if resp, data := ts.do(t, http.MethodGet, "/api/v1/anomalies", ts.keys.read, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d = %d %s, want 200 within the burst", i, resp.StatusCode, data)
		}
	}
	resp, data := ts.do(t, http.MethodGet, "/api/v1/anomalies", ts.keys.read, nil)
	if resp.StatusCode != http.StatusTooManyRequests || errorCode(data) != CodeRateLimited {
		t.Fatalf("third request = %d %s, want 429 rate_limited", resp.StatusCode, data)
	}
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	// Each key has its own limit.
	if resp, _ := ts.do(t, http.MethodGet, "/api/v1/anomalies", ts.keys.admin, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("another key's request = %d, want 200", resp.StatusCode)
	}
}

func TestAnomalyCursorWalksAll(t *testing.T) {
	ts := newTestServer(t, nil)
	var anomalies []audit.Anomaly
	for i := range 23 {
		// Pairs share a time, so the cursor must break ties by ID.
		anomalies = append(anomalies, audit.Anomaly{
			ID: fmt.Sprintf("an-%02d", i), Rule: "rapid_ip_change", Severity: audit.SeverityHigh,
			Time: now.Add(-time.Duration(i/2) * time.Minute), TokenID: "tok-1", Subject: "alice",
			EventIDs: []string{"e1"}, Summary: "the token moved between networks",
		})
	}
	if _, err := ts.db.AppendAnomalies(context.Background(), anomalies); err != nil {
		t.Fatal(err)
	}

	seen := map[string]int{}
	var order []audit.Anomaly
	cursor := ""
	for page := 0; ; page++ {
		if page > 10 {
			t.Fatal("more than 10 pages of 5 for 23 anomalies: the cursor does not advance")
		}
		resp, data := ts.do(t, http.MethodGet, "/api/v1/anomalies?limit=5&cursor="+cursor, ts.keys.read, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("page %d = %d %s", page, resp.StatusCode, data)
		}
		var p anomalyPage
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatal(err)
		}
		for _, a := range p.Anomalies {
			seen[a.ID]++
			order = append(order, a)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if len(seen) != len(anomalies) {
		t.Errorf("walk saw %d anomalies, want %d", len(seen), len(anomalies))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("anomaly %s seen %d times, want once", id, n)
		}
	}
	for i := 1; i < len(order); i++ {
		if order[i].Time.After(order[i-1].Time) {
			t.Errorf("anomaly %s at %s follows %s at %s: want newest first", order[i].ID, order[i].Time, order[i-1].ID, order[i-1].Time)
		}
	}
}

// TestAnomaliesAfterListsLateOnes follows the anomalies in the order of
// storage, as the web UI's live list does, and checks that one stored late
// with an older time than those already read is listed.
func TestAnomaliesAfterListsLateOnes(t *testing.T) {
	ts := newTestServer(t, nil)
	anomaly := func(id, subject string, age time.Duration) audit.Anomaly {
		return audit.Anomaly{ID: id, Rule: "rapid_ip_change", Severity: audit.SeverityHigh, Time: now.Add(-age),
			TokenID: "tok-" + subject, Subject: subject, EventIDs: []string{"e1"}, Summary: "the token moved between networks"}
	}
	storeAnomalies := func(list ...audit.Anomaly) {
		t.Helper()
		if _, err := ts.db.AppendAnomalies(context.Background(), list); err != nil {
			t.Fatal(err)
		}
	}
	get := func(query string) anomalyPage {
		t.Helper()
		resp, data := ts.do(t, http.MethodGet, "/api/v1/anomalies?"+query, ts.keys.read, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/v1/anomalies?%s = %d %s, want 200", query, resp.StatusCode, data)
		}
		var p anomalyPage
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	idsOf := func(p anomalyPage) []string {
		list := []string{}
		for _, a := range p.Anomalies {
			list = append(list, a.ID)
		}
		return list
	}

	storeAnomalies(anomaly("a-new", "alice", time.Minute), anomaly("a-old", "bob", time.Hour))
	first := get("limit=10")
	if want := []string{"a-new", "a-old"}; !slices.Equal(idsOf(first), want) {
		t.Fatalf("first page = %v, want %v", idsOf(first), want)
	}
	if first.Next == 0 {
		t.Fatal("first page next = 0, want the position of the anomalies stored")
	}
	if p := get(fmt.Sprintf("after=%d", first.Next)); len(p.Anomalies) != 0 || p.Next != first.Next {
		t.Errorf("after %d with nothing new = %v, next %d; want none, next %d", first.Next, idsOf(p), p.Next, first.Next)
	}

	// Raised over events imported late: older than every anomaly shown.
	storeAnomalies(anomaly("late-1", "alice", 3*time.Hour), anomaly("late-2", "bob", 2*time.Hour), anomaly("late-3", "alice", 4*time.Hour))
	page := get(fmt.Sprintf("after=%d&limit=2", first.Next))
	if want := []string{"late-1", "late-2"}; !slices.Equal(idsOf(page), want) || page.NextCursor != "" {
		t.Errorf("after %d, limit 2 = %v, next_cursor %q; want %v in the order of storage, no cursor", first.Next, idsOf(page), page.NextCursor, want)
	}
	rest := get(fmt.Sprintf("after=%d&limit=2", page.Next))
	if want := []string{"late-3"}; !slices.Equal(idsOf(rest), want) {
		t.Errorf("after %d, limit 2 = %v, want %v", page.Next, idsOf(rest), want)
	}
	if p := get(fmt.Sprintf("after=%d&subject=bob", first.Next)); !slices.Equal(idsOf(p), []string{"late-2"}) {
		t.Errorf("after %d, subject bob = %v, want [late-2]", first.Next, idsOf(p))
	}
}

func TestAnomaliesAfterPastEnd(t *testing.T) {
	ts := newTestServer(t, nil)
	replaced := newTestServer(t, nil)
	ctx := context.Background()
	anomaly := func(id string, age time.Duration) audit.Anomaly {
		// No proving events, so that PruneAnomalies over its time deletes it.
		return audit.Anomaly{ID: id, Rule: "rapid_ip_change", Severity: audit.SeverityHigh, Time: now.Add(-age),
			TokenID: "tok-alice", Subject: "alice", EventIDs: []string{}, Summary: "the token moved between networks"}
	}
	if _, err := ts.db.AppendAnomalies(ctx, []audit.Anomaly{anomaly("first", 2*time.Hour), anomaly("newest", time.Hour)}); err != nil {
		t.Fatal(err)
	}
	get := func(srv *testServer, after int64) (int, []byte) {
		t.Helper()
		resp, data := srv.do(t, http.MethodGet, fmt.Sprintf("/api/v1/anomalies?after=%d", after), srv.keys.read, nil)
		return resp.StatusCode, data
	}

	status, data := get(ts, 0)
	if status != http.StatusOK {
		t.Fatalf("after 0 = %d %s, want 200", status, data)
	}
	var page anomalyPage
	if err := json.Unmarshal(data, &page); err != nil {
		t.Fatal(err)
	}
	last := page.Next
	if status, data := get(ts, last); status != http.StatusOK {
		t.Errorf("after %d, the last position (a caught-up poller) = %d %s, want 200", last, status, data)
	}

	status, data = get(ts, last+1)
	if status != http.StatusConflict || errorCode(data) != CodePositionPastEnd {
		t.Fatalf("after %d, past the last position %d = %d %s, want 409 position_past_end", last+1, last, status, data)
	}
	for _, want := range []string{fmt.Sprintf("after %d", last+1), fmt.Sprintf("(%d)", last), "after=0", fmt.Sprintf("after=%d", last)} {
		if !strings.Contains(string(data), want) {
			t.Errorf("409 body = %s, want it to contain %q", data, want)
		}
	}

	// A poller that read this store's position and then finds the store
	// replaced by an empty one gets the error, not an empty page.
	if status, data := get(replaced, last); status != http.StatusConflict || errorCode(data) != CodePositionPastEnd {
		t.Errorf("after %d on a replaced, empty store = %d %s, want 409 position_past_end", last, status, data)
	}

	// Pruning the newest anomaly does not turn the position that the
	// server returned for it into one past the end.
	n, err := ts.db.PruneAnomalies(ctx, store.TimeRange{Since: now.Add(-90 * time.Minute), Until: now}, nil)
	if err != nil || n != 1 {
		t.Fatalf("PruneAnomalies(newest) = %d, %v; want 1, nil", n, err)
	}
	if status, data := get(ts, last); status != http.StatusOK {
		t.Errorf("after %d once the anomaly at it was pruned = %d %s, want 200", last, status, data)
	}
}

func TestAnomalyBadFilters(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, query := range []string{"severity=huge", "since=yesterday", "network=nowhere", "asn=0", "limit=0", "limit=5000", "cursor=%21%21",
		"after=-1", "after=soon", "after=3&cursor=" + (anomalyCursor{timeNS: 1, id: "a"}).String()} {
		resp, data := ts.do(t, http.MethodGet, "/api/v1/anomalies?"+query, ts.keys.read, nil)
		if resp.StatusCode != http.StatusBadRequest || errorCode(data) != CodeBadRequest {
			t.Errorf("GET /api/v1/anomalies?%s = %d %s, want 400 bad_request", query, resp.StatusCode, data)
		}
	}
}

func TestReadsAreLogged(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, mustJSON(t, []audit.Event{usedEvent("tok-1", "alice", 0)}))

	reads := []struct{ path, action, target string }{
		{"/api/v1/tokens/tok-1", actionTokenReport, "tok-1"},
		{"/api/v1/subjects/alice/tokens", actionSubjectTokens, "alice"},
		{"/api/v1/search?q=alice", actionSearch, "alice"},
		{"/api/v1/related?subject=alice", actionRelated, "alice"},
		{"/api/v1/incidents?subject=alice&at=2026-11-20T11:00:00Z&window=2h", actionIncident, "alice"},
	}
	for _, r := range reads {
		if resp, data := ts.do(t, http.MethodGet, r.path, ts.keys.read, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d %s, want 200", r.path, resp.StatusCode, data)
		}
	}

	resp, data := ts.do(t, http.MethodGet, "/api/v1/access-log?key="+ts.keys.readID, ts.keys.admin, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET access-log = %d %s", resp.StatusCode, data)
	}
	var log struct{ Accesses []accessEntry }
	if err := json.Unmarshal(data, &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Accesses) != len(reads) {
		t.Fatalf("access log has %d entries, want %d: %s", len(log.Accesses), len(reads), data)
	}
	for i, r := range reads {
		got := log.Accesses[len(reads)-1-i] // newest first
		if got.Action != r.action || got.Target != r.target || got.KeyName != "responder" || !got.RemoteIP.IsLoopback() {
			t.Errorf("access %d = %+v, want %s of %s by responder from loopback", i, got, r.action, r.target)
		}
	}
}

func TestTokenReportAndSubject(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, mustJSON(t, []audit.Event{
		usedEvent("tok-1", "alice", 0), usedEvent("tok-1", "alice", 1), usedEvent("tok-2", "alice", 2),
	}))

	resp, data := ts.do(t, http.MethodGet, "/api/v1/tokens/tok-1", ts.keys.read, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET token = %d %s", resp.StatusCode, data)
	}
	var report struct {
		TokenID string        `json:"token_id"`
		Events  []audit.Event `json:"events"`
	}
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatal(err)
	}
	if report.TokenID != "tok-1" || len(report.Events) != 2 {
		t.Errorf("report = token %q with %d events, want tok-1 with 2", report.TokenID, len(report.Events))
	}

	if resp, data := ts.do(t, http.MethodGet, "/api/v1/tokens/nope", ts.keys.read, nil); resp.StatusCode != http.StatusNotFound || errorCode(data) != CodeNotFound {
		t.Errorf("GET unknown token = %d %s, want 404 not_found", resp.StatusCode, data)
	}

	_, data = ts.do(t, http.MethodGet, "/api/v1/subjects/alice/tokens", ts.keys.read, nil)
	var list struct{ Tokens []subjectToken }
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Tokens) != 2 || list.Tokens[0].TokenID != "tok-2" || list.Tokens[1].Uses != 2 || list.Tokens[1].Status != "active" {
		t.Errorf("subject tokens = %s, want tok-2 then tok-1 with 2 uses, active", data)
	}
}

func TestRevokeThenAlreadyRevoked(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, mustJSON(t, []audit.Event{usedEvent("tok-1", "alice", 0)}))
	body := []byte(`{"scope":"token","target":"tok-1","reason":"leaked in a CI log"}`)

	resp, data := ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin, body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("first revoke = %d %s, want 201", resp.StatusCode, data)
	}
	var res revokeResponse
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if res.Revocation.Actor != "oncall" || res.Revocation.Subject != "alice" || !res.TokenKnown {
		t.Errorf("revocation = actor %q subject %q known %v, want oncall, alice (copied from the token's events), true",
			res.Revocation.Actor, res.Revocation.Subject, res.TokenKnown)
	}

	resp, data = ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin, body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(data), `"already_revoked":true`) {
		t.Errorf("second revoke = %d %s, want 200 with already_revoked", resp.StatusCode, data)
	}

	for _, bad := range []string{`{"scope":"all","target":"x","reason":"r"}`, `{"scope":"token","target":"x"}`, `{"scope":"token","reason":"r"}`, `{"scope":"token","target":"x","reason":"r","extra":1}`} {
		if resp, data := ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin, []byte(bad)); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("revoke %s = %d %s, want 400", bad, resp.StatusCode, data)
		}
	}
}

func TestFeedLongPoll(t *testing.T) {
	ts := newTestServer(t, nil)
	resp, data := ts.do(t, http.MethodGet, "/api/v1/revocations", ts.keys.read, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != `"0"` {
		t.Fatalf("first read = %d %s ETag %s, want 200 with ETag \"0\"", resp.StatusCode, data, resp.Header.Get("ETag"))
	}

	// With nothing new and no wait, the ETag matches at once.
	resp, _ = ts.do(t, http.MethodGet, "/api/v1/revocations?after=0", ts.keys.read, nil, "If-None-Match", `"0"`)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional read without wait = %d, want 304", resp.StatusCode)
	}
	// A short wait ends with 304.
	resp, _ = ts.do(t, http.MethodGet, "/api/v1/revocations?after=0&wait=50ms", ts.keys.read, nil, "If-None-Match", `"0"`)
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("long-poll with nothing new = %d, want 304", resp.StatusCode)
	}

	// A revocation during a long wait wakes it.
	type result struct {
		status int
		page   feedPage
	}
	done := make(chan result, 1)
	go func() {
		resp, data := ts.do(t, http.MethodGet, "/api/v1/revocations?after=0&wait=50s", ts.keys.read, nil, "If-None-Match", `"0"`)
		var p feedPage
		_ = json.Unmarshal(data, &p) // a 304 has no body
		done <- result{resp.StatusCode, p}
	}()
	ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin, []byte(`{"scope":"session","target":"sid-1","reason":"stolen laptop"}`))
	got := <-done
	if got.status != http.StatusOK || len(got.page.Revocations) != 1 || got.page.Revocations[0].SessionID != "sid-1" || got.page.Next == 0 {
		t.Errorf("woken long-poll = %d %+v, want 200 with the session revocation", got.status, got.page)
	}
}

func TestMetricsExposed(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, mustJSON(t, []audit.Event{usedEvent("tok-1", "alice", 0)}))
	ts.do(t, http.MethodGet, "/api/v1/nothing", ts.keys.read, nil)
	_, data := ts.do(t, http.MethodGet, "/metrics", "", nil)
	for _, want := range []string{
		`tokentrail_http_requests_total{route="/api/",status="404"} 1`,
		`tokentrail_ingest_events_total{result="accepted"} 1`,
		`tokentrail_detect_queue_events`,
		`tokentrail_detect_dropped_events_total`,
		`tokentrail_store_duration_seconds_bucket{op="append_batches"`,
		`tokentrail_http_requests_total{route="POST /api/v1/events",status="200"} 1`,
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestSearchLabelCountsTokens(t *testing.T) {
	ts := newTestServer(t, nil)
	search := func() searchResult {
		t.Helper()
		resp, data := ts.do(t, http.MethodGet, "/api/v1/search?q=alice", ts.keys.read, nil)
		var res struct{ Results []searchResult }
		if err := json.Unmarshal(data, &res); err != nil || resp.StatusCode != http.StatusOK || len(res.Results) != 1 {
			t.Fatalf("search alice = %d %s, want 200 with one result", resp.StatusCode, data)
		}
		return res.Results[0]
	}
	appendEvents := func(events ...audit.Event) {
		t.Helper()
		if _, err := ts.db.Append(context.Background(), events); err != nil {
			t.Fatal(err)
		}
	}

	appendEvents(
		usedEvent("tok-1", "alice", 0),
		audit.Event{ID: "s1", Time: now, Kind: audit.KindSession, Subject: "alice", SessionID: "sid-1"}, // names no token
		usedEvent("tok-1", "alice", 1))
	if got, want := search().Label, "3 events, 1 token"; got != want {
		t.Errorf("search label = %q, want %q", got, want)
	}
	appendEvents(usedEvent("tok-2", "alice", 2))
	if got, want := search().Label, "4 events, 2 tokens"; got != want {
		t.Errorf("search label = %q, want %q", got, want)
	}
}

// TestLookupsOfLargeSubject stores more events of one subject than search
// and the subject's token list once read, and then a new token. Both must
// count every event and show the newest time and token.
func TestLookupsOfLargeSubject(t *testing.T) {
	ts := newTestServer(t, nil)
	const oldUses = 10_000
	events := make([]audit.Event, 0, oldUses+1)
	for i := range oldUses {
		events = append(events, usedEvent("tok-old", "alice", i))
	}
	newest := usedEvent("tok-new", "alice", oldUses)
	events = append(events, newest)
	if _, err := ts.db.Append(context.Background(), events); err != nil {
		t.Fatal(err)
	}

	resp, data := ts.do(t, http.MethodGet, "/api/v1/subjects/alice/tokens", ts.keys.read, nil)
	var list struct{ Tokens []subjectToken }
	if err := json.Unmarshal(data, &list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET subject tokens = %d %s, want 200", resp.StatusCode, data)
	}
	if len(list.Tokens) != 2 {
		t.Fatalf("subject tokens = %+v, want tok-new and tok-old", list.Tokens)
	}
	if got := list.Tokens[0]; got.TokenID != "tok-new" || !got.LastSeen.Equal(newest.Time) || got.Uses != 1 {
		t.Errorf("first subject token = %+v, want tok-new, last seen %v, 1 use", got, newest.Time)
	}
	if got, wantLast := list.Tokens[1], events[oldUses-1].Time; got.TokenID != "tok-old" || !got.LastSeen.Equal(wantLast) || got.Uses != oldUses {
		t.Errorf("second subject token = %+v, want tok-old, last seen %v, %d uses", got, wantLast, oldUses)
	}

	resp, data = ts.do(t, http.MethodGet, "/api/v1/search?q=alice", ts.keys.read, nil)
	var res struct{ Results []searchResult }
	if err := json.Unmarshal(data, &res); err != nil || resp.StatusCode != http.StatusOK || len(res.Results) != 1 {
		t.Fatalf("search alice = %d %s, want 200 with one result", resp.StatusCode, data)
	}
	if got := res.Results[0]; !got.LastSeen.Equal(newest.Time) {
		t.Errorf("search alice last_seen = %v, want %v, the newest event's", got.LastSeen, newest.Time)
	}
	if got, want := res.Results[0].Label, fmt.Sprintf("%d events, 2 tokens", oldUses+1); got != want {
		t.Errorf("search alice label = %q, want %q", got, want)
	}
}

// TestSubjectTokensRevokedBySubject checks the status of a subject's tokens
// around a subject revocation: revoked when issued before its not-before,
// and active when issued after.
func TestSubjectTokensRevokedBySubject(t *testing.T) {
	ts := newTestServer(t, nil)
	before, after := usedEvent("tok-before", "alice", 0), usedEvent("tok-after", "alice", 20)
	before.IssuedAt, after.IssuedAt = before.Time, after.Time
	revocation := audit.Event{ID: "rev-alice", Time: before.Time.Add(10 * time.Second), Kind: audit.KindRevoked,
		Subject: "alice", RevocationScope: audit.RevokeSubject, NotBefore: before.Time.Add(10 * time.Second)}
	if _, err := ts.db.Append(context.Background(), []audit.Event{before, revocation, after}); err != nil {
		t.Fatal(err)
	}

	_, data := ts.do(t, http.MethodGet, "/api/v1/subjects/alice/tokens", ts.keys.read, nil)
	var list struct{ Tokens []subjectToken }
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	status := map[string]forensics.Status{}
	for _, tok := range list.Tokens {
		status[tok.TokenID] = tok.Status
	}
	if len(list.Tokens) != 2 || status["tok-before"] != forensics.StatusRevoked || status["tok-after"] != forensics.StatusActive {
		t.Errorf("subject tokens = %s, want tok-before revoked and tok-after active", data)
	}
}

func TestUnknownRouteIsJSON(t *testing.T) {
	ts := newTestServer(t, nil)
	resp, data := ts.do(t, http.MethodGet, "/api/v1/nothing", ts.keys.read, nil)
	if resp.StatusCode != http.StatusNotFound || errorCode(data) != CodeNotFound {
		t.Errorf("GET /api/v1/nothing = %d %s, want 404 not_found", resp.StatusCode, data)
	}
}

func TestIngestRunsDetection(t *testing.T) {
	engine, err := detect.New(detect.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(c *Config) { c.Detector = engine })
	revoked := audit.Event{ID: "rev-1", Time: now.Add(-2 * time.Hour), Kind: audit.KindRevoked, TokenID: "tok-9", Subject: "alice", Actor: "oncall", Reason: "leaked"}
	used := usedEvent("tok-9", "alice", 0) // an hour after the revocation
	if resp, data := ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.tokenService, mustJSON(t, []audit.Event{revoked, used})); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST events = %d %s", resp.StatusCode, data)
	}

	// Close checks what the queue holds, so the anomaly is stored after it.
	if err := ts.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	list, err := ts.db.Anomalies(context.Background(), store.AnomalyQuery{TokenID: "tok-9"})
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, a := range list {
		rules = append(rules, a.Rule)
	}
	if !slices.Contains(rules, "revoked_token_use") {
		t.Errorf("anomalies of tok-9 = %v, want revoked_token_use", rules)
	}
	_, data := ts.do(t, http.MethodGet, "/metrics", "", nil)
	if !strings.Contains(string(data), `tokentrail_anomalies_total{rule="revoked_token_use"} 1`) {
		t.Error(`/metrics lacks tokentrail_anomalies_total{rule="revoked_token_use"} 1`)
	}
}

func TestDetectionQueueDropsWhenFull(t *testing.T) {
	engine, err := detect.New(detect.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := newMetrics(newRegistry())
	// No goroutine takes from the queue, so its one slot stays full.
	d := &detection{engine: engine, metrics: m, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		queue: make(chan []audit.Event, 1), done: make(chan struct{})}
	d.add(context.Background(), []audit.Event{usedEvent("tok-1", "alice", 0)})
	d.add(context.Background(), []audit.Event{usedEvent("tok-1", "alice", 1), usedEvent("tok-1", "alice", 2)})

	if got := testutil.ToFloat64(m.dropped); got != 2 {
		t.Errorf("dropped = %v, want 2: the second batch found the queue full", got)
	}
	if got := d.depth(); got != 1 {
		t.Errorf("depth = %d, want 1", got)
	}
}

func TestRevokeFamilyNeedsRoot(t *testing.T) {
	ts := newTestServer(t, nil)
	root := audit.Event{ID: "i-root", Time: now.Add(-2 * time.Hour), Kind: audit.KindIssued, TokenID: "rt-1", Subject: "alice"}
	child := audit.Event{ID: "i-child", Time: now.Add(-time.Hour), Kind: audit.KindIssued, TokenID: "rt-2", ParentTokenID: "rt-1", Subject: "alice"}
	if resp, data := ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, mustJSON(t, []audit.Event{root, child})); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST events = %d %s", resp.StatusCode, data)
	}

	resp, data := ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin, []byte(`{"scope":"family","target":"rt-2","reason":"reuse"}`))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), `\"rt-1\"`) {
		t.Errorf("revoke family rt-2 = %d %s, want 400 naming the root rt-1", resp.StatusCode, data)
	}
	resp, data = ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin, []byte(`{"scope":"family","target":"rt-2","reason":"reuse","force":true}`))
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("revoke family rt-2 with force = %d %s, want 201", resp.StatusCode, data)
	}
	resp, data = ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin, []byte(`{"scope":"family","target":"rt-1","reason":"reuse"}`))
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("revoke family rt-1 = %d %s, want 201", resp.StatusCode, data)
	}
}

func TestSearchKinds(t *testing.T) {
	ts := newTestServer(t, nil)
	// A compact JWT with jti "tok-jwt"; only its fingerprint and jti are
	// ever stored.
	raw := "eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJ0b2stand0Iiwic3ViIjoiY2Fyb2wifQ.c2lnbmF0dXJlLW9mLXRoZS10ZXN0LXRva2Vu"
	withIP := usedEvent("tok-1", "alice", 0)
	withIP.IP = netip.MustParseAddr("203.0.113.7")
	fromJWT := usedEvent("tok-jwt", "carol", 1)
	fromJWT.Fingerprint = audit.Fingerprint(raw)
	ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, mustJSON(t, []audit.Event{withIP, fromJWT}))

	tests := []struct {
		name, q, kind, value string
	}{
		{"subject", "alice", "subject", "alice"},
		{"token id", "tok-1", "token", "tok-1"},
		{"address", "203.0.113.7", "ip", "203.0.113.7"},
		{"fingerprint", strings.ToUpper(audit.Fingerprint(raw)), "fingerprint", audit.Fingerprint(raw)},
		{"raw token", raw, "token", "tok-jwt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := ts.do(t, http.MethodGet, "/api/v1/search?q="+url.QueryEscape(tt.q), ts.keys.read, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("search %s = %d %s", tt.name, resp.StatusCode, data)
			}
			var res struct{ Results []searchResult }
			if err := json.Unmarshal(data, &res); err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(res.Results, func(r searchResult) bool { return r.Kind == tt.kind && r.Value == tt.value }) {
				t.Errorf("search %s = %s, want a %s result %s", tt.name, data, tt.kind, tt.value)
			}
			if strings.Contains(string(data), raw) {
				t.Error("the response contains the raw token")
			}
		})
	}

	_, data := ts.do(t, http.MethodGet, "/api/v1/access-log", ts.keys.admin, nil)
	if strings.Contains(string(data), raw) {
		t.Error("the access log contains the raw token")
	}
}

func TestReportErrors(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, mustJSON(t, []audit.Event{usedEvent("tok-1", "alice", 0)}))
	tests := []struct {
		path   string
		status int
	}{
		{"/api/v1/incidents?subject=alice", http.StatusBadRequest},
		{"/api/v1/incidents?subject=alice&at=yesterday", http.StatusBadRequest},
		{"/api/v1/incidents?subject=alice&at=2026-11-20T11:00:00Z&window=-1h", http.StatusBadRequest},
		{"/api/v1/incidents?subject=bob&at=2026-11-20T11:00:00Z", http.StatusNotFound},
		{"/api/v1/related", http.StatusBadRequest},
		{"/api/v1/related?subject=alice&token=tok-1", http.StatusBadRequest},
		{"/api/v1/related?token=nope", http.StatusNotFound},
		{"/api/v1/search", http.StatusBadRequest},
		{"/api/v1/revocations?after=-1", http.StatusBadRequest},
		{"/api/v1/revocations?wait=soon", http.StatusBadRequest},
		{"/api/v1/access-log?limit=0", http.StatusForbidden}, // read key
	}
	for _, tt := range tests {
		resp, data := ts.do(t, http.MethodGet, tt.path, ts.keys.read, nil)
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s = %d %s, want %d", tt.path, resp.StatusCode, data, tt.status)
		}
	}
}

func TestFeedRejectsBadPosition(t *testing.T) {
	ts := newTestServer(t, nil)
	for _, after := range []string{"-1", "x"} {
		resp, data := ts.do(t, http.MethodGet, "/api/v1/revocations?after="+after, ts.keys.read, nil, "If-None-Match", `"0"`)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /api/v1/revocations?after=%s with If-None-Match = %d %s, want 400", after, resp.StatusCode, data)
		}
	}
}

func TestWrongMethodIs405(t *testing.T) {
	ts := newTestServer(t, nil)
	resp, data := ts.do(t, http.MethodGet, "/api/v1/events", ts.keys.ingest, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || errorCode(data) != CodeMethodNotAllowed {
		t.Errorf("GET /api/v1/events = %d %s, want 405 method_not_allowed", resp.StatusCode, data)
	}
	if got := resp.Header.Get("Allow"); got != "POST" {
		t.Errorf("Allow = %q, want POST", got)
	}
	resp, _ = ts.do(t, http.MethodDelete, "/api/v1/tokens/tok-1", ts.keys.read, nil)
	if got := resp.Header.Get("Allow"); resp.StatusCode != http.StatusMethodNotAllowed || got != "GET" {
		t.Errorf("DELETE /api/v1/tokens/tok-1 = %d, Allow %q, want 405 and GET", resp.StatusCode, got)
	}
	if resp, _ := ts.do(t, http.MethodGet, "/api/v1/revocations", ts.keys.read, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/v1/revocations = %d, want 200: the route has GET and POST", resp.StatusCode)
	}
}
