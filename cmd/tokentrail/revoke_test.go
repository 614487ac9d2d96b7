package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/httpmw"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

var revokeT0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// newRevokeStore returns the path of a store that holds the issued event of
// token jti-1 of alice, which expires an hour after revokeT0.
func newRevokeStore(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "events.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	issued := audit.Event{ID: "issued-1", Time: revokeT0, Kind: audit.KindIssued, TokenID: "jti-1", Subject: "alice",
		Issuer: "https://idp.example", ExpiresAt: revokeT0.Add(time.Hour)}
	if _, err := st.Append(context.Background(), []audit.Event{issued}); err != nil {
		tb.Fatal(err)
	}
	return path
}

// storedRevocations returns the revoked events that q selects.
func storedRevocations(tb testing.TB, db string, q store.Query) []audit.Event {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), db, sqlite.ReadOnly())
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	q.Kinds = []audit.Kind{audit.KindRevoked}
	events, err := st.Events(context.Background(), q)
	if err != nil {
		tb.Fatal(err)
	}
	return events
}

func TestRevokeToken(t *testing.T) {
	db := newRevokeStore(t)
	at := revokeT0.Add(10 * time.Minute).Format(time.RFC3339)

	stdout, _, err := run(t, "", "--db", db, "revoke", "--jti", "jti-1", "--actor", "oncall@example.com", "--reason", "leaked in a CI log", "--at", at)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	for _, want := range []string{
		"revoked token jti-1 as of 2026-11-20 09:10:00Z",
		"subject    alice",
		"by         oncall@example.com (admin): leaked in a CI log",
		"kept       by services until 2026-11-20 10:10:00Z",
		"within its interval plus one poll",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("revoke output lacks %q:\n%s", want, stdout)
		}
	}

	events := storedRevocations(t, db, store.Query{TokenID: "jti-1"})
	if len(events) != 1 {
		t.Fatalf("stored revocations of jti-1 = %d, want 1", len(events))
	}
	e := events[0]
	checks := []struct {
		field     string
		got, want any
	}{
		{"RevocationScope", e.RevocationScope, audit.RevokeToken},
		{"Actor", e.Actor, "oncall@example.com"},
		{"Reason", e.Reason, "leaked in a CI log"},
		{"RevocationMethod", e.RevocationMethod, audit.RevokedByAdmin},
		{"Subject", e.Subject, "alice"},
		{"Issuer", e.Issuer, "https://idp.example"},
		{"ExpiresAt", e.ExpiresAt, revokeT0.Add(time.Hour)},
		{"Time", e.Time, revokeT0.Add(10 * time.Minute)},
		{"Source", e.Source, "tokentrail revoke"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("stored revocation %s = %v, want %v", c.field, c.got, c.want)
		}
	}
}

