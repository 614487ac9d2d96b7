package okta

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// Values of the synthetic envelope testdata.
const (
	hookFile     = "event-hook-deliveries.json"
	bridgeFile   = "eventbridge-events.jsonl"
	ben          = "00u2f8exampleUser02"
	travelClient = "0oa2f8exampleClient2"
	travelServer = "aus2f8exampleServer2"
	benSession   = "102BnExampleSessionC3d4"
	safari       = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15"
	travelToken  = "/oauth2/aus2f8exampleServer2/v1/token"
)

var (
	porto        = audit.Geo{Country: "Portugal", City: "Porto", Latitude: 41.1496, Longitude: -8.611, ASN: 64501, Org: "Example Fibre"}
	madrid       = audit.Geo{Country: "Spain", City: "Madrid", Latitude: 40.4168, Longitude: -3.7038, ASN: 64502, Org: "Example Mobile"}
	travelScopes = []string{"openid", "offline_access", "trips.read"}
)

// hookUUID returns the uuid of the envelope testdata's System Log event n.
func hookUUID(n int) string {
	return fmt.Sprintf("7b2e0002-0000-4000-8000-%012d", n)
}

// TestEventHookDeliveries checks the events of the event hook deliveries,
// three pretty-printed envelopes one after the other.
func TestEventHookDeliveries(t *testing.T) {
	r := parseFile(t, "testdata/"+hookFile)
	checkTotals(t, r, 4, 2, 1)

	t.Run("first delivery", func(t *testing.T) {
		at := source.Location(hookFile, 1)
		checkEvents(t, r.eventsAt(hookFile, 1),
			audit.Event{
				ID: audit.NewID("okta", hookUUID(1)), Time: mustTime(t, "2024-05-06T09:00:01.100Z"),
				Kind: audit.KindSession, Action: "user.session.start",
				Subject: ben, SessionID: benSession,
				IP: netip.MustParseAddr("198.51.100.23"), UserAgent: safari, Geo: porto,
				Path: "/idp/idx/identify", TraceID: "YgBexampleTxn11", Reason: "SUCCESS", Source: at,
			},
			audit.Event{
				ID: audit.NewID("okta", hookUUID(2), "AT.exampleHookAccess01"), Time: mustTime(t, "2024-05-06T09:00:03.250Z"),
				Kind: audit.KindIssued, Action: "app.oauth2.as.token.grant.access_token",
				TokenID: "AT.exampleHookAccess01", Issuer: travelServer, Subject: ben, ClientID: travelClient,
				SessionID: benSession, Scopes: travelScopes, ExpiresAt: mustTime(t, "2024-05-06T10:00:03Z"),
				IP: netip.MustParseAddr("198.51.100.23"), UserAgent: safari, Geo: porto,
				Path: travelToken, TraceID: "YgBexampleTxn12", Source: at,
			},
			audit.Event{
				ID: audit.NewID("okta", hookUUID(3), "RT.exampleHookRefresh01"), Time: mustTime(t, "2024-05-06T09:00:03.251Z"),
				Kind: audit.KindIssued, Action: "app.oauth2.as.token.grant.refresh_token",
				TokenID: "RT.exampleHookRefresh01", Issuer: travelServer, Subject: ben, ClientID: travelClient,
				SessionID: benSession, Scopes: travelScopes, ExpiresAt: mustTime(t, "2024-05-13T09:00:03Z"),
				IP: netip.MustParseAddr("198.51.100.23"), UserAgent: safari, Geo: porto,
				Path: travelToken, TraceID: "YgBexampleTxn12", Source: at,
			})
	})

	t.Run("event of the API log", func(t *testing.T) {
		// The second delivery repeats line 3 of the synthetic token log.
		checkEvents(t, r.eventsAt(hookFile, 296), audit.Event{
			ID: audit.NewID("okta", uuidOf(3), "AT.exampleAccess01"), Time: mustTime(t, "2024-03-12T08:16:05.221Z"),
			Kind: audit.KindIssued, Action: "app.oauth2.as.token.grant.access_token",
			TokenID: "AT.exampleAccess01", Issuer: authServer, Subject: user, ClientID: client,
			SessionID: session, Scopes: allScopes, ExpiresAt: mustTime(t, "2024-03-12T09:16:05Z"),
			IP: netip.MustParseAddr("203.0.113.10"), UserAgent: firefox, Geo: lisbon,
			Path: tokenPath, TraceID: "ZfAexampleTxn03", Source: source.Location(hookFile, 296),
		})
	})

	t.Run("skips and rejections", func(t *testing.T) {
		if got, want := r.skipAt(t, 296), "user.account.lock: not a token or session event"; got != want {
			t.Errorf("skip at line 296 = %q, want %q", got, want)
		}
		if got := r.rejectAt(t, 296); !strings.Contains(got, "System Log event 3") || !strings.Contains(got, "not an object") {
			t.Errorf("reject at line 296 = %q, want it to name System Log event 3, which is not an object", got)
		}
		if got, want := r.skipAt(t, 501), "com.okta.event_hook: the delivery holds no events"; got != want {
			t.Errorf("skip at line 501 = %q, want %q", got, want)
		}
	})
}

