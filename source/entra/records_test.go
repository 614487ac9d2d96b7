package entra

import (
	"encoding/json"
	"strings"
	"testing"
)

// baseSignIn is a successful interactive sign-in, as diagnostic settings
// export it.
const baseSignIn = `{"time":"2025-03-07T09:08:31.9920412Z","resourceId":"/tenants/0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b/providers/Microsoft.aadiam",` +
	`"operationName":"Sign-in activity","category":"SignInLogs","tenantId":"0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b","resultType":"0",` +
	`"callerIpAddress":"203.0.113.45","correlationId":"a4c2e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e81","location":"FR",` +
	`"properties":{"id":"3e8b1f6c-0a2d-4c7e-9b5f-1d6a8e2c4b90","createdDateTime":"2025-03-07T09:06:07.4411027+00:00",` +
	`"userPrincipalName":"ada@example.com","userId":"5b7e2c4a-9d1f-4a3e-8b6c-2f0e4d8a1c7b","appId":"04b07795-8ddb-461a-bbee-02f9e1bf7b46",` +
	`"ipAddress":"203.0.113.45","status":{"errorCode":0},"userAgent":"azure-cli/2.66.0",` +
	`"location":{"city":"Lyon","state":"","countryOrRegion":"FR","geoCoordinates":{"latitude":45.7485,"longitude":4.8467}},` +
	`"correlationId":"a4c2e6f8-1b3d-4f5a-8c7e-9d0b2a4c6e81","conditionalAccessStatus":"success","isInteractive":true,` +
	`"resourceDisplayName":"Microsoft Graph","resourceId":"00000003-0000-0000-c000-000000000000","servicePrincipalId":"",` +
	`"autonomousSystemNumber":64500,"uniqueTokenIdentifier":"q3JmXv8a0EuYc1tLw5nR2A","incomingTokenType":"none",` +
	`"authenticationProtocol":"deviceCode","sessionId":"7c1d9e3a-2b6f-4c8e-a5d0-9f4b1e7a3c62"}}`

// baseGraph is a Microsoft Graph request made with the token of baseSignIn.
const baseGraph = `{"time":"2025-03-07T09:07:15.5123408Z","operationName":"Microsoft Graph Activity","category":"MicrosoftGraphActivityLogs",` +
	`"resultSignature":"200","callerIpAddress":"203.0.113.45","correlationId":"6f8a0c2e-4b6d-4f8a-9c1e-3a5c7e9b1d42","location":"West Europe",` +
	`"tenantId":"0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b",` +
	`"properties":{"timeGenerated":"2025-03-07T09:07:15.5123408Z","requestId":"6f8a0c2e-4b6d-4f8a-9c1e-3a5c7e9b1d42",` +
	`"clientRequestId":"c0ffee00-1111-4222-8333-444455556666","requestMethod":"GET","responseStatusCode":200,` +
	`"tenantId":"0f2c6b1e-4d7a-4e59-9a8b-3c5d7e9f1a2b","signInActivityId":"q3JmXv8a0EuYc1tLw5nR2A","roles":"",` +
	`"appId":"04b07795-8ddb-461a-bbee-02f9e1bf7b46","scopes":"User.Read Directory.AccessAsUser.All","C_Idtyp":"user","C_Iat":"1741338367",` +
	`"ipAddress":"203.0.113.45","userAgent":"python-requests/2.32.3","requestUri":"https://graph.microsoft.com/v1.0/me?$select=id",` +
	`"C_Sid":"7c1d9e3a-2b6f-4c8e-a5d0-9f4b1e7a3c62","userId":"5b7e2c4a-9d1f-4a3e-8b6c-2f0e4d8a1c7b","tokenIssuedAt":"2025-03-07T09:06:07Z"}}`

// remove marks a key for deletion in edit.
type remove struct{}

// edit returns the JSON object record with the keys of changes set, or
// deleted where the value is remove{}. A key is a dotted path, such as
// "properties.status.errorCode".
func edit(tb testing.TB, record string, changes map[string]any) string {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(record), &m); err != nil {
		tb.Fatal(err)
	}
	for path, v := range changes {
		keys := strings.Split(path, ".")
		obj := m
		for _, k := range keys[:len(keys)-1] {
			next, ok := obj[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				obj[k] = next
			}
			obj = next
		}
		last := keys[len(keys)-1]
		if _, ok := v.(remove); ok {
			delete(obj, last)
			continue
		}
		obj[last] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// parseOne converts one record and returns what it yielded.
func parseOne(tb testing.TB, record string) *result {
	tb.Helper()
	r := &result{}
	p := &parser{file: "test.json", h: r}
	if err := p.record(1, []byte(record)); err != nil {
		tb.Fatalf("record = %v, want nil", err)
	}
	return r
}