// TestRevokeTwiceRecordsOnce runs the same revocation again, with the same
// --at and with a later one, and a narrower one that an earlier revocation
// covers: none is recorded.
func TestRevokeTwiceRecordsOnce(t *testing.T) {
	db := newRevokeStore(t)
	base := []string{"--db", db, "revoke", "--actor", "oncall", "--reason", "stolen laptop"}
	at := revokeT0.Format(time.RFC3339)
	later := revokeT0.Add(time.Hour).Format(time.RFC3339)

	first := []struct {
		name string
		args []string
	}{
		{"family", []string{"--family", "root-1", "--at", at}},
		{"session", []string{"--session", "sid-1", "--at", at}},
		{"subject", []string{"--subject", "mallory", "--issued-before", later, "--at", at, "--force"}},
		{"token", []string{"--jti", "jti-1", "--at", at}},
	}
	for _, r := range first {
		if stdout, _, err := run(t, "", append(base, r.args...)...); err != nil || !strings.HasPrefix(stdout, "revoked ") {
			t.Fatalf("first %s revoke = %v, output %q; want it recorded", r.name, err, stdout)
		}
	}

	again := []struct {
		name string
		args []string
	}{
		{"same --at", []string{"--jti", "jti-1", "--at", at}},
		{"later --at", []string{"--jti", "jti-1", "--at", later}},
		{"default --at", []string{"--session", "sid-1"}},
		{"family again", []string{"--family", "root-1"}},
		{"root token of a revoked family", []string{"--jti", "root-1"}},
		{"earlier not-before", []string{"--subject", "mallory", "--issued-before", at, "--at", later}},
		{"same not-before", []string{"--subject", "mallory", "--issued-before", later}},
	}
	for _, r := range again {
		t.Run(r.name, func(t *testing.T) {
			stdout, _, err := run(t, "", append(base, r.args...)...)
			if err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if !strings.Contains(stdout, "is already revoked") || !strings.Contains(stdout, "nothing was recorded") {
				t.Errorf("revoke output = %q, want it to name the earlier revocation and record nothing", stdout)
			}
		})
	}

	counts := []struct {
		query store.Query
		want  int
	}{
		{store.Query{TokenID: "jti-1"}, 1},
		{store.Query{TokenID: "root-1"}, 1},
		{store.Query{SessionID: "sid-1"}, 1},
		{store.Query{Subject: "mallory"}, 1},
	}
	for _, c := range counts {
		if got := storedRevocations(t, db, c.query); len(got) != c.want {
			t.Errorf("stored revocations for %+v = %d, want %d", c.query, len(got), c.want)
		}
	}

	// A later not-before revokes tokens the earlier one does not, so it
	// is recorded.
	latest := revokeT0.Add(2 * time.Hour).Format(time.RFC3339)
	stdout, _, err := run(t, "", append(base, "--subject", "mallory", "--issued-before", latest, "--at", latest)...)
	if err != nil || !strings.HasPrefix(stdout, "revoked subject mallory's tokens issued before 2026-11-20 11:00:00Z") {
		t.Errorf("revoke with a later not-before = %v, output %q; want it recorded", err, stdout)
	}
}

