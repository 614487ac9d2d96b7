package audit_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail/audit"
)

func TestSanitizeRemovesRawTokens(t *testing.T) {
	raw := signed(t, jwt.MapClaims{"jti": "jti-7", "sub": "alice"})
	noJTI := signed(t, jwt.MapClaims{"sub": "bob"})
	e := validEvent()
	e.TokenID = "Bearer " + raw
	e.ParentTokenID = noJTI
	e.Path = "/ws?access_token=" + raw + "&x=1"
	e.UserAgent = "curl " + raw
	e.Reason = "token " + raw + " was replayed"

	changed := e.Sanitize()

	if e.TokenID != "jti-7" || e.Fingerprint != audit.Fingerprint(raw) {
		t.Errorf("TokenID, Fingerprint = %q, %q; want jti-7 and the token's fingerprint", e.TokenID, e.Fingerprint)
	}
	if e.ParentTokenID != "sha256:"+audit.Fingerprint(noJTI) {
		t.Errorf("ParentTokenID = %q, want the fingerprint of a token without jti", e.ParentTokenID)
	}
	wantPath := "/ws?access_token=[jwt sha256:" + audit.Fingerprint(raw)[:16] + "]&x=1"
	if e.Path != wantPath {
		t.Errorf("Path = %q, want %q", e.Path, wantPath)
	}
	for _, field := range []string{e.Path, e.UserAgent, e.Reason, e.TokenID, e.ParentTokenID} {
		if strings.Contains(field, strings.Split(raw, ".")[2]) || audit.ContainsToken(field) {
			t.Errorf("field %q still holds the token", field)
		}
	}
	if strings.Join(changed, ",") != "TokenID,ParentTokenID,UserAgent,Path,Reason" {
		t.Errorf("Sanitize() changed %v", changed)
	}
	if err := e.Validate(); err != nil {
		t.Errorf("Validate() after Sanitize = %v", err)
	}
}

func TestValidateRejectsRawToken(t *testing.T) {
	raw := signed(t, jwt.MapClaims{"jti": "jti-7"})
	e := validEvent()
	e.Path = "/cb#access_token=" + raw
	err := e.Validate()
	if err == nil || !strings.Contains(err.Error(), "raw JWT") {
		t.Fatalf("Validate() = %v, want a raw-JWT error", err)
	}
	if strings.Contains(err.Error(), raw) || strings.Contains(err.Error(), strings.Split(raw, ".")[1]) {
		t.Errorf("Validate() error contains the token")
	}
}

func TestSanitizeKeepsOddFields(t *testing.T) {
	e := validEvent()
	e.UserAgent = "evil\xff\xfe agent"
	e.Path = "/" + strings.Repeat("é", 5000) // 10,001 bytes

	changed := e.Sanitize()

	if e.UserAgent != "evil\uFFFD agent" {
		t.Errorf("UserAgent = %q, want the invalid bytes replaced", e.UserAgent)
	}
	if len(e.Path) > 8<<10 || !strings.HasSuffix(e.Path, " bytes]") || !strings.HasPrefix(e.Path, "/éé") {
		t.Errorf("Path = %d bytes ending %q, want at most 8 KiB with a cut marker", len(e.Path), e.Path[len(e.Path)-20:])
	}
	if len(changed) != 2 {
		t.Errorf("Sanitize() changed %v, want UserAgent and Path", changed)
	}
	if err := e.Validate(); err != nil {
		t.Errorf("Validate() after Sanitize = %v", err)
	}
}

func TestSanitizeLeavesCleanEvents(t *testing.T) {
	e := validEvent()
	e.UserAgent = "Mozilla/5.0"
	e.Path = "/api/keyJustLooksLike.eyJthing.x" // "eyJ" inside a word is no token
	before := e
	if changed := e.Sanitize(); len(changed) != 0 {
		t.Errorf("Sanitize() changed %v on a clean event", changed)
	}
	if e.Path != before.Path || e.UserAgent != before.UserAgent {
		t.Errorf("Sanitize() changed a clean event: %+v", e)
	}
}

func TestValidateTimeRange(t *testing.T) {
	e := validEvent()
	e.Time = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := e.Validate(); err == nil || !strings.Contains(err.Error(), "field Time") {
		t.Errorf("Validate() for year 9999 = %v, want a Time error", err)
	}
}

