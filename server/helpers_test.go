package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// testKeys are the secrets of the API keys of a test server, one per
// role, and one of a revoked admin key.
type testKeys struct {
	ingest, read, admin, revoked string
	tokenService                 string // roles ingest and revoke
	readID                       string // the ID of the read key
}

// createTestKeys creates the keys of testKeys in db through the Manager
// that serve uses.
func createTestKeys(tb testing.TB, keys *apikey.Manager) testKeys {
	tb.Helper()
	create := func(name string, role apikey.Role) (string, apikey.Key) {
		secret, k, err := keys.Create(context.Background(), name, []apikey.Role{role})
		if err != nil {
			tb.Fatal(err)
		}
		return secret, k
	}
	var tk testKeys
	tk.ingest, _ = create("payments-api", apikey.RoleIngest)
	var readKey apikey.Key
	tk.read, readKey = create("responder", apikey.RoleRead)
	tk.readID = readKey.ID
	tk.admin, _ = create("oncall", apikey.RoleAdmin)
	secret, _, err := keys.Create(context.Background(), "token-service", []apikey.Role{apikey.RoleIngest, apikey.RoleRevoke})
	if err != nil {
		tb.Fatal(err)
	}
	tk.tokenService = secret
	secret, old := create("old", apikey.RoleAdmin)
	if _, err := keys.Revoke(context.Background(), old.ID); err != nil {
		tb.Fatal(err)
	}
	tk.revoked = secret
	return tk
}

// testServer is a Server on loopback over a real SQLite store in a temp
// file.
type testServer struct {
	*Server
	URL  string
	db   *sqlite.Store
	keys testKeys
}

// now is the clock of the test servers: fixed, so that rate limits do not
// refill during a test.
var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func newTestServer(tb testing.TB, change func(*Config)) *testServer {
	tb.Helper()
	return newTestServerAt(tb, filepath.Join(tb.TempDir(), "server.db"), change)
}

// newTestServerAt is newTestServer over the SQLite file at path.
func newTestServerAt(tb testing.TB, path string, change func(*Config)) *testServer {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	manager := apikey.NewManager(db, apikey.Config{})
	cfg := Config{
		Store: db, Keys: manager, AccessLog: db,
		Clock:  func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if change != nil {
		change(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	tb.Cleanup(func() {
		hs.Close()
		if err := s.Close(context.Background()); err != nil {
			tb.Error(err)
		}
		db.Close()
	})
	return &testServer{Server: s, URL: hs.URL, db: db, keys: createTestKeys(tb, manager)}
}

// do sends a request with the secret as bearer key and returns the
// response with its body read.
func (ts *testServer) do(tb testing.TB, method, path, secret string, body []byte, header ...string) (*http.Response, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, ts.URL+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, data
}

// errorCode returns the code of an error response, or "".
func errorCode(data []byte) Code {
	var body errorBody
	_ = json.Unmarshal(data, &body) // a body that is not an error has no code
	return body.Error.Code
}

// usedEvent returns a valid used event of token jti and subject, i
// seconds after the test's start.
func usedEvent(jti, subject string, i int) audit.Event {
	t := now.Add(-time.Hour).Add(time.Duration(i) * time.Second)
	return audit.Event{
		ID:        audit.NewID("test", jti, fmt.Sprint(i)),
		Time:      t,
		Kind:      audit.KindUsed,
		TokenID:   jti,
		Subject:   subject,
		ExpiresAt: now.Add(time.Hour),
		Path:      "/orders",
		Status:    200,
	}
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
