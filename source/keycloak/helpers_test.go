package keycloak

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
)

// recordKey returns the text that a record's event IDs are derived from: a
// JSON log record's time and message, a JSON event with sorted keys, and
// any other line as it is.
func recordKey(tb testing.TB, raw string) string {
	tb.Helper()
	trimmed := strings.TrimSpace(raw)
	if !strings.HasPrefix(trimmed, "{") {
		return raw
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(trimmed), &obj); err != nil {
		tb.Fatalf("record %.60q is not JSON: %v", raw, err)
	}
	if message, ok := obj["message"].(string); ok {
		stamp, _ := obj["timestamp"].(string)
		if stamp == "" {
			stamp, _ = obj["@timestamp"].(string)
		}
		return stamp + "\n" + message
	}
	b, err := json.Marshal(obj)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// issuedID is the ID of the issuance of token tokenID in role (access or
// refresh), whichever record logged it.
func issuedID(tokenID, role string) string {
	return audit.NewID("keycloak", "issued\n"+tokenID, role)
}

// refreshedID is the ID of the redemption of refresh token refresh for the
// access token access.
func refreshedID(refresh, access string) string {
	return audit.NewID("keycloak", "refreshed\n"+refresh+"\n"+access, "refreshed")
}
