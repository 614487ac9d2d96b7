package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// The clients of the tests. The addresses are public-looking, because the
// detection rules skip the documentation ranges for some verdicts.
const (
	victimIP         = "81.2.69.142"
	victimUA         = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	attackIP         = "45.33.32.156"
	attackUA         = "curl/8.5.0"
	revokedChallenge = `Bearer error="invalid_token", error_description="The access token has been revoked"`
)

// hangGuard bounds every wait for something asynchronous (a flush, a poll
// of the store), only so that a broken build fails instead of hanging. No
// test asserts on how long a wait took.
const hangGuard = 20 * time.Second

// cliPath is the tokentrail CLI that TestMain builds. It is empty under -short.
var cliPath string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if !testing.Short() {
		dir, err := os.MkdirTemp("", "tokenservice-cli")
		if err != nil {
			fmt.Fprintln(os.Stderr, "create a folder for the CLI:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		cliPath = filepath.Join(dir, "tokentrail")
		build := exec.Command("go", "build", "-o", cliPath, "github.com/tokentrail/tokentrail/cmd/tokentrail")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build the tokentrail CLI: %v\n%s", err, out)
			return 1
		}
	}
	return m.Run()
}

// TestIncidentReplayRevoke plays the incident of README.md over real HTTP.
// A user signs in and works from network A, and a copy of the access token
// is replayed with curl from network B while the user goes on. Detection
// flags the token, and the responder investigates and revokes it with the
// CLI. The revoked token then gets 401 while the user's next token works.
func TestIncidentReplayRevoke(t *testing.T) {
	if cliPath == "" {
		t.Skip("runs the tokentrail CLI, which -short does not build")
	}
	svc := startService(t)

	// Normal use from network A, and the replay from network B in between.
	pair := svc.login(t, "alice", "wonderland", victimIP, victimUA)
	jti := tokenID(t, pair.AccessToken)
	for _, c := range []struct{ ip, ua string }{
		{victimIP, victimUA}, {attackIP, attackUA}, {victimIP, victimUA}, {attackIP, attackUA},
	} {
		if status, _, _ := svc.get(t, "/api/orders", pair.AccessToken, c.ip, c.ua); status != http.StatusOK {
			t.Fatalf("GET /api/orders from %s before the revocation = %d, want 200", c.ip, status)
		}
	}

	// Detection runs on each batch the recorder writes.
	var found []audit.Anomaly
	waitFor(t, "an anomaly of the replayed token", func() bool {
		out := svc.cli(t, "anomalies", "--json", "--token", jti)
		found = nil
		if err := json.Unmarshal([]byte(out), &found); err != nil {
			t.Fatalf("tokentrail anomalies --json: %v\n%s", err, redacted(out))
		}
		return hasRule(found, "concurrent_use") && hasRule(found, "user_agent_change")
	})
	for _, a := range found {
		if a.TokenID != jti || a.Subject != "alice" {
			t.Errorf("anomaly %s names token %s of %q, want %s of alice", a.Rule, a.TokenID, a.Subject, jti)
		}
		// The change of client is proven by the replay's own request.
		if a.Rule == "user_agent_change" && a.IP.String() != attackIP {
			t.Errorf("user_agent_change names address %s, want the replay's %s", a.IP, attackIP)
		}
	}

	// The investigation shows both networks and that the token is active.
	var report forensics.TokenReport
	out := svc.cli(t, "investigate", "--json", jti)
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("tokentrail investigate --json: %v\n%s", err, out)
	}
	if report.Status != forensics.StatusActive {
		t.Errorf("investigate status before the revocation = %s, want active", report.Status)
	}
	networks := counted(report.Usage.Networks)
	if !slices.Contains(networks, "45.33.32.0/24") || !slices.Contains(networks, "81.2.69.0/24") {
		t.Errorf("investigate networks = %v, want 45.33.32.0/24 and 81.2.69.0/24", networks)
	}
	if report.Created == nil || report.Created.IP.String() != victimIP {
		t.Errorf("investigate creation = %+v, want issued to %s", report.Created, victimIP)
	}

	// tokentrail incident names the replayed token and the network of the
	// replay, and its plan revokes the token.
	out = svc.cli(t, "incident", "--subject", "alice", "--at", found[0].Time.Format(time.RFC3339), "--window", "1h",
		"--actor", "oncall@example.com", "--format", "json")
	var incident forensics.IncidentReport
	if err := json.Unmarshal([]byte(out), &incident); err != nil {
		t.Fatalf("tokentrail incident --format json printed %q: %v", out, err)
	}
	if !slices.ContainsFunc(incident.Suspicious.Tokens, func(s forensics.SuspiciousToken) bool { return s.TokenID == jti }) {
		t.Errorf("incident suspicious tokens = %+v, want %s", incident.Suspicious.Tokens, jti)
	}
	var suspiciousNetworks []string
	for _, n := range incident.Suspicious.Networks {
		suspiciousNetworks = append(suspiciousNetworks, n.Network)
	}
	if !slices.Contains(suspiciousNetworks, "45.33.32.0/24") || slices.Contains(suspiciousNetworks, "81.2.69.0/24") {
		t.Errorf("incident suspicious networks = %v, want 45.33.32.0/24 and not the owner's 81.2.69.0/24", suspiciousNetworks)
	}
	revokeStep := slices.IndexFunc(incident.Plan, func(step forensics.RemediationStep) bool {
		return step.Action == forensics.ActionRevokeToken && slices.Contains(step.Targets, jti)
	})
	if revokeStep < 0 {
		t.Fatalf("incident plan = %+v, want a %s step for %s", incident.Plan, forensics.ActionRevokeToken, jti)
	}
	if cmd := incident.Plan[revokeStep].Command; !strings.Contains(cmd, "revoke") || !strings.Contains(cmd, jti) {
		t.Errorf("incident plan command = %q, want a tokentrail revoke of %s", cmd, jti)
	}

	out = svc.cli(t, "revoke", "--jti", jti, "--actor", "oncall@example.com", "--reason", "replayed from "+attackIP)
	if !strings.Contains(out, "revoked token "+jti) {
		t.Fatalf("tokentrail revoke printed %q, want it to name the revoked token %s", out, jti)
	}

	// The service's refresher reads the revocation from the store.
	var header http.Header
	waitFor(t, "the revoked token to get 401", func() bool {
		var status int
		status, header, _ = svc.get(t, "/api/orders", pair.AccessToken, attackIP, attackUA)
		return status == http.StatusUnauthorized
	})
	if got := header.Get("WWW-Authenticate"); got != revokedChallenge {
		t.Errorf("WWW-Authenticate of the revoked token = %q, want %q", got, revokedChallenge)
	}
	if status, _, _ := svc.get(t, "/api/orders", pair.AccessToken, victimIP, victimUA); status != http.StatusUnauthorized {
		t.Errorf("GET /api/orders with the revoked token from the owner's network = %d, want 401", status)
	}

	// The user's refresh token was not revoked: it still gets a new pair.
	next := svc.refresh(t, pair.RefreshToken, victimIP, victimUA)
	if status, _, body := svc.get(t, "/api/orders", next.AccessToken, victimIP, victimUA); status != http.StatusOK {
		t.Errorf("GET /api/orders with the refreshed token = %d (%s), want 200", status, redacted(body))
	}

	// The trail holds the rejection of the revoked token.
	out = svc.cli(t, "investigate", "--json", jti)
	report = forensics.TokenReport{}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("tokentrail investigate --json after the revocation: %v\n%s", err, out)
	}
	if report.Status != forensics.StatusRevoked {
		t.Errorf("investigate status after the revocation = %s, want revoked", report.Status)
	}
	waitFor(t, "the rejection of the revoked token to be stored", func() bool {
		events := svc.events(t, store.Query{TokenID: jti, Kinds: []audit.Kind{audit.KindRejected}})
		return slices.ContainsFunc(events, func(e audit.Event) bool { return e.RejectReason == audit.RejectRevoked })
	})

	svc.stop(t)
	svc.assertNoRawTokens(t, pair.AccessToken, pair.RefreshToken, next.AccessToken, next.RefreshToken)
}

