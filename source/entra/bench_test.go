package entra

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// benchRecords is the number of records in the generated log;
// TOKENTRAIL_BENCH_RECORDS overrides it.
const benchRecords = 500_000

// counter counts events and fails on a rejection.
type counter struct {
	tb     testing.TB
	events int
}

func (c *counter) Event(audit.Event) error { c.events++; return nil }
func (c *counter) Skip(int, string)        {}
func (c *counter) Reject(err *source.RecordError) {
	c.tb.Fatalf("generated record rejected: %v", err)
}

// benchSignIn is a sign-in record in the shape of a diagnostic-settings
// export. With three conditional-access policies, the device and the
// authentication steps, it has about 4 KB. Real records grow with the
// number of policies in the tenant.
const benchSignIn = `{"time":"%[1]s","resourceId":"/tenants/0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b/providers/Microsoft.aadiam",` +
	`"operationName":"Sign-in activity","operationVersion":"1.0","category":"%[2]s","tenantId":"0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b",` +
	`"resultType":"%[3]d","resultSignature":"None","durationMs":0,"callerIpAddress":"%[4]s","correlationId":"%[5]s",` +
	`"identity":"User %[6]d","Level":4,"location":"FR","properties":{"id":"%[7]s","createdDateTime":"%[1]s",` +
	`"userDisplayName":"User %[6]d","userPrincipalName":"user%[6]d@example.com","userId":"%[8]s","appId":"04b07795-8ddb-461a-bbee-02f9e1bf7b46",` +
	`"appDisplayName":"Microsoft Azure CLI","ipAddress":"%[4]s","status":{"errorCode":%[3]d%[9]s},"clientAppUsed":"Browser",` +
	`"userAgent":"%[10]s","deviceDetail":{"deviceId":"","displayName":"","operatingSystem":"Windows10","browser":"Edge 133.0.0",` +
	`"isCompliant":false,"isManaged":false,"trustType":""},"location":{"city":"Lyon","state":"Auvergne-Rhone-Alpes","countryOrRegion":"FR",` +
	`"geoCoordinates":{"latitude":45.7485,"longitude":4.8467}},"mfaDetail":{},"correlationId":"%[5]s","conditionalAccessStatus":"%[11]s",` +
	`"appliedConditionalAccessPolicies":[{"id":"1b3d5f7a-9c1e-4a3c-8e5a-7c9e1a3c5e01","displayName":"Require MFA for administrators",` +
	`"enforcedGrantControls":["Mfa"],"enforcedSessionControls":[],"result":"notApplied","conditionsSatisfied":0,"conditionsNotSatisfied":1},` +
	`{"id":"1b3d5f7a-9c1e-4a3c-8e5a-7c9e1a3c5e02","displayName":"Block legacy authentication","enforcedGrantControls":["Block"],` +
	`"enforcedSessionControls":[],"result":"notApplied","conditionsSatisfied":1,"conditionsNotSatisfied":2},` +
	`{"id":"1b3d5f7a-9c1e-4a3c-8e5a-7c9e1a3c5e03","displayName":"Require compliant device","enforcedGrantControls":["RequireCompliantDevice"],` +
	`"enforcedSessionControls":[],"result":"%[11]s","conditionsSatisfied":3,"conditionsNotSatisfied":0}],` +
	`"authenticationContextClassReferences":[],"originalRequestId":"%[7]s","isInteractive":%[12]t,"tokenIssuerName":"","tokenIssuerType":"AzureAD",` +
	`"authenticationProcessingDetails":[{"key":"Legacy TLS (TLS 1.0, 1.1, 3DES)","value":"False"},{"key":"Oauth Scope Info",` +
	`"value":"[\"User.Read\",\"Directory.AccessAsUser.All\"]"},{"key":"Is CAE Token","value":"False"}],"networkLocationDetails":[],` +
	`"processingTimeInMilliseconds":112,"riskDetail":"none","riskLevelAggregated":"none","riskLevelDuringSignIn":"none","riskState":"none",` +
	`"riskEventTypes":[],"riskEventTypes_v2":[],"resourceDisplayName":"Microsoft Graph","resourceId":"00000003-0000-0000-c000-000000000000",` +
	`"resourceTenantId":"0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b","homeTenantId":"0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b",` +
	`"authenticationDetails":[{"authenticationStepDateTime":"%[1]s","authenticationMethod":"Password","authenticationMethodDetail":"Password Hash Sync",` +
	`"succeeded":true,"authenticationStepResultDetail":"Correct password","authenticationStepRequirement":"Primary authentication",` +
	`"StatusSequence":0,"RequestSequence":1}],"authenticationRequirementPolicies":[],"sessionLifetimePolicies":[],` +
	`"authenticationRequirement":"singleFactorAuthentication","servicePrincipalId":"","userType":"Member","flaggedForReview":false,` +
	`"isTenantRestricted":false,"autonomousSystemNumber":64500,"crossTenantAccessType":"none","privateLinkDetails":{},"ssoExtensionVersion":"",` +
	`"uniqueTokenIdentifier":"%[13]s","authenticationStrengths":[],"incomingTokenType":"%[14]s","authenticationProtocol":"none",` +
	`"appServicePrincipalId":null,"resourceServicePrincipalId":"3c5e7a9c-1e3a-4c5e-8a7c-9e1a3c5e7a9c","rngcStatus":0,` +
	`"signInTokenProtectionStatus":"none","originalTransferMethod":"none","isThroughGlobalSecureAccess":false,` +
	`"sessionId":"%[15]s","appOwnerTenantId":"f8ddef55-e0a3-4ae6-9bd3-4b8d6d9e0d8f","resourceOwnerTenantId":"f8ddef55-e0a3-4ae6-9bd3-4b8d6d9e0d8f"}}`

