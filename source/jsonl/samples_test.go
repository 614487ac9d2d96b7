package jsonl

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

func loadMappingFile(tb testing.TB, name string) Mapping {
	tb.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	m, err := LoadMapping(f)
	if err != nil {
		tb.Fatalf("LoadMapping(%s) = %v", name, err)
	}
	return m
}

func checkEvent(tb testing.TB, got, want audit.Event) {
	tb.Helper()
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("event from %s:\n got %+v\nwant %+v", want.Source, got, want)
	}
}

const cognitoIssuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Xq7Hk2LmN"

func TestAPIGatewaySample(t *testing.T) {
	const file = "apigw-http-api.jsonl"
	r := parseFile(t, loadMappingFile(t, "apigw-mapping.yaml"), file)

	checkCounts(t, r, 3, 1, 0)

	checkEvent(t, r.eventAt(t, file+":1"), audit.Event{
		ID:        audit.NewID("jsonl", "ZKx3TgBqDoEEJxw=", "8f0c2d7e-4b1a-4c9e-9d3f-1a2b3c4d5e6f", "", ""),
		Time:      time.Date(2024, 6, 13, 10, 15, 30, 123e6, time.UTC),
		Kind:      audit.KindUsed,
		TokenID:   "8f0c2d7e-4b1a-4c9e-9d3f-1a2b3c4d5e6f",
		Issuer:    cognitoIssuer,
		Subject:   "4c1f8a2e-7b3d-4e5f-9a0b-c1d2e3f4a5b6",
		ClientID:  "3n4b5urk1ft4fl3mg5e62d9ado",
		Scopes:    []string{"orders/read", "orders/write"},
		IssuedAt:  time.Unix(1718273400, 0).UTC(),
		ExpiresAt: time.Unix(1718277000, 0).UTC(),
		IP:        netip.MustParseAddr("203.0.113.24"),
		UserAgent: "okhttp/4.12.0",
		Method:    "GET",
		Path:      "/orders/8812",
		Status:    200,
		TraceID:   "ZKx3TgBqDoEEJxw=",
		Source:    file + ":1",
	})

	second := r.eventAt(t, file+":2")
	if want := netip.MustParseAddr("2001:db8:4f2a::17"); second.IP != want {
		t.Errorf("line 2 IP = %v, want %v", second.IP, want)
	}
	if second.Status != 201 {
		t.Errorf("line 2 Status = %d, want 201", second.Status)
	}

	// The authorizer refused line 3, so its claims are empty: a request
	// without a token is not a token event.
	want := "no token: field jti (path requestContext.authorizer.jwt.claims.jti) is missing"
	if reason := r.skipAt(t, 3); reason != want {
		t.Errorf("line 3 skip reason = %q, want %q", reason, want)
	}

	if got := r.eventAt(t, file+":4").TokenID; got != "8f0c2d7e-4b1a-4c9e-9d3f-1a2b3c4d5e6f" {
		t.Errorf("line 4 TokenID = %q, want the token of line 1", got)
	}
}

// TestAPIGatewaySpec reads the same log with the --map form of the mapping.
func TestAPIGatewaySpec(t *testing.T) {
	m := mustMapping(t, "jti=requestContext.authorizer.jwt.claims.jti,ip=requestContext.http.sourceIp,"+
		"time=requestContext.timeEpoch,time_format=unix_ms")

	r := parseFile(t, m, "apigw-http-api.jsonl")

	checkCounts(t, r, 3, 1, 0)
	first := r.eventAt(t, "apigw-http-api.jsonl:1")
	if want := audit.NewID("jsonl", strings.Split(readFile(t, "apigw-http-api.jsonl"), "\n")[0]); first.ID != want {
		t.Errorf("ID without an id field = %s, want the ID of the raw line %s", first.ID, want)
	}
}