func TestRevokeBadFlags(t *testing.T) {
	db := newRevokeStore(t)
	rawToken := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
	actorAndReason := []string{"--actor", "oncall", "--reason", "test"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no target", actorAndReason, "missing target"},
		{"two targets", append([]string{"--jti", "a", "--subject", "b"}, actorAndReason...), "too many targets (--jti, --subject)"},
		{"no actor", []string{"--jti", "a", "--reason", "test"}, "missing --actor"},
		{"blank actor", []string{"--jti", "a", "--actor", " ", "--reason", "test"}, "missing --actor"},
		{"no reason", []string{"--jti", "a", "--actor", "oncall"}, "missing --reason"},
		{"unknown method", append([]string{"--jti", "a", "--method", "magic"}, actorAndReason...), `invalid --method "magic"`},
		{"empty method", append([]string{"--jti", "a", "--method", ""}, actorAndReason...), `invalid --method ""`},
		{"issued-before without subject", append([]string{"--jti", "a", "--issued-before", "2026-11-20T10:00:00Z"}, actorAndReason...), "--issued-before 2026-11-20T10:00:00Z needs --subject"},
		{"bad at", append([]string{"--jti", "a", "--at", "yesterday"}, actorAndReason...), `invalid --at "yesterday"`},
		{"bad issued-before", append([]string{"--subject", "a", "--issued-before", "10:00"}, actorAndReason...), `invalid --issued-before "10:00"`},
		{"issued-before after at", append([]string{"--subject", "a", "--issued-before", "2030-01-01T00:00:00Z", "--at", "2026-11-20T10:00:00Z"}, actorAndReason...), "is after --at 2026-11-20 10:00:00Z"},
		{"bad expires-at", append([]string{"--jti", "a", "--expires-at", "soon"}, actorAndReason...), `invalid --expires-at "soon"`},
		{"short fingerprint", append([]string{"--fingerprint", "abc"}, actorAndReason...), `invalid --fingerprint "abc": want 64 hex digits`},
		{"raw token as fingerprint", append([]string{"--fingerprint", rawToken}, actorAndReason...), "invalid --fingerprint: it is a raw token"},
		{"raw token as jti", append([]string{"--jti", rawToken}, actorAndReason...), "a raw JWT was given where an id belongs"},
		{"raw token as session", append([]string{"--session", rawToken}, actorAndReason...), "a raw JWT was given where an id belongs"},
		{"raw token in reason", []string{"--jti", "a", "--actor", "oncall", "--reason", "leaked " + rawToken}, "invalid --reason: it contains a raw JWT"},
		{"raw token in reason says jti", []string{"--jti", "a", "--actor", "oncall", "--reason", "leaked " + rawToken}, "write the token's jti instead"},
		{"raw token in actor", []string{"--jti", "a", "--actor", rawToken, "--reason", "test"}, "invalid --actor: it contains a raw JWT"},
		{"jti with leading space", append([]string{"--jti", " a"}, actorAndReason...), `invalid --jti " a": it has space at its start or end`},
		{"session with trailing newline", append([]string{"--session", "a\n"}, actorAndReason...), `invalid --session "a\n"`},
		{"subject with trailing space", append([]string{"--subject", "a "}, actorAndReason...), "remove the space, or pass --force"},
		{"raw token with space as jti", append([]string{"--jti", " " + rawToken}, actorAndReason...), "a raw JWT was given where an id belongs"},
		{"over-long subject", append([]string{"--subject", strings.Repeat("s", 9000)}, actorAndReason...), "invalid --subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, "", append([]string{"--db", db, "revoke"}, tt.args...)...)
			if err == nil {
				t.Fatalf("revoke %v = nil error, want %q", tt.args, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("revoke %v error = %q, want it to contain %q", tt.args, err, tt.want)
			}
			if strings.Contains(err.Error(), rawToken) {
				t.Errorf("revoke error = %q, want the raw token left out", err)
			}
		})
	}
	if got := storedRevocations(t, db, store.Query{TokenID: "a"}); len(got) != 0 {
		t.Errorf("stored revocations after bad flags = %d, want 0", len(got))
	}
}

func TestRevokeExpiredToken(t *testing.T) {
	db := newRevokeStore(t)
	at := revokeT0.Add(24 * time.Hour).Format(time.RFC3339)
	stdout, _, err := run(t, "", "--db", db, "revoke", "--jti", "jti-1", "--actor", "oncall", "--reason", "test", "--at", at)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if !strings.Contains(stdout, "kept       by no service: the tokens it covers expired at 2026-11-20 10:00:00Z") {
		t.Errorf("revoke of a token that expired a day ago = %q, want it to say services drop the entry", stdout)
	}
}

func TestRevokeFingerprint(t *testing.T) {
	db := newRevokeStore(t)
	fp := audit.Fingerprint("opaque-token-without-jti")
	stdout, _, err := run(t, "", "--db", db, "revoke", "--fingerprint", strings.ToUpper(fp), "--actor", "oncall", "--reason", "test")
	if err != nil {
		t.Fatalf("revoke --fingerprint in upper case: %v", err)
	}
	if !strings.HasPrefix(stdout, "revoked token with fingerprint "+fp) {
		t.Errorf("revoke output = %q, want the fingerprint in lower case", stdout)
	}
	events := storedRevocations(t, db, store.Query{Fingerprint: fp})
	if len(events) != 1 || events[0].Fingerprint != fp || events[0].TokenID != "" {
		t.Fatalf("stored revocations of the fingerprint = %+v, want one naming only the fingerprint", events)
	}
}

