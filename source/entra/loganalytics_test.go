package entra

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// logAnalyticsWorkspace is the TenantId of the rows in the test data: the
// Log Analytics workspace, which must not become the issuer.
const logAnalyticsWorkspace = "9a1b3c5d-7e9f-4a1b-8c3d-5e7f9a1b3c5d"

// baseRow is the sign-in of baseSignIn as a row of the SigninLogs table.
const baseRow = `{"TenantId":"` + logAnalyticsWorkspace + `","TimeGenerated":"2025-03-07T09:08:31.9920412Z",` +
	`"Category":"SignInLogs","ResultType":"0","ResultDescription":"","CorrelationId":"a4c2e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e81",` +
	`"AADTenantId":"0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b","AppId":"04b07795-8ddb-461a-bbee-02f9e1bf7b46",` +
	`"AuthenticationProtocol":"deviceCode","AutonomousSystemNumber":"64500","ClientCredentialType":"none",` +
	`"ConditionalAccessStatus":"success","CreatedDateTime":"2025-03-07T09:06:07.4411027Z","Id":"3e8b1f6c-0a2d-4c7e-9b5f-1d6a8e2c4b90",` +
	`"IncomingTokenType":"none","IPAddress":"203.0.113.45","IsInteractive":true,` +
	`"LocationDetails":{"city":"Lyon","state":"","countryOrRegion":"FR","geoCoordinates":{"latitude":45.7485,"longitude":4.8467}},` +
	`"ResourceDisplayName":"Microsoft Graph","ResourceId":"/tenants/0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b/providers/Microsoft.aadiam",` +
	`"ResourceIdentity":"00000003-0000-0000-c000-000000000000","ServicePrincipalId":"","SessionId":"7c1d9e3a-2b6f-4c8e-a5d0-9f4b1e7a3c62",` +
	`"Status":{"errorCode":0},"UniqueTokenIdentifier":"q3JmXv8a0EuYc1tLw5nR2A","UserAgent":"azure-cli/2.66.0",` +
	`"UserId":"5b7e2c4a-9d1f-4a3e-8b6c-2f0e4d8a1c7b","UserPrincipalName":"ada@example.com","Type":"SigninLogs"}`

// baseGraphRow is the request of baseGraph as a row of the
// MicrosoftGraphActivityLogs table.
const baseGraphRow = `{"TenantId":"` + logAnalyticsWorkspace + `","TimeGenerated":"2025-03-07T09:07:15.5123408Z",` +
	`"Location":"West Europe","RequestId":"6f8a0c2e-4b6d-4f8a-9c1e-3a5c7e9b1d42","OperationId":"6f8a0c2e-4b6d-4f8a-9c1e-3a5c7e9b1d42",` +
	`"ClientRequestId":"c0ffee00-1111-4222-8333-444455556666","ApiVersion":"v1.0","RequestMethod":"GET","ResponseStatusCode":200,` +
	`"AadTenantId":"0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b","IPAddress":"203.0.113.45","UserAgent":"python-requests/2.32.3",` +
	`"RequestUri":"https://graph.microsoft.com/v1.0/me?$select=id","SignInActivityId":"q3JmXv8a0EuYc1tLw5nR2A","Roles":"",` +
	`"TokenIssuedAt":"2025-03-07T09:06:07Z","AppId":"04b07795-8ddb-461a-bbee-02f9e1bf7b46","UserId":"5b7e2c4a-9d1f-4a3e-8b6c-2f0e4d8a1c7b",` +
	`"ServicePrincipalId":"","Scopes":"User.Read Directory.AccessAsUser.All","ClientAuthMethod":0,` +
	`"SessionId":"7c1d9e3a-2b6f-4c8e-a5d0-9f4b1e7a3c62","Type":"MicrosoftGraphActivityLogs"}`

