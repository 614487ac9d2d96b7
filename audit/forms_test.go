package audit_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail/audit"
)

// base64Token returns a signed token whose standard base64 ends with
// padding. The base64 of a compact token has no "+" or "/": its bytes, all
// base64url characters and dots, never give a 6-bit group of 62 or 63.
func base64Token(tb testing.TB) (token, std string) {
	tb.Helper()
	for i := range 100 {
		token = signed(tb, jwt.MapClaims{"jti": fmt.Sprintf("jti-wrapped-%d", i), "sub": "alice"})
		std = base64.StdEncoding.EncodeToString([]byte(token))
		if strings.HasSuffix(std, "=") {
			return token, std
		}
	}
	tb.Fatal("no token among 100 has padding in base64")
	return "", ""
}

// wrapLines breaks s into lines of width characters, as MIME and PEM do.
func wrapLines(s string, width int, lineBreak string) string {
	var lines []string
	for len(s) > width {
		lines = append(lines, s[:width])
		s = s[width:]
	}
	return strings.Join(append(lines, s), lineBreak)
}

// tokenForms returns token written in each form that Sanitize must find,
// by name.
func tokenForms(tb testing.TB, token, std string) []struct{ name, text string } {
	tb.Helper()
	urlPadded := base64.URLEncoding.EncodeToString([]byte(token))
	parts := strings.Split(token, ".")
	return []struct{ name, text string }{
		{"base64 padded", std},
		{"base64 unpadded", strings.TrimRight(std, "=")},
		{"base64url padded", urlPadded},
		{"base64url unpadded", strings.TrimRight(urlPadded, "=")},
		{"base64 of a line", base64.StdEncoding.EncodeToString([]byte(token + "\n"))},
		{"base64 URL-encoded", url.QueryEscape(std)},
		{"base64 lowercase escape", strings.ReplaceAll(std, "=", "%3d")},
		{"base64 MIME lines", wrapLines(base64.StdEncoding.EncodeToString([]byte(token)), 76, "\r\n")},
		{"base64 PEM lines", wrapLines(base64.StdEncoding.EncodeToString([]byte(token)), 64, "\n")},
		{"spaces around dots", parts[0] + " . " + parts[1] + " . " + parts[2]},
		{"copied across lines", parts[0] + " .\n " + parts[1] + " .\n " + parts[2]},
		{"line break after dots", parts[0] + ".\r\n" + parts[1] + ".\r\n" + parts[2]},
		{"tabs before dots", parts[0] + "\t." + parts[1] + "\t." + parts[2]},
		{"URL-encoded spaced dots", parts[0] + " %2E " + parts[1] + "%2e\n" + parts[2]},
	}
}

func TestSanitizeFindsWrappedAndSpacedTokens(t *testing.T) {
	token, std := base64Token(t)
	signature := token[strings.LastIndexByte(token, '.')+1:]
	want := "[jwt sha256:" + audit.Fingerprint(token)[:16] + "]"
	contexts := []struct{ name, before, after string }{
		{"alone", "", ""},
		{"cookie", "Cookie: theme=dark; session=", "; lang=de"},
		{"JSON string", `{"auth":"`, `","user":"alice"}`},
		{"header value", "X-Auth-Token: ", "\nAccept: */*"},
	}
	for _, form := range tokenForms(t, token, std) {
		for _, c := range contexts {
			t.Run(form.name+" "+c.name, func(t *testing.T) {
				e := validEvent()
				e.Reason = c.before + form.text + c.after

				e.Sanitize()

				if wantReason := c.before + want + c.after; e.Reason != wantReason {
					t.Errorf("Reason = %q, want %q", e.Reason, wantReason)
				}
				if strings.Contains(e.Reason, signature) {
					t.Errorf("Reason = %q still contains the signature", e.Reason)
				}
				if err := e.Validate(); err != nil {
					t.Errorf("Validate() after Sanitize = %v", err)
				}
			})
		}
	}
}