// TestRefreshReuseRevokesFamily checks refresh-token rotation: a redeemed
// refresh token presented again is rejected as reused, and every token of
// its family stops working.
func TestRefreshReuseRevokesFamily(t *testing.T) {
	svc := startService(t)
	first := svc.login(t, "alice", "wonderland", victimIP, victimUA)
	second := svc.refresh(t, first.RefreshToken, victimIP, victimUA)
	if status, _, _ := svc.get(t, "/api/orders", second.AccessToken, victimIP, victimUA); status != http.StatusOK {
		t.Fatalf("GET /api/orders with the rotated token = %d, want 200", status)
	}

	status, body := svc.postForm(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}}, attackIP, attackUA)
	if status != http.StatusBadRequest || !strings.Contains(body, `"invalid_grant"`) {
		t.Fatalf("reuse of a redeemed refresh token = %d %s, want 400 invalid_grant", status, redacted(body))
	}

	// The family revocation is applied at once by the service that decided it.
	if status, header, _ := svc.get(t, "/api/orders", second.AccessToken, victimIP, victimUA); status != http.StatusUnauthorized {
		t.Errorf("GET /api/orders with a token of the revoked family = %d, want 401", status)
	} else if got := header.Get("WWW-Authenticate"); got != revokedChallenge {
		t.Errorf("WWW-Authenticate in the revoked family = %q, want %q", got, revokedChallenge)
	}
	status, body = svc.postForm(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.RefreshToken}}, victimIP, victimUA)
	if status != http.StatusBadRequest {
		t.Errorf("refresh with the newest token of the revoked family = %d %s, want 400", status, redacted(body))
	}

	reused := tokenID(t, first.RefreshToken)
	waitFor(t, "refresh_token_reuse on the reused token", func() bool {
		list, err := svc.store(t).Anomalies(context.Background(), store.AnomalyQuery{TokenID: reused, Rules: []string{"refresh_token_reuse"}})
		if err != nil {
			t.Fatalf("read anomalies: %v", err)
		}
		return len(list) > 0
	})
	revoked := svc.events(t, store.Query{TokenID: reused, Kinds: []audit.Kind{audit.KindRevoked}})
	if len(revoked) != 1 || revoked[0].RevocationScope != audit.RevokeFamily || revoked[0].RevocationMethod != audit.RevokedByAutomated {
		t.Errorf("revoked events of the family root %s = %+v, want one automated family revocation", reused, revoked)
	}
	if lineage := svc.events(t, store.Query{ParentTokenID: reused, Kinds: []audit.Kind{audit.KindIssued}}); len(lineage) != 2 {
		t.Errorf("tokens issued from refresh token %s = %d, want 2 (access and refresh)", reused, len(lineage))
	}
}

