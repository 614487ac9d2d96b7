package entra

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/internal/shareddata"
)

// TestSignInSample reads sign-ins from a log-format test suite: an IPv6
// client without coordinates, a sign-in that failed a conditional-access
// challenge, non-interactive and service-principal sign-ins, and a GUID
// where the address should be.
func TestSignInSample(t *testing.T) {
	const file = "entra-signin-logs-sekoia.jsonl"
	r := parseFile(t, shareddata.File(t, file))

	checkTotals(t, r, 7, 1, 0)

	t.Run("IPv6 without coordinates", func(t *testing.T) {
		checkEvent(t, r.eventAt(t, file, 1), audit.Event{
			ID:       audit.NewID("entra", "SignInLogs", "88888888-8888-8888-8888-888888888888"),
			Time:     mustTime(t, "2022-04-05T13:07:16.7796535Z"),
			Kind:     audit.KindIssued,
			Action:   "SignInLogs authenticationProtocol=ropc",
			TokenID:  "11111111111111111111111111",
			Issuer:   "https://login.microsoftonline.com/22222222-2222-2222-2222-222222222222/v2.0",
			Subject:  "user1",
			Audience: []string{"66666666-6666-6666-6666-666666666666"},
			ClientID: "66666666-6666-6666-6666-666666666666",
			// The record has no sessionId.
			IP:        netip.MustParseAddr("2001:db8:85a3::8a2e:370:7334"),
			UserAgent: "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.14326; Pro)",
			TraceID:   "11111111-1111-1111-1111-111111111111",
			Reason:    "conditional access: notApplied",
			Source:    file + ":1",
		})
	})

	t.Run("failed without session skipped", func(t *testing.T) {
		reason := r.skipAt(t, 2)
		if !strings.Contains(reason, "failed with error 50158 and has no sessionId") {
			t.Errorf("skip reason of line 2 = %q, want the failure without session", reason)
		}
	})

	t.Run("device code with refresh token", func(t *testing.T) {
		checkEvent(t, r.eventAt(t, file, 5), audit.Event{
			ID:        audit.NewID("entra", "SignInLogs", "44444444-4444-4444-4444-444444444444"),
			Time:      mustTime(t, "2023-10-04T13:06:18.9617194Z"),
			Kind:      audit.KindIssued,
			Action:    "SignInLogs incomingTokenType=primaryRefreshToken authenticationProtocol=deviceCode",
			TokenID:   "aaaaaaaaaaaaaaaaaaaaaa",
			Issuer:    "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0",
			Subject:   "22222222-2222-2222-2222-222222222222",
			Audience:  []string{"77777777-7777-7777-7777-777777777777"},
			ClientID:  "66666666-6666-6666-6666-666666666666",
			IP:        netip.MustParseAddr("5.6.7.8"),
			UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/1.2.3.4 Safari/537.36 Edg/116.0.1938.98",
			Geo:       audit.Geo{Country: "FR", City: "Bordeaux", Latitude: 44.84040069580078, Longitude: -0.5805000066757202, ASN: 5410},
			TraceID:   "77777777-7777-7777-7777-777777777777",
			Reason:    "conditional access: notApplied",
			Source:    file + ":5",
		})
	})

	t.Run("non-interactive", func(t *testing.T) {
		checkEvent(t, r.eventAt(t, file, 7), audit.Event{
			ID:     audit.NewID("entra", "NonInteractiveUserSignInLogs", "77777777-7777-7777-7777-777777777777"),
			Time:   mustTime(t, "2025-07-24T15:30:17.7974412Z"),
			Kind:   audit.KindIssued,
			Action: "NonInteractiveUserSignInLogs incomingTokenType=primaryRefreshToken",
			// Line 2 has the same properties.id in another category, and
			// another event ID.
			TokenID:   "URB3vEvKUUuClWlFhN4gAA",
			Issuer:    "https://login.microsoftonline.com/22222222-1111-1111-1111-222222222222/v2.0",
			Subject:   "user1",
			Audience:  []string{"99999999-9999-9999-9999-999999999999"},
			ClientID:  "66666666-6666-6666-6666-666666666666",
			SessionID: "22222222-2222-2222-2222-222222222222",
			IP:        netip.MustParseAddr("1.2.3.4"),
			UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.22631",
			Geo:       audit.Geo{Country: "FR", City: "Paris", Latitude: 48.85350036621094, Longitude: 2.348400115966797, ASN: 62044},
			TraceID:   "44444444-4444-4444-4444-444444444444",
			Reason:    "conditional access: notApplied",
			Source:    file + ":7",
		})
	})

	t.Run("service principal with GUID address", func(t *testing.T) {
		checkEvent(t, r.eventAt(t, file, 8), audit.Event{
			ID:        audit.NewID("entra", "ServicePrincipalSignInLogs", "66666666-6666-6666-6666-666666666666"),
			Time:      mustTime(t, "2025-10-14T07:33:50.1498978Z"),
			Kind:      audit.KindIssued,
			Action:    "ServicePrincipalSignInLogs clientCredentialType=clientSecret",
			TokenID:   "tOkEnIdEnTiFiEr123",
			Issuer:    "https://login.microsoftonline.com/77777777-7777-7777-7777-777777777777/v2.0",
			Subject:   "ParseMe",
			Audience:  []string{"77777777-7777-7777-7777-777777777777"},
			ClientID:  "88888888-8888-8888-8888-888888888888",
			SessionID: "99999999-9999-9999-9999-999999999999",
			// The address is a GUID and the coordinates are 0/0: neither
			// is kept.
			UserAgent: "okhttp/4.8.1",
			TraceID:   "22222222-2222-2222-2222-222222222222",
			Reason:    "conditional access: notApplied",
			Source:    file + ":8",
		})
	})

	t.Run("identifiers of every shape", func(t *testing.T) {
		want := map[int]string{
			3: "ODc5NTk5NGYtMGJiOC00NmQ3LTg3OTctOGM5YzM4NWQ1OTAw",
			4: "5555555555555555555555",
			6: "aEQ2qLOsqkS86zz3OHIeAA",
		}
		for line, uti := range want {
			if e := r.eventAt(t, file, line); e.TokenID != uti || e.Kind != audit.KindIssued {
				t.Errorf("line %d: Kind, TokenID = %v, %q, want issued, %q", line, e.Kind, e.TokenID, uti)
			}
		}
	})
}

