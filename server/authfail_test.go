package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// testClock is a settable clock for Config.Clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// unknownKey returns a key of the right form whose ID no stored key has.
func unknownKey(ts *testServer) string {
	return "tt_0123456789ab" + ts.keys.read[len("tt_0123456789ab"):]
}

func TestAuthFailuresLimitedPerAddress(t *testing.T) {
	clk := &testClock{t: now}
	ts := newTestServer(t, func(c *Config) {
		c.Clock = clk.Now
		c.AuthFailureBurst = 3
		c.AuthFailuresPerAddr = 0.5
	})

	for i := range 2 {
		if resp, data := ts.do(t, http.MethodGet, "/api/v1/key", unknownKey(ts), nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: GET with an unknown key = %d %s, want 401", i+1, resp.StatusCode, data)
		}
	}
	if resp, data := ts.do(t, http.MethodGet, "/api/v1/key", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("failure 3: GET without a key = %d %s, want 401", resp.StatusCode, data)
	}

	resp, data := ts.do(t, http.MethodGet, "/api/v1/key", unknownKey(ts), nil)
	if resp.StatusCode != http.StatusTooManyRequests || errorCode(data) != CodeRateLimited {
		t.Fatalf("GET past the burst of failures = %d %s, want 429 rate_limited", resp.StatusCode, data)
	}
	if got := resp.Header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After past the burst = %q, want 2 (one failure at 0.5 per second)", got)
	}
	if !strings.Contains(string(data), "failed authentications") {
		t.Errorf("429 body = %s, want it to name failed authentications", data)
	}
	// The address is blocked whatever key it sends, because otherwise a
	// right guess would get another status than a wrong one.
	if resp, data := ts.do(t, http.MethodGet, "/api/v1/key", ts.keys.read, nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("GET with a valid key from a blocked address = %d %s, want 429", resp.StatusCode, data)
	}

	clk.Advance(2 * time.Second)
	if resp, data := ts.do(t, http.MethodGet, "/api/v1/key", ts.keys.read, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET with a valid key once the limit refilled = %d %s, want 200", resp.StatusCode, data)
	}
}

func TestAuthFailuresBehindTrustedProxy(t *testing.T) {
	logs := &logBuffer{}
	ts := newTestServer(t, func(c *Config) {
		c.AuthFailureBurst = 3
		c.AuthFailuresPerAddr = 0.5
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		// The test client connects from loopback, which plays the proxy.
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	})
	const attacker, other = "203.0.113.7", "198.51.100.9"

	for i := range 3 {
		resp, data := ts.do(t, http.MethodGet, "/api/v1/key", unknownKey(ts), nil, "X-Forwarded-For", attacker)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d of %s: GET with an unknown key = %d %s, want 401", i+1, attacker, resp.StatusCode, data)
		}
	}
	if resp, data := ts.do(t, http.MethodGet, "/api/v1/key", ts.keys.read, nil, "X-Forwarded-For", attacker); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("GET from %s past its burst of failures = %d %s, want 429", attacker, resp.StatusCode, data)
	}
	// An entry that the attacker writes left of the one the proxy appends
	// does not give it a new address.
	if resp, data := ts.do(t, http.MethodGet, "/api/v1/key", ts.keys.read, nil, "X-Forwarded-For", other+", "+attacker); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("GET from %s that prepends %s to X-Forwarded-For = %d %s, want 429", attacker, other, resp.StatusCode, data)
	}

	// Another client behind the same proxy is not locked out.
	if resp, data := ts.do(t, http.MethodGet, "/api/v1/key", ts.keys.read, nil, "X-Forwarded-For", other); resp.StatusCode != http.StatusOK {
		t.Errorf("GET with a valid key from %s behind the proxy = %d %s, want 200", other, resp.StatusCode, data)
	}
	if resp, data := ts.do(t, http.MethodGet, "/api/v1/key", ts.keys.read, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET with a valid key from the proxy itself = %d %s, want 200", resp.StatusCode, data)
	}

	if !strings.Contains(logs.String(), "client="+attacker) {
		t.Errorf("log does not name the forwarded client %s:\n%s", attacker, logs)
	}
	if !strings.Contains(logs.String(), "peer=127.0.0.1") {
		t.Errorf("log does not name the proxy as peer:\n%s", logs)
	}

	// The access log records the forwarded client too.
	if resp, data := ts.do(t, http.MethodGet, "/api/v1/search?q=alice", ts.keys.read, nil, "X-Forwarded-For", other); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/search from %s = %d %s, want 200", other, resp.StatusCode, data)
	}
	accesses, err := ts.db.Accesses(context.Background(), store.AccessQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(accesses) != 1 || accesses[0].RemoteIP != netip.MustParseAddr(other) {
		t.Errorf("access log = %+v, want one access from %s", accesses, other)
	}
}