func TestLogAnalyticsExport(t *testing.T) {
	const file = "log-analytics-export.json"
	r := parseFile(t, "testdata/"+file)

	checkTotals(t, r, 6, 2, 0)

	lyon := audit.Geo{Country: "FR", City: "Lyon", Latitude: 45.7485, Longitude: 4.8467, ASN: 64500}
	checkEvent(t, r.eventAt(t, file, 2), audit.Event{
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
		Source:    file + ":2",
	})

	graphScopes := []string{"Application.ReadWrite.All", "Directory.AccessAsUser.All", "User.Read"}
	checkEvent(t, r.eventAt(t, file, 54), audit.Event{
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
		Source:    file + ":54",
	})

	checkEvent(t, r.eventAt(t, file, 85), audit.Event{
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
		Source:    file + ":85",
	})

	// Status and LocationDetails are JSON text in this row.
	checkEvent(t, r.eventAt(t, file, 116), audit.Event{
		ID:        audit.NewID("entra", "SignInLogs", "8d2f4a6c-1e3b-4d5f-a7c9-0b2d4f6a8c13"),
		Time:      mustTime(t, "2025-03-07T09:01:42.1180335Z"),
		Kind:      audit.KindSession,
		Action:    "SignInLogs",
		Issuer:    syntheticIssuer,
		Subject:   testUser,
		Audience:  []string{graphAppID},
		ClientID:  testApp,
		SessionID: testSession,
		IP:        netip.MustParseAddr("198.51.100.23"),
		UserAgent: azureCLIAgent,
		Geo:       audit.Geo{ASN: 64500},
		TraceID:   "a4c2e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e81",
		Reason: "error 53003: Access has been blocked by Conditional Access policies. " +
			"The access policy does not allow token issuance. (conditional access: failure)",
		Source: file + ":116",
	})

	checkEvent(t, r.eventAt(t, file, 158), audit.Event{
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
		IP:        netip.MustParseAddr("2001:db8:4f::1e"),
		Geo:       audit.Geo{Country: "FR", City: "Lyon", ASN: 64500},
		TraceID:   "f1e3d5c7-b9a1-4c3e-8f5d-7b9d1f3a5c68",
		Reason:    "conditional access: success",
		Source:    file + ":158",
	})

	// The service-principal table has no CreatedDateTime, Status or
	// SessionId.
	checkEvent(t, r.eventAt(t, file, 200), audit.Event{
		ID:       audit.NewID("entra", "ServicePrincipalSignInLogs", "f3b5d7f9-1b3d-4f5b-9d7f-1b3d5f7b9d02"),
		Time:     mustTime(t, "2025-03-07T11:31:44.2071938Z"),
		Kind:     audit.KindIssued,
		Action:   "ServicePrincipalSignInLogs clientCredentialType=clientSecret",
		TokenID:  "Pq7rS6tU5vW4xY3zA2bC1d",
		Issuer:   syntheticIssuer,
		Subject:  "4f6a8c0e-2a4c-4e6a-8c0e-2a4c6e8a0c71",
		Audience: []string{"cfa8b339-82a2-471a-a3c9-0fc0be7a4093"},
		ClientID: "6d8f0b2d-4f6a-4c8e-a0b2-d4f6a8c0e247",
		IP:       netip.MustParseAddr("198.51.100.77"),
		Geo:      audit.Geo{Country: "NL", City: "Amsterdam", Latitude: 52.374, Longitude: 4.8897, ASN: 64501},
		TraceID:  "c7e9a1c3-e5a7-4c9e-a1c3-e5a7c9e1a304",
		Reason:   "conditional access: notApplied",
		Source:   file + ":200",
	})

	if reason := r.skipAt(t, 230); !strings.Contains(reason, "failed with error 7000215 and has no sessionId") {
		t.Errorf("skip reason of line 230 = %q, want the failed service-principal sign-in without session", reason)
	}
	if reason := r.skipAt(t, 260); !strings.Contains(reason, "table AuditLogs") {
		t.Errorf("skip reason of line 260 = %q, want the AuditLogs table", reason)
	}
}

