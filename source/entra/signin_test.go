package entra

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

const (
	testTenant  = "0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b"
	testUser    = "5b7e2c4a-9d1f-4a3e-8b6c-2f0e4d8a1c7b"
	testApp     = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
	testUTI     = "q3JmXv8a0EuYc1tLw5nR2A"
	testSession = "7c1d9e3a-2b6f-4c8e-a5d0-9f4b1e7a3c62"
	graphAppID  = "00000003-0000-0000-c000-000000000000"
)

func TestSignInIssued(t *testing.T) {
	r := parseOne(t, baseSignIn)
	checkTotals(t, r, 1, 0, 0)
	checkEvent(t, r.events[0], audit.Event{
		ID:        audit.NewID("entra", "SignInLogs", "3e8b1f6c-0a2d-4c7e-9b5f-1d6a8e2c4b90"),
		Time:      mustTime(t, "2025-03-07T09:06:07.4411027Z"),
		Kind:      audit.KindIssued,
		Action:    "SignInLogs authenticationProtocol=deviceCode",
		TokenID:   testUTI,
		Issuer:    "https://login.microsoftonline.com/" + testTenant + "/v2.0",
		Subject:   testUser,
		Audience:  []string{graphAppID},
		ClientID:  testApp,
		SessionID: testSession,
		IP:        netip.MustParseAddr("203.0.113.45"),
		UserAgent: "azure-cli/2.66.0",
		Geo:       audit.Geo{Country: "FR", City: "Lyon", Latitude: 45.7485, Longitude: 4.8467, ASN: 64500},
		TraceID:   "a4c2e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e81",
		Reason:    "conditional access: success",
		Source:    "test.json:1",
	})
}

func TestSignInFailedIsSession(t *testing.T) {
	record := edit(t, baseSignIn, map[string]any{
		"resultType": "53003",
		"properties.status": map[string]any{
			"errorCode":     53003,
			"failureReason": "Access has been blocked by Conditional Access policies.",
		},
		"properties.conditionalAccessStatus": "failure",
	})
	r := parseOne(t, record)
	checkTotals(t, r, 1, 0, 0)
	checkEvent(t, r.events[0], audit.Event{
		ID:        audit.NewID("entra", "SignInLogs", "3e8b1f6c-0a2d-4c7e-9b5f-1d6a8e2c4b90"),
		Time:      mustTime(t, "2025-03-07T09:06:07.4411027Z"),
		Kind:      audit.KindSession,
		Action:    "SignInLogs authenticationProtocol=deviceCode",
		Issuer:    "https://login.microsoftonline.com/" + testTenant + "/v2.0",
		Subject:   testUser,
		Audience:  []string{graphAppID},
		ClientID:  testApp,
		SessionID: testSession,
		IP:        netip.MustParseAddr("203.0.113.45"),
		UserAgent: "azure-cli/2.66.0",
		Geo:       audit.Geo{Country: "FR", City: "Lyon", Latitude: 45.7485, Longitude: 4.8467, ASN: 64500},
		TraceID:   "a4c2e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e81",
		Reason:    "error 53003: Access has been blocked by Conditional Access policies. (conditional access: failure)",
		Source:    "test.json:1",
	})
}

func TestSignInSkipped(t *testing.T) {
	tests := []struct {
		name    string
		changes map[string]any
		reason  string // a part of the skip reason
	}{
		{
			name:    "no uti and no session",
			changes: map[string]any{"properties.uniqueTokenIdentifier": remove{}, "properties.sessionId": remove{}},
			reason:  "succeeded but has no uniqueTokenIdentifier or sessionId",
		},
		{
			name:    "uti and session null strings",
			changes: map[string]any{"properties.uniqueTokenIdentifier": "null", "properties.sessionId": "null"},
			reason:  "succeeded but has no uniqueTokenIdentifier or sessionId",
		},
		{
			name: "failed without session",
			changes: map[string]any{
				"properties.status":    map[string]any{"errorCode": 50126},
				"properties.sessionId": "",
			},
			reason: "failed with error 50126 and has no sessionId",
		},
		{
			name: "failed with the all-zero session",
			changes: map[string]any{
				"properties.status":    map[string]any{"errorCode": 50158},
				"properties.sessionId": "00000000-0000-0000-0000-000000000000",
			},
			reason: "failed with error 50158 and has no sessionId",
		},
		{
			name:    "audit log",
			changes: map[string]any{"category": "AuditLogs"},
			reason:  "category AuditLogs: not a sign-in or Microsoft Graph activity record",
		},
		{
			name:    "risky users without properties",
			changes: map[string]any{"category": "RiskyUsers", "properties": remove{}},
			reason:  "category RiskyUsers",
		},
		{
			name: "skipped despite bad time",
			changes: map[string]any{
				"properties.uniqueTokenIdentifier": remove{},
				"properties.sessionId":             remove{},
				"properties.createdDateTime":       "yesterday",
			},
			reason: "no uniqueTokenIdentifier",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseOne(t, edit(t, baseSignIn, tt.changes))
			checkTotals(t, r, 0, 1, 0)
			if reason := r.skipAt(t, 1); !strings.Contains(reason, tt.reason) {
				t.Errorf("skip reason = %q, want it to contain %q", reason, tt.reason)
			}
		})
	}
}