// TestEventBridgeEvents checks the events of the EventBridge log stream
// file, one EventBridge event a line.
func TestEventBridgeEvents(t *testing.T) {
	r := parseFile(t, "testdata/"+bridgeFile)
	checkTotals(t, r, 4, 2, 1)
	at := func(line int) string { return source.Location(bridgeFile, line) }

	t.Run("refresh", func(t *testing.T) {
		base := audit.Event{
			Time: mustTime(t, "2024-05-06T11:30:00.500Z"), Action: "app.oauth2.as.token.grant.refresh_token",
			Issuer: travelServer, Subject: ben, ClientID: travelClient, SessionID: benSession, Scopes: travelScopes,
			IP: netip.MustParseAddr("2001:db8:4::17"), UserAgent: safari, Geo: madrid,
			Path: travelToken, TraceID: "YgBexampleTxn21", Source: at(1),
		}
		issued := base
		issued.ID = audit.NewID("okta", hookUUID(21), "RT.exampleHookRefresh02")
		issued.Kind = audit.KindIssued
		issued.TokenID = "RT.exampleHookRefresh02"
		issued.ParentTokenID = "RT.exampleHookRefresh01"
		issued.ExpiresAt = mustTime(t, "2024-05-13T11:30:00Z")
		refreshed := base
		refreshed.ID = audit.NewID("okta", "YgBexampleTxn21", "RT.exampleHookRefresh01", "refreshed")
		refreshed.Kind = audit.KindRefreshed
		refreshed.TokenID = "RT.exampleHookRefresh01"
		checkEvents(t, r.eventsAt(bridgeFile, 1), issued, refreshed)
	})

	t.Run("revocation by an administrator", func(t *testing.T) {
		checkEvents(t, r.eventsAt(bridgeFile, 2), audit.Event{
			ID: audit.NewID("okta", hookUUID(22), "RT.exampleHookRefresh02"), Time: mustTime(t, "2024-05-06T12:00:00Z"),
			Kind: audit.KindRevoked, Action: "app.oauth2.as.token.revoke",
			TokenID: "RT.exampleHookRefresh02", Issuer: travelServer, Subject: "00u9f8exampleAdmin1",
			SessionID: "102AdExampleSessionE5f6",
			IP:        netip.MustParseAddr("198.51.100.200"), UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
			Geo:  audit.Geo{Country: "Portugal", City: "Lisbon", Latitude: 38.7223, Longitude: -9.1393, ASN: 64503, Org: "Example Office"},
			Path: "/api/v1/authorizationServers/aus2f8exampleServer2/clients/0oa2f8exampleClient2/tokens", TraceID: "YgBexampleTxn22",
			Actor: "00u9f8exampleAdmin1", RevocationMethod: audit.RevokedByAdmin, Source: at(2),
		})
	})

	t.Run("placeholders", func(t *testing.T) {
		// An IPv4-mapped address, an UNKNOWN user agent, 0/0 coordinates,
		// an empty country, an "unknown" session and a time without zone.
		checkEvents(t, r.eventsAt(bridgeFile, 3), audit.Event{
			ID: audit.NewID("okta", hookUUID(23)), Time: mustTime(t, "2024-05-06T12:30:00Z"),
			Kind: audit.KindSession, Action: "user.session.end",
			Subject: ben, SessionID: "idxExampleRootSession02",
			IP:   netip.MustParseAddr("198.51.100.7"),
			Path: "/login/signout", TraceID: "YgBexampleTxn23", Reason: "SUCCESS", Source: at(3),
		})
	})

	t.Run("other sources", func(t *testing.T) {
		for line, source := range map[int]string{4: "aws.partner/auth0.com/example-tenant-0000/auth0.logs", 5: "aws.ec2"} {
			got := r.skipAt(t, line)
			if !strings.Contains(got, source) || !strings.HasSuffix(got, "not an Okta System Log event") {
				t.Errorf("skip at line %d = %q, want the source %s and \"not an Okta System Log event\"", line, got, source)
			}
		}
	})

	t.Run("missing uuid", func(t *testing.T) {
		if got, want := r.rejectAt(t, 6), "uuid is missing"; got != want {
			t.Errorf("reject at line 6 = %q, want %q", got, want)
		}
	})
}