func TestForwardedForIgnoredByDefault(t *testing.T) {
	ts := newTestServer(t, func(c *Config) {
		c.AuthFailureBurst = 3
		c.AuthFailuresPerAddr = 0.5
	})

	// A client that writes a new X-Forwarded-For on each try still counts
	// as its own peer address, because no proxy is trusted.
	for i := range 3 {
		forwarded := fmt.Sprintf("203.0.113.%d", i+1)
		if resp, data := ts.do(t, http.MethodGet, "/api/v1/key", unknownKey(ts), nil, "X-Forwarded-For", forwarded); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: GET with an unknown key = %d %s, want 401", i+1, resp.StatusCode, data)
		}
	}
	if resp, data := ts.do(t, http.MethodGet, "/api/v1/key", ts.keys.read, nil, "X-Forwarded-For", "198.51.100.9"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("GET with a fresh X-Forwarded-For past the burst = %d %s, want 429", resp.StatusCode, data)
	}
}

func TestTrustedProxiesInvalid(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "server.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := Config{Store: db, Keys: apikey.NewManager(db, apikey.Config{}), AccessLog: db, TrustedProxies: []netip.Prefix{{}}}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "TrustedProxies") {
		t.Errorf("New(TrustedProxies with a zero prefix) error = %v, want one naming TrustedProxies", err)
	}
	cfg.TrustedProxies, cfg.ProxyHeader = nil, ProxyHeader(7)
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "header") {
		t.Errorf("New(ProxyHeader 7) error = %v, want one naming the header", err)
	}
}

func TestRejectedKeysLoggedOncePerInterval(t *testing.T) {
	logs := &logBuffer{}
	clk := &testClock{t: now}
	ts := newTestServer(t, func(c *Config) {
		c.Clock = clk.Now
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.RepeatLogInterval = 10 * time.Second
	})

	for range 5 {
		if resp, data := ts.do(t, http.MethodGet, "/api/v1/key", unknownKey(ts), nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET with an unknown key = %d %s, want 401", resp.StatusCode, data)
		}
	}
	if n := strings.Count(logs.String(), "API key rejected"); n != 1 {
		t.Errorf("log lines of 5 rejected keys within the interval = %d, want 1:\n%s", n, logs)
	}

	clk.Advance(10 * time.Second)
	ts.do(t, http.MethodGet, "/api/v1/key", unknownKey(ts), nil)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "API key rejected") || !strings.Contains(last, "skipped=4") {
		t.Errorf("log line after the interval = %q, want API key rejected with skipped=4", last)
	}
	secretPart := ts.keys.read[len("tt_0123456789ab_"):]
	if strings.Contains(logs.String(), secretPart) {
		t.Errorf("log contains the secret part of a key:\n%s", logs)
	}

	ts.do(t, http.MethodGet, "/api/v1/key", unknownKey(ts), nil)
	if err := ts.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSpace(logs.String()), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "API key rejected") || !strings.Contains(last, "skipped=1") {
		t.Errorf("log line of Close = %q, want API key rejected with skipped=1", last)
	}
}

func TestTLSHandshakeErrorsBounded(t *testing.T) {
	logs := &logBuffer{}
	ts := newTestServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.RepeatLogInterval = time.Hour
	})
	hs := httptest.NewUnstartedServer(ts.Handler())
	hs.Config.ErrorLog = ts.HTTPServer("").ErrorLog
	hs.StartTLS()
	t.Cleanup(hs.Close)

	// A connection closed before its handshake ends makes net/http log a
	// TLS handshake error.
	const conns = 5
	for range conns {
		conn, err := net.Dial("tcp", hs.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	skipped := func() int {
		ts.repeats.mu.Lock()
		defer ts.repeats.mu.Unlock()
		if st, ok := ts.repeats.messages["TLS handshake failed"]; ok {
			return st.skipped
		}
		return -1
	}
	for skipped() < conns-1 {
		time.Sleep(10 * time.Millisecond) // net/http logs from its connection goroutines
	}

	if n := strings.Count(logs.String(), "TLS handshake failed"); n != 1 {
		t.Errorf("log lines of %d failed handshakes within the interval = %d, want 1:\n%s", conns, n, logs)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "http: TLS handshake error from 127.0.0.1") {
		t.Errorf("log = %q, want a WARN line with net/http's text", logs)
	}

	// A client with a valid handshake is served, and logs nothing.
	resp, err := hs.Client().Get(hs.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz over TLS = %d, want 200", resp.StatusCode)
	}
}