func TestRevokeLinkedFingerprintAndJTI(t *testing.T) {
	fp := audit.Fingerprint("token-of-jti-2")
	tests := []struct {
		name          string
		first, second []string
	}{
		{"jti then fingerprint", []string{"--jti", "jti-2"}, []string{"--fingerprint", fp}},
		{"fingerprint then jti", []string{"--fingerprint", fp}, []string{"--jti", "jti-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newRevokeStore(t)
			st, err := sqlite.Open(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			used := audit.Event{ID: "used-2", Time: revokeT0, Kind: audit.KindUsed, TokenID: "jti-2", Fingerprint: fp, Subject: "alice"}
			_, err = st.Append(context.Background(), []audit.Event{used})
			st.Close()
			if err != nil {
				t.Fatal(err)
			}

			base := []string{"--db", db, "revoke", "--actor", "oncall", "--reason", "leaked"}
			if stdout, _, err := run(t, "", append(base, tt.first...)...); err != nil || !strings.HasPrefix(stdout, "revoked ") {
				t.Fatalf("first revoke %v = %v, output %q; want it recorded", tt.first, err, stdout)
			}
			stdout, _, err := run(t, "", append(base, tt.second...)...)
			if err != nil {
				t.Fatalf("second revoke %v: %v", tt.second, err)
			}
			if !strings.Contains(stdout, "is already revoked") {
				t.Errorf("revoke %v after %v = %q, want it already revoked", tt.second, tt.first, stdout)
			}
			if n := len(storedRevocations(t, db, store.Query{Subject: "alice"})); n != 1 {
				t.Errorf("stored revocations of the token = %d, want 1", n)
			}
		})
	}
}

func TestRevokeNeedsExistingStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "missing.db")
	_, _, err := run(t, "", "--db", db, "revoke", "--jti", "a", "--actor", "oncall", "--reason", "test")
	if err == nil || !strings.Contains(err.Error(), "no store at "+db) {
		t.Errorf("revoke with a missing store = %v, want an error naming %s", err, db)
	}
}

func TestRevokeUnknownTokenWarns(t *testing.T) {
	db := newRevokeStore(t)
	stdout, _, err := run(t, "", "--db", db, "revoke", "--jti", "jti-typo", "--actor", "oncall", "--reason", "test")
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if !strings.Contains(stdout, "WARNING    no event of token jti-typo is stored") || !strings.Contains(stdout, "kept       for good") {
		t.Errorf("revoke of an unknown token output = %q, want a warning and no expiry", stdout)
	}
}

// service is a running API that enforces the revocations of a store: an
// httpmw middleware, and a revocation.Refresher with a short interval in a
// goroutine that the test owns.
type service struct {
	set *revocation.Set
	srv *httptest.Server
}

// refreshInterval is the service's poll interval. The designed bound of a
// revocation's propagation is this interval plus the duration of one poll.
const refreshInterval = 50 * time.Millisecond

func startService(t *testing.T, db string) *service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())

	// The service opens the store on its own, as another process would.
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	// It reads revocations through a read-only handle, as the docs
	// suggest for a service that only enforces them.
	readOnly, err := sqlite.Open(ctx, db, sqlite.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rec := recorder.New(st, recorder.Options{Logger: quiet})
	set := &revocation.Set{}
	refresher := revocation.NewRefresher(set, revocation.NewStoreSource(readOnly, 0), revocation.RefresherOptions{Interval: refreshInterval, Logger: quiet})
	if err := refresher.Refresh(ctx); err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- refresher.Run(ctx) }()

	mw, err := httpmw.New(httpmw.Options{Recorder: rec, Revocations: set, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "orders")
	})))

	t.Cleanup(func() {
		srv.Close()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Refresher.Run() = %v, want context.Canceled", err)
		}
		_ = rec.Close(context.Background()) // the test checks no recorded use
		_ = readOnly.Close()
		_ = st.Close()
	})
	return &service{set: set, srv: srv}
}