// TestLogoutRevokesSession checks that POST /logout revokes every token of
// the session and records it with method logout.
func TestLogoutRevokesSession(t *testing.T) {
	svc := startService(t)
	pair := svc.login(t, "bob", "builder", victimIP, victimUA)
	other := svc.login(t, "bob", "builder", victimIP, victimUA) // another session of the same user

	req := svc.request(t, http.MethodPost, "/logout", nil, pair.AccessToken, victimIP, victimUA)
	if status, _, body := svc.do(t, req); status != http.StatusNoContent {
		t.Fatalf("POST /logout = %d (%s), want 204", status, redacted(body))
	}
	if status, _, _ := svc.get(t, "/api/orders", pair.AccessToken, victimIP, victimUA); status != http.StatusUnauthorized {
		t.Errorf("GET /api/orders after logout = %d, want 401", status)
	}
	if status, body := svc.postForm(t, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pair.RefreshToken}}, victimIP, victimUA); status != http.StatusBadRequest {
		t.Errorf("refresh after logout = %d %s, want 400", status, redacted(body))
	}
	if status, _, _ := svc.get(t, "/api/orders", other.AccessToken, victimIP, victimUA); status != http.StatusOK {
		t.Errorf("GET /api/orders in another session after logout = %d, want 200", status)
	}

	claims := parseUnverified(t, pair.AccessToken)
	waitFor(t, "the logout's revocation to be stored", func() bool {
		return len(svc.events(t, store.Query{SessionID: claims.SessionID, Kinds: []audit.Kind{audit.KindRevoked}})) > 0
	})
	e := svc.events(t, store.Query{SessionID: claims.SessionID, Kinds: []audit.Kind{audit.KindRevoked}})[0]
	if e.RevocationScope != audit.RevokeSession || e.RevocationMethod != audit.RevokedByLogout || e.Actor != "bob" {
		t.Errorf("logout revocation = scope %q method %q actor %q, want session, logout, bob", e.RevocationScope, e.RevocationMethod, e.Actor)
	}
}

