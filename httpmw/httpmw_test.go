package httpmw_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/httpmw"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store"
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestUseRecordedWithClaimsFromContext(t *testing.T) {
	tr := newTrail(t, nil, recorder.Options{})
	served := 0
	mw := middleware(t, httpmw.Options{Recorder: tr.rec, Claims: claimsFromContext, Source: "orders-api"})
	srv := serve(t, authenticate(mw(app(&served))))
	token := sign(t, signingKey, tokenClaims("jti-ctx-1", "alice"))

	resp, body := request(t, srv.URL+"/orders/42?access_token=secret&page=2", token, "Traceparent", traceparent)

	if resp.StatusCode != http.StatusOK || body != `{"orders":[]}` {
		t.Fatalf("GET /orders/42 = %d %q, want 200 and the handler's body", resp.StatusCode, body)
	}
	e := tr.one(t, store.Query{TokenID: "jti-ctx-1"})
	checks := []struct {
		field, got, want string
	}{
		{"Kind", e.Kind.String(), "used"},
		{"Subject", e.Subject, "alice"},
		{"Issuer", e.Issuer, "https://idp.example/realms/acme"},
		{"ClientID", e.ClientID, "web-portal"},
		{"SessionID", e.SessionID, "sid-alice"},
		{"Method", e.Method, "GET"},
		{"Path", e.Path, "/orders/42"},
		{"IP", e.IP.String(), "127.0.0.1"},
		{"UserAgent", e.UserAgent, "orders-cli/2.1"},
		{"TraceID", e.TraceID, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"Source", e.Source, "orders-api"},
		{"Fingerprint", e.Fingerprint, ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("event %s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if e.Status != http.StatusOK {
		t.Errorf("event Status = %d, want 200", e.Status)
	}
	if e.IssuedAt.IsZero() || e.ExpiresAt.IsZero() {
		t.Errorf("event IssuedAt, ExpiresAt = %v, %v, want both set", e.IssuedAt, e.ExpiresAt)
	}
}

func TestUseRecordedFromBearerToken(t *testing.T) {
	tr := newTrail(t, nil, recorder.Options{})
	served := 0
	// No Claims option: the middleware sits in front of the
	// authentication and reads the token itself.
	mw := middleware(t, httpmw.Options{Recorder: tr.rec})
	srv := serve(t, mw(authenticate(app(&served))))
	token := sign(t, signingKey, tokenClaims("jti-read-1", "bob"))

	resp, _ := request(t, srv.URL+"/orders/1", token)

	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /orders/1 = %d, want 200", resp.StatusCode)
	}
	e := tr.one(t, store.Query{TokenID: "jti-read-1"})
	if e.Kind != audit.KindUsed || e.Subject != "bob" || e.ClientID != "web-portal" || e.Status != 200 {
		t.Errorf("event = kind %v, subject %q, client %q, status %d, want used, bob, web-portal, 200", e.Kind, e.Subject, e.ClientID, e.Status)
	}
}

func TestRejectionsRecorded(t *testing.T) {
	tr := newTrail(t, nil, recorder.Options{})
	served := 0
	mw := middleware(t, httpmw.Options{Recorder: tr.rec})
	srv := serve(t, mw(authenticate(app(&served))))

	expiredClaims := tokenClaims("jti-expired", "carol")
	expiredClaims["exp"] = time.Now().Add(-time.Hour).Unix()
	noJTI := tokenClaims("", "dave")
	delete(noJTI, "jti")
	noJTIToken := sign(t, otherKey, noJTI)

	tests := []struct {
		name   string
		token  string
		path   string
		query  store.Query
		status int
		reason audit.RejectReason
	}{
		{"bad signature", sign(t, otherKey, tokenClaims("jti-forged", "carol")), "/orders/1", store.Query{TokenID: "jti-forged"}, 401, audit.RejectBadSignature},
		{"expired", sign(t, signingKey, expiredClaims), "/orders/1", store.Query{TokenID: "jti-expired"}, 401, audit.RejectExpired},
		{"no jti, by fingerprint", noJTIToken, "/orders/1", store.Query{Fingerprint: audit.Fingerprint(noJTIToken)}, 401, audit.RejectBadSignature},
		{"not a JWT", "opaque-0123456789", "/orders/1", store.Query{Fingerprint: audit.Fingerprint("opaque-0123456789")}, 401, audit.RejectMalformed},
		{"insufficient scope", sign(t, signingKey, tokenClaims("jti-scope", "erin")), "/admin", store.Query{TokenID: "jti-scope"}, 403, audit.RejectInsufficientScope},
		{"reason set by handler", sign(t, signingKey, tokenClaims("jti-reused", "erin")), "/reject", store.Query{TokenID: "jti-reused"}, 401, audit.RejectReused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := request(t, srv.URL+tt.path, tt.token)
			if resp.StatusCode != tt.status {
				t.Fatalf("GET %s = %d, want %d", tt.path, resp.StatusCode, tt.status)
			}
			e := tr.one(t, tt.query)
			if e.Kind != audit.KindRejected {
				t.Errorf("event Kind = %v, want rejected", e.Kind)
			}
			if e.RejectReason != tt.reason {
				t.Errorf("event RejectReason = %q, want %q", e.RejectReason, tt.reason)
			}
			if e.Status != tt.status {
				t.Errorf("event Status = %d, want %d", e.Status, tt.status)
			}
		})
	}
	if served != 0 {
		t.Errorf("handler served %d requests, want 0", served)
	}
}