// get requests /orders with token and returns the status and the
// WWW-Authenticate header.
func (s *service) get(t *testing.T, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.srv.URL+"/orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // the body is not checked
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

// waitRevoked polls the service's Set until it revokes token. The deadline
// only guards against a hang: the designed bound is refreshInterval plus
// one poll, and the test does not measure it.
func (s *service) waitRevoked(t *testing.T, token revocation.Token) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if revoked, _ := s.set.Check(token); revoked {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service's Set does not revoke %+v 10 s after tokentrail revoke returned", token)
		}
		time.Sleep(refreshInterval / 5)
	}
}

func signToken(t *testing.T, jti, sub string) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{"jti": jti, "sub": sub, "iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()}
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("test key, not a secret"))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestRevokeReachesRunningService revokes a token and then a subject with
// the CLI while a service runs on the same SQLite file, and checks that the
// service rejects the revoked tokens with an RFC 6750 challenge and keeps
// serving the others.
func TestRevokeReachesRunningService(t *testing.T) {
	db := newRevokeStore(t)
	svc := startService(t, db)
	stolen := signToken(t, "jti-stolen", "alice")
	other := signToken(t, "jti-other", "bob")
	for _, token := range []string{stolen, other} {
		if status, _ := svc.get(t, token); status != http.StatusOK {
			t.Fatalf("GET before any revocation = %d, want 200", status)
		}
	}

	if _, _, err := run(t, "", "--db", db, "revoke", "--jti", "jti-stolen", "--actor", "oncall", "--reason", "phished"); err != nil {
		t.Fatalf("revoke --jti: %v", err)
	}
	svc.waitRevoked(t, revocation.Token{TokenID: "jti-stolen"})

	const challenge = `Bearer error="invalid_token", error_description="The access token has been revoked"`
	status, header := svc.get(t, stolen)
	if status != http.StatusUnauthorized || header != challenge {
		t.Errorf("GET with the revoked token = %d, WWW-Authenticate %q; want 401, %q", status, header, challenge)
	}
	if status, _ := svc.get(t, other); status != http.StatusOK {
		t.Errorf("GET with another token = %d, want 200", status)
	}

	// A subject revocation names no token: it reaches the service the
	// same way and revokes bob's tokens issued before it.
	if _, _, err := run(t, "", "--db", db, "revoke", "--subject", "bob", "--actor", "oncall", "--reason", "account taken over"); err != nil {
		t.Fatalf("revoke --subject: %v", err)
	}
	svc.waitRevoked(t, revocation.Token{TokenID: "jti-other", Subject: "bob", IssuedAt: time.Now().Add(-time.Minute)})
	if status, header := svc.get(t, other); status != http.StatusUnauthorized || header != challenge {
		t.Errorf("GET with bob's token after the subject revocation = %d, %q; want 401, %q", status, header, challenge)
	}
}

// newLineageStore returns the path of a store that holds the refresh
// lineage root-1, mid-1 minted from it, and leaf-1 minted from mid-1, all
// of alice in session sid-1.
func newLineageStore(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "events.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	issued := func(jti, parent string, minutes int) audit.Event {
		return audit.Event{ID: "issued-" + jti, Time: revokeT0.Add(time.Duration(minutes) * time.Minute), Kind: audit.KindIssued,
			TokenID: jti, ParentTokenID: parent, Subject: "alice", SessionID: "sid-1"}
	}
	events := []audit.Event{issued("root-1", "", 0), issued("mid-1", "root-1", 10), issued("leaf-1", "mid-1", 20)}
	if _, err := st.Append(context.Background(), events); err != nil {
		tb.Fatal(err)
	}
	return path
}

