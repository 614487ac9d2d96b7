package entra

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
)

// The sign-in of testdata/diagnostic-records.json that issues the token the
// Graph requests use.
const (
	syntheticSignInID = "3e8b1f6c-0a2d-4c7e-9b5f-1d6a8e2c4b90"
	syntheticIssuer   = "https://login.microsoftonline.com/" + testTenant + "/v2.0"
	azureCLIAgent     = "python/3.12.4 (Linux-6.8.0-x86_64) msal/1.31.0 azure-cli/2.66.0"
)

func TestDiagnosticRecords(t *testing.T) {
	const file = "diagnostic-records.json"
	r := parseFile(t, "testdata/"+file)

	checkTotals(t, r, 5, 1, 0)

	lyon := audit.Geo{Country: "FR", City: "Lyon", Latitude: 45.7485, Longitude: 4.8467, ASN: 64500}
	checkEvent(t, r.eventAt(t, file, 3), audit.Event{
		ID:        audit.NewID("entra", "SignInLogs", syntheticSignInID),
		Time:      mustTime(t, "2025-03-07T09:06:07.4411027Z"),
		Kind:      audit.KindIssued,
		Action:    "SignInLogs authenticationProtocol=deviceCode",
		TokenID:   testUTI,
		Issuer:    syntheticIssuer,
		Subject:   testUser,
		Audience:  []string{graphAppID},
		ClientID:  testApp,
		SessionID: testSession,
		IP:        netip.MustParseAddr("203.0.113.45"),
		UserAgent: azureCLIAgent,
		Geo:       lyon,
		TraceID:   "a4c2e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e81",
		Reason:    "conditional access: success",
		Source:    file + ":3",
	})

	graphScopes := []string{"Application.ReadWrite.All", "Directory.AccessAsUser.All", "User.Read"}
	checkEvent(t, r.eventAt(t, file, 55), audit.Event{
		ID:        audit.NewID("entra", "MicrosoftGraphActivityLogs", "6f8a0c2e-4b6d-4f8a-9c1e-3a5c7e9b1d42"),
		Time:      mustTime(t, "2025-03-07T09:07:15.5123408Z"),
		Kind:      audit.KindUsed,
		Action:    "MicrosoftGraphActivityLogs",
		TokenID:   testUTI,
		Issuer:    syntheticIssuer,
		Subject:   testUser,
		ClientID:  testApp,
		SessionID: testSession,
		Scopes:    graphScopes,
		IssuedAt:  mustTime(t, "2025-03-07T09:06:07Z"),
		IP:        netip.MustParseAddr("203.0.113.45"),
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36",
		Method:    "GET",
		Path:      "https://graph.microsoft.com/v1.0/me?$select=id,displayName",
		Status:    200,
		TraceID:   "6f8a0c2e-4b6d-4f8a-9c1e-3a5c7e9b1d42",
		Source:    file + ":55",
	})

	checkEvent(t, r.eventAt(t, file, 101), audit.Event{
		ID:        audit.NewID("entra", "MicrosoftGraphActivityLogs", "9b1d3f5a-7c9e-4b1d-8f3a-5c7e9b1d3f65"),
		Time:      mustTime(t, "2025-03-07T09:12:48.0071163Z"),
		Kind:      audit.KindUsed,
		Action:    "MicrosoftGraphActivityLogs",
		TokenID:   testUTI,
		Issuer:    syntheticIssuer,
		Subject:   testUser,
		ClientID:  testApp,
		SessionID: testSession,
		Scopes:    graphScopes,
		IssuedAt:  mustTime(t, "2025-03-07T09:06:07Z"),
		IP:        netip.MustParseAddr("192.0.2.199"),
		UserAgent: "python-requests/2.32.3",
		Method:    "POST",
		Path:      "https://graph.microsoft.com/v1.0/applications/2a4c6e8f-0b1d-4f3a-9c5e-7a9b1d3f5c70/addPassword",
		Status:    403,
		TraceID:   "9b1d3f5a-7c9e-4b1d-8f3a-5c7e9b1d3f65",
		Source:    file + ":101",
	})

	checkEvent(t, r.eventAt(t, file, 147), audit.Event{
		ID:        audit.NewID("entra", "SignInLogs", "8d2f4a6c-1e3b-4d5f-a7c9-0b2d4f6a8c13"),
		Time:      mustTime(t, "2025-03-07T09:01:42.1180335Z"),
		Kind:      audit.KindSession,
		Action:    "SignInLogs",
		Issuer:    syntheticIssuer,
		Subject:   testUser,
		Audience:  []string{graphAppID},
		ClientID:  testApp,
		SessionID: testSession,
		// An IPv4-mapped address, and an empty geoCoordinates object.
		IP:        netip.MustParseAddr("198.51.100.23"),
		UserAgent: azureCLIAgent,
		Geo:       audit.Geo{ASN: 64500},
		TraceID:   "a4c2e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e81",
		Reason: "error 53003: Access has been blocked by Conditional Access policies. " +
			"The access policy does not allow token issuance. (conditional access: failure)",
		Source: file + ":147",
	})

	checkEvent(t, r.eventAt(t, file, 197), audit.Event{
		ID:        audit.NewID("entra", "NonInteractiveUserSignInLogs", "c5a7e9b1-3d5f-4a7c-9e1b-3d5f7a9c1e24"),
		Time:      mustTime(t, "2025-03-07T10:05:13Z"),
		Kind:      audit.KindIssued,
		Action:    "NonInteractiveUserSignInLogs incomingTokenType=refreshToken",
		TokenID:   "HkT3mW9qPUi5cVx7bNz1Aw",
		Issuer:    syntheticIssuer,
		Subject:   testUser,
		Audience:  []string{graphAppID},
		ClientID:  testApp,
		SessionID: testSession,
		// The user agent "null" is a placeholder, and 0/0 is no position.
		IP:      netip.MustParseAddr("2001:db8:4f::1e"),
		Geo:     audit.Geo{Country: "FR", City: "Lyon", ASN: 64500},
		TraceID: "f1e3d5c7-b9a1-4c3e-8f5d-7b9d1f3a5c68",
		Reason:  "conditional access: success",
		Source:  file + ":197",
	})

	if reason := r.skipAt(t, 249); !strings.Contains(reason, "category AuditLogs") {
		t.Errorf("skip reason of line 249 = %q, want the AuditLogs category", reason)
	}
}