// TestLogAnalyticsMatchesDiagnostic checks that a sign-in or a Graph
// request exported from Log Analytics gives the same event as its
// diagnostic record, ID first, so that importing both adds no duplicate.
func TestLogAnalyticsMatchesDiagnostic(t *testing.T) {
	diagnostic := parseFile(t, "testdata/diagnostic-records.json")
	byID := map[string]audit.Event{}
	for _, e := range diagnostic.events {
		byID[e.ID] = e
	}

	rows := parseFile(t, "testdata/log-analytics-export.json")
	matched := 0
	for _, e := range rows.events {
		want, ok := byID[e.ID]
		if !ok {
			continue
		}
		matched++
		want.Source = e.Source
		checkEvent(t, e, want)
	}
	if matched != len(diagnostic.events) {
		t.Errorf("%d of the %d diagnostic events have a row with the same ID, want all", matched, len(diagnostic.events))
	}
}

// TestLogAnalyticsImportAddsNoDuplicate imports the diagnostic records and
// then the Log Analytics export of the same sign-ins and requests into a
// store: only the row that has no diagnostic record is added.
func TestLogAnalyticsImportAddsNoDuplicate(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "trail.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	importFile(t, db, "diagnostic-records.json")
	rows := importFile(t, db, "log-analytics-export.json")
	if rows.Imported != 1 || rows.Duplicates != 5 || rows.Skipped != 2 || rows.Rejected != 0 {
		t.Errorf("Log Analytics import: imported, duplicates, skipped, rejected = %d, %d, %d, %d, want 1, 5, 2, 0",
			rows.Imported, rows.Duplicates, rows.Skipped, rows.Rejected)
	}
}

func TestLogAnalyticsSignInRow(t *testing.T) {
	want := parseOne(t, baseSignIn).events[0]
	want.Source = "test.json:1"

	checkEvent(t, oneEvent(t, baseRow), want)
}

// TestLogAnalyticsDynamicText checks that a dynamic column written as JSON
// text gives the same event as the column written as an object.
func TestLogAnalyticsDynamicText(t *testing.T) {
	want := oneEvent(t, baseRow)
	failed := edit(t, baseRow, map[string]any{"Status": map[string]any{"errorCode": 50074, "failureReason": "Strong Authentication is required."}})
	wantFailed := oneEvent(t, failed)

	tests := []struct {
		name   string
		record string
		want   audit.Event
	}{
		{"location", asText(t, baseRow, "LocationDetails"), want},
		{"status", asText(t, baseRow, "Status"), want},
		{"both", asText(t, asText(t, baseRow, "Status"), "LocationDetails"), want},
		{"failed status", asText(t, failed, "Status"), wantFailed},
		{"padded text", edit(t, baseRow, map[string]any{"Status": " \n{\"errorCode\": \"0\"} "}), want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkEvent(t, oneEvent(t, tt.record), tt.want)
		})
	}
}

// TestLogAnalyticsLocationPlaceholders checks that a LocationDetails column
// without a location leaves Geo without a place, and keeps the sign-in.
func TestLogAnalyticsLocationPlaceholders(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 10_000) + "1" + strings.Repeat("}", 10_000)
	tests := []struct {
		name  string
		value any
	}{
		{"empty text", ""},
		{"null text", "null"},
		{"JSON null", nil},
		{"invalid text", `{"city":"Lyon"`},
		{"array text", `[{"city":"Lyon"}]`},
		{"number", 7},
		{"text nested 10000 levels", deep},
		{"zero coordinates", `{"city":"","countryOrRegion":"","geoCoordinates":{"latitude":0,"longitude":0}}`},
		{"empty coordinates", map[string]any{"city": "", "geoCoordinates": map[string]any{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := oneEvent(t, edit(t, baseRow, map[string]any{"LocationDetails": tt.value}))
			if e.Geo != (audit.Geo{ASN: 64500}) {
				t.Errorf("Geo = %+v, want only the ASN", e.Geo)
			}
		})
	}
}

