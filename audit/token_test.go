package audit_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail/audit"
)

var issued = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func signed(tb testing.TB, claims jwt.MapClaims) string {
	tb.Helper()
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("test key, not a secret"))
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return raw
}

func TestParseToken(t *testing.T) {
	raw := signed(t, jwt.MapClaims{
		"jti": "5f0c3d7e", "iss": "https://idp.example/realms/acme", "sub": "alice",
		"aud": []string{"orders", "profile"}, "azp": "web-portal", "sid": "s-1",
		"scope": "openid orders", "iat": issued.Unix(), "nbf": issued.Unix(), "exp": issued.Add(time.Hour).Unix(),
	})

	c, err := audit.ParseToken(raw)
	if err != nil {
		t.Fatalf("ParseToken: %v", err)
	}
	if c.TokenID != "5f0c3d7e" || c.Subject != "alice" || c.ClientID != "web-portal" || c.SessionID != "s-1" ||
		c.Issuer != "https://idp.example/realms/acme" || c.Algorithm != "HS256" {
		t.Errorf("ParseToken identity = %+v", c)
	}
	if strings.Join(c.Audience, ",") != "orders,profile" || strings.Join(c.Scopes, ",") != "openid,orders" {
		t.Errorf("ParseToken audience, scopes = %v, %v", c.Audience, c.Scopes)
	}
	if !c.IssuedAt.Equal(issued) || !c.NotBefore.Equal(issued) || !c.ExpiresAt.Equal(issued.Add(time.Hour)) {
		t.Errorf("ParseToken times = %v, %v, %v", c.IssuedAt, c.NotBefore, c.ExpiresAt)
	}
	if c.Fingerprint != audit.Fingerprint(raw) {
		t.Errorf("ParseToken fingerprint = %s, want %s", c.Fingerprint, audit.Fingerprint(raw))
	}
}

func TestParseTokenClaimVariants(t *testing.T) {
	tests := []struct {
		name       string
		claims     jwt.MapClaims
		wantClient string
		wantScopes string
	}{
		{"client_id claim", jwt.MapClaims{"client_id": "cli"}, "cli", ""},
		{"scp list", jwt.MapClaims{"scp": []string{"User.Read", "Mail.Read"}}, "", "User.Read,Mail.Read"},
		{"scp string", jwt.MapClaims{"scp": "User.Read Mail.Read"}, "", "User.Read,Mail.Read"},
		{"no jti", jwt.MapClaims{"sub": "svc"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := audit.ParseToken(signed(t, tt.claims))
			if err != nil {
				t.Fatalf("ParseToken: %v", err)
			}
			if c.ClientID != tt.wantClient || strings.Join(c.Scopes, ",") != tt.wantScopes {
				t.Errorf("client, scopes = %q, %q, want %q, %q", c.ClientID, strings.Join(c.Scopes, ","), tt.wantClient, tt.wantScopes)
			}
		})
	}
}

func TestFingerprintNormalizes(t *testing.T) {
	raw := signed(t, jwt.MapClaims{"jti": "x"})
	want := audit.Fingerprint(raw)
	for _, variant := range []string{"  " + raw + "\n", "Bearer " + raw, "bearer  " + raw} {
		if got := audit.Fingerprint(variant); got != want {
			t.Errorf("Fingerprint(%q...) = %s, want %s", variant[:10], got, want)
		}
	}
	if !audit.IsFingerprint(want) {
		t.Errorf("IsFingerprint(%s) = false", want)
	}
}

func TestParseTokenRejectsMalformed(t *testing.T) {
	raw := signed(t, jwt.MapClaims{"jti": "secret-jti-value", "sub": "alice"})
	parts := strings.Split(raw, ".")
	notJSON := base64.RawURLEncoding.EncodeToString([]byte("not json"))

	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"one segment", parts[0]},
		{"four segments", raw + ".x"},
		{"truncated payload", parts[0] + "." + parts[1][:len(parts[1])/2] + "." + parts[2]},
		{"payload not JSON", parts[0] + "." + notJSON + "." + parts[2]},
		{"header not base64", "!!!." + parts[1] + "." + parts[2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := audit.ParseToken(tt.token)
			if !errors.Is(err, audit.ErrMalformedToken) {
				t.Fatalf("ParseToken = %v, want ErrMalformedToken", err)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %q contains the token", err)
			}
			for _, p := range parts {
				if len(p) > 8 && strings.Contains(err.Error(), p) {
					t.Errorf("error %q contains a segment of the token", err)
				}
			}
		})
	}
}

var knownParseErrors = map[string]bool{
	"malformed token: want three dot-separated segments, got ": true,
	"malformed token: a segment is not base64url-encoded JSON": true,
	"malformed token: claims cannot be decoded":                true,
}

func FuzzParseToken(f *testing.F) {
	f.Add(signed(f, jwt.MapClaims{"jti": "a", "sub": "b", "exp": 1}))
	f.Add("eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0.")
	f.Add("a.b.c")
	f.Add("Bearer x.y.z")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := audit.ParseToken(token)
		if err != nil {
			if !errors.Is(err, audit.ErrMalformedToken) {
				t.Fatalf("ParseToken error %v does not wrap ErrMalformedToken", err)
			}
			// The message is one of a fixed set apart from a segment count,
			// so it cannot carry any part of the token.
			msg := strings.TrimRight(err.Error(), "0123456789")
			if !knownParseErrors[msg] {
				t.Fatalf("error %q is not one of the fixed messages", err)
			}
			return
		}
		if !audit.IsFingerprint(c.Fingerprint) {
			t.Fatalf("fingerprint %q is not 64 hex digits", c.Fingerprint)
		}
	})
}