func TestSanitizeWrappedTokenID(t *testing.T) {
	token, std := base64Token(t)
	claims, err := audit.ParseToken(token)
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range tokenForms(t, token, std) {
		t.Run(form.name, func(t *testing.T) {
			e := validEvent()
			e.TokenID = form.text

			e.Sanitize()

			if e.TokenID != claims.TokenID {
				t.Errorf("TokenID = %q, want the jti %q", e.TokenID, claims.TokenID)
			}
			if e.Fingerprint != audit.Fingerprint(token) {
				t.Errorf("Fingerprint = %q, want %q, that of the compact token", e.Fingerprint, audit.Fingerprint(token))
			}
		})
	}
}

// TestSanitizeFindsTokenInWrappedJSON wraps a JSON object that contains a
// token in base64 whose "+" and "/" are escaped in each way a log writes
// them. Only the groups that encode the token are replaced.
func TestSanitizeFindsTokenInWrappedJSON(t *testing.T) {
	token := signed(t, jwt.MapClaims{"jti": "jti-in-json"})
	// The prefix is 18 bytes, so the token starts a 3-byte group.
	const prefix = `{"access_token": "`
	std := base64.StdEncoding.EncodeToString([]byte(prefix + token + `", "note": "???>>>~~~"}`))
	if !strings.Contains(std, "+") || !strings.Contains(std, "/") {
		t.Fatalf("base64 %q has no + or /, so the escapes are not tested", std)
	}
	encodedPrefix := base64.StdEncoding.EncodeToString([]byte(prefix))
	encodedToken := base64.StdEncoding.EncodeToString([]byte(token))
	middle := encodedToken[len(encodedToken)/2 : len(encodedToken)/2+16]
	want := "[jwt sha256:" + audit.Fingerprint(token)[:16] + "]"
	for _, tt := range []struct{ name, text string }{
		{"standard", std},
		{"URL alphabet", base64.URLEncoding.EncodeToString([]byte(prefix + token + `", "note": "???>>>~~~"}`))},
		{"JSON-escaped slashes", strings.ReplaceAll(std, "/", `\/`)},
		{"URL-encoded", url.QueryEscape(std)},
		{"lowercase URL encoding", strings.NewReplacer("+", "%2b", "/", "%2f", "=", "%3d").Replace(std)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := audit.RedactTokens("cookie=" + tt.text + "; path=/")
			if !strings.HasPrefix(got, "cookie="+encodedPrefix+want) {
				t.Errorf("RedactTokens = %q, want the prefix's groups, then %s", got, want)
			}
			if strings.Contains(got, middle) {
				t.Errorf("RedactTokens = %q still contains the token's base64", got)
			}
		})
	}
}

// TestSanitizeFindsPasteGuardForms gives Sanitize the forms that the web
// UI's search recognizes as a token, so that the server keeps no token
// that the page would not send.
func TestSanitizeFindsPasteGuardForms(t *testing.T) {
	const (
		jws = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
		jwe = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXYtaXYtaXY.Y2lwaGVydGV4dC1jaXBoZXJ0ZXh0.dGFnLXRhZy10YWc"
	)
	tests := []struct{ name, text, token string }{
		{"bearer", "Bearer " + jws, jws},
		{"header line", "Authorization: Bearer " + jws, jws},
		{"JSON quotes", `"` + jws + `"`, jws},
		{"trailing comma", jws + ",", jws},
		{"JSON field", `{"access_token": "` + jws + `", "token_type": "Bearer"}`, jws},
		{"query parameter", "access_token=" + jws, jws},
		{"URL-encoded dots", "https://app.example.com/cb?access_token=" + strings.ReplaceAll(jws, ".", "%2E") + "&state=x", jws},
		{"log line", `192.0.2.10 - - "GET /api/orders HTTP/1.1" 200 auth=Bearer ` + jws + ` ua=curl/8.5`, jws},
		{"sentence", "the token " + jws + ". was in the chat", jws},
		{"JWE", jwe, jwe},
		{"JWE in header line", "Authorization: Bearer " + jwe, jwe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := audit.RedactTokens(tt.text)
			if !strings.Contains(got, "[jwt sha256:"+audit.Fingerprint(tt.token)[:16]+"]") {
				t.Errorf("RedactTokens(%q) = %q, want the token's fingerprint", tt.text, got)
			}
			if strings.Contains(got, "c2lnbmF0dXJl") || strings.Contains(got, "Y2lwaGVydGV4dC1") {
				t.Errorf("RedactTokens(%q) = %q still contains part of the token", tt.text, got)
			}
		})
	}
}

