package tokenuse

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testKey = "test key, not a secret"

func sign(tb testing.TB, claims jwt.MapClaims) string {
	tb.Helper()
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testKey))
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return raw
}

// withPayload returns a token whose payload segment is the base64url
// encoding of payload, with a fixed header and signature.
func withPayload(payload string) string {
	return "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2lnbmF0dXJl"
}

func TestReadClaims(t *testing.T) {
	iat := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	token := sign(t, jwt.MapClaims{
		"jti": "5f0c3d7e", "iss": "https://idp.example/realms/acme", "sub": "alice",
		"aud": []string{"orders"}, "azp": "web-portal", "client_id": "ignored-when-azp", "sid": "s-1",
		"scope": "openid orders", "iat": iat.Unix(), "nbf": iat.Unix(), "exp": iat.Add(time.Hour).Unix(),
		"nested": map[string]any{"jti": "not-this", "list": []any{1.5, "x", nil, true, false}},
	})

	var c Claims
	if err := ReadClaims(token, &c); err != nil {
		t.Fatalf("ReadClaims() = %v", err)
	}
	want := Claims{
		TokenID: "5f0c3d7e", Issuer: "https://idp.example/realms/acme", Subject: "alice",
		ClientID: "web-portal", SessionID: "s-1",
		IssuedAt: iat, NotBefore: iat, ExpiresAt: iat.Add(time.Hour),
	}
	if c != want {
		t.Errorf("ReadClaims() = %+v\nwant %+v", c, want)
	}
}

func TestReadClaimsVariants(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    Claims
	}{
		{"client_id without azp", `{"client_id":"cli"}`, Claims{ClientID: "cli"}},
		{"escaped value", `{"sub":"a\"b\u00e9"}`, Claims{Subject: "a\"bé"}},
		{"escaped key", `{"j\u0074i":"x"}`, Claims{TokenID: "x"}},
		{"utf-8 value", `{"sub":"josé"}`, Claims{Subject: "josé"}},
		{"invalid utf-8 replaced", "{\"sub\":\"a\xffb\"}", Claims{Subject: "a\uFFFDb"}},
		{"duplicate key last wins", `{"jti":"first","jti":"second"}`, Claims{TokenID: "second"}},
		{"later non-string clears", `{"jti":"first","jti":7}`, Claims{}},
		{"number jti ignored", `{"jti":12345}`, Claims{}},
		{"float time truncated", `{"exp":1763629200.75}`, Claims{ExpiresAt: time.Unix(1763629200, 0).UTC()}},
		{"exponent time", `{"iat":1.7636292e9}`, Claims{IssuedAt: time.Unix(1763629200, 0).UTC()}},
		{"string time ignored", `{"exp":"1763629200"}`, Claims{}},
		{"negative time ignored", `{"exp":-5}`, Claims{}},
		{"far future ignored", `{"exp":1e300}`, Claims{}},
		{"white space", " {\n \"sub\" : \"bob\" ,\t\"sid\":\"s\" } ", Claims{Subject: "bob", SessionID: "s"}},
		{"empty object", `{}`, Claims{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Claims
			if err := ReadClaims(withPayload(tt.payload), &c); err != nil {
				t.Fatalf("ReadClaims(%s) = %v, want nil", tt.payload, err)
			}
			if c != tt.want {
				t.Errorf("ReadClaims(%s) = %+v, want %+v", tt.payload, c, tt.want)
			}
		})
	}
}