func TestSignInWithoutUTIIsSessionContext(t *testing.T) {
	r := parseOne(t, edit(t, baseSignIn, map[string]any{"properties.uniqueTokenIdentifier": remove{}}))

	checkTotals(t, r, 1, 0, 0)
	e := r.events[0]
	if e.Kind != audit.KindSession || e.TokenID != "" || e.SessionID == "" {
		t.Errorf("event kind %s, token %q, session %q; want a session event of the sign-in's session, without token", e.Kind, e.TokenID, e.SessionID)
	}
	if !strings.HasPrefix(e.Reason, "succeeded, token not named") {
		t.Errorf("Reason = %q, want it to say the sign-in succeeded without naming its token", e.Reason)
	}
}

func TestSignInPlaceholders(t *testing.T) {
	tests := []struct {
		name    string
		changes map[string]any
		check   func(t *testing.T, e audit.Event)
	}{
		{
			name:    "GUID for address",
			changes: map[string]any{"properties.ipAddress": "77777777-7777-7777-7777-777777777777", "callerIpAddress": "77777777-7777-7777-7777-777777777777"},
			check:   wantIP(netip.Addr{}),
		},
		{
			name:    "address only in callerIpAddress",
			changes: map[string]any{"properties.ipAddress": "", "callerIpAddress": "198.51.100.9"},
			check:   wantIP(netip.MustParseAddr("198.51.100.9")),
		},
		{
			name:    "IPv4-mapped IPv6",
			changes: map[string]any{"properties.ipAddress": "::ffff:198.51.100.23"},
			check:   wantIP(netip.MustParseAddr("198.51.100.23")),
		},
		{
			name:    "IPv6 with leading zeros",
			changes: map[string]any{"properties.ipAddress": "2001:0db8:85a3:0000:0000:8a2e:0370:7334"},
			check:   wantIP(netip.MustParseAddr("2001:db8:85a3::8a2e:370:7334")),
		},
		{
			name:    "address with port",
			changes: map[string]any{"properties.ipAddress": "[2001:db8::5]:443"},
			check:   wantIP(netip.MustParseAddr("2001:db8::5")),
		},
		{
			name:    "empty coordinates",
			changes: map[string]any{"properties.location": map[string]any{"geoCoordinates": map[string]any{}}},
			check:   wantGeo(audit.Geo{ASN: 64500}),
		},
		{
			name: "zero coordinates",
			changes: map[string]any{"properties.location": map[string]any{
				"city": "", "state": "", "countryOrRegion": "",
				"geoCoordinates": map[string]any{"latitude": 0.0, "longitude": 0.0},
			}},
			check: wantGeo(audit.Geo{ASN: 64500}),
		},
		{
			name: "coordinates as strings",
			changes: map[string]any{"properties.location": map[string]any{
				"countryOrRegion": "NL",
				"geoCoordinates":  map[string]any{"latitude": "52.374", "longitude": "4.8897"},
			}},
			check: wantGeo(audit.Geo{Country: "NL", Latitude: 52.374, Longitude: 4.8897, ASN: 64500}),
		},
		{
			name:    "location a string",
			changes: map[string]any{"properties.location": "FR", "properties.autonomousSystemNumber": remove{}},
			check:   wantGeo(audit.Geo{}),
		},
		{
			name:    "user agent null string",
			changes: map[string]any{"properties.userAgent": "null"},
			check: func(t *testing.T, e audit.Event) {
				if e.UserAgent != "" {
					t.Errorf("UserAgent = %q, want empty", e.UserAgent)
				}
			},
		},
		{
			name: "service principal subject",
			changes: map[string]any{
				"category":                      "ServicePrincipalSignInLogs",
				"properties.userId":             nil,
				"properties.servicePrincipalId": "4f6a8c0e-2a4c-4e6a-8c0e-2a4c6e8a0c71",
			},
			check: func(t *testing.T, e audit.Event) {
				if e.Subject != "4f6a8c0e-2a4c-4e6a-8c0e-2a4c6e8a0c71" {
					t.Errorf("Subject = %q, want the servicePrincipalId", e.Subject)
				}
				if want := audit.NewID("entra", "ServicePrincipalSignInLogs", "3e8b1f6c-0a2d-4c7e-9b5f-1d6a8e2c4b90"); e.ID != want {
					t.Errorf("ID = %q, want %q", e.ID, want)
				}
			},
		},
		{
			name:    "time without zone",
			changes: map[string]any{"properties.createdDateTime": "2025-03-07T09:06:07.4411027"},
			check:   wantTime("2025-03-07T09:06:07.4411027Z"),
		},
		{
			name:    "time with offset",
			changes: map[string]any{"properties.createdDateTime": "2025-03-07T10:06:07+01:00"},
			check:   wantTime("2025-03-07T09:06:07Z"),
		},
		{
			name:    "time only in record",
			changes: map[string]any{"properties.createdDateTime": remove{}},
			check:   wantTime("2025-03-07T09:08:31.9920412Z"),
		},
		{
			name:    "error code a string",
			changes: map[string]any{"properties.status": map[string]any{"errorCode": "0"}},
			check:   wantKind(audit.KindIssued),
		},
		{
			name:    "error code only in resultType",
			changes: map[string]any{"properties.status": remove{}, "resultType": "50074"},
			check:   wantKind(audit.KindSession),
		},
		{
			name:    "no resource id",
			changes: map[string]any{"properties.resourceId": ""},
			check: func(t *testing.T, e audit.Event) {
				if want := []string{"Microsoft Graph"}; !reflect.DeepEqual(e.Audience, want) {
					t.Errorf("Audience = %q, want %q", e.Audience, want)
				}
			},
		},
		{
			name:    "no tenant",
			changes: map[string]any{"tenantId": remove{}},
			check: func(t *testing.T, e audit.Event) {
				if e.Issuer != "" {
					t.Errorf("Issuer = %q, want empty", e.Issuer)
				}
			},
		},
		{
			name:    "padded uti",
			changes: map[string]any{"properties.uniqueTokenIdentifier": testUTI + "=="},
			check: func(t *testing.T, e audit.Event) {
				if e.TokenID != testUTI {
					t.Errorf("TokenID = %q, want %q without padding", e.TokenID, testUTI)
				}
			},
		},
		{
			name:    "category in other case",
			changes: map[string]any{"category": "signinlogs"},
			check:   wantKind(audit.KindIssued),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseOne(t, edit(t, baseSignIn, tt.changes))
			checkTotals(t, r, 1, 0, 0)
			if len(r.events) == 1 {
				tt.check(t, r.events[0])
			}
		})
	}
}