func TestLogAnalyticsSignInFields(t *testing.T) {
	tests := []struct {
		name    string
		changes map[string]any
		check   func(*testing.T, audit.Event)
	}{
		{
			name:    "workspace is not the issuer",
			changes: map[string]any{"AADTenantId": remove{}},
			check: func(t *testing.T, e audit.Event) {
				if e.Issuer != "" {
					t.Errorf("Issuer = %q, want none: TenantId is the Log Analytics workspace", e.Issuer)
				}
			},
		},
		{
			name:    "time generated without created time",
			changes: map[string]any{"CreatedDateTime": remove{}},
			check: func(t *testing.T, e audit.Event) {
				if want := mustTime(t, "2025-03-07T09:08:31.9920412Z"); !e.Time.Equal(want) {
					t.Errorf("Time = %v, want TimeGenerated %v", e.Time, want)
				}
			},
		},
		{
			name:    "result type without status",
			changes: map[string]any{"Status": remove{}, "ResultType": "50126", "ResultDescription": "Invalid username or password."},
			check: func(t *testing.T, e audit.Event) {
				if e.Kind != audit.KindSession || e.Reason != "error 50126: Invalid username or password. (conditional access: success)" {
					t.Errorf("Kind, Reason = %s, %q, want a session event with the result type and description", e.Kind, e.Reason)
				}
			},
		},
		{
			name:    "status before result type",
			changes: map[string]any{"ResultType": "50126"},
			check: func(t *testing.T, e audit.Event) {
				if e.Kind != audit.KindIssued {
					t.Errorf("Kind = %s, want issued: Status.errorCode is 0", e.Kind)
				}
			},
		},
		{
			name:    "user agent and address placeholders",
			changes: map[string]any{"UserAgent": "-", "IPAddress": "5b7e2c4a-9d1f-4a3e-8b6c-2f0e4d8a1c7b", "AutonomousSystemNumber": ""},
			check: func(t *testing.T, e audit.Event) {
				if e.UserAgent != "" || e.IP.IsValid() || e.Geo.ASN != 0 {
					t.Errorf("UserAgent, IP, ASN = %q, %v, %d, want all empty", e.UserAgent, e.IP, e.Geo.ASN)
				}
			},
		},
		{
			name:    "IPv4-mapped address",
			changes: map[string]any{"IPAddress": "::ffff:203.0.113.45"},
			check: func(t *testing.T, e audit.Event) {
				if e.IP != netip.MustParseAddr("203.0.113.45") {
					t.Errorf("IP = %v, want the IPv4 address", e.IP)
				}
			},
		},
		{
			name:    "all-zero session",
			changes: map[string]any{"SessionId": nilGUID},
			check: func(t *testing.T, e audit.Event) {
				if e.SessionID != "" || e.Kind != audit.KindIssued {
					t.Errorf("SessionID, Kind = %q, %s, want no session on the issued event", e.SessionID, e.Kind)
				}
			},
		},
		{
			name:    "resource name without identity",
			changes: map[string]any{"ResourceIdentity": ""},
			check: func(t *testing.T, e audit.Event) {
				if len(e.Audience) != 1 || e.Audience[0] != "Microsoft Graph" {
					t.Errorf("Audience = %q, want the resource's display name and not the ResourceId column", e.Audience)
				}
			},
		},
		{
			name:    "padded token identifier",
			changes: map[string]any{"UniqueTokenIdentifier": testUTI + "=="},
			check: func(t *testing.T, e audit.Event) {
				if e.TokenID != testUTI {
					t.Errorf("TokenID = %q, want %q", e.TokenID, testUTI)
				}
			},
		},
		{
			name:    "succeeded without token identifier",
			changes: map[string]any{"UniqueTokenIdentifier": remove{}},
			check: func(t *testing.T, e audit.Event) {
				if e.Kind != audit.KindSession || e.SessionID != testSession {
					t.Errorf("Kind, SessionID = %s, %q, want a session event", e.Kind, e.SessionID)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, oneEvent(t, edit(t, baseRow, tt.changes)))
		})
	}
}