func TestRevokedTokenRejected(t *testing.T) {
	tr := newTrail(t, nil, recorder.Options{})
	var set revocation.Set
	if err := set.Add(
		audit.Event{ID: "r1", Time: t0, Kind: audit.KindRevoked, TokenID: "jti-stolen"},
		revocation.SubjectEvent("mallory", time.Now(), time.Now()),
	); err != nil {
		t.Fatal(err)
	}
	served := 0
	for _, placement := range []string{"claims from context", "token read"} {
		t.Run(placement, func(t *testing.T) {
			opts := httpmw.Options{Recorder: tr.rec, Revocations: &set}
			var h http.Handler
			if placement == "claims from context" {
				opts.Claims = claimsFromContext
				h = authenticate(middleware(t, opts)(app(&served)))
			} else {
				h = middleware(t, opts)(authenticate(app(&served)))
			}
			srv := serve(t, h)

			for _, token := range []string{
				sign(t, signingKey, tokenClaims("jti-stolen", "alice")),
				sign(t, signingKey, tokenClaims("jti-"+placement, "mallory")), // issued a minute before the subject's not-before
			} {
				resp, body := request(t, srv.URL+"/orders/7", token)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("GET with a revoked token = %d, want 401", resp.StatusCode)
				}
				want := `Bearer error="invalid_token", error_description="The access token has been revoked"`
				if got := resp.Header.Get("WWW-Authenticate"); got != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
				if !strings.Contains(body, "revoked") {
					t.Errorf("body = %q, want it to say the token was revoked", body)
				}
			}
		})
	}
	if served != 0 {
		t.Errorf("handler served %d requests with revoked tokens, want 0", served)
	}

	events := tr.events(t, store.Query{TokenID: "jti-stolen"})
	if len(events) != 2 {
		t.Fatalf("stored events of jti-stolen = %d, want 2 (one per placement)", len(events))
	}
	for _, e := range events {
		if e.Kind != audit.KindRejected || e.RejectReason != audit.RejectRevoked || e.Status != 401 {
			t.Errorf("event = %v %q %d, want rejected revoked 401", e.Kind, e.RejectReason, e.Status)
		}
	}
	if got := tr.events(t, store.Query{Subject: "mallory", Kinds: []audit.Kind{audit.KindRejected}}); len(got) != 2 {
		t.Errorf("rejected events of mallory = %d, want 2", len(got))
	}
}