// benchGraph is a Microsoft Graph activity record of about 1.8 KB.
const benchGraph = `{"time":"%[1]s","resourceId":"/TENANTS/0F2C6B1E-4D7A-4E59-9A8B-3C5D7E9F1A2B/PROVIDERS/MICROSOFT.AADIAM",` +
	`"operationName":"Microsoft Graph Activity","operationVersion":"v1.0","category":"MicrosoftGraphActivityLogs","resultSignature":"%[2]d",` +
	`"durationMs":"118204","callerIpAddress":"%[3]s","correlationId":"%[4]s","level":"Informational","location":"West Europe",` +
	`"properties":{"__UDI_RequiredFields_TenantId":"0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b","__UDI_RequiredFields_UniqueId":"%[4]s",` +
	`"__UDI_RequiredFields_EventTime":638770000000000000,"__UDI_RequiredFields_RegionScope":"EU","timeGenerated":"%[1]s",` +
	`"location":"West Europe","requestId":"%[4]s","operationId":"%[4]s","clientRequestId":"%[4]s","apiVersion":"v1.0",` +
	`"requestMethod":"%[5]s","responseStatusCode":%[2]d,"tenantId":"0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b","durationMs":118204,` +
	`"responseSizeBytes":2114,"signInActivityId":"%[6]s","roles":"","appId":"04b07795-8ddb-461a-bbee-02f9e1bf7b46",` +
	`"UserPrincipalObjectID":"%[7]s","scopes":"Application.ReadWrite.All Directory.AccessAsUser.All User.Read","identityProvider":"",` +
	`"clientAuthMethod":"0","wids":"","C_Idtyp":"user","C_Iat":"%[8]d","ipAddress":"%[3]s","userAgent":"%[9]s",` +
	`"requestUri":"https://graph.microsoft.com/v1.0/%[10]s","atContentP":"","atContentH":"","C_Sid":"%[11]s","C_DeviceId":"",` +
	`"userId":"%[7]s","tokenIssuedAt":"%[12]s"},"tenantId":"0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b"}`

