package webui_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/sqlite"
	"github.com/tokentrail/tokentrail/webui"
)

// The harness is a stand-in for the server of the HTTP API (/api/v1),
// built on the real SQLite store and forensics code, so that the pages are
// tested against the JSON those produce. It implements the routes the UI
// calls, with four keys: adminKey has the admin role, revokeKey the read
// and revoke roles, readKey the read role only, and ingestKey the ingest
// role only.
const (
	adminKey  = "test-admin-key"
	revokeKey = "test-revoke-key"
	readKey   = "test-read-key"
	ingestKey = "test-ingest-key"

	aliceSubject = "alice@example.com"
	aliceToken   = "tok-alice-1"
	aliceChild   = "tok-alice-2"
	bobToken     = "tok-bob-1"
	xssSubject   = `<img src=x onerror=alert(1)>`
	xssToken     = "tok-xss-1"
	xssAgent     = `<script>alert(2)</script>`
)

// harnessStart is the time of the first seeded event, and harnessNow the
// report time: every token issued at harnessStart is still valid then.
var (
	harnessStart = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	harnessNow   = harnessStart.Add(6 * time.Hour)
)

type harness struct {
	db  *sqlite.Store
	srv *httptest.Server

	mu          sync.Mutex
	anomalyDB   *sqlite.Store // the store that GET /api/v1/anomalies reads, when replaceAnomalyStore replaced db
	revocations []audit.Event // recorded through POST /api/v1/revocations
	requests    []string      // the method, address and body of every request
}

func newHarness(tb testing.TB) *harness {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "webui.db"))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = db.Close() }) // a close error after the test changes nothing it checked

	events := seedEvents()
	if _, err := db.Append(ctx, events); err != nil {
		tb.Fatalf("append seed events: %v", err)
	}
	anomalies, err := detect.Run(detect.Config{}, events)
	if err != nil {
		tb.Fatalf("detect: %v", err)
	}
	if len(anomalies) == 0 {
		tb.Fatal("detect.Run found no anomaly in the seed events, so no page shows one")
	}
	if _, err := db.AppendAnomalies(ctx, anomalies); err != nil {
		tb.Fatalf("append anomalies: %v", err)
	}

	h := &harness{db: db}
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/search", h.auth("read", h.search))
	mux.Handle("GET /api/v1/tokens/{id}", h.auth("read", h.token))
	mux.Handle("GET /api/v1/subjects/{subject}/tokens", h.auth("read", h.subjectTokens))
	mux.Handle("GET /api/v1/related", h.auth("read", h.related))
	mux.Handle("GET /api/v1/incidents", h.auth("read", h.incident))
	mux.Handle("GET /api/v1/anomalies", h.auth("read", h.anomalies))
	mux.Handle("POST /api/v1/revocations", h.auth("revoke", h.revoke))
	mux.Handle("GET /api/v1/access-log", h.auth("admin", h.accessLog))
	mux.Handle("GET /api/v1/key", h.auth("", h.key))
	mux.Handle("/api/", h.auth("read", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route")
	}))
	mux.Handle("/", webui.Handler())
	h.srv = httptest.NewServer(h.record(mux))
	tb.Cleanup(h.srv.Close)
	return h
}

