package auth0

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// Values of the synthetic envelope testdata.
const (
	bridgeFile  = "eventbridge-events.jsonl"
	gridFile    = "event-grid-events.json"
	dana        = "auth0|65e1a7c0ffee00000000d004"
	danaSession = "Dd0SessionOfDana000000000000000a1"
	shopClient  = "Xw7hQ2nV5bK9mR3tY6uP1sD4fG8jL0zA"
	shopIssuer  = "https://login.example.com/"
	safari      = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15"
)

var (
	lyon      = audit.Geo{Country: "FR", City: "Lyon", Latitude: 45.764, Longitude: 4.8357}
	shopAPI   = []string{"https://api.example.com/"}
	shopScope = []string{"openid", "offline_access", "read:orders"}
)

// envelopeLogID returns the log_id of record n of the envelope testdata.
func envelopeLogID(n int) string {
	return fmt.Sprintf("900202504031400%041d", n)
}

func TestEventBridgeEvents(t *testing.T) {
	r := parseFile(t, "testdata/"+bridgeFile)
	checkTotals(t, r, 4, 1, 2)
	at := func(line int) string { return source.Location(bridgeFile, line) }

	t.Run("code exchange in a log-stream wrapper", func(t *testing.T) {
		checkEvent(t, r.eventByID(t, audit.NewID("auth0", envelopeLogID(1))), audit.Event{
			ID: audit.NewID("auth0", envelopeLogID(1)), Time: mustTime(t, "2025-04-03T14:00:01.250Z"),
			Kind: audit.KindIssued, Action: "seacft", TokenID: "c0ffee00-4444-4a2b-8c3d-000000000004",
			Issuer: shopIssuer, Subject: dana, Audience: shopAPI, ClientID: shopClient, Scopes: shopScope,
			IP: netip.MustParseAddr("192.0.2.44"), UserAgent: "node-fetch/1.0", Geo: lyon, Source: at(1),
		})
	})

	t.Run("refresh", func(t *testing.T) {
		exchange := "auth0:" + envelopeLogID(2)
		refreshed := audit.Event{
			ID: audit.NewID("auth0", envelopeLogID(2)), Time: mustTime(t, "2025-04-03T15:00:02.500Z"),
			Kind: audit.KindRefreshed, Action: "sertft", TokenID: exchange,
			Issuer: shopIssuer, Subject: dana, Audience: shopAPI, ClientID: shopClient, SessionID: danaSession,
			Scopes: shopScope, IP: netip.MustParseAddr("2001:db8:7::21"), UserAgent: safari, Geo: lyon, Source: at(2),
		}
		issued := refreshed
		issued.ID = audit.NewID("auth0", envelopeLogID(2), "access_token")
		issued.Kind = audit.KindIssued
		issued.TokenID = "c0ffee00-4444-4a2b-8c3d-000000000005"
		issued.ParentTokenID = exchange
		checkEvent(t, r.eventByID(t, refreshed.ID), refreshed)
		checkEvent(t, r.eventByID(t, issued.ID), issued)
	})

	t.Run("reuse as a bare log object", func(t *testing.T) {
		checkEvent(t, r.eventByID(t, audit.NewID("auth0", envelopeLogID(3))), audit.Event{
			ID: audit.NewID("auth0", envelopeLogID(3)), Time: mustTime(t, "2025-04-03T15:20:00Z"),
			Kind: audit.KindRejected, Action: "ferrt", TokenID: "auth0:" + envelopeLogID(3),
			Issuer: shopIssuer, Subject: dana, Audience: shopAPI, ClientID: shopClient,
			IP: netip.MustParseAddr("203.0.113.200"), UserAgent: "curl/8.5.0",
			Reason:       "Refresh token presented again after it was rotated; the token family is revoked",
			RejectReason: audit.RejectReused, Source: at(3),
		})
	})

	t.Run("Okta event skipped", func(t *testing.T) {
		got := r.skipAt(t, 4)
		if !strings.Contains(got, "aws.partner/okta.com/") || !strings.HasSuffix(got, "not an Auth0 log") {
			t.Errorf("skip at line 4 = %q, want the Okta source and \"not an Auth0 log\"", got)
		}
	})

	t.Run("detail not an object", func(t *testing.T) {
		if got, want := r.rejectAt(t, 5), "detail of the EventBridge event is a JSON string, not an object"; got != want {
			t.Errorf("reject at line 5 = %q, want %q", got, want)
		}
	})

	t.Run("log without date", func(t *testing.T) {
		if got := r.rejectAt(t, 6); !strings.Contains(got, `"date" is missing`) {
			t.Errorf("reject at line 6 = %q, want it to name the missing date", got)
		}
	})
}