// benchSignInRow is a sign-in as a row of a Log Analytics table, with
// Status, LocationDetails and the other object columns written as JSON
// text. It has about 3.5 KB.
const benchSignInRow = `{"TenantId":"9a1b3c5d-7e9f-4a1b-8c3d-5e7f9a1b3c5d","SourceSystem":"Azure AD","TimeGenerated":"%[1]s",` +
	`"ResourceId":"/tenants/0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b/providers/Microsoft.aadiam","OperationName":"Sign-in activity",` +
	`"OperationVersion":"1.0","Category":"%[15]s","ResultType":"%[3]d","ResultSignature":"None","ResultDescription":"","DurationMs":"0",` +
	`"CorrelationId":"%[5]s","Identity":"User %[6]d","Level":"4","Location":"FR","AADTenantId":"0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b",` +
	`"AlternateSignInName":"user%[6]d@example.com","AppDisplayName":"Microsoft Azure CLI","AppId":"04b07795-8ddb-461a-bbee-02f9e1bf7b46",` +
	`"AuthenticationContextClassReferences":"[]",` +
	`"AuthenticationDetails":"[{\"authenticationStepDateTime\":\"%[1]s\",\"authenticationMethod\":\"Password\",\"succeeded\":true,` +
	`\"authenticationStepResultDetail\":\"Correct password\",\"authenticationStepRequirement\":\"Primary authentication\"}]",` +
	`"AuthenticationProcessingDetails":"[{\"key\":\"Legacy TLS (TLS 1.0, 1.1, 3DES)\",\"value\":\"False\"},{\"key\":\"Is CAE Token\",\"value\":\"False\"}]",` +
	`"AuthenticationProtocol":"none","AuthenticationRequirement":"singleFactorAuthentication","AutonomousSystemNumber":"64500",` +
	`"ClientAppUsed":"Browser","ClientCredentialType":"none",` +
	`"ConditionalAccessPolicies":"[{\"id\":\"1b3d5f7a-9c1e-4a3c-8e5a-7c9e1a3c5e01\",\"displayName\":\"Require MFA for administrators\",` +
	`\"enforcedGrantControls\":[\"Mfa\"],\"enforcedSessionControls\":[],\"result\":\"notApplied\"},` +
	`{\"id\":\"1b3d5f7a-9c1e-4a3c-8e5a-7c9e1a3c5e02\",\"displayName\":\"Block legacy authentication\",\"enforcedGrantControls\":[\"Block\"],` +
	`\"enforcedSessionControls\":[],\"result\":\"notApplied\"},{\"id\":\"1b3d5f7a-9c1e-4a3c-8e5a-7c9e1a3c5e03\",` +
	`\"displayName\":\"Require compliant device\",\"enforcedGrantControls\":[\"RequireCompliantDevice\"],\"enforcedSessionControls\":[],` +
	`\"result\":\"%[10]s\"}]","ConditionalAccessStatus":"%[10]s","CreatedDateTime":"%[1]s","CrossTenantAccessType":"none",` +
	`"DeviceDetail":"{\"deviceId\":\"\",\"operatingSystem\":\"Windows10\",\"browser\":\"Edge 133.0.0\",\"isCompliant\":false,\"isManaged\":false}",` +
	`"HomeTenantId":"0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b","Id":"%[5]s","IncomingTokenType":"%[13]s","IPAddress":"%[4]s",` +
	`"IsInteractive":%[11]t,"IsRisky":false,` +
	`"LocationDetails":"{\"city\":\"Lyon\",\"state\":\"Auvergne-Rhone-Alpes\",\"countryOrRegion\":\"FR\",` +
	`\"geoCoordinates\":{\"latitude\":45.7485,\"longitude\":4.8467}}","MfaDetail":"{}","NetworkLocationDetails":"[]",` +
	`"OriginalRequestId":"%[5]s","ProcessingTimeInMilliseconds":"112","ResourceDisplayName":"Microsoft Graph",` +
	`"ResourceIdentity":"00000003-0000-0000-c000-000000000000","ResourceServicePrincipalId":"3c5e7a9c-1e3a-4c5e-8a7c-9e1a3c5e7a9c",` +
	`"ResourceTenantId":"0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b","RiskDetail":"none","RiskEventTypes":"[]","RiskEventTypes_V2":"[]",` +
	`"RiskLevelAggregated":"none","RiskLevelDuringSignIn":"none","RiskState":"none","ServicePrincipalId":"","SessionId":"%[14]s",` +
	`"SessionLifetimePolicies":"[]","Status":"{\"errorCode\":%[3]d%[8]s}","TokenIssuerName":"","TokenIssuerType":"AzureAD",` +
	`"UniqueTokenIdentifier":"%[12]s","UserAgent":"%[9]s","UserDisplayName":"User %[6]d","UserId":"%[7]s",` +
	`"UserPrincipalName":"user%[6]d@example.com","UserType":"Member","Type":"%[2]s"}`