// seedEvents returns the stored trail: alice's token used from Paris, then
// also from Sydney by a script (which the detection rules flag), a token
// minted from it, bob's quiet token, and a token whose subject and user
// agent are HTML.
func seedEvents() []audit.Event {
	paris := audit.Geo{Country: "FR", City: "Paris", Latitude: 48.86, Longitude: 2.35}
	sydney := audit.Geo{Country: "AU", City: "Sydney", Latitude: -33.87, Longitude: 151.21}
	boston := audit.Geo{Country: "US", City: "Boston", Latitude: 42.36, Longitude: -71.06}
	office := netip.MustParseAddr("192.0.2.10")
	script := netip.MustParseAddr("198.51.100.7")
	const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"

	var events []audit.Event
	add := func(e audit.Event) {
		e.ID = audit.NewID("webui-test", strconv.Itoa(len(events)))
		e.Issuer = "https://idp.example.com"
		e.Source = "webui-test:" + strconv.Itoa(len(events)+1)
		events = append(events, e)
	}
	issue := func(at time.Time, token, subject, parent string, ip netip.Addr, geo audit.Geo) {
		add(audit.Event{
			Time: at, Kind: audit.KindIssued, Action: "CODE_TO_TOKEN", TokenID: token, Subject: subject,
			ClientID: "web-portal", SessionID: "sess-" + subject, ParentTokenID: parent, Scopes: []string{"openid", "orders"},
			IssuedAt: at, ExpiresAt: at.Add(12 * time.Hour), IP: ip, Geo: geo, UserAgent: firefox,
		})
	}
	use := func(at time.Time, token, subject string, ip netip.Addr, geo audit.Geo, agent, path string) {
		add(audit.Event{
			Time: at, Kind: audit.KindUsed, TokenID: token, Subject: subject, ClientID: "web-portal",
			IssuedAt: harnessStart, ExpiresAt: harnessStart.Add(12 * time.Hour),
			IP: ip, Geo: geo, UserAgent: agent, Method: "GET", Path: path, Status: 200,
		})
	}

	issue(harnessStart, aliceToken, aliceSubject, "", office, paris)
	for i := range 40 {
		use(harnessStart.Add(time.Duration(i)*4*time.Minute+time.Minute), aliceToken, aliceSubject, office, paris, firefox, "/api/orders")
	}
	// The script, from the other side of the world, within minutes of the
	// office's uses.
	for i := range 12 {
		at := harnessStart.Add(90*time.Minute + time.Duration(i)*30*time.Second)
		use(at, aliceToken, aliceSubject, script, sydney, "python-requests/2.31.0", "/api/customers/export")
		use(at.Add(10*time.Second), aliceToken, aliceSubject, office, paris, firefox, "/api/orders")
	}
	issue(harnessStart.Add(3*time.Hour), aliceChild, aliceSubject, aliceToken, office, paris)
	use(harnessStart.Add(3*time.Hour+time.Minute), aliceChild, aliceSubject, office, paris, firefox, "/api/orders")

	issue(harnessStart.Add(time.Hour), bobToken, "bob@example.com", "", netip.MustParseAddr("203.0.113.5"), boston)
	use(harnessStart.Add(time.Hour+time.Minute), bobToken, "bob@example.com", netip.MustParseAddr("203.0.113.5"), boston, firefox, "/api/cart")

	issue(harnessStart.Add(2*time.Hour), xssToken, xssSubject, "", netip.MustParseAddr("203.0.113.9"), boston)
	use(harnessStart.Add(2*time.Hour+time.Minute), xssToken, xssSubject, netip.MustParseAddr("203.0.113.9"), boston, xssAgent, "/api/<b>x</b>")
	return events
}

// detector runs the built-in rules at their default thresholds, as
// tokentrail investigate does without --rules.
func detector(events []audit.Event) ([]audit.Anomaly, error) {
	return detect.Run(detect.Config{}, events)
}

// keyRoles maps each key of the harness to its roles.
var keyRoles = map[string][]string{
	adminKey:  {"admin"},
	revokeKey: {"read", "revoke"},
	readKey:   {"read"},
	ingestKey: {"ingest"},
}

// auth serves next to a key with role, or with the admin role, which the
// server lets do everything. An empty role lets every known key in.
func (h *harness) auth(role string, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		roles, ok := keyRoles[key]
		switch {
		case !ok:
			writeError(w, http.StatusUnauthorized, "unauthenticated", "missing or unknown API key")
		case role != "" && !slices.Contains(roles, role) && !slices.Contains(roles, "admin"):
			writeError(w, http.StatusForbidden, "forbidden", "this key lacks the "+role+" role")
		default:
			next(w, r)
		}
	})
}

// record keeps the method, address and body of every request before next
// serves it, so that tests can check what the page sent.
func (h *harness) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "read the request body: "+err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.mu.Lock()
		h.requests = append(h.requests, r.Method+" "+r.RequestURI+" "+string(body))
		h.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to tell it
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

type searchResult struct {
	Kind     string    `json:"kind"`
	Value    string    `json:"value"`
	Label    string    `json:"label"`
	LastSeen time.Time `json:"last_seen"`
}

