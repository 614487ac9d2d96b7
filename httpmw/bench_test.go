package httpmw_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/httpmw"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store"
)

// discardWriter stores nothing, so that a benchmark measures the request
// path and not a database.
type discardWriter struct{}

func (discardWriter) Append(_ context.Context, events []audit.Event) (store.Appended, error) {
	return store.Appended{Inserted: len(events)}, nil
}

// acceptAll is a Recorder that accepts every event and keeps none.
type acceptAll struct{}

func (acceptAll) Record(audit.Event) bool { return true }

// benchResponse is a ResponseWriter that allocates nothing per request.
type benchResponse struct {
	header http.Header
	status int
}

func (w *benchResponse) Header() http.Header         { return w.header }
func (w *benchResponse) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchResponse) WriteHeader(code int)        { w.status = code }

// verified is what an application's authentication keeps in the request
// context after it verified a token.
type verified struct {
	jwt.RegisteredClaims
	ClientID  string `json:"azp"`
	SessionID string `json:"sid"`
}

type verifiedKey struct{}

func claimsOfVerified(r *http.Request) (httpmw.Claims, bool) {
	v, ok := r.Context().Value(verifiedKey{}).(*verified)
	if !ok {
		return httpmw.Claims{}, false
	}
	c := httpmw.Claims{TokenID: v.ID, Issuer: v.Issuer, Subject: v.Subject, ClientID: v.ClientID, SessionID: v.SessionID}
	if v.IssuedAt != nil {
		c.IssuedAt = v.IssuedAt.Time
	}
	if v.ExpiresAt != nil {
		c.ExpiresAt = v.ExpiresAt.Time
	}
	return c, true
}

// benchToken returns an RS256 access token shaped like one from Keycloak:
// 2048-bit signature, a key id, and the claims such tokens carry.
func benchToken(tb testing.TB) string {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	token := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "auth_time": now.Unix(),
		"jti": "4f1c2a9e-7b3d-4e8a-9c1f-2d5e6a7b8c9d", "iss": "https://idp.example.com/realms/acme",
		"aud": []string{"orders-api", "account"}, "sub": "f3b6c2d1-8e4a-4c5b-9a7d-1e2f3a4b5c6d", "typ": "Bearer",
		"azp": "web-portal", "sid": "0b7e9d4c-2a1f-4e3b-8c5d-6f7a8b9c0d1e", "acr": "1",
		"allowed-origins": []string{"https://portal.example.com"},
		"realm_access":    map[string]any{"roles": []string{"offline_access", "uma_authorization", "customer"}},
		"scope":           "openid profile email orders", "email_verified": true,
		"name": "Alice Example", "preferred_username": "alice", "email": "alice@example.com",
	})
	token.Header["kid"] = "Xk3mP9qR2sT5vW8yZ1aB4cD7eF0gH3jK6lM9nO2pQ5r"
	raw, err := token.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// benchRequest returns a request that presents token, carries the verified
// claims in its context, and has the headers of a browser request behind
// no proxy.
func benchRequest(tb testing.TB, token string) *http.Request {
	tb.Helper()
	var v verified
	if _, _, err := jwt.NewParser().ParseUnverified(token, &v); err != nil {
		tb.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/api/orders/42?page=2", nil)
	r.RemoteAddr = "203.0.113.7:51234"
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0")
	r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	return r.WithContext(context.WithValue(r.Context(), verifiedKey{}, &v))
}

var okBody = []byte(`{"orders":[]}`)

func bareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(okBody)
	})
}

