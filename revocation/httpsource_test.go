package revocation_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/server"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

func TestHTTPSourceFollowsServer(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "feed.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys := apikey.NewManager(db, apikey.Config{})
	serviceKey, _, err := keys.Create(context.Background(), "orders-api", []apikey.Role{apikey.RoleIngest})
	if err != nil {
		t.Fatal(err)
	}
	adminKey, _, err := keys.Create(context.Background(), "oncall", []apikey.Role{apikey.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: db, Keys: keys, AccessLog: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	defer srv.Close(context.Background())

	src, err := revocation.NewHTTPSource(hs.URL, serviceKey, revocation.HTTPSourceOptions{Wait: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var set revocation.Set
	refresher := revocation.NewRefresher(&set, src, revocation.RefresherOptions{
		Interval: 50 * time.Millisecond, Timeout: 30 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := refresher.Refresh(ctx); err != nil {
		t.Fatalf("first Refresh: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- refresher.Run(ctx) }()

	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/api/v1/revocations", bytes.NewReader([]byte(`{"scope":"token","target":"jti-7","reason":"leaked"}`)))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("revoke = %d, want 201", resp.StatusCode)
	}

	// The refresher's long-poll returns with the revocation; a failure
	// leaves the loop to the test's timeout.
	for revoked, _ := set.Check(revocation.Token{TokenID: "jti-7"}); !revoked; revoked, _ = set.Check(revocation.Token{TokenID: "jti-7"}) {
		time.Sleep(10 * time.Millisecond)
	}
	if revoked, _ := set.Check(revocation.Token{TokenID: "jti-8"}); revoked {
		t.Error("jti-8 is revoked, want only jti-7")
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

func TestHTTPSourceErrors(t *testing.T) {
	if _, err := revocation.NewHTTPSource("tokentrail:8080", "k", revocation.HTTPSourceOptions{}); err == nil {
		t.Error("NewHTTPSource accepted a URL without scheme")
	}
	if _, err := revocation.NewHTTPSource("http://127.0.0.1:1", " ", revocation.HTTPSourceOptions{}); err == nil {
		t.Error("NewHTTPSource accepted an empty key")
	}

	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"code":"unauthenticated","message":"invalid API key"}}`, http.StatusUnauthorized)
	}))
	defer hs.Close()
	src, err := revocation.NewHTTPSource(hs.URL, "secret-that-must-not-leak", revocation.HTTPSourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = src.Revocations(context.Background(), "")
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("401")) {
		t.Errorf("Revocations on 401 = %v, want an error naming 401", err)
	}
	if err != nil && bytes.Contains([]byte(err.Error()), []byte("secret-that-must-not-leak")) {
		t.Errorf("error %q contains the API key", err)
	}
	if _, _, err := src.Revocations(context.Background(), "x"); err == nil {
		t.Error("Revocations accepted cursor x")
	}
}
