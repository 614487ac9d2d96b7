package entra

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

func TestGraphUsed(t *testing.T) {
	r := parseOne(t, baseGraph)
	checkTotals(t, r, 1, 0, 0)
	checkEvent(t, r.events[0], audit.Event{
		ID:        audit.NewID("entra", "MicrosoftGraphActivityLogs", "6f8a0c2e-4b6d-4f8a-9c1e-3a5c7e9b1d42"),
		Time:      mustTime(t, "2025-03-07T09:07:15.5123408Z"),
		Kind:      audit.KindUsed,
		Action:    "MicrosoftGraphActivityLogs",
		TokenID:   testUTI,
		Issuer:    "https://login.microsoftonline.com/" + testTenant + "/v2.0",
		Subject:   testUser,
		ClientID:  testApp,
		SessionID: testSession,
		Scopes:    []string{"User.Read", "Directory.AccessAsUser.All"},
		IssuedAt:  mustTime(t, "2025-03-07T09:06:07Z"),
		IP:        netip.MustParseAddr("203.0.113.45"),
		UserAgent: "python-requests/2.32.3",
		Method:    "GET",
		Path:      "https://graph.microsoft.com/v1.0/me?$select=id",
		Status:    200,
		TraceID:   "6f8a0c2e-4b6d-4f8a-9c1e-3a5c7e9b1d42",
		Source:    "test.json:1",
	})
}

// TestGraphLinksSignIn checks that a request and the sign-in that issued its
// token are events of one token and one session.
func TestGraphLinksSignIn(t *testing.T) {
	signIn := parseOne(t, baseSignIn).events[0]
	used := parseOne(t, baseGraph).events[0]
	if used.Token() != signIn.Token() {
		t.Errorf("Graph request token = %q, want the sign-in's %q", used.Token(), signIn.Token())
	}
	if used.SessionID != signIn.SessionID {
		t.Errorf("Graph request SessionID = %q, want the sign-in's %q", used.SessionID, signIn.SessionID)
	}
	if used.Issuer != signIn.Issuer {
		t.Errorf("Graph request Issuer = %q, want the sign-in's %q", used.Issuer, signIn.Issuer)
	}
}

func TestGraphStatus(t *testing.T) {
	tests := []struct {
		name    string
		changes map[string]any
		kind    audit.Kind
		status  int
	}{
		{"ok", nil, audit.KindUsed, 200},
		{"unauthorized", map[string]any{"properties.responseStatusCode": 401}, audit.KindRejected, 401},
		{"forbidden is a use", map[string]any{"properties.responseStatusCode": 403}, audit.KindUsed, 403},
		{"not found", map[string]any{"properties.responseStatusCode": 404}, audit.KindUsed, 404},
		{"status a string", map[string]any{"properties.responseStatusCode": "401"}, audit.KindRejected, 401},
		{"status only in resultSignature", map[string]any{"properties.responseStatusCode": remove{}, "resultSignature": "401"}, audit.KindRejected, 401},
		{"status zero", map[string]any{"properties.responseStatusCode": 0, "resultSignature": remove{}}, audit.KindUsed, 0},
		{"status out of range", map[string]any{"properties.responseStatusCode": 1200}, audit.KindUsed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseOne(t, edit(t, baseGraph, tt.changes))
			checkTotals(t, r, 1, 0, 0)
			if len(r.events) != 1 {
				return
			}
			e := r.events[0]
			if e.Kind != tt.kind || e.Status != tt.status {
				t.Errorf("Kind, Status = %v, %d, want %v, %d", e.Kind, e.Status, tt.kind, tt.status)
			}
			wantReason := audit.RejectReason("")
			if tt.kind == audit.KindRejected {
				wantReason = audit.RejectOther
			}
			if e.RejectReason != wantReason {
				t.Errorf("RejectReason = %q, want %q", e.RejectReason, wantReason)
			}
		})
	}
}

