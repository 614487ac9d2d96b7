package tokenuse

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkReadClaims compares ReadClaims with golang-jwt's ParseUnverified
// on a token shaped like a Keycloak access token:
//
//	go test -run '^$' -bench BenchmarkReadClaims -benchmem ./internal/tokenuse
func BenchmarkReadClaims(b *testing.B) {
	now := time.Now()
	token := sign(b, jwt.MapClaims{
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "auth_time": now.Unix(),
		"jti": "4f1c2a9e-7b3d-4e8a-9c1f-2d5e6a7b8c9d", "iss": "https://idp.example.com/realms/acme",
		"aud": []string{"orders-api", "account"}, "sub": "f3b6c2d1-8e4a-4c5b-9a7d-1e2f3a4b5c6d", "typ": "Bearer",
		"azp": "web-portal", "sid": "0b7e9d4c-2a1f-4e3b-8c5d-6f7a8b9c0d1e", "acr": "1",
		"allowed-origins": []string{"https://portal.example.com"},
		"realm_access":    map[string]any{"roles": []string{"offline_access", "uma_authorization", "customer"}},
		"scope":           "openid profile email orders", "email_verified": true,
		"name": "Alice Example", "preferred_username": "alice", "email": "alice@example.com",
	})
	b.Run("read_claims", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c Claims
			if err := ReadClaims(token, &c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jwt_parse_unverified", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := jwt.NewParser().ParseUnverified(token, &jwt.RegisteredClaims{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
