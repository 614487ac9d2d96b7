package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims is the identity that ParseToken reads from a compact JWT, as an
// Event may carry it, never the token itself.
type Claims struct {
	TokenID     string // jti
	Fingerprint string // lowercase hex SHA-256 of the compact token
	Issuer      string
	Subject     string
	Audience    []string
	ClientID    string // azp, else client_id
	SessionID   string // sid
	Scopes      []string
	IssuedAt    time.Time
	NotBefore   time.Time
	ExpiresAt   time.Time
	Algorithm   string // the header's alg, such as "RS256" or "none"
}

// Fingerprint returns the lowercase hex SHA-256 of a compact token, with
// surrounding white space and a "Bearer " prefix removed first. It links
// events of tokens that carry no jti, and it is the only form of a raw token
// that tokentrail keeps.
func Fingerprint(token string) string {
	sum := sha256.Sum256([]byte(normalizeToken(token)))
	return hex.EncodeToString(sum[:])
}

// IsFingerprint reports whether s has the form Fingerprint returns.
func IsFingerprint(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ParseToken reads the claims of a compact JWT without verifying its
// signature: tokentrail records what a token claims, and the service that
// accepted it is the one that verified it. The input may carry a "Bearer "
// prefix and surrounding white space. A token without a jti is still parsed;
// its Fingerprint identifies it.
//
// The error wraps ErrMalformedToken and never contains the token.
func ParseToken(token string) (Claims, error) {
	token = normalizeToken(token)
	if strings.Count(token, ".") != 2 {
		return Claims{}, fmt.Errorf("%w: want three dot-separated segments, got %d", ErrMalformedToken, strings.Count(token, ".")+1)
	}

	var mc jwt.MapClaims
	parsed, _, err := jwt.NewParser().ParseUnverified(token, &mc)
	if err != nil {
		// The library's message can quote the segment that failed, so only
		// its class is kept.
		return Claims{}, fmt.Errorf("%w: %s", ErrMalformedToken, tokenErrorClass(err))
	}

	c := Claims{
		Fingerprint: Fingerprint(token),
		TokenID:     stringClaim(mc, "jti"),
		Issuer:      stringClaim(mc, "iss"),
		Subject:     stringClaim(mc, "sub"),
		ClientID:    stringClaim(mc, "azp"),
		SessionID:   stringClaim(mc, "sid"),
	}
	if c.ClientID == "" {
		c.ClientID = stringClaim(mc, "client_id")
	}
	if alg, ok := parsed.Header["alg"].(string); ok {
		c.Algorithm = alg
	}
	if aud, err := mc.GetAudience(); err == nil {
		c.Audience = []string(aud)
	}
	c.Scopes = scopeClaim(mc)
	c.IssuedAt = timeClaim(mc.GetIssuedAt)
	c.NotBefore = timeClaim(mc.GetNotBefore)
	c.ExpiresAt = timeClaim(mc.GetExpirationTime)
	return c, nil
}

func normalizeToken(token string) string {
	token = strings.TrimSpace(token)
	if len(token) > 7 && strings.EqualFold(token[:7], "bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	return token
}

func tokenErrorClass(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "a segment is not base64url-encoded JSON"
	default:
		return "claims cannot be decoded"
	}
}

func stringClaim(mc jwt.MapClaims, name string) string {
	s, _ := mc[name].(string)
	return s
}

// scopeClaim reads "scope" (a space-separated string, RFC 8693) or "scp" (a
// string or a list, as Entra ID and Okta write it).
func scopeClaim(mc jwt.MapClaims) []string {
	for _, name := range []string{"scope", "scp"} {
		switch v := mc[name].(type) {
		case string:
			return strings.Fields(v)
		case []any:
			var scopes []string
			for _, s := range v {
				if str, ok := s.(string); ok {
					scopes = append(scopes, str)
				}
			}
			return scopes
		}
	}
	return nil
}

func timeClaim(get func() (*jwt.NumericDate, error)) time.Time {
	d, err := get()
	if err != nil || d == nil {
		return time.Time{}
	}
	return d.UTC()
}

// NewID returns a stable event ID derived from parts: the first 128 bits of
// the SHA-256 of the parts, in hex. Importers pass the format and what makes
// a record unique (an upstream event id, or the raw record), so that the same
// record always gets the same ID.
func NewID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}
