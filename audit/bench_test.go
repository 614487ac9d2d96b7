package audit_test

import (
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// BenchmarkSanitizeValidate measures what every importer and the recorder
// pay for each event, on an event with no raw token in it, as nearly all
// are: Sanitize then Validate, against Prepare, which does both with one
// scan of the text.
func BenchmarkSanitizeValidate(b *testing.B) {
	base := benchEvent()
	b.Run("sanitize_validate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e := base
			e.Sanitize()
			if err := e.Validate(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("prepare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e := base
			if err := e.Prepare(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPrepareTokenForms measures Prepare on an event whose path
// carries a token, in the forms that the sanitizer finds.
func BenchmarkPrepareTokenForms(b *testing.B) {
	const token = "eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJiZW5jaCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	forms := []struct{ name, text string }{
		{"compact", token},
		{"spaced", strings.ReplaceAll(token, ".", " .\n ")},
		{"base64", base64.StdEncoding.EncodeToString([]byte(token))},
	}
	for _, form := range forms {
		base := benchEvent()
		base.Path = "/api/v1/orders?session=" + form.text
		b.Run(form.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e := base
				if err := e.Prepare(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchEvent returns an event with no raw token in it, as nearly all are.
func benchEvent() audit.Event {
	return audit.Event{
		ID: audit.NewID("bench", "1"), Time: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), Kind: audit.KindUsed,
		Action: "app.oauth2.as.token.grant.access_token", TokenID: "AT.q6KzXo8Bv1mD3xR0pLw2nA4s7UeYc9hJ",
		Issuer: "https://login.example.com/oauth2/default", Subject: "00u1a2b3c4d5e6f7g8h9",
		ClientID: "0oa9z8y7x6w5v4u3t2s1", SessionID: "102Wv7Yd8e9QkO3m4n5p6q7r8s",
		IP: netip.MustParseAddr("198.51.100.23"), Geo: audit.Geo{Country: "DE", City: "Berlin", Org: "Example Networks"},
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		Method:    "GET", Path: "/api/v1/orders/123456?expand=items", Status: 200, Source: "okta-system-log.jsonl:123456",
	}
}