// TestLogAnalyticsTable checks which category a row is read as, which is
// part of its event ID.
func TestLogAnalyticsTable(t *testing.T) {
	tests := []struct {
		name    string
		changes map[string]any
		want    string
	}{
		{"SigninLogs", nil, "SignInLogs"},
		{"non-interactive", map[string]any{"Type": "AADNonInteractiveUserSignInLogs"}, "NonInteractiveUserSignInLogs"},
		{"service principal", map[string]any{"Type": "AADServicePrincipalSignInLogs"}, "ServicePrincipalSignInLogs"},
		{"managed identity", map[string]any{"Type": "AADManagedIdentitySignInLogs"}, "ManagedIdentitySignInLogs"},
		{"table name in other case", map[string]any{"Type": "signinlogs"}, "SignInLogs"},
		{"category without type", map[string]any{"Type": remove{}, "Category": "NonInteractiveUserSignInLogs"}, "NonInteractiveUserSignInLogs"},
		{"neither, interactive", map[string]any{"Type": remove{}, "Category": remove{}}, "SignInLogs"},
		{"neither, not interactive", map[string]any{"Type": remove{}, "Category": remove{}, "IsInteractive": "false"}, "NonInteractiveUserSignInLogs"},
		{"neither, service principal", map[string]any{"Type": remove{}, "Category": remove{}, "UserId": "", "ServicePrincipalId": "4f6a8c0e-2a4c-4e6a-8c0e-2a4c6e8a0c71"}, "ServicePrincipalSignInLogs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := oneEvent(t, edit(t, baseRow, tt.changes))
			if want := audit.NewID("entra", tt.want, syntheticSignInID); e.ID != want {
				t.Errorf("ID = %q, want the ID of a %s sign-in %q", e.ID, tt.want, want)
			}
			if !strings.HasPrefix(e.Action, tt.want) {
				t.Errorf("Action = %q, want it to start with %s", e.Action, tt.want)
			}
		})
	}
}

func TestLogAnalyticsGraphRow(t *testing.T) {
	want := parseOne(t, baseGraph).events[0]
	want.Source = "test.json:1"
	checkEvent(t, oneEvent(t, baseGraphRow), want)

	t.Run("unauthorized", func(t *testing.T) {
		e := oneEvent(t, edit(t, baseGraphRow, map[string]any{"ResponseStatusCode": "401"}))
		if e.Kind != audit.KindRejected || e.RejectReason != audit.RejectOther || e.Status != 401 {
			t.Errorf("Kind, RejectReason, Status = %s, %s, %d, want a rejection with status 401", e.Kind, e.RejectReason, e.Status)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		e := oneEvent(t, edit(t, baseGraphRow, map[string]any{"ResponseStatusCode": 403}))
		if e.Kind != audit.KindUsed || e.Status != 403 {
			t.Errorf("Kind, Status = %s, %d, want a use with status 403", e.Kind, e.Status)
		}
	})
	t.Run("roles without scopes", func(t *testing.T) {
		e := oneEvent(t, edit(t, baseGraphRow, map[string]any{"Scopes": "", "Roles": "User.Read.All,Mail.Read", "UserId": "", "ServicePrincipalId": "4f6a8c0e-2a4c-4e6a-8c0e-2a4c6e8a0c71"}))
		if fmt.Sprint(e.Scopes) != "[User.Read.All Mail.Read]" || e.Subject != "4f6a8c0e-2a4c-4e6a-8c0e-2a4c6e8a0c71" {
			t.Errorf("Scopes, Subject = %q, %q, want the roles and the service principal", e.Scopes, e.Subject)
		}
	})
	t.Run("unreadable issued time", func(t *testing.T) {
		e := oneEvent(t, edit(t, baseGraphRow, map[string]any{"TokenIssuedAt": "yesterday"}))
		if !e.IssuedAt.IsZero() {
			t.Errorf("IssuedAt = %v, want none", e.IssuedAt)
		}
	})
	t.Run("without session column", func(t *testing.T) {
		e := oneEvent(t, edit(t, baseGraphRow, map[string]any{"SessionId": remove{}}))
		if e.SessionID != "" || e.TokenID != testUTI {
			t.Errorf("SessionID, TokenID = %q, %q, want no session and the token", e.SessionID, e.TokenID)
		}
	})
	t.Run("projected without type", func(t *testing.T) {
		e := oneEvent(t, edit(t, baseGraphRow, map[string]any{"Type": remove{}}))
		if e.ID != want.ID {
			t.Errorf("ID = %q, want %q", e.ID, want.ID)
		}
	})
}

func TestLogAnalyticsRejected(t *testing.T) {
	tests := []struct {
		name   string
		record string
		reason string
	}{
		{"sign-in without id", edit(t, baseRow, map[string]any{"Id": remove{}}), "field Id is missing"},
		{"without status or result type", edit(t, baseRow, map[string]any{"Status": remove{}, "ResultType": remove{}}),
			"fields Status.errorCode and ResultType are missing"},
		{"result type in words", edit(t, baseRow, map[string]any{"Status": "", "ResultType": "Failure"}),
			`field ResultType "Failure" is not an integer error code`},
		{"without time", edit(t, baseRow, map[string]any{"CreatedDateTime": remove{}, "TimeGenerated": remove{}, "Type": "SigninLogs"}),
			"fields CreatedDateTime and TimeGenerated are missing"},
		{"unreadable time", edit(t, baseRow, map[string]any{"CreatedDateTime": "07/03/2025 09:06"}),
			`field CreatedDateTime "07/03/2025 09:06" is not an RFC 3339 time`},
		{"request without id", edit(t, baseGraphRow, map[string]any{"RequestId": remove{}}), "field RequestId is missing"},
		{"request without time", edit(t, baseGraphRow, map[string]any{"TimeGenerated": remove{}}), "field TimeGenerated is missing"},
		{"row of no table", `{"Id":"1","ResultType":"0"}`, "field category is missing, and the record is not a Microsoft Graph sign-in object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseOne(t, tt.record)
			checkTotals(t, r, 0, 0, 1)
			if reason := r.rejectAt(t, 1); !strings.Contains(reason, tt.reason) {
				t.Errorf("reason = %q, want it to contain %q", reason, tt.reason)
			}
		})
	}
}

