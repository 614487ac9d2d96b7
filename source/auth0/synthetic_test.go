package auth0

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
)

// The identities of the synthetic testdata; see testdata/README.md.
const (
	host       = "login.example.com"
	issuer     = "https://login.example.com/"
	alice      = "auth0|65e1a7c0ffee00000000a001"
	session    = "Kq3vT9xYbL2mN8pR4sW6uZ0aC5dE7fGh"
	shop       = "Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA"
	backOffice = "Mm2Mc1i3ntIdF0rBackOfficeJob0001"
	firefox    = "Mozilla/5.0 (X11; Linux x86_64; rv:135.0) Gecko/20100101 Firefox/135.0"
	shopApp    = "ExampleShop/4.2 (Android 14)"
	attacker   = "python-requests/2.32.3"
	apiToken   = "5b7e2c9a41d34f0e8a6b1c2d3e4f5a6b"
)

var (
	shopAudience = []string{"https://api.example.com/"}
	shopScopes   = []string{"openid", "profile", "offline_access", "read:orders"}
	berlin       = audit.Geo{Country: "DE", City: "Berlin", Latitude: 52.52, Longitude: 13.405}
)

// apiLogID returns the log_id of record n of management-api-logs.json.
func apiLogID(n int) string {
	return fmt.Sprintf("900202503011015%041d", n)
}