func TestChiRouter(t *testing.T) {
	tr := newTrail(t, nil, recorder.Options{})
	r := chi.NewRouter()
	r.Use(authenticate, middleware(t, httpmw.Options{Recorder: tr.rec, Claims: claimsFromContext}))
	r.Get("/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(chi.URLParam(r, "id")))
	})
	srv := serve(t, r)
	token := sign(t, signingKey, tokenClaims("jti-chi", "alice"))

	resp, body := request(t, srv.URL+"/orders/99?secret=1", token)

	if resp.StatusCode != http.StatusAccepted || body != "99" {
		t.Fatalf("GET /orders/99 = %d %q, want 202 \"99\"", resp.StatusCode, body)
	}
	e := tr.one(t, store.Query{TokenID: "jti-chi"})
	if e.Path != "/orders/99" || e.Status != http.StatusAccepted || e.Kind != audit.KindUsed {
		t.Errorf("event = %v %q %d, want used /orders/99 202", e.Kind, e.Path, e.Status)
	}
}

func TestClientAddress(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		header  httpmw.ProxyHeader
		send    []string
		want    string
	}{
		{"spoofed header from untrusted peer", nil, httpmw.XForwardedFor, []string{"X-Forwarded-For", "203.0.113.9"}, "127.0.0.1"},
		{"peer outside trusted range", []string{"10.0.0.0/8"}, httpmw.XForwardedFor, []string{"X-Forwarded-For", "203.0.113.9"}, "127.0.0.1"},
		{"trusted proxy", []string{"127.0.0.0/8"}, httpmw.XForwardedFor, []string{"X-Forwarded-For", "203.0.113.9"}, "203.0.113.9"},
		{"chain with spoofed entry", []string{"127.0.0.0/8", "10.0.0.0/8"}, httpmw.XForwardedFor,
			[]string{"X-Forwarded-For", "198.51.100.66, 203.0.113.9, 10.2.3.4"}, "203.0.113.9"},
		{"forwarded header", []string{"127.0.0.0/8"}, httpmw.Forwarded, []string{"Forwarded", `for=198.51.100.66, for="[2001:db8::9]:443";proto=https`}, "2001:db8::9"},
		{"other header ignored", []string{"127.0.0.0/8"}, httpmw.Forwarded, []string{"X-Forwarded-For", "203.0.113.9"}, "127.0.0.1"},
		{"header on two lines", []string{"127.0.0.0/8", "10.0.0.0/8"}, httpmw.XForwardedFor,
			[]string{"X-Forwarded-For", "198.51.100.66", "X-Forwarded-For", "203.0.113.9, 10.2.3.4"}, "203.0.113.9"},
		{"unparsable entry", []string{"127.0.0.0/8"}, httpmw.XForwardedFor, []string{"X-Forwarded-For", "unknown"}, "invalid IP"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTrail(t, nil, recorder.Options{})
			var trusted []netip.Prefix
			for _, p := range tt.trusted {
				trusted = append(trusted, netip.MustParsePrefix(p))
			}
			mw := middleware(t, httpmw.Options{Recorder: tr.rec, TrustedProxies: trusted, ProxyHeader: tt.header})
			served := 0
			srv := serve(t, mw(authenticate(app(&served))))
			jti := "jti-ip-" + string(rune('a'+i))

			request(t, srv.URL+"/orders/1", sign(t, signingKey, tokenClaims(jti, "alice")), tt.send...)

			e := tr.one(t, store.Query{TokenID: jti})
			if e.IP.String() != tt.want {
				t.Errorf("event IP = %s, want %s", e.IP, tt.want)
			}
		})
	}
}