// envoyTokens returns the Authorization values of the Envoy log.
func envoyTokens(tb testing.TB) []string {
	tb.Helper()
	var tokens []string
	for _, line := range strings.Split(strings.TrimSpace(readFile(tb, "envoy-access.jsonl")), "\n") {
		var rec struct {
			Authorization *string `json:"authorization"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			tb.Fatal(err)
		}
		if rec.Authorization != nil {
			_, token, _ := strings.Cut(*rec.Authorization, " ")
			tokens = append(tokens, token)
		}
	}
	return tokens
}

func TestEnvoySample(t *testing.T) {
	const file = "envoy-access.jsonl"
	m := mustMapping(t, "token=authorization,time=start_time,ip=x_forwarded_for,status=response_code,"+
		"method=method,path=path,ua=user_agent,trace=request_id")

	r := parseFile(t, m, file)

	checkCounts(t, r, 4, 2, 0)
	tokens := envoyTokens(t)

	checkEvent(t, r.eventAt(t, file+":1"), audit.Event{
		ID:          audit.NewID("jsonl", strings.Split(readFile(t, file), "\n")[0]),
		Time:        time.Date(2024, 6, 13, 10, 25, 31, 402e6, time.UTC),
		Kind:        audit.KindUsed,
		TokenID:     "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f",
		Fingerprint: audit.Fingerprint(tokens[0]),
		Issuer:      "https://auth.example.com/realms/shop",
		Subject:     "f47ac10b-58cc-4372-a567-0e02b2c3d479",
		Audience:    []string{"orders-api", "account"},
		ClientID:    "web-shop",
		SessionID:   "7d9f2a1c-3e4b-4c5d-8e6f-0a1b2c3d4e5f",
		Scopes:      []string{"openid", "profile", "orders"},
		IssuedAt:    time.Unix(1718274330, 0).UTC(),
		ExpiresAt:   time.Unix(1718274630, 0).UTC(),
		// The first of "198.51.100.23, 10.0.0.5".
		IP:        netip.MustParseAddr("198.51.100.23"),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
		Method:    "GET",
		Path:      "/api/orders?page=2",
		Status:    200,
		TraceID:   "6f1c0a52-9b7e-4d1f-a3c8-2e5d7b9f0c14",
		Source:    file + ":1",
	})

	if ip := r.eventAt(t, file+":2").IP; ip.IsValid() {
		t.Errorf("line 2 IP = %v, want none for a null X-Forwarded-For", ip)
	}
	if ip := r.eventAt(t, file+":3").IP; ip.IsValid() {
		t.Errorf("line 3 IP = %v, want none for \"-\"", ip)
	}
	opaque := r.eventAt(t, file+":5")
	if want := audit.Fingerprint("2YotnFZFEjr1zCsicMWpAA"); opaque.Fingerprint != want {
		t.Errorf("line 5 Fingerprint = %q, want the opaque token's %q", opaque.Fingerprint, want)
	}
	if opaque.TokenID != "" {
		t.Errorf("line 5 TokenID = %q, want none for an opaque token", opaque.TokenID)
	}
	if reason := r.skipAt(t, 4); reason != "no token: field token (path authorization) is missing" {
		t.Errorf("line 4 skip reason = %q, want the missing token", reason)
	}
	if reason := r.skipAt(t, 6); !strings.HasPrefix(reason, "no token: ") {
		t.Errorf("line 6 skip reason = %q, want a Basic credential read as no token", reason)
	}

	output := fmt.Sprintf("%+v", r.events) + r.String()
	for i, token := range tokens {
		signature := token[strings.LastIndexByte(token, '.')+1:]
		if strings.Contains(output, token) || strings.Contains(output, signature) {
			t.Errorf("Authorization value %d appears in the importer's output", i+1)
		}
	}
}

// TestEnvoyPayload maps the claims that Envoy's jwt_authn filter logs, and
// the peer address with its port.
func TestEnvoyPayload(t *testing.T) {
	const file = "envoy-access.jsonl"
	m := mustMapping(t, "jti=jwt.jti,sub=jwt.sub,aud=jwt.aud,exp=jwt.exp,iat=jwt.iat,client=jwt.azp,"+
		"time=start_time,ip=downstream_remote_address")

	r := parseFile(t, m, file)

	checkCounts(t, r, 3, 3, 0)
	first := r.eventAt(t, file+":1")
	checks := []struct {
		name      string
		got, want any
	}{
		{"TokenID", first.TokenID, "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f"},
		{"Fingerprint", first.Fingerprint, ""},
		{"Audience", first.Audience, []string{"orders-api", "account"}},
		{"ExpiresAt", first.ExpiresAt, time.Unix(1718274630, 0).UTC()},
		{"ClientID", first.ClientID, "web-shop"},
		{"IP", first.IP, netip.MustParseAddr("10.0.0.5")},
		{"IP of line 2", r.eventAt(t, file+":2").IP, netip.MustParseAddr("2001:db8:aa::42")},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}
