package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// shortWindow is the reorder window of the detection tests: short, so that
// a quiet server releases the held events soon after an ingest.
const shortWindow = 100 * time.Millisecond

// startDetectionServer starts a server with live detection for cfg over
// the SQLite store at path, on loopback. It creates the test keys when
// keys is nil, and else uses those, created by an earlier server over the
// same store.
func startDetectionServer(tb testing.TB, path string, cfg detect.Config, keys *testKeys) *testServer {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	engine, err := detect.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}

	manager := apikey.NewManager(db, apikey.Config{})
	s, err := New(Config{
		Store: db, Keys: manager, AccessLog: db, Detector: engine,
		Clock:  func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
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

	ts := &testServer{Server: s, URL: hs.URL, db: db}
	if keys == nil {
		ts.keys = createTestKeys(tb, manager)
	} else {
		ts.keys = *keys
	}
	return ts
}

// ingest sends events to the server with the key of the token service,
// which may send revoked events, and fails the test unless it stores them
// all.
func (ts *testServer) ingest(tb testing.TB, events ...audit.Event) {
	tb.Helper()
	resp, data := ts.do(tb, http.MethodPost, "/api/v1/events", ts.keys.tokenService, mustJSON(tb, events))
	var res ingestResult
	if err := json.Unmarshal(data, &res); err != nil || resp.StatusCode != http.StatusOK || res.Accepted != len(events) {
		tb.Fatalf("POST /api/v1/events = %d %s, want 200 and %d accepted", resp.StatusCode, data, len(events))
	}
}

// waitForRule waits until the store holds an anomaly of rule on token,
// while the server runs, and fails the test when none is stored within
// 20 seconds. The bound is far above the poll and release intervals, so
// that a loaded machine does not fail the test.
func waitForRule(tb testing.TB, db *sqlite.Store, token, rule string) audit.Anomaly {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var rules []string
	for time.Now().Before(deadline) {
		list, err := db.Anomalies(context.Background(), store.AnomalyQuery{TokenID: token})
		if err != nil {
			tb.Fatal(err)
		}
		rules = rules[:0]
		for _, a := range list {
			if a.Rule == rule {
				return a
			}
			rules = append(rules, a.Rule)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("anomalies of %s = %v while the server runs, want %s", token, rules, rule)
	return audit.Anomaly{}
}

// A use of a token that another process revoked, through its own handle
// on the store, raises revoked_token_use, and the server releases it
// without a later event.
func TestDetectionFollowsStoredRevocations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.db")
	ts := startDetectionServer(t, path, detect.Config{ReorderWindow: shortWindow}, nil)
	ts.ingest(t, usedEvent("tok-1", "alice", 0))

	other, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	revoked := revocation.TokenEvent("tok-1", "", now.Add(-50*time.Minute))
	revoked.Actor, revoked.Reason = "oncall", "leaked in a CI log"
	if _, err := revocation.Record(context.Background(), other, revoked, false); err != nil {
		t.Fatal(err)
	}

	ts.ingest(t, usedEvent("tok-1", "alice", 1200)) // 30 minutes after the revocation
	a := waitForRule(t, ts.db, "tok-1", detect.RuleRevokedTokenUse)
	if !slices.Contains(a.EventIDs, revoked.ID) {
		t.Errorf("revoked_token_use events = %v, want the revocation %s among them", a.EventIDs, revoked.ID)
	}
}

// A token revoked through the API, before the server restarted, stays
// revoked for the next server's detection.
func TestDetectionLoadsRevocationsAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.db")
	first := startDetectionServer(t, path, detect.Config{ReorderWindow: shortWindow}, nil)
	first.ingest(t, usedEvent("tok-2", "alice", 0))
	revoke := []byte(`{"scope":"token","target":"tok-2","reason":"leaked in a CI log"}`)
	if resp, data := first.do(t, http.MethodPost, "/api/v1/revocations", first.keys.admin, revoke); resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/revocations = %d %s, want 201", resp.StatusCode, data)
	}
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	second := startDetectionServer(t, path, detect.Config{ReorderWindow: shortWindow}, &first.keys)
	second.ingest(t, usedEvent("tok-2", "alice", 3700)) // 100 s after the revocation, at now
	waitForRule(t, second.db, "tok-2", detect.RuleRevokedTokenUse)
}

// A token revoked through the API of the running server raises on its
// next use.
func TestDetectionLoadsAPIRevocation(t *testing.T) {
	ts := startDetectionServer(t, filepath.Join(t.TempDir(), "server.db"), detect.Config{ReorderWindow: shortWindow}, nil)
	ts.ingest(t, usedEvent("tok-3", "alice", 0))
	revoke := []byte(`{"scope":"token","target":"tok-3","reason":"leaked in a CI log"}`)
	if resp, data := ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin, revoke); resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/revocations = %d %s, want 201", resp.StatusCode, data)
	}

	ts.ingest(t, usedEvent("tok-3", "alice", 3700))
	waitForRule(t, ts.db, "tok-3", detect.RuleRevokedTokenUse)
}

// On a quiet server, an anomaly that the reorder window holds is stored
// without a later event or a stop.
func TestDetectionReleasesWhenQuiet(t *testing.T) {
	ts := startDetectionServer(t, filepath.Join(t.TempDir(), "server.db"), detect.Config{ReorderWindow: shortWindow}, nil)
	revoked := audit.Event{ID: "rev-4", Time: now.Add(-2 * time.Hour), Kind: audit.KindRevoked, TokenID: "tok-4", Subject: "alice", Actor: "oncall", Reason: "leaked"}
	ts.ingest(t, revoked, usedEvent("tok-4", "alice", 0))
	waitForRule(t, ts.db, "tok-4", detect.RuleRevokedTokenUse)
}

// On a quiet server, a use waiting for its unknown_token verdict gets it
// ClockSkew after the held events were released. The earlier event of
// another token starts the record, so that the issuance could have been
// seen.
func TestDetectionSettlesWaitingWhenQuiet(t *testing.T) {
	cfg := detect.Config{
		ReorderWindow: shortWindow,
		ClockSkew:     shortWindow,
		Rules:         detect.Rules{UnknownToken: detect.UnknownToken{Issuers: []string{"https://idp"}}},
	}
	ts := startDetectionServer(t, filepath.Join(t.TempDir(), "server.db"), cfg, nil)
	used := usedEvent("tok-5", "alice", 0)
	used.Issuer, used.IssuedAt = "https://idp", used.Time
	ts.ingest(t, usedEvent("tok-0", "bob", -10), used)
	waitForRule(t, ts.db, "tok-5", detect.RuleUnknownToken)
}