func FuzzSanitize(f *testing.F) {
	f.Add("/ws?access_token=eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJ4In0.sig", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJ4In0.sig")
	f.Add("\xff\xfe", "eyJ")
	// The same token wrapped in base64, and with white space around its dots.
	f.Add("cookie=ZXlKaGJHY2lPaUpJVXpJMU5pSjkuZXlKcWRHa2lPaUo0SW4wLnNpZw==; path=/", "ZXlKaGJHY2lPaUpJVXpJMU5pSjkuZXlKcWRHa2lPaUo0SW4wLnNpZw")
	f.Add("copied eyJhbGciOiJIUzI1NiJ9 .\n eyJqdGkiOiJ4In0 .\n sig. Then more.", "eyJhbGciOiJIUzI1NiJ9\t.eyJqdGkiOiJ4In0 . sig")
	f.Fuzz(func(t *testing.T, text, tokenID string) {
		e := validEvent()
		e.Path = text
		e.UserAgent = text
		if tokenID != "" {
			e.TokenID = tokenID
		}
		prepared := e
		e.Sanitize()
		for _, field := range []string{e.Path, e.UserAgent, e.TokenID} {
			if audit.ContainsToken(field) {
				t.Fatalf("field %q still holds a token after Sanitize", field)
			}
		}

		// Prepare skips the text checks of Validate, which must then find
		// nothing.
		errPrepare := prepared.Prepare()
		errValidate := e.Validate()
		if (errPrepare == nil) != (errValidate == nil) {
			t.Fatalf("Prepare() = %v, but Sanitize then Validate = %v", errPrepare, errValidate)
		}
	})
}

func TestSanitizeFindsTokensInEveryForm(t *testing.T) {
	raw := signed(t, jwt.MapClaims{"jti": "jti-9"})
	// A header written with a space after the brace encodes to "eyAi...".
	spaced := base64URL(`{ "alg": "HS256", "typ": "JWT" }`) + "." + base64URL(`{"jti":"jti-10"}`) + ".c2lnbmF0dXJl"
	// Direct key agreement leaves the encrypted key, the second segment,
	// empty.
	directJWE := base64URL(`{"alg":"dir","enc":"A256GCM"}`) + "..aXZpdml2aXZpdg." + base64URL("ciphertext of the claims") + ".dGFndGFndGFndGFn"
	tests := []struct {
		name  string
		value string
		token string
	}{
		{"URL-encoded bearer", "/cb?auth=Bearer%20" + raw, raw},
		{"glued to a word", "Bearer" + raw, raw},
		{"prefixed jti", "x" + raw, raw},
		{"spaced header", "/cb?t=" + spaced, spaced},
		{"end of a sentence", "the token " + raw + ".", raw},
		{"direct JWE", "/cb?t=" + directJWE, directJWE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEvent()
			e.Path = tt.value
			e.Sanitize()
			parts := strings.Split(tt.token, ".")
			secret := parts[1] // the claims of a JWS
			if secret == "" {
				secret = parts[3] // the ciphertext of a JWE
			}
			if strings.Contains(e.Path, secret) {
				t.Errorf("Path = %q still holds the token's payload", e.Path)
			}
			if !strings.Contains(e.Path, "[jwt sha256:"+audit.Fingerprint(tt.token)[:16]+"]") {
				t.Errorf("Path = %q, want the token's own fingerprint", e.Path)
			}
		})
	}
}

func TestSanitizeTokenIDWithTrailingDot(t *testing.T) {
	raw := signed(t, jwt.MapClaims{"jti": "jti-11"})
	e := validEvent()
	e.TokenID = raw + "."
	e.Sanitize()
	if e.TokenID != "jti-11" || e.Fingerprint != audit.Fingerprint(raw) {
		t.Errorf("TokenID, Fingerprint = %q, %q; want jti-11 and the fingerprint without the dot", e.TokenID, e.Fingerprint)
	}
}

func TestRedactTokens(t *testing.T) {
	raw := signed(t, jwt.MapClaims{"jti": "jti-12"})
	got := audit.RedactTokens(`open /logs/` + raw + `: no such file`)
	want := `open /logs/[jwt sha256:` + audit.Fingerprint(raw)[:16] + `]: no such file`
	if got != want {
		t.Errorf("RedactTokens = %q, want %q", got, want)
	}
	if clean := "key.board_shortcut.abc is not a token"; audit.RedactTokens(clean) != clean {
		t.Errorf("RedactTokens changed %q", clean)
	}
}