// TestGraphActivitySample reads Graph requests from the same suite: two
// refused with 403 and one from python-requests that carries the session.
func TestGraphActivitySample(t *testing.T) {
	const file = "entra-graph-activity-logs-sekoia.jsonl"
	r := parseFile(t, shareddata.File(t, file))

	checkTotals(t, r, 3, 0, 0)

	graphScopes := []string{"email", "openid", "profile", "Team.ReadBasic.All", "User.Read.All"}
	checkEvent(t, r.eventAt(t, file, 1), audit.Event{
		ID:        audit.NewID("entra", "MicrosoftGraphActivityLogs", "TEST_CORRELATION_UNIQUE_ID"),
		Time:      mustTime(t, "2025-02-18T10:25:12.2779144Z"),
		Kind:      audit.KindUsed,
		Action:    "MicrosoftGraphActivityLogs",
		TokenID:   "JgW9XEOQM0WNakyHMghCAA",
		Issuer:    "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0",
		Subject:   "user1",
		ClientID:  "TEST_APP_ID",
		Scopes:    graphScopes,
		IssuedAt:  mustTime(t, "2025-02-18T10:20:11Z"),
		IP:        netip.MustParseAddr("1.2.3.4"),
		UserAgent: "MruService/16.0.18604.40126",
		Method:    "GET",
		Path:      "https://example.com/",
		Status:    403,
		TraceID:   "TEST_CORRELATION_UNIQUE_ID",
		Source:    file + ":1",
	})

	checkEvent(t, r.eventAt(t, file, 3), audit.Event{
		ID:      audit.NewID("entra", "MicrosoftGraphActivityLogs", "33333333-3333-3333-3333-333333333333"),
		Time:    mustTime(t, "2025-10-02T08:56:25.071773Z"),
		Kind:    audit.KindUsed,
		Action:  "MicrosoftGraphActivityLogs",
		TokenID: "nCIzipjKBXc87y9rpX8dAA",
		Issuer:  "https://login.microsoftonline.com/66666666-6666-6666-6666-666666666666/v2.0",
		Subject: "user1",
		// The sid claim of the token.
		SessionID: "11111111-1111-1111-1111-111111111111",
		ClientID:  "22222222-2222-2222-2222-222222222222",
		Scopes: []string{"AppCatalog.Read.All", "Channel.ReadBasic.All", "Contacts.ReadWrite.Shared", "email",
			"Files.ReadWrite.All", "FileStorageContainer.Selected", "InformationProtectionPolicy.Read", "Mail.ReadWrite",
			"Mail.Send", "MailboxSettings.ReadWrite", "Notes.ReadWrite.All", "openid", "Organization.Read.All", "People.Read",
			"Place.Read.All", "profile", "Sites.ReadWrite.All", "Tasks.ReadWrite", "Team.ReadBasic.All",
			"TeamsAppInstallation.ReadForTeam", "TeamsTab.Create", "User.ReadBasic.All"},
		IssuedAt:  mustTime(t, "2025-10-02T08:45:25Z"),
		IP:        netip.MustParseAddr("1.2.3.4"),
		UserAgent: "python-requests/2.32.5",
		Method:    "GET",
		Path:      "https://example.com/",
		Status:    200,
		TraceID:   "33333333-3333-3333-3333-333333333333",
		Source:    file + ":3",
	})

	if e := r.eventAt(t, file, 2); e.TokenID != "activityId" || e.Kind != audit.KindUsed {
		t.Errorf("line 2: Kind, TokenID = %v, %q, want used, %q", e.Kind, e.TokenID, "activityId")
	}
}
