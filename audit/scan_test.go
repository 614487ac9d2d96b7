package audit

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A header and a payload that make a small valid token.
const (
	scanHeader  = "eyJhbGciOiJIUzI1NiJ9" // {"alg":"HS256"}
	scanPayload = "eyJqdGkiOiJ4In0"      // {"jti":"x"}
	scanToken   = scanHeader + "." + scanPayload + ".c2lnbmF0dXJl"
)

// repeatTo repeats unit until the text has at least n bytes, then appends
// tail.
func repeatTo(unit string, n int, tail string) string {
	return strings.Repeat(unit, (n+len(unit)-1)/len(unit)) + tail
}

// adversarialTexts returns, by name, texts of about n bytes built to make a
// search for tokens slow: candidate starts that fail late, many segments,
// many tokens.
func adversarialTexts(n int) []struct{ name, text string } {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	b64url := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	// A token and spaces whose length is a multiple of 3, so that the
	// base64 of each repeat starts a group.
	groupToken := scanToken + " "
	for len(groupToken)%3 != 0 {
		groupToken += " "
	}
	mimeLine := "ZXlK" + strings.Repeat("AZXl", 15) // 64 characters, "ZXl" at every alignment but one
	return []struct{ name, text string }{
		{"ey run", repeatTo("ey", n, ".ab.c")},
		{"eyJh run", repeatTo("eyJh", n, ".ab.c")},
		{"e run", repeatTo("e", n, "y.ab.c")},
		{"ew run", repeatTo("ew", n, ".ab.c")},
		{"eyJ runs and dots", repeatTo(strings.Repeat("eyJ", 100)+".", n, "ab.c")},
		{"eyJ and dot", repeatTo("eyJ.", n, "")},
		{"headers and dots", repeatTo(scanHeader+".", n, "")},
		{"header run", repeatTo("eyJhIjoxfQ", n, ".ab.c")}, // {"a":1} repeated: only the last start decodes to one object
		{"nested header", b64url(repeatTo(`{"ab":`, n/2, `[1`+strings.Repeat("}", n/12))) + ".ab.c"},
		{"quoted header", b64url(`{"a":"`+repeatTo(`\"{\\`, n*3/4, `"}`)) + ".ab.c"},
		{"dots", repeatTo(".", n, "")},
		{"ey and dots", repeatTo("ey.", n, "")},
		{"spaced dots", repeatTo(scanHeader+" . ", n, "ab")},
		{"encoded dots", repeatTo(scanHeader+"%2E", n, "ab")},
		{"spaces before no dot", "ey" + repeatTo(" ", n, "x") + scanToken},
		{"alternating separators", repeatTo(scanHeader+" .\n"+scanPayload+"%2e ", n, "")},
		{"many tokens", repeatTo(scanToken+" ", n, "")},
		{"many spaced tokens", repeatTo(strings.ReplaceAll(scanToken, ".", " . ")+", ", n, "")},
		{"ZXlK run", repeatTo("ZXlK", n, "LmFiLmM")},
		{"wrapped eyJh run", b64(repeatTo("eyJh", n*3/4, ".ab.c"))},
		{"wrapped tokens", b64(repeatTo(groupToken, n*3/4, ""))},
		{"MIME lines of tokens", wrapLines(b64(repeatTo(groupToken, n*3/4, "")), 76, "\r\n")},
		{"MIME lines", repeatTo(mimeLine+"\n", n, "")},
		{"PEM lines of tokens", wrapLines(b64(repeatTo(groupToken, n*3/4, "")), 64, "\n")},
		{"escaped slashes", repeatTo(`ZXl\/`, n, "")},
		{"escapes", repeatTo("ZXl%2BZXlZ%2F", n, "")},
		{"Z run", repeatTo("Z", n, "Xl")},
	}
}

// wrapLines breaks s into lines of width characters.
func wrapLines(s string, width int, lineBreak string) string {
	var b strings.Builder
	for len(s) > width {
		b.WriteString(s[:width])
		b.WriteString(lineBreak)
		s = s[width:]
	}
	b.WriteString(s)
	return b.String()
}

// maxWorkPerByte bounds the bytes a scanner may examine for each byte of
// its text. A byte is searched once and read as a segment by up to five
// runs, its own and the four before it. It is decoded and checked for each
// of three base64 alignments, and read again as base64 and decoded. The
// texts of adversarialTexts stay under 14.
const maxWorkPerByte = 32