// TestRevokeUnknownTargetWarns revokes sessions, families and subjects
// that the store holds no event of, and ones it does: only the first get a
// warning that names the value and what to check. A subject that only
// earlier revocations name is still unknown.
func TestRevokeUnknownTargetWarns(t *testing.T) {
	db := newLineageStore(t)
	base := []string{"--db", db, "revoke", "--actor", "oncall", "--reason", "test", "--at", revokeT0.Add(time.Hour).Format(time.RFC3339)}
	if _, _, err := run(t, "", "--db", db, "revoke", "--actor", "oncall", "--reason", "test", "--subject", "ghost",
		"--at", revokeT0.Format(time.RFC3339)); err != nil {
		t.Fatalf("first revoke of ghost: %v", err)
	}

	tests := []struct {
		name    string
		args    []string
		warning string // empty for none
	}{
		{"unknown session", []string{"--session", "sid-typo"}, "WARNING    no event of session sid-typo is stored: check the value against the sid claim"},
		{"unknown family", []string{"--family", "root-typo"}, "WARNING    no event of token root-typo is stored, so no refresh family is known to start at it: check"},
		{"unknown subject", []string{"--subject", "alice-typo"}, "WARNING    no event of subject alice-typo is stored: check the value against the sub claim"},
		{"subject only revoked before", []string{"--subject", "ghost"}, "WARNING    no event of subject ghost is stored"},
		{"known session", []string{"--session", "sid-1"}, ""},
		{"known family", []string{"--family", "root-1"}, ""},
		{"known subject", []string{"--subject", "alice"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, _, err := run(t, "", append(base, tt.args...)...)
			if err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if !strings.HasPrefix(stdout, "revoked ") {
				t.Errorf("revoke output = %q, want the revocation recorded", stdout)
			}
			if tt.warning == "" && strings.Contains(stdout, "WARNING") {
				t.Errorf("revoke of a known target warns:\n%s", stdout)
			}
			if tt.warning != "" && !strings.Contains(stdout, tt.warning) {
				t.Errorf("revoke output lacks %q:\n%s", tt.warning, stdout)
			}
		})
	}
}

// TestRevokeFamilyNotRoot names a refresh family by a token minted from its
// root. Services name a family by its root, so revoke rejects it, names the
// root and records nothing, unless --force is given.
func TestRevokeFamilyNotRoot(t *testing.T) {
	db := newLineageStore(t)
	base := []string{"--db", db, "revoke", "--actor", "oncall", "--reason", "test"}

	for _, jti := range []string{"mid-1", "leaf-1"} {
		_, _, err := run(t, "", append(base, "--family", jti)...)
		if err == nil {
			t.Fatalf("revoke --family %s = nil error, want it rejected", jti)
		}
		for _, want := range []string{"invalid --family " + jti, "root-1", "--family root-1", "--force"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("revoke --family %s error = %q, want it to contain %q", jti, err, want)
			}
		}
		if got := storedRevocations(t, db, store.Query{TokenID: jti}); len(got) != 0 {
			t.Errorf("stored revocations of %s after the rejected revoke = %d, want 0", jti, len(got))
		}
	}

	stdout, _, err := run(t, "", append(base, "--family", "mid-1", "--force")...)
	if err != nil {
		t.Fatalf("revoke --family mid-1 --force: %v", err)
	}
	if !strings.Contains(stdout, "WARNING    token mid-1 is not the root of its refresh family, which starts at root-1") {
		t.Errorf("revoke --family mid-1 --force output lacks the warning:\n%s", stdout)
	}
	if got := storedRevocations(t, db, store.Query{TokenID: "mid-1"}); len(got) != 1 || got[0].RevocationScope != audit.RevokeFamily {
		t.Errorf("stored revocations of mid-1 after --force = %+v, want one family revocation", got)
	}
}