// TestManagementAPILogs reads a pretty-printed array of logs, as GET
// /api/v2/logs returns it. It holds one user's session from login to logout,
// with a code exchange, two refreshes, the reuse of a rotated refresh token
// and the revocation that follows. A machine client calls the Management
// API.
func TestManagementAPILogs(t *testing.T) {
	const file = "management-api-logs.json"
	text := readFile(t, "testdata/"+file)
	r := parseText(t, file, text)

	checkTotals(t, r, 14, 3, 0)

	// at returns the Source of record n.
	at := func(n int) string {
		return file + ":" + strconv.Itoa(recordLine(t, text, apiLogID(n)))
	}
	id := func(n int) string { return audit.NewID("auth0", apiLogID(n)) }

	t.Run("login", func(t *testing.T) {
		checkEvent(t, r.eventByID(t, id(1)), audit.Event{
			ID:        id(1),
			Time:      mustTime(t, "2025-03-01T10:15:00.120Z"),
			Kind:      audit.KindSession,
			Action:    "s",
			Issuer:    issuer,
			Subject:   alice,
			ClientID:  shop,
			SessionID: session,
			IP:        netip.MustParseAddr("203.0.113.10"),
			UserAgent: firefox,
			Geo:       berlin,
			Reason:    "login succeeded",
			Source:    at(1),
		})
	})

	t.Run("code exchange", func(t *testing.T) {
		checkEvent(t, r.eventByID(t, id(3)), audit.Event{
			ID:        id(3),
			Time:      mustTime(t, "2025-03-01T10:15:01.002Z"),
			Kind:      audit.KindIssued,
			Action:    "seacft",
			TokenID:   "auth0:" + apiLogID(3),
			Issuer:    issuer,
			Subject:   alice,
			Audience:  shopAudience,
			ClientID:  shop,
			Scopes:    shopScopes,
			IP:        netip.MustParseAddr("203.0.113.10"),
			UserAgent: "node-fetch/1.0",
			Source:    at(3),
		})
	})

	t.Run("refresh naming the access token", func(t *testing.T) {
		refreshed := audit.Event{
			ID:        id(4),
			Time:      mustTime(t, "2025-03-01T11:15:03.250Z"),
			Kind:      audit.KindRefreshed,
			Action:    "sertft",
			TokenID:   "auth0:" + apiLogID(4),
			Issuer:    issuer,
			Subject:   alice,
			Audience:  shopAudience,
			ClientID:  shop,
			SessionID: session,
			Scopes:    shopScopes,
			IP:        netip.MustParseAddr("203.0.113.10"),
			UserAgent: firefox,
			Geo:       berlin,
			Source:    at(4),
		}
		checkEvent(t, r.eventByID(t, id(4)), refreshed)

		issued := refreshed
		issued.ID = audit.NewID("auth0", apiLogID(4), "access_token")
		issued.Kind = audit.KindIssued
		issued.TokenID = "c0ffee00-1111-4a2b-8c3d-000000000001"
		issued.ParentTokenID = "auth0:" + apiLogID(4)
		checkEvent(t, r.eventByID(t, issued.ID), issued)
	})

	t.Run("refresh from a mapped address without location", func(t *testing.T) {
		checkEvent(t, r.eventByID(t, id(5)), audit.Event{
			ID:        id(5),
			Time:      mustTime(t, "2025-03-01T12:15:04.901Z"),
			Kind:      audit.KindRefreshed,
			Action:    "sertft",
			TokenID:   "auth0:" + apiLogID(5),
			Issuer:    issuer,
			Subject:   alice,
			Audience:  shopAudience,
			ClientID:  shop,
			SessionID: session,
			Scopes:    shopScopes,
			IP:        netip.MustParseAddr("198.51.100.77"),
			UserAgent: shopApp,
			Source:    at(5),
		})
	})

	t.Run("refresh token reuse", func(t *testing.T) {
		checkEvent(t, r.eventByID(t, id(6)), audit.Event{
			ID:           id(6),
			Time:         mustTime(t, "2025-03-01T12:40:17.333Z"),
			Kind:         audit.KindRejected,
			Action:       "ferrt",
			TokenID:      "auth0:" + apiLogID(6),
			Issuer:       issuer,
			Subject:      alice,
			Audience:     shopAudience,
			ClientID:     shop,
			IP:           netip.MustParseAddr("2001:db8:4::17"),
			UserAgent:    attacker,
			Geo:          audit.Geo{Country: "NL", City: "Amsterdam", Latitude: 52.3676, Longitude: 4.9041},
			Reason:       "Refresh token presented again after it was rotated; the token family is revoked",
			RejectReason: audit.RejectReused,
			Source:       at(6),
		})
	})

	t.Run("revocation", func(t *testing.T) {
		checkEvent(t, r.eventByID(t, id(7)), audit.Event{
			ID:               id(7),
			Time:             mustTime(t, "2025-03-01T12:40:17.410Z"),
			Kind:             audit.KindRevoked,
			Action:           "srrt",
			TokenID:          "auth0:" + apiLogID(7),
			Issuer:           issuer,
			Subject:          alice,
			ClientID:         shop,
			IP:               netip.MustParseAddr("2001:db8:4::17"),
			UserAgent:        attacker,
			Reason:           "Revoked refresh token family after reuse",
			RevocationMethod: audit.RevokedByAPI,
			Source:           at(7),
		})
	})

	t.Run("logout", func(t *testing.T) {
		checkEvent(t, r.eventByID(t, id(8)), audit.Event{
			ID:        id(8),
			Time:      mustTime(t, "2025-03-01T12:41:02.004Z"),
			Kind:      audit.KindSession,
			Action:    "slo",
			Issuer:    issuer,
			Subject:   alice,
			ClientID:  shop,
			SessionID: session,
			IP:        netip.MustParseAddr("203.0.113.10"),
			UserAgent: firefox,
			Geo:       berlin,
			Reason:    "logout succeeded",
			Source:    at(8),
		})
	})

	t.Run("failed refresh", func(t *testing.T) {
		checkEvent(t, r.eventByID(t, id(9)), audit.Event{
			ID:           id(9),
			Time:         mustTime(t, "2025-03-01T13:00:00Z"),
			Kind:         audit.KindRejected,
			Action:       "fertft",
			TokenID:      "auth0:" + apiLogID(9),
			Issuer:       issuer,
			Audience:     shopAudience,
			ClientID:     shop,
			IP:           netip.MustParseAddr("2001:db8:4::17"),
			UserAgent:    attacker,
			Reason:       "Unknown or invalid refresh token.",
			RejectReason: audit.RejectInvalidGrant,
			Source:       at(9),
		})
	})

	t.Run("client credentials", func(t *testing.T) {
		checkEvent(t, r.eventByID(t, id(10)), audit.Event{
			ID:        id(10),
			Time:      mustTime(t, "2025-03-01T13:05:00Z"),
			Kind:      audit.KindIssued,
			Action:    "seccft",
			TokenID:   "auth0:" + apiLogID(10),
			Issuer:    issuer,
			Audience:  []string{"https://login.example.com/api/v2/"},
			ClientID:  backOffice,
			Scopes:    []string{"read:users", "update:users"},
			IP:        netip.MustParseAddr("198.51.100.20"),
			UserAgent: "Go-http-client/2.0",
			Source:    at(10),
		})
	})

	t.Run("management API call", func(t *testing.T) {
		checkEvent(t, r.eventByID(t, id(11)), audit.Event{
			ID:        id(11),
			Time:      mustTime(t, "2025-03-01T13:05:02.500Z"),
			Kind:      audit.KindUsed,
			Action:    "sapi",
			TokenID:   apiToken,
			Issuer:    issuer,
			ClientID:  backOffice,
			IP:        netip.MustParseAddr("198.51.100.20"),
			UserAgent: "Go-http-client/2.0",
			Method:    "PATCH",
			Path:      "/api/v2/users/auth0%7C65e1a7c0ffee00000000a001",
			Status:    200,
			Source:    at(11),
		})
	})

	t.Run("failed management API call", func(t *testing.T) {
		// The log's ip and user_agent are empty, so the request's are taken.
		checkEvent(t, r.eventByID(t, id(12)), audit.Event{
			ID:        id(12),
			Time:      mustTime(t, "2025-03-01T13:05:03.100Z"),
			Kind:      audit.KindRejected,
			Action:    "fapi",
			TokenID:   apiToken,
			Issuer:    issuer,
			ClientID:  backOffice,
			IP:        netip.MustParseAddr("198.51.100.20"),
			UserAgent: "Go-http-client/2.0",
			Method:    "DELETE",
			Path:      "/api/v2/users/auth0%7C65e1a7c0ffee00000000a001",
			Status:    403,
			Reason:    "Insufficient scope; delete:users is required",
			Source:    at(12),
		})
	})

	t.Run("failed login in a session", func(t *testing.T) {
		e := r.eventByID(t, id(15))
		if e.Kind != audit.KindSession || e.Reason != "Wrong email or password." {
			t.Errorf("fp event = %s with Reason %q, want session with the description", e.Kind, e.Reason)
		}
	})

	t.Run("placeholders", func(t *testing.T) {
		// "null" strings, a GUID as the address, 0/0 coordinates and a time
		// without zone: the event is kept, without those fields.
		checkEvent(t, r.eventByID(t, id(16)), audit.Event{
			ID:        id(16),
			Time:      mustTime(t, "2025-03-01T13:45:00Z"),
			Kind:      audit.KindSession,
			Action:    "ssa",
			SessionID: session,
			Reason:    "silent authentication succeeded",
			Source:    at(16),
		})
	})

	t.Run("skips", func(t *testing.T) {
		for n, want := range map[int]string{
			2:  "gd_auth_succeed: no session id",
			13: "sapi: no Management API token id (details.request.auth.credentials.jti)",
			14: "du: not a token or session event",
		} {
			line := recordLine(t, text, apiLogID(n))
			if got := r.skipAt(t, line); got != want {
				t.Errorf("skip reason of record %d (line %d) = %q, want %q", n, line, got, want)
			}
		}
	})

	t.Run("session timeline", func(t *testing.T) {
		var actions []string
		for _, e := range r.events {
			if e.SessionID == session {
				actions = append(actions, e.Action+"/"+e.Kind.String())
			}
		}
		want := "s/session sertft/refreshed sertft/issued sertft/refreshed slo/session ssa/session"
		if got := strings.Join(actions, " "); got != want {
			t.Errorf("events of session %s = %s, want %s", session, got, want)
		}
	})
}