// TestTokenEndpointRejects checks the error responses of POST /token and of
// the API for tokens used in the wrong place.
func TestTokenEndpointRejects(t *testing.T) {
	svc := startService(t)
	pair := svc.login(t, "alice", "wonderland", victimIP, victimUA)

	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantError  string
	}{
		{"wrong password", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"guess"}}, 400, "invalid_grant"},
		{"unknown user", url.Values{"grant_type": {"password"}, "username": {"mallory"}, "password": {"x"}}, 400, "invalid_grant"},
		{"unknown client", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wonderland"}, "client_id": {"nope"}}, 401, "invalid_client"},
		{"scope not allowed", url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"builder"}, "scope": {"orders:write"}}, 400, "invalid_scope"},
		{"missing grant type", url.Values{"username": {"alice"}}, 400, "invalid_request"},
		{"unsupported grant type", url.Values{"grant_type": {"implicit"}}, 400, "unsupported_grant_type"},
		{"wrong client secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {"reports"}, "client_secret": {"guess"}}, 401, "invalid_client"},
		{"public client credentials", url.Values{"grant_type": {"client_credentials"}, "client_id": {"web"}}, 401, "invalid_client"},
		{"missing refresh token", url.Values{"grant_type": {"refresh_token"}}, 400, "invalid_request"},
		{"access token as refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pair.AccessToken}}, 400, "invalid_grant"},
		{"garbage refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"not-a-jwt"}}, 400, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := svc.postForm(t, "/token", tt.form, victimIP, victimUA)
			var resp struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &resp); err != nil {
				t.Fatalf("POST /token body %q: %v", redacted(body), err)
			}
			if status != tt.wantStatus || resp.Error != tt.wantError {
				t.Errorf("POST /token = %d %s, want %d %s", status, resp.Error, tt.wantStatus, tt.wantError)
			}
		})
	}

	t.Run("client credentials", func(t *testing.T) {
		status, body := svc.postForm(t, "/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"reports"}, "client_secret": {"reports-secret"}}, victimIP, "reports/1.0")
		var resp tokenResponse
		if err := json.Unmarshal([]byte(body), &resp); err != nil || status != http.StatusOK {
			t.Fatalf("client credentials = %d %s (%v), want 200", status, redacted(body), err)
		}
		if resp.RefreshToken != "" {
			t.Errorf("client credentials returned a refresh token, want none")
		}
		if status, _, _ := svc.get(t, "/api/orders", resp.AccessToken, victimIP, "reports/1.0"); status != http.StatusOK {
			t.Errorf("GET /api/orders with a client token = %d, want 200", status)
		}
	})

	t.Run("refresh token at the API", func(t *testing.T) {
		status, header, _ := svc.get(t, "/api/orders", pair.RefreshToken, victimIP, victimUA)
		if status != http.StatusUnauthorized || !strings.Contains(header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("GET /api/orders with a refresh token = %d %q, want 401 invalid_token", status, header.Get("WWW-Authenticate"))
		}
	})

	t.Run("missing token", func(t *testing.T) {
		status, header, _ := svc.get(t, "/api/orders", "", victimIP, victimUA)
		if status != http.StatusUnauthorized || header.Get("WWW-Authenticate") != `Bearer realm="tokenservice"` {
			t.Errorf("GET /api/orders without a token = %d %q, want 401 with a bare Bearer challenge", status, header.Get("WWW-Authenticate"))
		}
	})

	t.Run("insufficient scope", func(t *testing.T) {
		bob := svc.login(t, "bob", "builder", victimIP, victimUA)
		req := svc.request(t, http.MethodPost, "/api/orders", nil, bob.AccessToken, victimIP, victimUA)
		status, header, _ := svc.do(t, req)
		if status != http.StatusForbidden || !strings.Contains(header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Errorf("POST /api/orders with orders:read only = %d %q, want 403 insufficient_scope", status, header.Get("WWW-Authenticate"))
		}
	})
}