// search returns one result per kind of match, as the server does: the
// token, fingerprint, address or subject that q names.
func (h *harness) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "q is empty")
		return
	}
	type lookup struct {
		kind  string
		query store.Query
	}
	lookups := []lookup{{"token", store.Query{TokenID: q}}, {"subject", store.Query{Subject: q}}}
	if audit.IsFingerprint(q) {
		lookups = append(lookups, lookup{"fingerprint", store.Query{Fingerprint: q}})
	}
	if ip, err := netip.ParseAddr(q); err == nil {
		lookups = append(lookups, lookup{"ip", store.Query{IP: ip}})
	}

	results := []searchResult{}
	for _, l := range lookups {
		events, err := h.db.Events(r.Context(), l.query)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "search failed")
			return
		}
		if len(events) == 0 {
			continue
		}
		label := fmt.Sprintf("%d events, %d tokens", len(events), len(tokenIDs(events)))
		results = append(results, searchResult{l.kind, q, label, events[len(events)-1].Time})
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

func tokenIDs(events []audit.Event) []string {
	var ids []string
	for _, e := range events {
		if e.TokenID != "" && !slices.Contains(ids, e.TokenID) {
			ids = append(ids, e.TokenID)
		}
	}
	return ids
}

func (h *harness) investigate(ctx context.Context, id string) (*forensics.TokenReport, error) {
	ref := forensics.TokenRef{TokenID: id}
	if audit.IsFingerprint(id) {
		ref = forensics.TokenRef{Fingerprint: id}
	}
	return forensics.InvestigateToken(ctx, h.db, ref, forensics.Options{Now: harnessNow, Detect: detector})
}

func (h *harness) token(w http.ResponseWriter, r *http.Request) {
	report, err := h.investigate(r.Context(), r.PathValue("id"))
	if errors.Is(err, forensics.ErrTokenNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no event names this token")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "investigation failed")
		return
	}
	writeJSON(w, http.StatusOK, report)
}

func (h *harness) subjectTokens(w http.ResponseWriter, r *http.Request) {
	events, err := h.db.Events(r.Context(), store.Query{Subject: r.PathValue("subject")})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "query failed")
		return
	}
	type tokenRow struct {
		TokenID   string           `json:"token_id"`
		FirstSeen time.Time        `json:"first_seen"`
		LastSeen  time.Time        `json:"last_seen"`
		Uses      int              `json:"uses"`
		Status    forensics.Status `json:"status"`
	}
	rows := []tokenRow{}
	for _, id := range tokenIDs(events) {
		report, err := h.investigate(r.Context(), id)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "investigation failed")
			return
		}
		rows = append(rows, tokenRow{id, report.Events[0].Time, report.Events[len(report.Events)-1].Time, report.Usage.Total, report.Status})
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": rows})
}