// TestLogStream reads JSON lines as log streams write them, wrapped as
// {"log_id", "data"} or bare, with records that must be rejected between
// them.
func TestLogStream(t *testing.T) {
	const file = "log-stream.jsonl"
	r := parseFile(t, "testdata/"+file)

	checkTotals(t, r, 3, 2, 5)

	const carol = "auth0|65e1a7c0ffee00000000c003"
	logID := func(n int) string {
		return fmt.Sprintf("900202503021200%041d", n)
	}

	t.Run("wrapped code exchange naming the access token", func(t *testing.T) {
		checkEvent(t, r.eventByID(t, audit.NewID("auth0", logID(1))), audit.Event{
			ID:        audit.NewID("auth0", logID(1)),
			Time:      mustTime(t, "2025-03-02T12:00:00Z"),
			Kind:      audit.KindIssued,
			Action:    "seacft",
			TokenID:   "c0ffee00-2222-4a2b-8c3d-000000000002",
			Issuer:    issuer,
			Subject:   carol,
			Audience:  shopAudience,
			ClientID:  shop,
			Scopes:    []string{"openid", "read:orders"},
			IP:        netip.MustParseAddr("2001:db8::1"),
			UserAgent: "node-fetch/1.0",
			Source:    file + ":1",
		})
	})

	t.Run("bare refresh", func(t *testing.T) {
		checkEvent(t, r.eventByID(t, audit.NewID("auth0", logID(2))), audit.Event{
			ID:        audit.NewID("auth0", logID(2)),
			Time:      mustTime(t, "2025-03-02T12:30:00Z"),
			Kind:      audit.KindRefreshed,
			Action:    "sertft",
			TokenID:   "auth0:" + logID(2),
			Issuer:    issuer,
			Subject:   carol,
			Audience:  shopAudience,
			ClientID:  shop,
			SessionID: "Cc0SessionOfCarol00000000000000a1",
			Scopes:    []string{"openid", "read:orders"},
			IP:        netip.MustParseAddr("2001:db8::1"),
			UserAgent: "ExampleShop/4.2 (iOS 18.3)",
			Source:    file + ":2",
		})
	})

	t.Run("failed refresh without user or scope", func(t *testing.T) {
		e := r.eventByID(t, audit.NewID("auth0", logID(11)))
		if e.Subject != "" || e.Scopes != nil || e.RejectReason != audit.RejectInvalidGrant {
			t.Errorf("fertft event: Subject %q, Scopes %q, RejectReason %q; want empty, nil, invalid_grant", e.Subject, e.Scopes, e.RejectReason)
		}
	})

	t.Run("rejects", func(t *testing.T) {
		for line, want := range map[int]string{
			4: `log ` + logID(4) + ` (seacft): field "date" is missing`,
			5: `log ` + logID(5) + ` (sertft): field "date" "yesterday at noon" is not an RFC 3339 time such as 2021-11-04T00:15:10.706Z`,
			7: `log ` + logID(7) + `: field "type" is a JSON number, want a string`,
			8: `field "log_id" is missing`,
		} {
			if got := r.rejectAt(t, line); got != want {
				t.Errorf("reject reason of line %d = %q, want %q", line, got, want)
			}
		}
		// The cut record's message comes from the JSON reader.
		if got := r.rejectAt(t, 6); got == "" {
			t.Error("line 6 was rejected without reason")
		}
	})

	t.Run("skips", func(t *testing.T) {
		for line, want := range map[int]string{
			9:  "slo: no session id",
			10: "sapi: no Management API token id (details.request.auth.credentials.jti)",
		} {
			if got := r.skipAt(t, line); got != want {
				t.Errorf("skip reason of line %d = %q, want %q", line, got, want)
			}
		}
	})
}