// benchRevocations returns a refreshed set of 1,000 revoked ids.
func benchRevocations(tb testing.TB) *revocation.Set {
	tb.Helper()
	src := &revocation.MemorySource{}
	for i := range 1000 {
		src.Add(audit.Event{ID: fmt.Sprint(i), Time: t0, Kind: audit.KindRevoked, TokenID: fmt.Sprintf("revoked-%d", i)})
	}
	var set revocation.Set
	ref := revocation.NewRefresher(&set, src, revocation.RefresherOptions{})
	if err := ref.Refresh(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return &set
}

// BenchmarkMiddleware runs, in one process, a bare handler and the
// middleware around it, with claims from the context and with the token
// read from the header. Beside them it runs what a team would write
// instead: a log/slog JSON line of the same fields, and golang-jwt's
// ParseUnverified of the same token. The overhead of the middleware is its
// time minus the bare handler's:
//
//	go test -run '^$' -bench BenchmarkMiddleware -benchmem -count 5 ./httpmw
//
// The recorder writes to a discarding Writer from its own goroutine, on the
// other core of a two-core machine, as it would in a service.
func BenchmarkMiddleware(b *testing.B) {
	token := benchToken(b)
	req := benchRequest(b, token)
	set := benchRevocations(b)

	b.Run("bare", func(b *testing.B) {
		benchHandler(b, bareHandler(), req)
	})
	b.Run("claims_from_context", func(b *testing.B) {
		rec := recorder.New(discardWriter{}, recorder.Options{Logger: slog.New(slog.DiscardHandler)})
		mw, err := httpmw.New(httpmw.Options{Recorder: rec, Claims: claimsOfVerified, Revocations: set, RevocationMaxAge: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		benchRecorded(b, rec, mw(bareHandler()), req)
	})
	b.Run("claims_from_context_no_recorder", func(b *testing.B) {
		// The middleware's own share: the same work with a Recorder that
		// accepts each event and does nothing with it.
		mw, err := httpmw.New(httpmw.Options{Recorder: acceptAll{}, Claims: claimsOfVerified, Revocations: set, RevocationMaxAge: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		benchHandler(b, mw(bareHandler()), req)
	})
	b.Run("token_read", func(b *testing.B) {
		rec := recorder.New(discardWriter{}, recorder.Options{Logger: slog.New(slog.DiscardHandler)})
		mw, err := httpmw.New(httpmw.Options{Recorder: rec, Revocations: set, RevocationMaxAge: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		benchRecorded(b, rec, mw(bareHandler()), req)
	})
	b.Run("slog_json", func(b *testing.B) {
		benchSlog(b, req)
	})
	b.Run("jwt_parse_unverified_map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jwt_parse_unverified_registered", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := jwt.NewParser().ParseUnverified(token, &jwt.RegisteredClaims{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchHandler(b *testing.B, h http.Handler, req *http.Request) {
	w := &benchResponse{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// benchRecorded runs h and, every half queue, waits for the recorder to
// write what it holds with the timer stopped. So no event is dropped
// however fast the loop runs, since a full queue would make Record return
// at once and flatter the figure.
func benchRecorded(b *testing.B, rec *recorder.Recorder, h http.Handler, req *http.Request) {
	const room = recorder.DefaultQueueSize / 2
	w := &benchResponse{header: http.Header{}}
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		h.ServeHTTP(w, req)
		if n++; n%room == 0 {
			b.StopTimer()
			if err := rec.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	if err := rec.Close(ctx); err != nil {
		b.Fatal(err)
	}
	if s := rec.Stats(); s.Dropped != 0 || s.Written == 0 {
		b.Fatalf("recorder Stats() = %+v, want every event written and none dropped", s)
	}
}

// benchSlog logs the fields the middleware records, with the JSON handler
// a team would use for an access log.
func benchSlog(b *testing.B, req *http.Request) {
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	v := req.Context().Value(verifiedKey{}).(*verified)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		logger.LogAttrs(ctx, slog.LevelInfo, "token used",
			slog.String("jti", v.ID),
			slog.String("sub", v.Subject),
			slog.String("iss", v.Issuer),
			slog.String("azp", v.ClientID),
			slog.String("sid", v.SessionID),
			slog.Time("iat", v.IssuedAt.Time),
			slog.Time("exp", v.ExpiresAt.Time),
			slog.String("ip", "203.0.113.7"),
			slog.String("user_agent", req.Header.Get("User-Agent")),
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.Int("status", http.StatusOK),
			slog.String("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"))
	}
}

// TestMiddlewareAllocations holds the middleware to no allocation per
// request with claims from the context: the ResponseWriter that captures
// the status comes from a pool.
func TestMiddlewareAllocations(t *testing.T) {
	token := benchToken(t)
	req := benchRequest(t, token)
	rec := recorder.New(discardWriter{}, recorder.Options{QueueSize: 1 << 16, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = rec.Close(context.Background()) })
	mw, err := httpmw.New(httpmw.Options{Recorder: rec, Claims: claimsOfVerified, Revocations: benchRevocations(t)})
	if err != nil {
		t.Fatal(err)
	}
	h := mw(bareHandler())
	w := &benchResponse{header: http.Header{}}

	allocs := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, req) })

	if allocs > 0 {
		t.Errorf("allocations per request = %v, want 0", allocs)
	}
	if s := rec.Stats(); s.Dropped != 0 {
		t.Errorf("recorder dropped %d events, so Record did less than usual", s.Dropped)
	}
}