func TestGraphFields(t *testing.T) {
	tests := []struct {
		name    string
		changes map[string]any
		check   func(t *testing.T, e audit.Event)
	}{
		{
			name:    "iat a number",
			changes: map[string]any{"properties.C_Iat": 1741338000, "properties.tokenIssuedAt": remove{}},
			check:   wantIssuedAt(time.Unix(1741338000, 0).UTC()),
		},
		{
			name:    "iat unreadable",
			changes: map[string]any{"properties.C_Iat": "soon", "properties.tokenIssuedAt": "2025-03-07T09:00:00.0000000Z"},
			check:   wantIssuedAt(time.Date(2025, 3, 7, 9, 0, 0, 0, time.UTC)),
		},
		{
			name:    "no issue time",
			changes: map[string]any{"properties.C_Iat": "", "properties.tokenIssuedAt": "null"},
			check:   wantIssuedAt(time.Time{}),
		},
		{
			name: "app-only token",
			changes: map[string]any{
				"properties.userId":             remove{},
				"properties.C_Idtyp":            "app",
				"properties.servicePrincipalId": "4f6a8c0e-2a4c-4e6a-8c0e-2a4c6e8a0c71",
				"properties.scopes":             "",
				"properties.roles":              "Application.ReadWrite.All Directory.Read.All",
				"properties.C_Sid":              remove{},
			},
			check: func(t *testing.T, e audit.Event) {
				if e.Subject != "4f6a8c0e-2a4c-4e6a-8c0e-2a4c6e8a0c71" {
					t.Errorf("Subject = %q, want the servicePrincipalId", e.Subject)
				}
				if want := []string{"Application.ReadWrite.All", "Directory.Read.All"}; !reflect.DeepEqual(e.Scopes, want) {
					t.Errorf("Scopes = %q, want the roles %q", e.Scopes, want)
				}
				if e.SessionID != "" {
					t.Errorf("SessionID = %q, want empty", e.SessionID)
				}
			},
		},
		{
			name:    "subject only app",
			changes: map[string]any{"properties.userId": "", "properties.servicePrincipalId": nil},
			check: func(t *testing.T, e audit.Event) {
				if e.Subject != testApp {
					t.Errorf("Subject = %q, want the appId", e.Subject)
				}
			},
		},
		{
			name:    "address only in callerIpAddress",
			changes: map[string]any{"properties.ipAddress": "-", "callerIpAddress": "::ffff:192.0.2.10"},
			check:   wantIP(netip.MustParseAddr("192.0.2.10")),
		},
		{
			name:    "time only in properties",
			changes: map[string]any{"time": remove{}, "properties.timeGenerated": "2025-03-07T09:07:16Z"},
			check:   wantTime("2025-03-07T09:07:16Z"),
		},
		{
			name:    "request id only in correlationId",
			changes: map[string]any{"properties.requestId": remove{}, "correlationId": "1d3f5a7c-9e1b-4d3f-a5c7-e9b1d3f5a7c9"},
			check: func(t *testing.T, e audit.Event) {
				if want := audit.NewID("entra", "MicrosoftGraphActivityLogs", "1d3f5a7c-9e1b-4d3f-a5c7-e9b1d3f5a7c9"); e.ID != want {
					t.Errorf("ID = %q, want %q", e.ID, want)
				}
			},
		},
		{
			name:    "padded signInActivityId",
			changes: map[string]any{"properties.signInActivityId": testUTI + "=="},
			check: func(t *testing.T, e audit.Event) {
				if e.TokenID != testUTI {
					t.Errorf("TokenID = %q, want %q", e.TokenID, testUTI)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseOne(t, edit(t, baseGraph, tt.changes))
			checkTotals(t, r, 1, 0, 0)
			if len(r.events) == 1 {
				tt.check(t, r.events[0])
			}
		})
	}
}

func TestGraphSkippedOrRejected(t *testing.T) {
	r := parseOne(t, edit(t, baseGraph, map[string]any{"properties.signInActivityId": ""}))
	checkTotals(t, r, 0, 1, 0)
	if reason := r.skipAt(t, 1); !strings.Contains(reason, "has no signInActivityId") {
		t.Errorf("skip reason = %q, want the missing signInActivityId", reason)
	}

	tests := []struct {
		name    string
		changes map[string]any
		reason  string
	}{
		{
			name:    "no request id",
			changes: map[string]any{"properties.requestId": remove{}, "correlationId": remove{}},
			reason:  "field properties.requestId is missing",
		},
		{
			name:    "no time",
			changes: map[string]any{"time": remove{}, "properties.timeGenerated": remove{}},
			reason:  "field time is missing",
		},
		{
			name:    "time invalid",
			changes: map[string]any{"time": "now"},
			reason:  `field time "now" is not an RFC 3339 time`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseOne(t, edit(t, baseGraph, tt.changes))
			checkTotals(t, r, 0, 0, 1)
			if reason := r.rejectAt(t, 1); !strings.Contains(reason, tt.reason) {
				t.Errorf("reject reason = %q, want it to contain %q", reason, tt.reason)
			}
		})
	}
}

// testJWT is a compact token with a jti, signed with filler bytes.
const testJWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." +
	"eyJqdGkiOiJqdGktMSIsInN1YiI6ImFkYSIsImlhdCI6MTc0MTMzODM2N30." +
	"c2lnbmF0dXJlLWZpbGxlci1ieXRlcy1ub3QtYS1yZWFsLXNpZ25hdHVyZQ"

func TestRawTokenNotKept(t *testing.T) {
	tests := []struct {
		name    string
		record  string
		changes map[string]any
	}{
		{"token in query", baseGraph, map[string]any{"properties.requestUri": "https://graph.microsoft.com/v1.0/me?access_token=" + testJWT}},
		{"token as activity id", baseGraph, map[string]any{"properties.signInActivityId": testJWT}},
		{"token as user agent", baseSignIn, map[string]any{"properties.userAgent": "Bearer " + testJWT}},
		{"token as time", baseSignIn, map[string]any{"properties.createdDateTime": testJWT}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseOne(t, edit(t, tt.record, tt.changes))
			output := fmt.Sprintf("%+v", r.events) + r.String()
			signature := testJWT[strings.LastIndexByte(testJWT, '.')+1:]
			if strings.Contains(output, signature) {
				t.Errorf("the raw token appears in the output:\n%s", output)
			}
			if len(r.events)+len(r.rejects) != 1 {
				t.Errorf("got %d events and %d rejections, want one of either:\n%v", len(r.events), len(r.rejects), r)
			}
		})
	}
}

func wantIssuedAt(want time.Time) func(*testing.T, audit.Event) {
	return func(t *testing.T, e audit.Event) {
		if !e.IssuedAt.Equal(want) {
			t.Errorf("IssuedAt = %v, want %v", e.IssuedAt, want)
		}
	}
}