func TestSignInRejected(t *testing.T) {
	tests := []struct {
		name   string
		record string
		reason string // a part of the rejection reason
	}{
		{
			name:   "properties missing",
			record: edit(t, baseSignIn, map[string]any{"properties": remove{}}),
			reason: "field properties is missing",
		},
		{
			name:   "properties a string",
			record: edit(t, baseSignIn, map[string]any{"properties": "{}"}),
			reason: "field properties is a JSON string, want an object",
		},
		{
			name:   "id missing",
			record: edit(t, baseSignIn, map[string]any{"properties.id": remove{}}),
			reason: "field properties.id is missing",
		},
		{
			name:   "time invalid",
			record: edit(t, baseSignIn, map[string]any{"properties.createdDateTime": "07/03/2025 09:06"}),
			reason: `field properties.createdDateTime "07/03/2025 09:06" is not an RFC 3339 time`,
		},
		{
			name:   "times missing",
			record: edit(t, baseSignIn, map[string]any{"properties.createdDateTime": remove{}, "time": "null"}),
			reason: "field properties.createdDateTime is missing",
		},
		{
			name:   "error code missing",
			record: edit(t, baseSignIn, map[string]any{"properties.status": map[string]any{}, "resultType": remove{}}),
			reason: "field properties.status.errorCode is missing",
		},
		{
			name:   "error code an object",
			record: edit(t, baseSignIn, map[string]any{"properties.status.errorCode": map[string]any{}, "resultType": remove{}}),
			reason: "field properties.status.errorCode is a JSON object, want an integer",
		},
		{
			name:   "time out of range",
			record: edit(t, baseSignIn, map[string]any{"properties.createdDateTime": "1500-01-01T00:00:00Z"}),
			reason: "the issued event is invalid: field Time",
		},
		{
			name:   "not an Entra record",
			record: `{"eventType":"user.session.start","published":"2025-03-07T09:06:07Z"}`,
			reason: "field category is missing, and the record is not a Microsoft Graph sign-in object",
		},
		{
			name:   "not an object",
			record: `["SignInLogs"]`,
			reason: "record is a JSON array, want an object",
		},
		{
			name:   "invalid JSON",
			record: baseSignIn[:200],
			reason: "invalid JSON",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseOne(t, tt.record)
			checkTotals(t, r, 0, 0, 1)
			if reason := r.rejectAt(t, 1); !strings.Contains(reason, tt.reason) {
				t.Errorf("reject reason = %q, want it to contain %q", reason, tt.reason)
			}
			if len(r.rejects) == 1 && r.rejects[0].File != "test.json" {
				t.Errorf("reject file = %q, want test.json", r.rejects[0].File)
			}
		})
	}
}