// TestGraphRequestsCarrySignInToken checks that the Graph requests and the
// sign-in that issued their token are events of one token and one session,
// so that a report on the token shows both.
func TestGraphRequestsCarrySignInToken(t *testing.T) {
	const file = "diagnostic-records.json"
	r := parseFile(t, "testdata/"+file)
	signIn := r.eventAt(t, file, 3)

	requests := 0
	for _, e := range r.events {
		if e.Action != CategoryGraphActivity {
			continue
		}
		requests++
		if e.Token() != signIn.Token() || e.SessionID != signIn.SessionID || e.Issuer != signIn.Issuer {
			t.Errorf("request %s: token, session, issuer = %q, %q, %q, want the sign-in's %q, %q, %q",
				e.Source, e.Token(), e.SessionID, e.Issuer, signIn.Token(), signIn.SessionID, signIn.Issuer)
		}
	}
	if requests != 2 {
		t.Errorf("found %d Graph requests, want 2", requests)
	}
}

func TestGraphAPIPage(t *testing.T) {
	const file = "graph-api-signins.json"
	r := parseFile(t, "testdata/"+file)

	checkTotals(t, r, 3, 0, 0)

	t.Run("same sign-in as the diagnostic record", func(t *testing.T) {
		diagnostic := parseFile(t, "testdata/diagnostic-records.json").eventAt(t, "diagnostic-records.json", 3)
		e := r.eventAt(t, file, 4)
		if e.ID != diagnostic.ID {
			t.Errorf("ID = %q, want the ID of the diagnostic record %q, so that importing both adds no duplicate", e.ID, diagnostic.ID)
		}
		// The Graph API object names no tenant.
		want := diagnostic
		want.Issuer = ""
		want.Source = file + ":4"
		checkEvent(t, e, want)
	})

	t.Run("service principal", func(t *testing.T) {
		checkEvent(t, r.eventAt(t, file, 42), audit.Event{
			ID:       audit.NewID("entra", "ServicePrincipalSignInLogs", "e2a4c6e8-0a2c-4e6a-8c0e-2a4c6e8a0c35"),
			Time:     mustTime(t, "2025-03-07T11:20:05Z"),
			Kind:     audit.KindIssued,
			Action:   "ServicePrincipalSignInLogs clientCredentialType=certificate",
			TokenID:  "Zx8cV7bN6mQ5wE4rT3yU2A",
			Subject:  "4f6a8c0e-2a4c-4e6a-8c0e-2a4c6e8a0c71",
			Audience: []string{"cfa8b339-82a2-471a-a3c9-0fc0be7a4093"},
			ClientID: "6d8f0b2d-4f6a-4c8e-a0b2-d4f6a8c0e247",
			IP:       netip.MustParseAddr("198.51.100.77"),
			Geo:      audit.Geo{Country: "NL", City: "Amsterdam", Latitude: 52.374, Longitude: 4.8897},
			TraceID:  "b6d8f0a2-c4e6-4a8c-8e0a-2c4e6a8c0e59",
			Reason:   "conditional access: notApplied",
			Source:   file + ":42",
		})
	})

	t.Run("second factor required", func(t *testing.T) {
		checkEvent(t, r.eventAt(t, file, 83), audit.Event{
			ID:        audit.NewID("entra", "SignInLogs", "1a3c5e7a-9c1e-4a3c-8e5a-7c9e1a3c5e82"),
			Time:      mustTime(t, "2025-03-07T12:44:19.331Z"),
			Kind:      audit.KindSession,
			Action:    "SignInLogs",
			Subject:   testUser,
			Audience:  []string{graphAppID},
			ClientID:  testApp,
			SessionID: testSession,
			IP:        netip.MustParseAddr("203.0.113.45"),
			UserAgent: azureCLIAgent,
			Geo:       audit.Geo{Country: "FR", City: "Lyon", Latitude: 45.7485, Longitude: 4.8467},
			TraceID:   "d8f0a2c4-e6a8-4c0e-8a2c-4e6a8c0e2a93",
			Reason:    "error 50074: Strong Authentication is required. (conditional access: notApplied)",
			Source:    file + ":83",
		})
	})
}