func TestNoTokenPassesThrough(t *testing.T) {
	tr := newTrail(t, nil, recorder.Options{})
	mw := middleware(t, httpmw.Options{Recorder: tr.rec, FailClosed: true})
	srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("public"))
	})))

	resp, body := request(t, srv.URL+"/health", "", "Authorization", "Basic dXNlcjpwYXNz")

	if resp.StatusCode != http.StatusOK || body != "public" {
		t.Fatalf("GET /health = %d %q, want 200 public", resp.StatusCode, body)
	}
	if err := tr.rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, err := tr.store.Count(context.Background()); err != nil || n != 0 {
		t.Errorf("stored events = %d, %v, want 0 for a request without a bearer token", n, err)
	}
}

func TestPanickingHandlerRecorded(t *testing.T) {
	tr := newTrail(t, nil, recorder.Options{})
	served := 0
	mw := middleware(t, httpmw.Options{Recorder: tr.rec})
	srv := serve(t, mw(authenticate(app(&served))))

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/panic", nil)
	req.Header.Set("Authorization", "Bearer "+sign(t, signingKey, tokenClaims("jti-panic", "alice")))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("GET /panic = %d, want the connection aborted", resp.StatusCode)
	}

	e := tr.one(t, store.Query{TokenID: "jti-panic"})
	if e.Kind != audit.KindUsed || e.Status != 0 {
		t.Errorf("event = %v status %d, want used with no status", e.Kind, e.Status)
	}
}

// TestWriterStateNotCarriedOver checks that the status and reject reason
// of one request do not reach the next, since the middleware reuses its
// response writers.
func TestWriterStateNotCarriedOver(t *testing.T) {
	tr := newTrail(t, nil, recorder.Options{})
	mw := middleware(t, httpmw.Options{Recorder: tr.rec})
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/reject":
			httpmw.SetRejectReason(w, audit.RejectReused)
			w.WriteHeader(http.StatusUnauthorized)
		case "/body":
			_, _ = w.Write([]byte("ok"))
		case "/panic":
			w.WriteHeader(http.StatusForbidden)
			panic("handler failed")
		}
	}))
	serveOne := func(path, jti string) {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+sign(t, signingKey, tokenClaims(jti, "alice")))
		defer func() { _ = recover() }()
		h.ServeHTTP(httptest.NewRecorder(), req)
	}

	// Each path runs several times, so that a pooled writer is likely to
	// serve a request after one of every other kind.
	for range 3 {
		serveOne("/reject", "jti-reject")
		serveOne("/body", "jti-body")
		serveOne("/panic", "jti-panic")
		serveOne("/nothing", "jti-nothing")
	}

	want := []struct {
		jti    string
		kind   audit.Kind
		status int
		reason audit.RejectReason
	}{
		{"jti-reject", audit.KindRejected, http.StatusUnauthorized, audit.RejectReused},
		{"jti-body", audit.KindUsed, http.StatusOK, ""},
		{"jti-panic", audit.KindRejected, http.StatusForbidden, audit.RejectOther},
		{"jti-nothing", audit.KindUsed, http.StatusOK, ""},
	}
	for _, w := range want {
		events := tr.events(t, store.Query{TokenID: w.jti})
		if len(events) != 3 {
			t.Fatalf("stored events for %s = %d, want 3", w.jti, len(events))
		}
		for _, e := range events {
			if e.Kind != w.kind || e.Status != w.status || e.RejectReason != w.reason {
				t.Errorf("event of %s = %v, status %d, reason %q, want %v, %d, %q", w.jti, e.Kind, e.Status, e.RejectReason, w.kind, w.status, w.reason)
			}
		}
	}
}