func TestReadClaimsMalformed(t *testing.T) {
	tests := []struct {
		name  string
		token string
	}{
		{"no dots", "opaque-token"},
		{"one dot", "a.b"},
		{"not base64", "eyJhbGciOiJIUzI1NiJ9.!!!.sig"},
		{"length 1 mod 4", "eyJhbGciOiJIUzI1NiJ9.eyJhY.sig"},
		{"not json", withPayload("hello")},
		{"array", withPayload(`["jti"]`)},
		{"trailing data", withPayload(`{"jti":"x"} {}`)},
		{"missing colon", withPayload(`{"jti" "x"}`)},
		{"missing comma", withPayload(`{"jti":"x" "sub":"y"}`)},
		{"unterminated string", withPayload(`{"jti":"x}`)},
		{"bad number", withPayload(`{"exp":01}`)},
		{"bad literal", withPayload(`{"a":tru}`)},
		{"too deep", withPayload(`{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Claims
			if err := ReadClaims(tt.token, &c); err == nil {
				t.Errorf("ReadClaims(%q) = nil, want errMalformed", tt.token)
			}
		})
	}
}

func TestReadClaimsSharesNoMemoryWithToken(t *testing.T) {
	token := []byte(withPayload(`{"jti":"abc","sub":"alice"}`))
	var c Claims
	if err := ReadClaims(string(token), &c); err != nil {
		t.Fatal(err)
	}
	// Overwrite the caller's buffer: the claims must not change.
	for i := range token {
		token[i] = 'x'
	}
	if c.TokenID != "abc" || c.Subject != "alice" {
		t.Errorf("claims after the token buffer changed = %+v, want jti abc and sub alice", c)
	}
}

func TestReadClaimsAllocations(t *testing.T) {
	token := sign(t, jwt.MapClaims{"jti": "5f0c3d7e", "sub": "alice", "iss": "https://idp.example", "iat": 1763629200, "exp": 1763632800})
	allocs := testing.AllocsPerRun(200, func() {
		var c Claims
		_ = ReadClaims(token, &c)
	})
	if allocs > 1 {
		t.Errorf("ReadClaims allocations = %v, want at most 1 (the claim strings)", allocs)
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		token  string
		ok     bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bearer   abc ", "abc", true},
		{"BEARER x", "x", true},
		{"Basic dXNlcjpwYXNz", "", false},
		{"Bearer ", "", false},
		{"Bearer", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		token, ok := BearerToken(tt.header)
		if token != tt.token || ok != tt.ok {
			t.Errorf("BearerToken(%q) = %q, %v, want %q, %v", tt.header, token, ok, tt.token, tt.ok)
		}
	}
}

// referenceClaims reads the same claims as ReadClaims with encoding/json and
// golang-jwt's conventions, for the fuzz test.
func referenceClaims(payload []byte) (Claims, bool) {
	var m map[string]any
	// encoding/json reads null into a nil map without an error, but a
	// payload that is not an object names no token.
	if err := json.Unmarshal(payload, &m); err != nil || m == nil {
		return Claims{}, false
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	tm := func(k string) time.Time {
		f, ok := m[k].(float64)
		if !ok {
			return time.Time{}
		}
		return SecondsToTime(f)
	}
	c := Claims{
		TokenID: str("jti"), Subject: str("sub"), Issuer: str("iss"), ClientID: str("azp"), SessionID: str("sid"),
		IssuedAt: tm("iat"), NotBefore: tm("nbf"), ExpiresAt: tm("exp"),
	}
	if c.ClientID == "" {
		c.ClientID = str("client_id")
	}
	return c, true
}

// FuzzReadClaims checks that whenever encoding/json reads a payload as an
// object, ReadClaims reads the same claims from it, so that the middleware
// and a verifier built on encoding/json never see different identities.
func FuzzReadClaims(f *testing.F) {
	for _, seed := range []string{
		`{"jti":"a","sub":"b","iat":1763629200,"exp":1763632800.5}`,
		`{"j\u0074i":"x","sub":"\ud83d\ude00"}`,
		`{"jti":"first","jti":null}`,
		`{"a":[{"b":[1,2,{"c":"d"}]}],"sid":"s","client_id":"c"}`,
		"{\"sub\":\"\xff\"}",
		`{"exp":1e3,"nbf":-0.0,"iat":12345678901234567890}`,
		` {"azp" : "w" } `,
		`null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		want, ok := referenceClaims(payload)
		var got Claims
		err := ReadClaims(withPayload(string(payload)), &got)
		if !ok {
			return // ReadClaims may be more lenient than encoding/json
		}
		if err != nil {
			t.Fatalf("ReadClaims(%q) = %v, but encoding/json reads it", payload, err)
		}
		if got != want {
			t.Fatalf("ReadClaims(%q) = %+v\nencoding/json gives %+v", payload, got, want)
		}
	})
}

// TestReadClaimsEscapesAtEveryOffset puts an escaped quote, an escaped
// backslash and a unicode escape at every offset of strings up to 20
// bytes, so that every position within an eight-byte word of the string
// scan is met.
func TestReadClaimsEscapesAtEveryOffset(t *testing.T) {
	for _, escape := range []string{`\"`, `\\`, `\u00e9`, `\/`} {
		for n := 0; n <= 20; n++ {
			value := strings.Repeat("a", n) + escape + strings.Repeat("b", 20-n)
			payload := `{"sub":"` + value + `","sid":"s` + escape + `"}`
			want, ok := referenceClaims([]byte(payload))
			if !ok {
				t.Fatalf("encoding/json rejects %s", payload)
			}
			var got Claims
			if err := ReadClaims(withPayload(payload), &got); err != nil {
				t.Fatalf("ReadClaims(%s) = %v", payload, err)
			}
			if got != want {
				t.Errorf("ReadClaims(%s) = %+v, want %+v", payload, got, want)
			}
		}
	}
}
