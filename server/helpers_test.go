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
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// The secrets of the test keys, one per role, and of a revoked key.
const (
	ingestSecret  = "tt_ingest_secret"
	readSecret    = "tt_read_secret"
	adminSecret   = "tt_admin_secret"
	revokedSecret = "tt_revoked_secret"
)

// keyTable authenticates the test keys. It stands in for apikey.Manager,
// whose lookup and hashing the apikey package tests.
type keyTable map[string]apikey.Key

func (t keyTable) Authenticate(_ context.Context, secret string) (apikey.Key, error) {
	k, ok := t[secret]
	switch {
	case !ok:
		return apikey.Key{}, apikey.ErrUnknownKey
	case !k.RevokedAt.IsZero():
		return apikey.Key{}, apikey.ErrRevokedKey
	}
	return k, nil
}

func testKeys() keyTable {
	created := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	return keyTable{
		ingestSecret:  {ID: "k-ingest", Name: "payments-api", Roles: []apikey.Role{apikey.RoleIngest}, CreatedAt: created},
		readSecret:    {ID: "k-read", Name: "responder", Roles: []apikey.Role{apikey.RoleRead}, CreatedAt: created},
		adminSecret:   {ID: "k-admin", Name: "oncall", Roles: []apikey.Role{apikey.RoleAdmin}, CreatedAt: created},
		revokedSecret: {ID: "k-old", Name: "old", Roles: []apikey.Role{apikey.RoleAdmin}, CreatedAt: created, RevokedAt: created.Add(time.Hour)},
	}
}

// accessList is an in-memory access log.
type accessList struct {
	mu   sync.Mutex
	list []apikey.Access
}

func (l *accessList) AppendAccess(_ context.Context, a apikey.Access) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, a)
	return nil
}

func (l *accessList) Accesses(_ context.Context, q store.AccessQuery) ([]apikey.Access, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []apikey.Access
	for _, a := range slices.Backward(l.list) {
		if (q.KeyID == "" || a.KeyID == q.KeyID) && (q.Target == "" || a.Target == q.Target) {
			out = append(out, a)
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// testServer is a Server on loopback over a real SQLite store in a temp
// file.
type testServer struct {
	*Server
	URL    string
	db     *sqlite.Store
	access *accessList
}

// now is the clock of the test servers: fixed, so that rate limits do not
// refill during a test.
var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func newTestServer(tb testing.TB, change func(*Config)) *testServer {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "server.db"))
	if err != nil {
		tb.Fatal(err)
	}
	access := &accessList{}
	cfg := Config{
		Store: db, Keys: testKeys(), AccessLog: access,
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
	return &testServer{Server: s, URL: hs.URL, db: db, access: access}
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