// benchGraphRow is a Microsoft Graph request as a row of the
// MicrosoftGraphActivityLogs table, of about 1.1 KB.
const benchGraphRow = `{"TenantId":"9a1b3c5d-7e9f-4a1b-8c3d-5e7f9a1b3c5d","TimeGenerated":"%[1]s","Location":"West Europe",` +
	`"RequestId":"%[4]s","OperationId":"%[4]s","ClientRequestId":"%[4]s","ApiVersion":"v1.0","RequestMethod":"%[5]s",` +
	`"ResponseStatusCode":%[2]d,"AadTenantId":"0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b","IPAddress":"%[3]s","UserAgent":"%[9]s",` +
	`"RequestUri":"https://graph.microsoft.com/v1.0/%[10]s","DurationMs":118204,"ResponseSizeBytes":2114,"SignInActivityId":"%[6]s",` +
	`"Roles":"","TokenIssuedAt":"%[12]s","AppId":"04b07795-8ddb-461a-bbee-02f9e1bf7b46","UserId":"%[7]s","ServicePrincipalId":"",` +
	`"Scopes":"Application.ReadWrite.All Directory.AccessAsUser.All User.Read","IdentityProvider":"","ClientAuthMethod":0,` +
	`"Wids":"","SessionId":"%[11]s","DeviceId":"","SourceSystem":"Azure","Type":"MicrosoftGraphActivityLogs"}`

