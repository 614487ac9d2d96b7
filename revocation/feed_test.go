package revocation_test

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/server"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// feedServer is tokentrail serve on loopback over a SQLite file, behind a
// handler that the test can swap, so that a follower keeps its URL when
// the server is stopped and started again over another copy of the file.
type feedServer struct {
	URL        string
	path       string
	serviceKey string // role read
	adminKey   string

	handler atomic.Pointer[http.Handler]
	db      *sqlite.Store
	srv     *server.Server

	// hold, when set, receives each long-poll request (one with a wait
	// parameter) before the server does, and returns whether to pass it
	// on. When it returns false, the request gets 503 instead.
	hold atomic.Pointer[func(*http.Request) bool]
}

func startFeedServer(t *testing.T) *feedServer {
	t.Helper()
	fs := &feedServer{path: filepath.Join(t.TempDir(), "tokentrail.db")}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hold := fs.hold.Load(); hold != nil && r.URL.Query().Get("wait") != "" && !(*hold)(r) {
			http.Error(w, `{"error":{"code":"unavailable","message":"held by the test"}}`, http.StatusServiceUnavailable)
			return
		}
		(*fs.handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	fs.URL = hs.URL
	fs.open(t)
	t.Cleanup(func() { fs.stop(t) })

	keys := apikey.NewManager(fs.db, apikey.Config{})
	var err error
	if fs.serviceKey, _, err = keys.Create(context.Background(), "orders-api", []apikey.Role{apikey.RoleRead}); err != nil {
		t.Fatal(err)
	}
	if fs.adminKey, _, err = keys.Create(context.Background(), "oncall", []apikey.Role{apikey.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	return fs
}

// open opens the SQLite file and starts a server over it.
func (fs *feedServer) open(t *testing.T) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), fs.path)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: db, Keys: apikey.NewManager(db, apikey.Config{}), AccessLog: db, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	fs.db, fs.srv = db, srv
	fs.handler.Store(&h)
}

// stop stops the server and closes the file. Requests then get 503.
func (fs *feedServer) stop(t *testing.T) {
	t.Helper()
	if fs.srv == nil {
		return
	}
	var down http.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "stopped", http.StatusServiceUnavailable)
	})
	fs.handler.Store(&down)
	if err := fs.srv.Close(context.Background()); err != nil {
		t.Error(err)
	}
	if err := fs.db.Close(); err != nil {
		t.Error(err)
	}
	fs.srv, fs.db = nil, nil
}

// copyFiles copies the SQLite file at from, with its -wal and -shm files
// when they exist, to to, and removes those of to that from lacks.
func copyFiles(t *testing.T, from, to string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		data, err := os.ReadFile(from + suffix)
		if errors.Is(err, os.ErrNotExist) {
			if err := os.Remove(to + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// revoke records a token revocation through the server's API.
func (fs *feedServer) revoke(t *testing.T, jti string) {
	t.Helper()
	body := fmt.Sprintf(`{"scope":"token","target":%q,"reason":"leaked in a CI log"}`, jti)
	req, err := http.NewRequest(http.MethodPost, fs.URL+"/api/v1/revocations", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+fs.adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		data, _ := io.ReadAll(resp.Body) // only for the message
		t.Fatalf("revoke %s = %s %s, want 201", jti, resp.Status, data)
	}
}

// TestHTTPSourceStartsOverAfterRestore stops the server, puts back an
// older copy of its store and starts it again. A revocation stored then
// gets a position below the follower's cursor, and the follower still
// learns it, because the server responds to the cursor with 409 and the
// Refresher reads again from the start.
func TestHTTPSourceStartsOverAfterRestore(t *testing.T) {
	fs := startFeedServer(t)
	fs.revoke(t, "jti-1")
	fs.stop(t)
	backup := filepath.Join(t.TempDir(), "backup.db")
	copyFiles(t, fs.path, backup)
	fs.open(t)
	for _, jti := range []string{"jti-2", "jti-3", "jti-4"} {
		fs.revoke(t, jti)
	}

	src, err := revocation.NewHTTPSource(fs.URL, fs.serviceKey, revocation.HTTPSourceOptions{Wait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var set revocation.Set
	var logs bytes.Buffer
	ref := revocation.NewRefresher(&set, src, revocation.RefresherOptions{Timeout: 30 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	if err := ref.Refresh(ctx); err != nil {
		t.Fatalf("Refresh() = %v, want nil", err)
	}

	fs.stop(t)
	copyFiles(t, backup, fs.path)
	fs.open(t)
	fs.revoke(t, "jti-new")

	if err := ref.Refresh(ctx); err != nil {
		t.Fatalf("Refresh() after the restore = %v, want nil", err)
	}
	for _, jti := range []string{"jti-1", "jti-2", "jti-3", "jti-4", "jti-new"} {
		if revoked, _ := set.Check(revocation.Token{TokenID: jti}); !revoked {
			t.Errorf("Check(%s) after the restore = false, want true", jti)
		}
	}
	if n := strings.Count(logs.String(), "reading every revocation again from the start"); n != 1 {
		t.Errorf("log has %d lines about reading again from the start, want 1:\n%s", n, logs.String())
	}

	// Once caught up, the follower does not start over again.
	if err := ref.Refresh(ctx); err != nil {
		t.Fatalf("third Refresh() = %v, want nil", err)
	}
	if n := strings.Count(logs.String(), "again from the start"); n != 1 {
		t.Errorf("log has %d lines about reading again from the start after a third Refresh, want 1", n)
	}
}

// TestRefresherStartsOverOnce checks that ErrCursorPastEnd from a Source
// makes a Refresher read from the start once per poll, and that a second
// one in the same poll fails the poll.
func TestRefresherStartsOverOnce(t *testing.T) {
	src := &pastEndSource{}
	src.Add(revokedToken("jti-1"))
	var set revocation.Set
	ref := revocation.NewRefresher(&set, src, revocation.RefresherOptions{Logger: quietLogger()})
	if err := ref.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh() = %v, want nil", err)
	}

	src.pastEnd.Store(2)
	err := ref.Refresh(context.Background())
	if !errors.Is(err, revocation.ErrCursorPastEnd) {
		t.Errorf("Refresh() with a cursor past the end twice = %v, want an error wrapping ErrCursorPastEnd", err)
	}
}

// pastEndSource is a MemorySource whose next pastEnd calls with a cursor
// fail with ErrCursorPastEnd.
type pastEndSource struct {
	revocation.MemorySource
	pastEnd atomic.Int32
}

func (p *pastEndSource) Revocations(ctx context.Context, after revocation.Cursor) ([]audit.Event, revocation.Cursor, error) {
	if p.pastEnd.Add(-1) >= 0 {
		return nil, after, fmt.Errorf("memory: cursor %q: %w", after, revocation.ErrCursorPastEnd)
	}
	return p.MemorySource.Revocations(ctx, after)
}
