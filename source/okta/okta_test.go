package okta

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// Values of the synthetic testdata.
const (
	user          = "00u1f8exampleUser01"
	admin         = "00u1f8exampleAdmin1"
	client        = "0oa1f8exampleClient1"
	service       = "0oa1f8exampleService1"
	oktaSystem    = "0oa1f8exampleOktaSys"
	authServer    = "aus1f8exampleServer1"
	session       = "102Qx8ExampleSessionA1b2"
	firefox       = "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0"
	tokenPath     = "/oauth2/aus1f8exampleServer1/v1/token"
	tokenFileName = "oauth-token-events.jsonl"
)

var (
	lisbon    = audit.Geo{Country: "Portugal", City: "Lisbon", Latitude: 38.7223, Longitude: -9.1393, ASN: 64500, Org: "Example Telecom"}
	frankfurt = audit.Geo{Country: "Germany", City: "Frankfurt am Main", Latitude: 50.1109, Longitude: 8.6821, ASN: 64501, Org: "Example Hosting"}
	allScopes = []string{"openid", "profile", "offline_access", "expenses.read"}
)

// uuidOf returns the uuid of line n of the synthetic token log.
func uuidOf(n int) string {
	return fmt.Sprintf("5a1e0001-0000-4000-8000-%012d", n)
}