func TestEventGridEvents(t *testing.T) {
	r := parseFile(t, "testdata/"+gridFile)
	checkTotals(t, r, 3, 1, 0)
	at := func(line int) string { return source.Location(gridFile, line) }

	t.Run("login as a bare log object", func(t *testing.T) {
		checkEvent(t, r.eventByID(t, audit.NewID("auth0", envelopeLogID(4))), audit.Event{
			ID: audit.NewID("auth0", envelopeLogID(4)), Time: mustTime(t, "2025-04-03T13:59:58.100Z"),
			Kind: audit.KindSession, Action: "s", Issuer: shopIssuer, Subject: dana, ClientID: shopClient,
			SessionID: danaSession, IP: netip.MustParseAddr("192.0.2.44"), UserAgent: safari, Geo: lyon,
			Reason: "login succeeded", Source: at(2),
		})
	})

	t.Run("revocation in a log-stream wrapper", func(t *testing.T) {
		checkEvent(t, r.eventByID(t, audit.NewID("auth0", envelopeLogID(5))), audit.Event{
			ID: audit.NewID("auth0", envelopeLogID(5)), Time: mustTime(t, "2025-04-03T15:20:00.120Z"),
			Kind: audit.KindRevoked, Action: "srrt", TokenID: "auth0:" + envelopeLogID(5),
			Issuer: shopIssuer, Subject: dana, ClientID: shopClient,
			IP: netip.MustParseAddr("203.0.113.200"), UserAgent: "curl/8.5.0",
			Reason: "Revoked refresh token family after reuse", RevocationMethod: audit.RevokedByAPI, Source: at(44),
		})
	})

	t.Run("placeholders", func(t *testing.T) {
		// A GUID where the address should be, a "null" user agent, 0/0
		// coordinates, an empty country and a date without zone.
		checkEvent(t, r.eventByID(t, audit.NewID("auth0", envelopeLogID(7))), audit.Event{
			ID: audit.NewID("auth0", envelopeLogID(7)), Time: mustTime(t, "2025-04-03T15:21:00Z"),
			Kind: audit.KindSession, Action: "slo", Issuer: shopIssuer, Subject: dana, ClientID: shopClient,
			SessionID: danaSession, Reason: "logout succeeded", Source: at(72),
		})
	})

	t.Run("other publisher skipped", func(t *testing.T) {
		if got, want := r.skipAt(t, 104), `Event Grid event of type "Microsoft.Storage.BlobCreated": not an Auth0 log`; got != want {
			t.Errorf("skip at line 104 = %q, want %q", got, want)
		}
	})
}

// TestEnvelopeKeepsEventIDs checks that each log of the Management API
// testdata yields the same events inside an EventBridge event and an Event
// Grid event, bare or in a log-stream wrapper, as it does alone. A store then
// keeps one copy when it imports the logs both from the API and from a
// stream.
func TestEnvelopeKeepsEventIDs(t *testing.T) {
	var logs []json.RawMessage
	if err := json.Unmarshal([]byte(readFile(t, "testdata/management-api-logs.json")), &logs); err != nil {
		t.Fatal(err)
	}
	for i, log := range logs {
		var fields struct {
			LogID string `json:"log_id"`
		}
		if err := json.Unmarshal(log, &fields); err != nil {
			t.Fatal(err)
		}
		wrapper := fmt.Sprintf(`{"log_id":%q,"data":%s}`, fields.LogID, log)
		envelopes := map[string]string{
			"EventBridge":        fmt.Sprintf(`{"version":"0","id":"e%d","detail-type":"Auth0 log","source":"aws.partner/auth0.com/t/auth0.logs","detail":%s}`, i, wrapper),
			"Event Grid":         fmt.Sprintf(`{"id":"g%d","eventType":"Auth0.Log","subject":"auth0/logs","eventTime":"2025-03-01T00:00:00Z","data":%s}`, i, log),
			"Event Grid wrapper": fmt.Sprintf(`{"id":"g%d","eventType":"Auth0.Log","subject":"auth0/logs","eventTime":"2025-03-01T00:00:00Z","data":%s}`, i, wrapper),
		}

		want := eventKeys(parseRecord(t, string(log)))
		for name, envelope := range envelopes {
			if got := eventKeys(parseRecord(t, envelope)); got != want {
				t.Errorf("log %d in an %s envelope: %s, want %s", i+1, name, got, want)
			}
		}
	}
}

// eventKeys lists the kind, ID and token of each event of r, and its skips
// and rejections, in one string.
func eventKeys(r *result) string {
	var b strings.Builder
	for _, e := range r.events {
		fmt.Fprintf(&b, "%s %s %s; ", e.Kind, e.ID, e.TokenID)
	}
	fmt.Fprintf(&b, "%d skipped, %d rejected", len(r.skips), len(r.rejects))
	return b.String()
}

func TestDetectEnvelopes(t *testing.T) {
	logObject := `{"date":"2025-04-03T14:00:00Z","type":"s","log_id":"9001"}`
	tests := []struct {
		name   string
		sample string
		want   bool
	}{
		{"EventBridge event with wrapper", `{"version":"0","id":"1","detail-type":"Auth0 log","source":"aws.partner/auth0.com/t/auth0.logs","detail":{"log_id":"9001","data":` + logObject + `}}`, true},
		{"EventBridge event with bare log", `{"version":"0","id":"1","detail-type":"Auth0 log","source":"aws.partner/auth0.com/t/auth0.logs","detail":` + logObject + `}`, true},
		{"Event Grid array", `[{"id":"1","eventType":"Auth0.Log","subject":"s","eventTime":"2025-04-03T14:00:00Z","data":` + logObject + `}]`, true},
		{"Okta EventBridge event", `{"version":"0","id":"1","detail-type":"SystemLog","source":"aws.partner/okta.com/o/s","detail":{"uuid":"u1","published":"2025-04-03T14:00:00Z","eventType":"user.session.start","actor":{"id":"00u1"}}}`, false},
		{"Event Grid event of Blob Storage", `[{"id":"1","eventType":"Microsoft.Storage.BlobCreated","subject":"s","eventTime":"2025-04-03T14:00:00Z","data":{"api":"PutBlob"}}]`, false},
		{"EventBridge event without date", `{"version":"0","id":"1","detail-type":"Auth0 log","source":"aws.partner/auth0.com/t/auth0.logs","detail":{"log_id":"9001","data":{"type":"s"}}}`, false},
	}
	for _, tt := range tests {
		if got := Detect([]byte(tt.sample)); got != tt.want {
			t.Errorf("%s: Detect = %v, want %v", tt.name, got, tt.want)
		}
	}
}