func TestNewRejectsInvalidOptions(t *testing.T) {
	tr := newTrail(t, nil, recorder.Options{})
	tests := []struct {
		name string
		opts httpmw.Options
		want string
	}{
		{"missing recorder", httpmw.Options{}, "Recorder"},
		{"zero prefix", httpmw.Options{Recorder: tr.rec, TrustedProxies: []netip.Prefix{{}}}, "TrustedProxies"},
		{"unknown header", httpmw.Options{Recorder: tr.rec, ProxyHeader: 7}, "ProxyHeader"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := httpmw.New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// TestTokenNeverStoredOrLogged sends tokens down every path (use,
// rejection, revocation, no jti, not a JWT, fail-closed), then searches
// the database files and every log line for any part of them.
func TestTokenNeverStoredOrLogged(t *testing.T) {
	tr := newTrail(t, nil, recorder.Options{})
	var set revocation.Set
	if err := set.Add(audit.Event{ID: "r", Time: t0, Kind: audit.KindRevoked, TokenID: "jti-secret-revoked"}); err != nil {
		t.Fatal(err)
	}
	served := 0
	mw := middleware(t, httpmw.Options{Recorder: tr.rec, Revocations: &set, Logger: tr.log,
		FailClosed: true, RevocationMaxAge: time.Hour})
	srv := serve(t, mw(authenticate(app(&served))))

	noJTI := tokenClaims("", "frank")
	delete(noJTI, "jti")
	tokens := []string{
		sign(t, signingKey, tokenClaims("jti-secret-used", "alice")),
		sign(t, otherKey, tokenClaims("jti-secret-forged", "alice")),
		sign(t, signingKey, tokenClaims("jti-secret-revoked", "alice")),
		sign(t, signingKey, noJTI),
		"opaque.not-a-jwt.value",
	}
	for _, token := range tokens {
		request(t, srv.URL+"/orders/1?access_token="+token, token)
	}
	// The set was never refreshed, so the fail-closed middleware responded
	// 503 to the tokens it did not reject first. Refresh it and send them
	// again to reach the handler.
	ref := revocation.NewRefresher(&set, &revocation.MemorySource{}, revocation.RefresherOptions{Logger: tr.log})
	if err := ref.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, token := range tokens {
		request(t, srv.URL+"/orders/1?access_token="+token, token)
	}
	if n := len(tr.events(t, store.Query{Subject: "alice"})); n < 4 {
		t.Fatalf("stored events of alice = %d, want at least 4, or the test proves nothing", n)
	}

	db := tr.fileBytes(t)
	logs := tr.logs.String()
	if !strings.Contains(logs, "503") {
		t.Errorf("logs = %q, want the switch to 503 logged", logs)
	}
	for i, token := range tokens {
		parts := append([]string{token}, strings.Split(token, ".")...)
		for _, part := range parts {
			if len(part) < 12 {
				continue // too short to identify a token, such as "opaque"
			}
			if bytes.Contains(db, []byte(part)) {
				t.Errorf("token %d: the database contains %q", i, part)
			}
			if strings.Contains(logs, part) {
				t.Errorf("token %d: the logs contain %q", i, part)
			}
		}
	}
}

func TestRevokedByFingerprintWithClaimsFromContext(t *testing.T) {
	tr := newTrail(t, nil, recorder.Options{})
	token := sign(t, signingKey, tokenClaims("jti-fp", "alice"))
	var set revocation.Set
	// Revoked by fingerprint alone, although the token has a jti.
	if err := set.Add(audit.Event{ID: "r", Time: t0, Kind: audit.KindRevoked, Fingerprint: audit.Fingerprint(token)}); err != nil {
		t.Fatal(err)
	}
	served := 0
	mw := middleware(t, httpmw.Options{Recorder: tr.rec, Claims: claimsFromContext, Revocations: &set})
	srv := serve(t, authenticate(mw(app(&served))))

	resp, _ := request(t, srv.URL+"/orders/1", token)

	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401", resp.StatusCode)
	}
	e := tr.one(t, store.Query{TokenID: "jti-fp"})
	if e.Fingerprint != audit.Fingerprint(token) || e.RejectReason != audit.RejectRevoked {
		t.Errorf("event fingerprint, reason = %q, %q, want the token's fingerprint and revoked", e.Fingerprint, e.RejectReason)
	}
}
