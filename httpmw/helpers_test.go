package httpmw_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/httpmw"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

var (
	signingKey = []byte("test key, not a secret")
	otherKey   = []byte("an attacker's key")
	t0         = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
)

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// trail is a real recorder writing to a real SQLite file.
type trail struct {
	path  string
	store *sqlite.Store
	rec   *recorder.Recorder
	logs  *logBuffer
	log   *slog.Logger
}

func newTrail(t *testing.T, w func(*sqlite.Store) recorder.Writer, opts recorder.Options) *trail {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trail.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("sqlite.Open(%s) = %v", path, err)
	}
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Logger = log
	var writer recorder.Writer = st
	if w != nil {
		writer = w(st)
	}
	tr := &trail{path: path, store: st, rec: recorder.New(writer, opts), logs: logs, log: log}
	t.Cleanup(func() {
		_ = tr.rec.Close(context.Background()) // a test may have closed it already
		_ = st.Close()
	})
	return tr
}

// events flushes the recorder and returns the stored events of q.
func (tr *trail) events(t *testing.T, q store.Query) []audit.Event {
	t.Helper()
	ctx := context.Background()
	if err := tr.rec.Flush(ctx); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	events, err := tr.store.Events(ctx, q)
	if err != nil {
		t.Fatalf("Events(%+v) = %v", q, err)
	}
	return events
}

// one returns the only stored event of q.
func (tr *trail) one(t *testing.T, q store.Query) audit.Event {
	t.Helper()
	events := tr.events(t, q)
	if len(events) != 1 {
		t.Fatalf("stored events for %+v = %d, want 1: %+v", q, len(events), events)
	}
	return events[0]
}

// fileBytes closes the recorder and the store, and returns the bytes of
// every file of the database.
func (tr *trail) fileBytes(t *testing.T) []byte {
	t.Helper()
	if err := tr.rec.Close(context.Background()); err != nil {
		t.Fatalf("recorder Close() = %v", err)
	}
	if err := tr.store.Close(); err != nil {
		t.Fatalf("store Close() = %v", err)
	}
	var all []byte
	matches, _ := filepath.Glob(tr.path + "*")
	for _, name := range matches {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
		all = append(all, b...)
	}
	if len(all) == 0 {
		t.Fatalf("no database file at %s", tr.path)
	}
	return all
}

func sign(t testing.TB, key []byte, claims jwt.MapClaims) string {
	t.Helper()
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return raw
}

// tokenClaims returns the claims of a token that is valid at the real time,
// since the application's verifier checks exp against the wall clock.
func tokenClaims(jti, sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"jti": jti, "sub": sub, "iss": "https://idp.example/realms/acme", "azp": "web-portal", "sid": "sid-" + sub,
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(), "scope": "orders",
	}
}

type claimsKey struct{}

// authenticate is the application's own authentication. It verifies the
// token with golang-jwt and responds 401 with an RFC 6750 challenge when
// that fails, or stores the verified claims in the request context.
func authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="orders"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var claims jwt.MapClaims
		_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return signingKey, nil },
			jwt.WithValidMethods([]string{"HS256"}))
		if err != nil {
			// golang-jwt's messages name the failed check, never the token.
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="invalid_token", error_description=%q`, err.Error()))
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
	})
}

// claimsFromContext is the Options.Claims of the tests.
func claimsFromContext(r *http.Request) (httpmw.Claims, bool) {
	claims, ok := r.Context().Value(claimsKey{}).(jwt.MapClaims)
	if !ok {
		return httpmw.Claims{}, false
	}
	c := httpmw.Claims{}
	c.TokenID, _ = claims["jti"].(string)
	c.Subject, _ = claims["sub"].(string)
	c.Issuer, _ = claims["iss"].(string)
	c.ClientID, _ = claims["azp"].(string)
	c.SessionID, _ = claims["sid"].(string)
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil {
		c.IssuedAt = iat.Time
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		c.ExpiresAt = exp.Time
	}
	return c, true
}

// app is the application's handler. /orders/ responds 200, /admin
// responds 403 with an insufficient_scope challenge, /reject rejects with a
// reason the middleware cannot guess, and /panic panics.
func app(served *int) http.Handler {
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("/orders/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*served++
		mu.Unlock()
		_, _ = io.WriteString(w, `{"orders":[]}`)
	})
	mux.HandleFunc("/admin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="admin"`)
		http.Error(w, "forbidden", http.StatusForbidden)
	})
	mux.HandleFunc("/reject", func(w http.ResponseWriter, r *http.Request) {
		httpmw.SetRejectReason(w, audit.RejectReused)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	})
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler) // aborts quietly, without a stack trace in the test log
	})
	return mux
}

// request sends a GET with token (when not empty) and extra headers, and
// returns the response with its body read.
func request(t *testing.T, url, token string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("User-Agent", "orders-cli/2.1")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read body of %s: %v", url, err)
	}
	return resp, string(body)
}

func middleware(t *testing.T, opts httpmw.Options) func(http.Handler) http.Handler {
	t.Helper()
	mw, err := httpmw.New(opts)
	if err != nil {
		t.Fatalf("httpmw.New() = %v", err)
	}
	return mw
}

func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// eventually returns the only stored event of q once it is stored, for
// requests whose response reaches the client before the handler returns
// (a hijacked connection, a flushed stream), so before the middleware
// records the event. It waits for at most 10 seconds.
func (tr *trail) eventually(t *testing.T, q store.Query) audit.Event {
	t.Helper()
	for range 200 {
		if events := tr.events(t, q); len(events) > 0 {
			if len(events) != 1 {
				t.Fatalf("stored events for %+v = %d, want 1", q, len(events))
			}
			return events[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no event stored for %+v after 10 seconds", q)
	return audit.Event{}
}