// TestTokenEvents checks every event of the synthetic OAuth token log.
func TestTokenEvents(t *testing.T) {
	const file = tokenFileName
	r := parseFile(t, "testdata/"+file)
	checkTotals(t, r, 20, 2, 0)
	at := func(line int) string { return source.Location(file, line) }

	t.Run("session start", func(t *testing.T) {
		checkEvents(t, r.eventsAt(file, 1), audit.Event{
			ID: audit.NewID("okta", uuidOf(1)), Time: mustTime(t, "2024-03-12T08:15:58.412Z"),
			Kind: audit.KindSession, Action: "user.session.start",
			Subject: user, SessionID: session,
			IP: netip.MustParseAddr("203.0.113.10"), UserAgent: firefox, Geo: lisbon,
			Path: "/idp/idx/identify", TraceID: "ZfAexampleTxn01", Reason: "SUCCESS", Source: at(1),
		})
	})

	t.Run("authorization code", func(t *testing.T) {
		checkEvents(t, r.eventsAt(file, 2), audit.Event{
			ID: audit.NewID("okta", uuidOf(2)), Time: mustTime(t, "2024-03-12T08:16:04.907Z"),
			Kind: audit.KindSession, Action: "app.oauth2.as.authorize.code",
			Issuer: authServer, Subject: user, ClientID: client, SessionID: session,
			IP: netip.MustParseAddr("203.0.113.10"), UserAgent: firefox, Geo: lisbon,
			Path: "/oauth2/aus1f8exampleServer1/v1/authorize", TraceID: "ZfAexampleTxn02", Reason: "SUCCESS", Source: at(2),
		})
	})

	t.Run("code grant", func(t *testing.T) {
		grant := func(line int, action, token, expires string) audit.Event {
			return audit.Event{
				ID: audit.NewID("okta", uuidOf(line), token), Time: mustTime(t, map[int]string{
					3: "2024-03-12T08:16:05.221Z", 4: "2024-03-12T08:16:05.224Z", 5: "2024-03-12T08:16:05.230Z"}[line]),
				Kind: audit.KindIssued, Action: action, TokenID: token,
				Issuer: authServer, Subject: user, ClientID: client, SessionID: session,
				Scopes: allScopes, ExpiresAt: mustTime(t, expires),
				IP: netip.MustParseAddr("203.0.113.10"), UserAgent: firefox, Geo: lisbon,
				Path: tokenPath, TraceID: "ZfAexampleTxn03", Source: at(line),
			}
		}
		checkEvents(t, r.eventsAt(file, 3), grant(3, "app.oauth2.as.token.grant.access_token", "AT.exampleAccess01", "2024-03-12T09:16:05Z"))
		checkEvents(t, r.eventsAt(file, 4), grant(4, "app.oauth2.as.token.grant.refresh_token", "RT.exampleRefresh01", "2024-03-19T08:16:05Z"))
		checkEvents(t, r.eventsAt(file, 5), grant(5, "app.oauth2.as.token.grant.id_token", "ID.exampleIdToken01", "2024-03-12T09:16:05Z"))
	})

	t.Run("refresh grant", func(t *testing.T) {
		ipv6 := netip.MustParseAddr("2001:db8:4::17")
		refreshed := func(line int, action, published string) audit.Event {
			return audit.Event{
				ID: audit.NewID("okta", "ZfAexampleTxn04", "RT.exampleRefresh01", "refreshed"), Time: mustTime(t, published),
				Kind: audit.KindRefreshed, Action: action, TokenID: "RT.exampleRefresh01",
				Issuer: authServer, Subject: user, ClientID: client, SessionID: session, Scopes: allScopes,
				IP: ipv6, UserAgent: firefox, Geo: lisbon, Path: tokenPath, TraceID: "ZfAexampleTxn04", Source: at(line),
			}
		}
		checkEvents(t, r.eventsAt(file, 6), audit.Event{
			ID: audit.NewID("okta", uuidOf(6), "AT.exampleAccess02"), Time: mustTime(t, "2024-03-12T09:20:11.005Z"),
			Kind: audit.KindIssued, Action: "app.oauth2.as.token.grant.access_token", TokenID: "AT.exampleAccess02",
			Issuer: authServer, Subject: user, ClientID: client, SessionID: session, ParentTokenID: "RT.exampleRefresh01",
			Scopes: allScopes, ExpiresAt: mustTime(t, "2024-03-12T10:20:11Z"),
			IP: ipv6, UserAgent: firefox, Geo: lisbon, Path: tokenPath, TraceID: "ZfAexampleTxn04", Source: at(6),
		}, refreshed(6, "app.oauth2.as.token.grant.access_token", "2024-03-12T09:20:11.005Z"))
		checkEvents(t, r.eventsAt(file, 7), audit.Event{
			ID: audit.NewID("okta", uuidOf(7), "RT.exampleRefresh02"), Time: mustTime(t, "2024-03-12T09:20:11.009Z"),
			Kind: audit.KindIssued, Action: "app.oauth2.as.token.grant.refresh_token", TokenID: "RT.exampleRefresh02",
			Issuer: authServer, Subject: user, ClientID: client, SessionID: session, ParentTokenID: "RT.exampleRefresh01",
			Scopes: allScopes, ExpiresAt: mustTime(t, "2024-03-19T09:20:11Z"),
			IP: ipv6, UserAgent: firefox, Geo: lisbon, Path: tokenPath, TraceID: "ZfAexampleTxn04", Source: at(7),
		}, refreshed(7, "app.oauth2.as.token.grant.refresh_token", "2024-03-12T09:20:11.009Z"))
	})

	t.Run("org server grant with placeholders", func(t *testing.T) {
		grant := func(token string) audit.Event {
			return audit.Event{
				ID: audit.NewID("okta", uuidOf(8), token), Time: mustTime(t, "2024-03-12T08:31:40Z"),
				Kind: audit.KindIssued, Action: "app.oauth2.token.grant.access_token", TokenID: token,
				Subject: user, ClientID: client, SessionID: "102RootSessionExample9",
				Scopes: []string{"openid", "offline_access", "okta.users.read.self"},
				IP:     netip.MustParseAddr("198.51.100.23"), Path: "/oauth2/v1/token", TraceID: "ZfAexampleTxn05", Source: at(8),
			}
		}
		checkEvents(t, r.eventsAt(file, 8), grant("AT.exampleAccess03"), grant("RT.exampleRefresh03"))
	})

	t.Run("refresh token not rotated", func(t *testing.T) {
		checkEvents(t, r.eventsAt(file, 9), audit.Event{
			ID: audit.NewID("okta", "ZfAexampleTxn06", "RT.exampleRefresh03", "refreshed"), Time: mustTime(t, "2024-03-12T09:45:00Z"),
			Kind: audit.KindRefreshed, Action: "app.oauth2.token.grant.refresh_token", TokenID: "RT.exampleRefresh03",
			Subject: user, ClientID: client, IP: netip.MustParseAddr("198.51.100.23"), UserAgent: firefox, Geo: lisbon,
			Path: "/oauth2/v1/token", TraceID: "ZfAexampleTxn06", Source: at(9),
		})
	})

	t.Run("client revokes", func(t *testing.T) {
		checkEvents(t, r.eventsAt(file, 10), audit.Event{
			ID: audit.NewID("okta", uuidOf(10), "RT.exampleRefresh02"), Time: mustTime(t, "2024-03-12T10:02:31.518Z"),
			Kind: audit.KindRevoked, Action: "app.oauth2.as.token.revoke", TokenID: "RT.exampleRefresh02",
			Issuer: authServer, ClientID: client, SessionID: session,
			IP: netip.MustParseAddr("203.0.113.10"), UserAgent: firefox, Geo: lisbon,
			Path: "/oauth2/aus1f8exampleServer1/v1/revoke", TraceID: "ZfAexampleTxn07",
			Actor: client, RevocationMethod: audit.RevokedByAPI, Source: at(10),
		})
	})

	t.Run("administrator revokes", func(t *testing.T) {
		checkEvents(t, r.eventsAt(file, 11), audit.Event{
			ID: audit.NewID("okta", uuidOf(11), "AT.exampleAccess02"), Time: mustTime(t, "2024-03-12T10:05:12.640Z"),
			Kind: audit.KindRevoked, Action: "app.oauth2.as.token.revoke", TokenID: "AT.exampleAccess02",
			Subject: user, SessionID: "102AdminSessionExample7",
			IP: netip.MustParseAddr("192.0.2.80"), UserAgent: firefox, Geo: lisbon,
			Path:    "/api/v1/users/00u1f8exampleUser01/clients/0oa1f8exampleClient1/tokens/AT.exampleAccess02",
			TraceID: "ZfAexampleTxn08", Actor: admin, Reason: "Revoked from the Admin Console",
			RevocationMethod: audit.RevokedByAdmin, Source: at(11),
		})
	})

	t.Run("reuse detected", func(t *testing.T) {
		checkEvents(t, r.eventsAt(file, 12), audit.Event{
			ID: audit.NewID("okta", uuidOf(12), "RT.exampleRefresh01"), Time: mustTime(t, "2024-03-12T10:11:47.093Z"),
			Kind: audit.KindRejected, Action: "app.oauth2.as.token.detect_reuse", TokenID: "RT.exampleRefresh01",
			Issuer: authServer, ClientID: client,
			IP: netip.MustParseAddr("198.51.100.200"), UserAgent: "python-requests/2.31.0", Geo: frankfurt,
			Path: tokenPath, TraceID: "ZfAexampleTxn09", Reason: "Refresh token reuse detected",
			RejectReason: audit.RejectReused, Source: at(12),
		})
	})

	t.Run("refused refresh grant", func(t *testing.T) {
		checkEvents(t, r.eventsAt(file, 13), audit.Event{
			ID: audit.NewID("okta", uuidOf(13), "RT.exampleRefresh01"), Time: mustTime(t, "2024-03-12T10:11:47.101Z"),
			Kind: audit.KindRejected, Action: "app.oauth2.as.token.grant", TokenID: "RT.exampleRefresh01",
			Issuer: authServer, ClientID: client, Scopes: []string{"offline_access", "expenses.read"},
			IP: netip.MustParseAddr("198.51.100.200"), UserAgent: "python-requests/2.31.0", Geo: frankfurt,
			Path: tokenPath, TraceID: "ZfAexampleTxn09", Reason: "The refresh token is invalid or expired.",
			RejectReason: audit.RejectInvalidGrant, Source: at(13),
		})
	})

	t.Run("refused code grant in a session", func(t *testing.T) {
		checkEvents(t, r.eventsAt(file, 14), audit.Event{
			ID: audit.NewID("okta", uuidOf(14)), Time: mustTime(t, "2024-03-12T10:30:02Z"),
			Kind: audit.KindSession, Action: "app.oauth2.as.token.grant",
			Issuer: authServer, ClientID: client, SessionID: session,
			IP: netip.MustParseAddr("203.0.113.10"), UserAgent: firefox, Geo: lisbon,
			Path: tokenPath, TraceID: "ZfAexampleTxn10",
			Reason: "FAILURE: The authorization code is invalid or has expired.", Source: at(14),
		})
	})

	t.Run("implicit revocation", func(t *testing.T) {
		checkEvents(t, r.eventsAt(file, 16), audit.Event{
			ID: audit.NewID("okta", uuidOf(16), "RT.exampleRefresh03"), Time: mustTime(t, "2024-03-12T10:40:00Z"),
			Kind: audit.KindRevoked, Action: "app.oauth2.token.revoke.implicit.user", TokenID: "RT.exampleRefresh03",
			Subject: user, IP: netip.MustParseAddr("192.0.2.80"), UserAgent: firefox, Geo: lisbon,
			TraceID: "ZfAexampleTxn12", Actor: oktaSystem, RevocationMethod: audit.RevokedByAutomated, Source: at(16),
		})
	})

	t.Run("client credentials", func(t *testing.T) {
		checkEvents(t, r.eventsAt(file, 18), audit.Event{
			ID: audit.NewID("okta", uuidOf(18), "AT.exampleService01"), Time: mustTime(t, "2024-03-12T10:45:30Z"),
			Kind: audit.KindIssued, Action: "app.oauth2.as.token.grant.access_token", TokenID: "AT.exampleService01",
			Issuer: authServer, Subject: service, ClientID: service, Scopes: []string{"reports.write"},
			ExpiresAt: mustTime(t, "2024-03-12T11:45:30Z"),
			IP:        netip.MustParseAddr("192.0.2.45"), UserAgent: "Go-http-client/2.0",
			Path: tokenPath, TraceID: "ZfAexampleTxn14", Source: at(18),
		})
	})

	t.Run("session end without zone", func(t *testing.T) {
		checkEvents(t, r.eventsAt(file, 19), audit.Event{
			ID: audit.NewID("okta", uuidOf(19)), Time: mustTime(t, "2024-03-12T11:00:00Z"),
			Kind: audit.KindSession, Action: "user.session.end", Subject: user, SessionID: session,
			IP: netip.MustParseAddr("203.0.113.10"), UserAgent: firefox, Geo: lisbon,
			Path: "/login/signout", TraceID: "ZfAexampleTxn15", Reason: "SUCCESS", Source: at(19),
		})
	})

	t.Run("skips", func(t *testing.T) {
		if got, want := r.skipAt(t, 15), "app.oauth2.token.grant: no token id in target and no session id"; got != want {
			t.Errorf("skip reason of line 15 = %q, want %q", got, want)
		}
		if got, want := r.skipAt(t, 17), "app.oauth2.as.consent.grant: not a token or session event"; got != want {
			t.Errorf("skip reason of line 17 = %q, want %q", got, want)
		}
	})
}