// TestSanitizeSpacedSentenceAfterToken checks that the words after a token
// that ends a sentence are kept, and are not read as more segments.
func TestSanitizeSpacedSentenceAfterToken(t *testing.T) {
	token := signed(t, jwt.MapClaims{"jti": "jti-sentence"})
	parts := strings.Split(token, ".")
	want := "[jwt sha256:" + audit.Fingerprint(token)[:16] + "]"
	tests := []struct{ name, text, want string }{
		{"one sentence", "leaked " + token + ". Rotate it. Now.", "leaked " + want + ". Rotate it. Now."},
		{"two lines", "leaked " + token + ".\nRotate. it", "leaked " + want + ".\nRotate. it"},
		{"spaced token", "leaked " + parts[0] + " . " + parts[1] + " . " + parts[2] + ". Rotate. it", "leaked " + want + ". Rotate. it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := audit.RedactTokens(tt.text); got != tt.want {
				t.Errorf("RedactTokens(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestSanitizeKeepsPlainBase64AndDots(t *testing.T) {
	for _, text := range []string{
		base64.StdEncoding.EncodeToString([]byte("example")),          // "ZXhhbXBsZQ==", which starts with ZX
		base64.StdEncoding.EncodeToString([]byte(`{"alg":"HS256"}`)),  // a header alone
		base64.StdEncoding.EncodeToString([]byte("eyJ is no token.")), // "ZXlK" that decodes to text
		"ZXlKZXlKZXlK",
		"Basic dXNlcjpwYXNzd29yZA==",
		"ZX Spectrum 48K. Sold. Shipped.",
		"See section 4 . Then 5 . Then 6",
		"eyJhbGciOiJIUzI1NiJ9 . x", // a header, but no second segment of 2 characters and a third
		"sha256-" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")),
	} {
		t.Run(text, func(t *testing.T) {
			if got := audit.RedactTokens(text); got != text {
				t.Errorf("RedactTokens(%q) = %q, want it unchanged", text, got)
			}
		})
	}
}

// FuzzSanitizeTokenForms puts a token, in each form that Sanitize finds,
// between fuzzed text and checks that the token's signature and its
// wrapped payload are gone.
func FuzzSanitizeTokenForms(f *testing.F) {
	token, std := base64Token(f)
	forms := tokenForms(f, token, std)
	signature := token[strings.LastIndexByte(token, '.')+1:]
	// A part of the payload's base64 that every wrapped form writes alike.
	wrappedPayload := ""
	for i := 8; wrappedPayload == "" && i+16 < len(std); i++ {
		if !strings.ContainsAny(std[i:i+16], "+/=") {
			wrappedPayload = std[i : i+16]
		}
	}
	for i := range forms {
		f.Add(uint8(i), "Cookie: session=", "; path=/")
	}
	f.Add(uint8(0), "a . ", ". b")
	f.Fuzz(func(t *testing.T, form uint8, before, after string) {
		text := forms[int(form)%len(forms)].text
		e := validEvent()
		e.Reason = before + " " + text + " " + after

		e.Sanitize()

		if strings.Contains(e.Reason, signature) && !strings.Contains(before+after, signature) {
			t.Fatalf("Reason = %q still contains the signature", e.Reason)
		}
		if strings.Contains(e.Reason, wrappedPayload) && !strings.Contains(before+after, wrappedPayload) {
			t.Fatalf("Reason = %q still contains the wrapped payload", e.Reason)
		}
	})
}

func TestSanitizeTokenIDWithTrailingLineBreak(t *testing.T) {
	token := signed(t, jwt.MapClaims{"jti": "jti-line"})
	parts := strings.Split(token, ".")
	e := validEvent()
	e.TokenID = parts[0] + " .\n" + parts[1] + " .\n" + parts[2] + "\n"

	e.Sanitize()

	if e.TokenID != "jti-line" || e.Fingerprint != audit.Fingerprint(token) {
		t.Errorf("TokenID, Fingerprint = %q, %q; want jti-line and the token's fingerprint", e.TokenID, e.Fingerprint)
	}
}