func TestGraphAPISignInCategory(t *testing.T) {
	tests := []struct {
		name   string
		object string
		want   string
	}{
		{"interactive type", `{"signInEventTypes":["interactiveUser"]}`, CategorySignIn},
		{"non-interactive type", `{"signInEventTypes":["nonInteractiveUser"]}`, CategoryNonInteractiveUserSignIn},
		{"service principal type", `{"signInEventTypes":["servicePrincipal"]}`, CategoryServicePrincipalSignIn},
		{"managed identity type", `{"signInEventTypes":["managedIdentity"]}`, CategoryManagedIdentitySignIn},
		{"unknown type then known", `{"signInEventTypes":["unknownFutureValue","nonInteractiveUser"]}`, CategoryNonInteractiveUserSignIn},
		{"not interactive", `{"isInteractive":false,"userId":"u"}`, CategoryNonInteractiveUserSignIn},
		{"service principal id", `{"userId":"","servicePrincipalId":"sp"}`, CategoryServicePrincipalSignIn},
		{"nothing known", `{"userId":"u"}`, CategorySignIn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &result{}
			p := &parser{file: "test.json", h: r}
			v, err := p.json.Parse(tt.object)
			if err != nil {
				t.Fatal(err)
			}
			if got := graphAPICategory(v); got != tt.want {
				t.Errorf("graphAPICategory(%s) = %q, want %q", tt.object, got, tt.want)
			}
		})
	}
}

func wantIP(want netip.Addr) func(*testing.T, audit.Event) {
	return func(t *testing.T, e audit.Event) {
		if e.IP != want {
			t.Errorf("IP = %v, want %v", e.IP, want)
		}
	}
}

func wantGeo(want audit.Geo) func(*testing.T, audit.Event) {
	return func(t *testing.T, e audit.Event) {
		if e.Geo != want {
			t.Errorf("Geo = %+v, want %+v", e.Geo, want)
		}
	}
}

func wantTime(want string) func(*testing.T, audit.Event) {
	return func(t *testing.T, e audit.Event) {
		w, err := time.Parse(time.RFC3339Nano, want)
		if err != nil {
			t.Fatal(err)
		}
		if !e.Time.Equal(w) || e.Time.Location() != time.UTC {
			t.Errorf("Time = %v, want %v in UTC", e.Time, w)
		}
	}
}

func wantKind(want audit.Kind) func(*testing.T, audit.Event) {
	return func(t *testing.T, e audit.Event) {
		if e.Kind != want {
			t.Errorf("Kind = %v, want %v", e.Kind, want)
		}
	}
}