// TestCategorize checks the class of the event types that the package
// documentation lists.
func TestCategorize(t *testing.T) {
	tests := []struct {
		eventType string
		want      category
	}{
		{"app.oauth2.as.token.grant.access_token", categoryGrant},
		{"app.oauth2.as.token.grant.refresh_token", categoryGrant},
		{"app.oauth2.as.token.grant.id_token", categoryGrant},
		{"app.oauth2.as.token.grant", categoryGrant},
		{"app.oauth2.token.grant.access_token", categoryGrant},
		{"app.oauth2.token.grant", categoryGrant},
		{"app.oauth2.as.authorize.implicit.access_token", categoryGrant},
		{"app.oauth2.authorize.implicit.id_token", categoryGrant},
		{"app.oauth2.as.token.revoke", categoryRevoke},
		{"app.oauth2.token.revoke", categoryRevoke},
		{"app.oauth2.token.revoke.implicit.as", categoryRevoke},
		{"app.oauth2.token.revoke.implicit.client", categoryRevoke},
		{"app.oauth2.as.token.detect_reuse", categoryReuse},
		{"app.oauth2.token.detect_reuse", categoryReuse},
		{"app.oauth2.as.authorize.code", categorySession},
		{"app.oauth2.authorize.code", categorySession},
		{"app.oauth2.signon", categorySession},
		{"user.session.start", categorySession},
		{"user.session.end", categorySession},
		{"user.authentication.sso", categorySession},
		{"user.mfa.okta_verify.deny_push", categorySession},
		{"policy.evaluate_sign_on", categorySession},
		{"security.session.detect_client_roaming", categorySession},
		{"system.push.send_factor_verify_push", categorySession},
		{"app.oauth2.as.consent.grant", categoryOther},
		{"app.oauth2.as.consent.revoke", categoryOther},
		{"user.account.lock", categoryOther},
		{"user.lifecycle.create", categoryOther},
		{"policy.lifecycle.update", categoryOther},
		{"system.api_token.revoke", categoryOther},
	}
	for _, tc := range tests {
		if got := categorize(tc.eventType); got != tc.want {
			t.Errorf("categorize(%q) = %d, want %d", tc.eventType, got, tc.want)
		}
	}
}