// TestRevokeQuotesValues revokes targets whose values hold control
// characters: the output quotes each, so that none reaches the terminal
// raw.
func TestRevokeQuotesValues(t *testing.T) {
	db := newRevokeStore(t)
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	evil := "mallory\n  subject    alice\x1b[2K"
	issued := audit.Event{ID: "issued-evil", Time: revokeT0, Kind: audit.KindIssued, TokenID: "jti-evil", Subject: evil}
	if _, err := st.Append(context.Background(), []audit.Event{issued}); err != nil {
		t.Fatal(err)
	}
	_ = st.Close() // only read from here on
	quoted := `"mallory\n  subject    alice\x1b[2K"`

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"subject", []string{"--subject", evil}, []string{"revoked subject " + quoted + "'s tokens"}},
		{"unknown subject", []string{"--subject", "eve\n", "--force"}, []string{`revoked subject "eve\n"'s tokens`, `WARNING    no event of subject "eve\n" is stored`}},
		{"session", []string{"--session", "sid\r1"}, []string{`revoked session "sid\r1" as of`}},
		{"token's stored subject", []string{"--jti", "jti-evil"}, []string{"  subject    " + quoted + "\n"}},
		{"actor and reason", []string{"--jti", "jti-1", "--actor", "on\x07call", "--reason", "bell\x07"}, []string{`by         "on\acall" (admin): "bell\a"`}},
		{"already revoked", []string{"--jti", "jti-1"}, []string{`by "on\acall" ("bell\a")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--db", db, "revoke", "--actor", "oncall", "--reason", "test"}, tt.args...)
			stdout, _, err := run(t, "", args...)
			if err != nil {
				t.Fatalf("revoke: %v", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(stdout, want) {
					t.Errorf("revoke output lacks %q:\n%s", want, stdout)
				}
			}
			if strings.ContainsAny(stdout, "\r\x07\x1b") || strings.Contains(stdout, "mallory\n") {
				t.Errorf("revoke output holds a raw control character: %q", stdout)
			}
		})
	}
}

// TestRevokeAcceptsReportTimes passes --at, --issued-before and
// --expires-at in the layout that reports print, as incident --at accepts.
func TestRevokeAcceptsReportTimes(t *testing.T) {
	db := newRevokeStore(t)
	stdout, _, err := run(t, "", "--db", db, "revoke", "--subject", "alice", "--actor", "oncall", "--reason", "test",
		"--at", "2026-11-20 10:00:00Z", "--issued-before", "2026-11-20 09:30:00Z", "--expires-at", "2026-11-20 11:00:00Z")
	if err != nil {
		t.Fatalf("revoke with report times: %v", err)
	}
	if !strings.HasPrefix(stdout, "revoked subject alice's tokens issued before 2026-11-20 09:30:00Z as of 2026-11-20 10:00:00Z") {
		t.Errorf("revoke output = %q, want the times as given", stdout)
	}
	events := storedRevocations(t, db, store.Query{Subject: "alice"})
	if len(events) != 1 || !events[0].ExpiresAt.Equal(time.Date(2026, 11, 20, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("stored revocations = %+v, want one that expires at 11:00", events)
	}

	_, _, err = run(t, "", "--db", db, "revoke", "--jti", "jti-1", "--actor", "oncall", "--reason", "test", "--at", "yesterday")
	want := `invalid --at "yesterday": want an RFC 3339 time such as 2026-11-20T10:00:00Z, or 2026-11-20 10:00:00Z as reports print it`
	if err == nil || err.Error() != want {
		t.Errorf("revoke --at yesterday = %v, want %q", err, want)
	}
}

// TestRevokeForceKeepsSpace records a jti with a leading space when
// --force is given, as the error about the space offers.
func TestRevokeForceKeepsSpace(t *testing.T) {
	db := newRevokeStore(t)
	stdout, _, err := run(t, "", "--db", db, "revoke", "--jti", " jti-1", "--force", "--actor", "oncall", "--reason", "test")
	if err != nil {
		t.Fatalf("revoke --force: %v", err)
	}
	if !strings.Contains(stdout, `revoked token " jti-1"`) {
		t.Errorf("revoke output lacks the quoted jti:\n%s", stdout)
	}
	if got := storedRevocations(t, db, store.Query{TokenID: " jti-1"}); len(got) != 1 {
		t.Errorf("stored revocations of %q = %d, want 1", " jti-1", len(got))
	}
}