// TestScannerWorkIsLinear counts the work of the search on texts built to
// be slow, rather than timing it, so that a fast machine cannot hide a
// quadratic cost. A search that decodes the rest of a run of "eyJh" from
// each of its starts examines about 32,000 bytes per byte of a 64 KiB run.
func TestScannerWorkIsLinear(t *testing.T) {
	for _, n := range []int{64 << 10, 1 << 20} {
		for _, tt := range adversarialTexts(n) {
			t.Run(fmt.Sprintf("%s %d KiB", tt.name, n>>10), func(t *testing.T) {
				sc := newScanner(tt.text)

				redacted := sc.redact()

				if limit := maxWorkPerByte * len(tt.text); sc.work > limit {
					t.Errorf("redact examined %d bytes of a %d-byte text, want at most %d", sc.work, len(tt.text), limit)
				}
				if ContainsToken(redacted) {
					t.Errorf("redact left a token in the text")
				}
			})
		}
	}
}

func TestScannerMatchesReference(t *testing.T) {
	for _, n := range []int{100, 700, 3000} {
		for _, tt := range adversarialTexts(n) {
			for _, text := range []string{tt.text, "x " + tt.text + " y", tt.text[1:], tt.text[:len(tt.text)-3]} {
				got, want := RedactTokens(text), referenceRedact(text)
				if got != want {
					t.Errorf("%s, %d bytes: RedactTokens = %.200q, want %.200q", tt.name, len(text), got, want)
				}
			}
		}
	}
}

// FuzzScannerMatchesReference checks that the linear scanner redacts
// exactly what the plain quadratic search redacts, and that what it
// returns contains no token.
func FuzzScannerMatchesReference(f *testing.F) {
	b64 := base64.StdEncoding.EncodeToString([]byte(scanToken))
	f.Add(scanToken)
	f.Add("Bearer " + scanToken + ". Rotate it.")
	f.Add(strings.ReplaceAll(scanToken, ".", " .\n "))
	f.Add(strings.ReplaceAll(scanToken, ".", "%2E"))
	f.Add("cookie=" + b64 + "; path=/")
	f.Add(wrapLines(b64+b64, 64, "\n"))
	f.Add("eyJhIjoxfQeyJhIjoxfQ.ab.c")
	f.Add("eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXYtaXYtaXY.Y2lwaGVydGV4dC1jaXBoZXJ0ZXh0.dGFnLXRhZy10YWc")
	f.Add("ZXlK" + b64 + " " + scanHeader + "." + scanToken)
	for _, tt := range adversarialTexts(60) {
		f.Add(tt.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 4096 {
			// The reference costs time quadratic in the length.
			return
		}
		got := RedactTokens(text)
		if want := referenceRedact(text); got != want {
			t.Fatalf("RedactTokens(%q) = %q, want %q", text, got, want)
		}
		if ContainsToken(got) {
			t.Fatalf("RedactTokens(%q) = %q, which still contains a token", text, got)
		}
		if got, want := ContainsToken(text), referenceContains(text); got != want {
			t.Fatalf("ContainsToken(%q) = %v, want %v", text, got, want)
		}
	})
}

// BenchmarkPrepareAdversarial measures Prepare on an event whose user agent
// is one of adversarialTexts, of 64 KiB (and the run of "eyJh" at 1 MiB
// too, the most a net/http server reads of headers by default), beside an
// ordinary event.
func BenchmarkPrepareAdversarial(b *testing.B) {
	ordinary := Event{
		ID: "0f8e0c9d6b7a5e4f3a2b1c0d9e8f7a6b", Time: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), Kind: KindUsed,
		TokenID: "AT.q6KzXo8Bv1mD3xR0pLw2nA4s7UeYc9hJ", Issuer: "https://login.example.com/oauth2/default",
		Subject: "00u1a2b3c4d5e6f7g8h9", ClientID: "0oa9z8y7x6w5v4u3t2s1",
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		Method:    "GET", Path: "/api/v1/orders/123456?expand=items", Status: 200,
	}
	b.Run("ordinary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e := ordinary
			if err := e.Prepare(); err != nil {
				b.Fatal(err)
			}
		}
	})
	texts := adversarialTexts(64 << 10)
	texts = append(texts, struct{ name, text string }{"eyJh run 1 MiB", repeatTo("eyJh", 1<<20, ".ab.c")})
	for _, tt := range texts {
		b.Run(strings.ReplaceAll(tt.name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tt.text)))
			for b.Loop() {
				e := ordinary
				e.UserAgent = tt.text
				if err := e.Prepare(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