func base64URL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestSanitizeFindsURLEncodedTokens(t *testing.T) {
	raw := signed(t, jwt.MapClaims{"jti": "jti-pct"})
	for _, dot := range []string{"%2E", "%2e"} {
		encoded := strings.ReplaceAll(raw, ".", dot)
		e := audit.Event{
			ID: "pct", Time: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), Kind: audit.KindUsed, TokenID: encoded,
			Path: "/callback?id_token=" + encoded + "&state=1",
		}

		e.Sanitize()

		if e.TokenID != "jti-pct" || e.Fingerprint != audit.Fingerprint(raw) {
			t.Errorf("with %s: TokenID, Fingerprint = %q, %q, want the jti and the fingerprint of the decoded token", dot, e.TokenID, e.Fingerprint)
		}
		if want := "/callback?id_token=[jwt sha256:" + audit.Fingerprint(raw)[:16] + "]&state=1"; e.Path != want {
			t.Errorf("with %s: Path = %q, want %q", dot, e.Path, want)
		}
		if !audit.ContainsToken(encoded) {
			t.Errorf("ContainsToken(token with %s) = false, want true", dot)
		}
	}
}

func TestWasRedacted(t *testing.T) {
	redacted := audit.RedactTokens("user eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJ4In0.c2ln")
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{"redacted by RedactTokens", redacted, true},
		{"plain text", "alice", false},
		{"marker too short", "[jwt sha256:0123456789abcde]", false},
		{"marker not hex", "[jwt sha256:0123456789abcdeg]", false},
		{"a false start before the marker", "[jwt sha256:x] " + redacted, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := audit.WasRedacted(tt.s); got != tt.want {
				t.Errorf("WasRedacted(%q) = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}

func TestWasCut(t *testing.T) {
	long := audit.Event{Subject: strings.Repeat("s", 10000)}
	long.Sanitize()
	wide := audit.Event{Subject: strings.Repeat("é", 6000)} // two bytes a rune, so the cut moves back to a rune start
	wide.Sanitize()
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{"cut by Sanitize", long.Subject, true},
		{"cut on a rune boundary", wide.Subject, true},
		{"short text with the marker", "alice...[cut 2000 bytes]", false},
		{"plain text", "alice", false},
		{"marker without a number", strings.Repeat("s", 8128) + "...[cut many bytes]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := audit.WasCut(tt.s); got != tt.want {
				t.Errorf("WasCut(%.40q...) = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}

// TestSanitizeCutMakesNoToken puts a JWT header and a long payload where
// the 8 KiB cut falls inside the payload. The text is no token, but the cut
// must not make it one: Validate would then refuse the event, and a store
// the whole batch with it.
func TestSanitizeCutMakesNoToken(t *testing.T) {
	path := "/" + strings.Repeat("a", 8128-1-1-21-5) + "-eyJhbGciOiJIUzI1NiJ9." + strings.Repeat("eyJzdWIi", 100)
	e := audit.Event{ID: "e1", Time: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), Kind: audit.KindUsed, TokenID: "tok-1", Path: path}

	if err := e.Prepare(); err != nil {
		t.Fatalf("Prepare() = %v, want the cut event valid", err)
	}
	if !audit.WasCut(e.Path) {
		t.Errorf("Path ends %q, want the cut marker", e.Path[len(e.Path)-40:])
	}
	if err := e.Validate(); err != nil {
		t.Errorf("Validate() after Prepare = %v, want nil", err)
	}
}

// TestSanitizeReplacesNUL checks that NUL, which PostgreSQL text cannot
// hold, becomes U+FFFD in every text field.
func TestSanitizeReplacesNUL(t *testing.T) {
	e := audit.Event{ID: "e1", Time: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), Kind: audit.KindUsed, TokenID: "tok\x00-1", Path: "/x\x00y", UserAgent: "a\x00"}

	if err := e.Prepare(); err != nil {
		t.Fatalf("Prepare() = %v", err)
	}

	for name, got := range map[string]string{"TokenID": e.TokenID, "Path": e.Path, "UserAgent": e.UserAgent} {
		if strings.Contains(got, "\x00") || !strings.Contains(got, "\uFFFD") {
			t.Errorf("%s = %q, want NUL replaced by U+FFFD", name, got)
		}
	}
}