func TestLogAnalyticsSkipped(t *testing.T) {
	tests := []struct {
		name   string
		record string
		reason string
	}{
		{"other table", `{"TimeGenerated":"2025-03-07T09:30:00Z","Type":"AuditLogs","Id":"x"}`, "table AuditLogs: not a sign-in"},
		{"request without token", edit(t, baseGraphRow, map[string]any{"SignInActivityId": ""}), "Graph request has no signInActivityId"},
		{"failed without session", edit(t, baseRow, map[string]any{"Status": `{"errorCode":50126}`, "SessionId": ""}),
			"SignInLogs sign-in failed with error 50126 and has no sessionId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseOne(t, tt.record)
			checkTotals(t, r, 0, 1, 0)
			if reason := r.skipAt(t, 1); !strings.Contains(reason, tt.reason) {
				t.Errorf("reason = %q, want it to contain %q", reason, tt.reason)
			}
		})
	}
}

func TestLogAnalyticsRawTokenNotKept(t *testing.T) {
	tests := []struct {
		name    string
		record  string
		changes map[string]any
	}{
		{"token in request URI", baseGraphRow, map[string]any{"RequestUri": "https://graph.microsoft.com/v1.0/me?access_token=" + testJWT}},
		{"token as activity id", baseGraphRow, map[string]any{"SignInActivityId": testJWT}},
		{"token in location text", baseRow, map[string]any{"LocationDetails": `{"city":"` + testJWT + `"}`}},
		{"token as result type", baseRow, map[string]any{"Status": remove{}, "ResultType": testJWT}},
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

// oneEvent converts record and returns its event, failing tb when the
// record yields anything else.
func oneEvent(tb testing.TB, record string) audit.Event {
	tb.Helper()
	r := parseOne(tb, record)
	if len(r.events) != 1 || len(r.skips) != 0 || len(r.rejects) != 0 {
		tb.Fatalf("want one event from %s, got:\n%v", record, r)
	}
	return r.events[0]
}

// asText returns record with the object in column written as JSON text, as
// some exports write dynamic columns.
func asText(tb testing.TB, record, column string) string {
	tb.Helper()
	var row map[string]json.RawMessage
	if err := json.Unmarshal([]byte(record), &row); err != nil {
		tb.Fatal(err)
	}
	text, err := json.Marshal(string(row[column]))
	if err != nil {
		tb.Fatal(err)
	}
	row[column] = text
	b, err := json.Marshal(row)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