func (h *harness) related(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	list, err := forensics.FindRelatedTokens(r.Context(), h.db, forensics.RelatedQuery{Subject: q.Get("subject"), TokenID: q.Get("token")})
	if errors.Is(err, forensics.ErrTokenNotFound) || errors.Is(err, forensics.ErrSubjectNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no stored event of this start")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "lookup failed")
		return
	}
	if list == nil {
		list = []forensics.RelatedToken{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *harness) incident(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	at, err := time.Parse(time.RFC3339, q.Get("at"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "at is not an RFC 3339 time")
		return
	}
	window, err := time.ParseDuration(cmp.Or(q.Get("window"), "24h"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "window is not a duration")
		return
	}
	report, err := forensics.AnalyzeIncident(r.Context(), h.db,
		forensics.IncidentQuery{Subject: q.Get("subject"), At: at, Window: window},
		forensics.IncidentOptions{Now: harnessNow, Actor: "webui-test", Detect: detector})
	if errors.Is(err, forensics.ErrSubjectNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no event of this subject in the window")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "analysis failed")
		return
	}
	writeJSON(w, http.StatusOK, report)
}

// anomalyStore returns the store that GET /api/v1/anomalies reads.
func (h *harness) anomalyStore() *sqlite.Store {
	h.mu.Lock()
	defer h.mu.Unlock()
	return cmp.Or(h.anomalyDB, h.db)
}

// replaceAnomalyStore makes GET /api/v1/anomalies read a new store that
// contains only list, as after a server restarted on a rebuilt store.
func (h *harness) replaceAnomalyStore(tb testing.TB, list []audit.Anomaly) {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "replaced.db"))
	if err != nil {
		tb.Fatalf("open the replacing store: %v", err)
	}
	tb.Cleanup(func() { _ = db.Close() }) // a close error after the test changes nothing it checked
	if _, err := db.AppendAnomalies(context.Background(), list); err != nil {
		tb.Fatalf("append anomalies to the replacing store: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.anomalyDB = db
}

// anomalies lists stored anomalies newest first. Its cursor is the offset
// into that order, which is enough for a store that only grows during a
// test. With after it lists those stored after that position, as the
// server does, through the store's feed, and a position past the store's
// last one gets 409 position_past_end.
func (h *harness) anomalies(w http.ResponseWriter, r *http.Request) {
	db := h.anomalyStore()
	q := r.URL.Query()
	var query store.AnomalyQuery
	if s := q.Get("since"); s != "" {
		since, err := time.Parse(time.RFC3339, s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "since is not an RFC 3339 time")
			return
		}
		query.Since = since
	}
	query.Subject, query.TokenID = q.Get("subject"), q.Get("token")
	if s := q.Get("network"); s != "" {
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "network is not a prefix")
			return
		}
		query.Network = prefix
	}
	if s := q.Get("severity"); s != "" {
		if err := query.MinSeverity.UnmarshalText([]byte(s)); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "severity is not a severity")
			return
		}
	}
	limit, _ := strconv.Atoi(q.Get("limit")) // 0, the default, for a missing or bad value
	offset, _ := strconv.Atoi(q.Get("cursor"))
	limit = cmp.Or(limit, 100)

	if s := q.Get("after"); s != "" {
		after, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "after is not a position")
			return
		}
		last, err := db.LastAnomalySeq(r.Context())
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "query failed")
			return
		}
		if after > last {
			writeError(w, http.StatusConflict, "position_past_end", fmt.Sprintf("after %d is past the last position of the store (%d)", after, last))
			return
		}
		query.Limit = limit
		found, next, err := db.AnomaliesAfter(r.Context(), after, query)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "internal", "query failed")
			return
		}
		if found == nil {
			found = []audit.Anomaly{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"anomalies": found, "next_cursor": "", "next": next})
		return
	}
	last, err := db.LastAnomalySeq(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "query failed")
		return
	}
	found, err := db.Anomalies(r.Context(), query)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "query failed")
		return
	}
	slices.Reverse(found)
	found = found[min(offset, len(found)):]
	next := ""
	if len(found) > limit {
		found, next = found[:limit], strconv.Itoa(offset+limit)
	}
	if found == nil {
		found = []audit.Anomaly{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"anomalies": found, "next_cursor": next, "next": last})
}

type revocationRequest struct {
	Scope  string `json:"scope"`
	Target string `json:"target"`
	Reason string `json:"reason"`
}

func (h *harness) revoke(w http.ResponseWriter, r *http.Request) {
	var req revocationRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "body is not a revocation request")
		return
	}
	if req.Scope != "token" || req.Target == "" || strings.TrimSpace(req.Reason) == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "the harness records token revocations with a target and a reason")
		return
	}
	e := revocation.TokenEvent(req.Target, "", harnessNow)
	e.Actor, e.Reason, e.RevocationMethod, e.Source = "webui-test-admin", req.Reason, audit.RevokedByAdmin, "webui test"
	appended, err := h.db.Append(r.Context(), []audit.Event{e})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "recording failed")
		return
	}
	h.mu.Lock()
	h.revocations = append(h.revocations, e)
	h.mu.Unlock()
	if appended.Inserted == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"already_revoked": true, "revocation": e, "token_known": true})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"revocation": e, "token_known": true})
}

func (h *harness) accessLog(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"accesses": []any{}})
}

// key names the roles of the request's key, as the server does.
func (h *harness) key(w http.ResponseWriter, r *http.Request) {
	key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	roles := keyRoles[key]
	writeJSON(w, http.StatusOK, map[string]any{"id": "harness", "name": "harness", "roles": roles, "created_at": time.Now().UTC()})
}

// sent returns every request the server received, as "METHOD URI BODY".
func (h *harness) sent() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.requests)
}

// recorded returns the revocations the UI sent.
func (h *harness) recorded() []audit.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.revocations)
}