// testService is a tokenservice running in the test's process on a random
// loopback port, with its trail in a file of t.TempDir().
type testService struct {
	base   string
	dbPath string
	logs   *syncBuffer
	client *http.Client

	cancel  context.CancelFunc
	done    chan error
	stopped bool

	readOnce sync.Once
	readDB   *sqlite.Store
}

func startService(t *testing.T) *testService {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	svc := &testService{
		base:   "http://" + ln.Addr().String(),
		dbPath: filepath.Join(t.TempDir(), "trail.db"),
		logs:   &syncBuffer{},
		client: &http.Client{Timeout: hangGuard},
		done:   make(chan error, 1),
	}
	cfg := config{
		dbPath:             svc.dbPath,
		trustedProxies:     mustParseProxies(t),
		revocationInterval: 50 * time.Millisecond,
		flushInterval:      50 * time.Millisecond,
		logger:             slog.New(slog.NewTextHandler(svc.logs, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc.cancel = cancel
	go func() { svc.done <- run(ctx, cfg, ln) }()
	t.Cleanup(func() {
		svc.stop(t)
		if svc.readDB != nil {
			svc.readDB.Close()
		}
	})
	return svc
}

func mustParseProxies(t *testing.T) []netip.Prefix {
	t.Helper()
	cfg, err := parseFlags(nil)
	if err != nil {
		t.Fatalf("parse the default flags: %v", err)
	}
	return cfg.trustedProxies
}

// stop shuts the service down and fails the test if run returned an error.
func (s *testService) stop(t *testing.T) {
	t.Helper()
	if s.stopped {
		return
	}
	s.stopped = true
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("run = %v, want nil after the context ended", err)
		}
	case <-time.After(hangGuard):
		t.Errorf("run did not return within %s of the context's end", hangGuard)
	}
}

// store returns a read-only handle on the service's trail.
func (s *testService) store(t *testing.T) *sqlite.Store {
	t.Helper()
	s.readOnce.Do(func() {
		db, err := sqlite.Open(context.Background(), s.dbPath, sqlite.ReadOnly())
		if err != nil {
			t.Fatalf("open the trail read-only: %v", err)
		}
		s.readDB = db
	})
	return s.readDB
}

func (s *testService) events(t *testing.T, q store.Query) []audit.Event {
	t.Helper()
	events, err := s.store(t).Events(context.Background(), q)
	if err != nil {
		t.Fatalf("read events %+v: %v", q, err)
	}
	return events
}

// cli runs the tokentrail CLI on the service's trail and returns its
// standard output.
func (s *testService) cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(cliPath, append([]string{"--db", s.dbPath}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tokentrail %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

func (s *testService) request(t *testing.T, method, path string, body io.Reader, token, ip, ua string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, path, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("X-Forwarded-For", ip) // the service trusts loopback as its proxy
	req.Header.Set("User-Agent", ua)
	return req
}

func (s *testService) do(t *testing.T, req *http.Request) (int, http.Header, string) {
	t.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the body of %s %s: %v", req.Method, req.URL.Path, err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

func (s *testService) get(t *testing.T, path, token, ip, ua string) (int, http.Header, string) {
	t.Helper()
	return s.do(t, s.request(t, http.MethodGet, path, nil, token, ip, ua))
}

func (s *testService) postForm(t *testing.T, path string, form url.Values, ip, ua string) (int, string) {
	t.Helper()
	req := s.request(t, http.MethodPost, path, strings.NewReader(form.Encode()), "", ip, ua)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, _, body := s.do(t, req)
	return status, body
}

func (s *testService) login(t *testing.T, user, password, ip, ua string) tokenResponse {
	t.Helper()
	return s.grant(t, url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}, ip, ua)
}

func (s *testService) refresh(t *testing.T, refreshToken, ip, ua string) tokenResponse {
	t.Helper()
	return s.grant(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}, ip, ua)
}

func (s *testService) grant(t *testing.T, form url.Values, ip, ua string) tokenResponse {
	t.Helper()
	status, body := s.postForm(t, "/token", form, ip, ua)
	if status != http.StatusOK {
		t.Fatalf("POST /token grant_type=%s = %d %s, want 200", form.Get("grant_type"), status, redacted(body))
	}
	var resp tokenResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("decode the token response: %v", err)
	}
	if resp.AccessToken == "" || resp.RefreshToken == "" {
		t.Fatalf("POST /token grant_type=%s returned no access or refresh token", form.Get("grant_type"))
	}
	return resp
}

// assertNoRawTokens checks that no token reached the trail's files or the
// service's log. Call it after stop, when the files are complete.
func (s *testService) assertNoRawTokens(t *testing.T, tokens ...string) {
	t.Helper()
	files, err := filepath.Glob(s.dbPath + "*")
	if err != nil || len(files) == 0 {
		t.Fatalf("find the trail's files: %v, %d found", err, len(files))
	}
	for _, tok := range tokens {
		// The signature is the part that only the token holder has.
		sig := tok[strings.LastIndex(tok, ".")+1:]
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatalf("read %s: %v", f, err)
			}
			if bytes.Contains(data, []byte(sig)) {
				t.Errorf("%s contains a token's signature", filepath.Base(f))
			}
		}
		if strings.Contains(s.logs.String(), sig) {
			t.Errorf("the service's log contains a token's signature")
		}
	}
}

// waitFor polls cond until it is true. The hangGuard deadline only stops a hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func parseUnverified(t *testing.T, token string) *tokenClaims {
	t.Helper()
	claims := &tokenClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		t.Fatalf("read the claims of a token: %v", err)
	}
	return claims
}

func tokenID(t *testing.T, token string) string {
	t.Helper()
	id := parseUnverified(t, token).ID
	if id == "" {
		t.Fatal("the token has no jti")
	}
	return id
}

func hasRule(list []audit.Anomaly, rule string) bool {
	return slices.ContainsFunc(list, func(a audit.Anomaly) bool { return a.Rule == rule })
}

func counted(list []forensics.Count) []string {
	var values []string
	for _, c := range list {
		values = append(values, c.Value)
	}
	return values
}

// syncBuffer is a bytes.Buffer that the service's log handler and the test
// may use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// redacted returns body with its tokens replaced, for failure messages:
// tests print no token either.
func redacted(body string) string { return audit.RedactTokens(body) }