// generateLog writes n records as JSON lines, 2.2 KB each on average. A
// quarter are sign-ins: interactive, non-interactive with a refresh token,
// and one in ten failed in a session. The rest are Graph requests made with
// the tokens of earlier sign-ins, and one in ten is refused with 403. A
// third of the sign-ins and a fifth of the requests are rows of Log
// Analytics tables, and the others are diagnostic records. A fixed seed
// makes every run read the same bytes.
func generateLog(tb testing.TB, n int) []byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	agents := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36 Edg/133.0.0.0",
		"python-requests/2.32.3",
		"python/3.12.4 (Linux-6.8.0-x86_64) msal/1.31.0 azure-cli/2.66.0",
	}
	paths := []string{"me", "me/messages?$top=50", "users?$select=id,displayName", "groups", "applications", "me/drive/root/children"}
	methods := []string{"GET", "GET", "GET", "POST", "PATCH"}

	type token struct{ uti, session, user string }
	tokens := make([]token, 0, n/4+1)
	var buf bytes.Buffer
	buf.Grow(n * 1800)
	at := time.Date(2025, 3, 7, 8, 0, 0, 0, time.UTC)
	for i := range n {
		at = at.Add(time.Duration(rng.IntN(40)) * time.Millisecond)
		stamp := at.Format("2006-01-02T15:04:05.0000000Z")
		ip := fmt.Sprintf("203.0.113.%d", rng.IntN(256))
		agent := agents[rng.IntN(len(agents))]
		id := fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", i, rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Int64N(1<<48))

		if i%4 == 0 || len(tokens) == 0 {
			user := fmt.Sprintf("%08x-0000-4000-8000-%012x", rng.IntN(5000), rng.IntN(5000))
			t := token{uti: fmt.Sprintf("u%021d", i), session: fmt.Sprintf("s%035d", rng.IntN(20000)), user: user}
			category, interactive, incoming, code, failure, access := "SignInLogs", true, "none", 0, "", "success"
			switch {
			case i%40 == 0:
				code, failure, access = 50074, `,"failureReason":"Strong Authentication is required."`, "notApplied"
			case i%5 == 0:
				category, interactive, incoming = "NonInteractiveUserSignInLogs", false, "refreshToken"
			}
			if i%12 == 8 {
				table := "SigninLogs"
				if category != "SignInLogs" {
					table = "AADNonInteractiveUserSignInLogs"
				}
				// The failure reason goes into the JSON text of Status.
				failure = strings.ReplaceAll(failure, `"`, `\"`)
				fmt.Fprintf(&buf, benchSignInRow, stamp, table, code, ip, id, i%5000, user, failure, agent, access,
					interactive, t.uti, incoming, t.session, category)
			} else {
				fmt.Fprintf(&buf, benchSignIn, stamp, category, code, ip, id, i%5000, id, user, failure, agent, access,
					interactive, t.uti, incoming, t.session)
			}
			if code == 0 {
				tokens = append(tokens, t)
			}
		} else {
			t := tokens[len(tokens)-1-rng.IntN(min(len(tokens), 200))]
			status := 200
			if rng.IntN(10) == 0 {
				status = 403
			}
			template := benchGraph
			if i%5 == 2 {
				template = benchGraphRow
			}
			fmt.Fprintf(&buf, template, stamp, status, ip, id, methods[rng.IntN(len(methods))], t.uti, t.user,
				at.Add(-5*time.Minute).Unix(), agent, paths[rng.IntN(len(paths))], t.session,
				at.Add(-5*time.Minute).Format(time.RFC3339))
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func benchRecordCount(tb testing.TB) int {
	tb.Helper()
	s := os.Getenv("TOKENTRAIL_BENCH_RECORDS")
	if s == "" {
		return benchRecords
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		tb.Fatalf("TOKENTRAIL_BENCH_RECORDS = %q, want a positive integer", s)
	}
	return n
}

// BenchmarkParse imports a generated log of sign-ins and Graph requests
// with Format().Parse, next to what a user might write instead: decoding
// each line into map[string]any with encoding/json, which converts nothing.
func BenchmarkParse(b *testing.B) {
	n := benchRecordCount(b)
	data := generateLog(b, n)

	b.Run("Parse", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		events := 0
		for b.Loop() {
			c := &counter{tb: b}
			in := source.Input{Reader: bytes.NewReader(data), Name: "bench.jsonl"}
			if err := Format().Parse(context.Background(), in, c); err != nil {
				b.Fatal(err)
			}
			events += c.events
		}
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	})

	b.Run("UnmarshalMap", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		records := 0
		for b.Loop() {
			rest := data
			for len(rest) > 0 {
				line, tail, _ := bytes.Cut(rest, []byte("\n"))
				rest = tail
				var record map[string]any
				if err := json.Unmarshal(line, &record); err != nil {
					b.Fatal(err)
				}
				records++
			}
		}
		b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	})
}

// TestGenerateLog checks that the benchmark's log imports without a
// rejection and yields an event for every record, and that it contains
// both shapes of records.
func TestGenerateLog(t *testing.T) {
	data := generateLog(t, 2000)
	r := parseText(t, "bench.jsonl", string(data))
	checkTotals(t, r, 2000, 0, 0)

	if bytes.Contains(data, []byte("%!")) {
		t.Errorf("the generated log contains a formatting error (%%!)")
	}
	for _, table := range []string{"SigninLogs", "AADNonInteractiveUserSignInLogs", "MicrosoftGraphActivityLogs"} {
		if !bytes.Contains(data, []byte(`"Type":"`+table+`"`)) {
			t.Errorf("the generated log has no row of the %s table", table)
		}
	}
	sessions := 0
	for _, e := range r.events {
		if e.Kind == audit.KindSession && strings.HasPrefix(e.Source, "bench.jsonl:") {
			sessions++
		}
	}
	if sessions == 0 {
		t.Errorf("the generated log has no failed sign-in")
	}
}