// TestEnvelopeKeepsEventIDs checks that each System Log event of the
// synthetic token log yields the same events inside an event hook delivery
// and inside an EventBridge event as it does alone. A store then keeps one
// copy when it imports the log both from the API and from a stream.
func TestEnvelopeKeepsEventIDs(t *testing.T) {
	lines := bytes.Split(bytes.TrimSpace(readFile(t, "testdata/"+tokenFileName)), []byte("\n"))
	for i, line := range lines {
		hook := fmt.Sprintf(`{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","eventId":"e%d","data":{"events":[%s]}}`, i, line)
		bridge := fmt.Sprintf(`{"version":"0","id":"b%d","detail-type":"SystemLog","source":"aws.partner/okta.com/example/stream","detail":%s}`, i, line)

		want := eventKeys(parseData(t, "api.jsonl", line))
		for name, data := range map[string]string{"event hook": hook, "EventBridge": bridge} {
			if got := eventKeys(parseData(t, "stream.jsonl", []byte(data))); got != want {
				t.Errorf("line %d in an %s envelope: events %s, want %s", i+1, name, got, want)
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
	logEvent := `{"uuid":"u1","published":"2024-05-06T09:00:00Z","eventType":"user.session.start","actor":{"id":"00u1","type":"User"}}`
	longHook := `{"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "data": {"events": [` + logEvent + `,` + strings.Repeat(logEvent+",", 2000)
	tests := []struct {
		name   string
		sample string
		want   bool
	}{
		{"event hook delivery", `{"eventType":"com.okta.event_hook","data":{"events":[` + logEvent + `]}}`, true},
		{"event hook delivery in an array", `[{"eventType":"com.okta.event_hook","data":{"events":[` + logEvent + `]}}]`, true},
		{"event hook delivery longer than the sample", longHook[:64<<10], true},
		{"event hook delivery without events", `{"eventType":"com.okta.event_hook","data":{"events":[]}}`, false},
		{"Okta EventBridge event", `{"version":"0","id":"1","detail-type":"SystemLog","source":"aws.partner/okta.com/o/s","detail":` + logEvent + `}`, true},
		{"Auth0 EventBridge event", `{"version":"0","id":"1","detail-type":"Auth0 log","source":"aws.partner/auth0.com/t/auth0.logs","detail":{"log_id":"1","data":{"type":"s","date":"2024-05-06T09:00:00Z"}}}`, false},
		{"CloudTrail EventBridge event", `{"version":"0","id":"1","detail-type":"AWS API Call via CloudTrail","source":"aws.sts","detail":{"eventType":"AwsApiCall","eventTime":"2024-05-06T09:00:00Z"}}`, false},
		{"other cut record", `{"eventType":"com.example.hook","data":{"events":[` + strings.Repeat(logEvent+",", 10), false},
	}
	for _, tt := range tests {
		if got := Detect([]byte(tt.sample)); got != tt.want {
			t.Errorf("%s: Detect = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestEventHookMalformed checks the rejection of a delivery without an
// events array.
func TestEventHookMalformed(t *testing.T) {
	for _, data := range []string{
		`{"eventType":"com.okta.event_hook","data":{}}`,
		`{"eventType":"com.okta.event_hook","data":{"events":{"uuid":"u1"}}}`,
	} {
		r := parseData(t, "hook.json", []byte(data))
		checkTotals(t, r, 0, 0, 1)
		if got := r.rejectAt(t, 1); !strings.Contains(got, "data.events") {
			t.Errorf("Parse(%s) rejected with %q, want it to name data.events", data, got)
		}
	}
}
