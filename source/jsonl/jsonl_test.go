package jsonl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// lookupText maps jti to pathText and returns what the importer reads there
// in record.
func lookupText(tb testing.TB, pathText, record string) (string, error) {
	tb.Helper()
	var m Mapping
	if err := m.Set("jti", pathText); err != nil {
		tb.Fatal(err)
	}
	if !json.Valid([]byte(record)) {
		tb.Fatalf("test record %s is not valid JSON", record)
	}
	r := recordReader{m: &m, x: newExtractor(&m)}

	r.x.extract([]byte(record))

	s := r.text(fieldJTI)
	return s, r.err
}

func TestPathLookup(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		record string
		want   string
	}{
		{"top-level key", "jti", `{"jti":"abc"}`, "abc"},
		{"nested keys", "a.b.c", `{"a":{"x":1,"b":{"c":"deep"}}}`, "deep"},
		{"array index", "a.b[1].c", `{"a":{"b":[{"c":"zero"},{"c":"one"}]}}`, "one"},
		{"nested arrays", "a[1][0]", `{"a":[[1],["x","y"]]}`, "x"},
		{"leading index", "[1].id", `[{"id":"first"},{"id":"second"}]`, "second"},
		{"quoted key with dots and slash", `user.extra."authentication.kubernetes.io/credential-id"[0]`,
			`{"user":{"extra":{"authentication.kubernetes.io/credential-id":["JTI=42"]}}}`, "JTI=42"},
		{"quoted key with escaped quote", `"say \"hi\""`, `{"say \"hi\"":"hello"}`, "hello"},
		{"escaped key in record", "ab", `{"a\u0062":"escaped"}`, "escaped"},
		{"escaped string value", "s", `{"s":"line\nnext \u00e9"}`, "line\nnext é"},
		{"number as text", "n", `{"n":12345}`, "12345"},
		{"white space around tokens", "a.b", "{ \"a\" :\t{ \"b\" : \"spaced\" } }", "spaced"},
		{"last duplicate key wins", "k", `{"k":"first","k":"second"}`, "second"},
		{"skips braces inside strings", "b", `{"a":"}{][\"","b":"after"}`, "after"},
		{"missing key", "a.missing", `{"a":{"b":"x"}}`, ""},
		{"index past the end", "a[5]", `{"a":["x"]}`, ""},
		{"null on the path", "a.b", `{"a":null}`, ""},
		{"dash means absent", "a", `{"a":"-"}`, ""},
		{"null string means absent", "a", `{"a":"null"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookupText(t, tt.path, tt.record)

			if err != nil {
				t.Fatalf("lookup %s in %s: %v", tt.path, tt.record, err)
			}
			if got != tt.want {
				t.Errorf("lookup %s in %s = %q, want %q", tt.path, tt.record, got, tt.want)
			}
		})
	}
}

func TestPathLookupWrongType(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		record string
		want   string
	}{
		{"value is an object", "a", `{"a":{"b":1}}`, "field jti (path a): the value is a JSON object, want a string"},
		{"value is a boolean", "a", `{"a":true}`, "field jti (path a): the value is a JSON boolean, want a string"},
		{"string where object wanted", "a.b.c", `{"a":{"b":"text"}}`, "field jti (path a.b.c): a.b is a JSON string, want an object"},
		{"object where array wanted", "a[0]", `{"a":{"0":"x"}}`, "field jti (path a[0]): a is a JSON object, want an array"},
		{"record is an array", "a", `["a"]`, "field jti (path a): the record is a JSON array, want an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lookupText(t, tt.path, tt.record)

			if err == nil || err.Error() != tt.want {
				t.Errorf("lookup %s in %s: error %v, want %q", tt.path, tt.record, err, tt.want)
			}
		})
	}
}

func TestTimeFormats(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("time zone database not available: %v", err)
	}
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}

	tests := []struct {
		name   string
		format string
		zone   *time.Location
		value  string // JSON
		want   time.Time
		err    string // a part of the rejection reason, when rejected
	}{
		{name: "rfc3339 UTC", value: `"2024-06-13T10:15:30Z"`, want: at("2024-06-13T10:15:30Z")},
		{name: "rfc3339 offset", value: `"2024-06-13T12:15:30+02:00"`, want: at("2024-06-13T10:15:30Z")},
		{name: "rfc3339 offset without colon", value: `"2024-06-13T12:15:30+0200"`, want: at("2024-06-13T10:15:30Z")},
		{name: "rfc3339 fraction", value: `"2024-06-13T10:15:30.123456789Z"`, want: at("2024-06-13T10:15:30.123456789Z")},
		{name: "rfc3339 space separator", value: `"2024-06-13 10:15:30.5Z"`, want: at("2024-06-13T10:15:30.5Z")},
		{name: "rfc3339 no zone is UTC", format: TimeRFC3339, value: `"2024-06-13T10:15:30"`, want: at("2024-06-13T10:15:30Z")},
		{name: "rfc3339 no zone in time_zone", zone: paris, value: `"2024-06-13 12:15:30"`, want: at("2024-06-13T10:15:30Z")},
		{name: "rfc3339 zone beats time_zone", zone: paris, value: `"2024-06-13T10:15:30Z"`, want: at("2024-06-13T10:15:30Z")},
		{name: "unix integer", format: TimeUnix, value: `1718273730`, want: at("2024-06-13T10:15:30Z")},
		{name: "unix decimal", format: TimeUnix, value: `1718273730.25`, want: at("2024-06-13T10:15:30.25Z")},
		{name: "unix numeric string", format: TimeUnix, value: `"1718273730"`, want: at("2024-06-13T10:15:30Z")},
		{name: "unix exponent", format: TimeUnix, value: `1.71827373e9`, want: at("2024-06-13T10:15:30Z")},
		{name: "unix_ms number", format: TimeUnixMS, value: `1718273730123`, want: at("2024-06-13T10:15:30.123Z")},
		{name: "unix_ms string with fraction", format: TimeUnixMS, value: `"1718273730123.5"`, want: at("2024-06-13T10:15:30.1235Z")},
		{name: "unix_ns", format: TimeUnixNS, value: `1718273730123456789`, want: at("2024-06-13T10:15:30.123456789Z")},
		{name: "unix before 1970", format: TimeUnix, value: `-1.5`, want: at("1969-12-31T23:59:58.5Z")},
		{name: "Go layout", format: "02/Jan/2006:15:04:05 -0700", value: `"13/Jun/2024:12:15:30 +0200"`, want: at("2024-06-13T10:15:30Z")},
		{name: "Go layout without zone", format: "2006-01-02 15:04:05", zone: paris, value: `"2024-06-13 12:15:30"`, want: at("2024-06-13T10:15:30Z")},
		{name: "rfc3339 invalid", value: `"13/06/2024"`, err: `"13/06/2024" is not an RFC 3339 time`},
		{name: "rfc3339 given a number", value: `1718273730`, err: "the value is a JSON number, want a string in the time format rfc3339 (for epoch numbers, set time_format"},
		{name: "unix given text", format: TimeUnix, value: `"yesterday"`, err: `"yesterday" is not a unix time`},
		{name: "unix given object", format: TimeUnix, value: `{}`, err: "the value is a JSON object, want a number or a numeric string"},
		{name: "Go layout mismatch", format: "02/Jan/2006:15:04:05 -0700", value: `"2024-06-13"`, err: `does not match the time format`},
		{name: "unix zero is missing", format: TimeUnix, value: `0`, err: "field time (path ts) is missing"},
		{name: "beyond year 9999", format: TimeUnix, value: `1000000000000`, err: "is outside the years 1 to 9999"},
		{name: "unix_ns overflow", format: TimeUnixNS, value: `99999999999999999999`, err: "is not a unix_ns time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustMapping(t, "jti=jti,time=ts")
			m.TimeFormat = tt.format
			m.TimeZone = tt.zone
			record := `{"jti":"j1","ts":` + tt.value + `}`

			r := parseText(t, m, "time.jsonl", record)

			if tt.err != "" {
				if len(r.rejects) != 1 || !strings.Contains(r.rejects[0].Reason, tt.err) {
					t.Errorf("time %s in format %q: got\n%s want a rejection containing %q", tt.value, tt.format, r, tt.err)
				}
				return
			}
			if len(r.events) != 1 {
				t.Fatalf("time %s in format %q: got\n%s want one event", tt.value, tt.format, r)
			}
			if got := r.events[0].Time; !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("time %s in format %q = %v, want %v in UTC", tt.value, tt.format, got, tt.want)
			}
		})
	}
}

// signedToken returns a compact HS256 JWT of claims.
func signedToken(tb testing.TB, claims jwt.MapClaims) string {
	tb.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("test key, not a secret"))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestTokenIdentity(t *testing.T) {
	claims := jwt.MapClaims{
		"jti":   "tok-7f3a",
		"iss":   "https://idp.example.com",
		"sub":   "user-42",
		"aud":   []string{"orders-api"},
		"azp":   "mobile-app",
		"sid":   "session-9",
		"scope": "orders:read orders:write",
		"iat":   1718273700,
		"nbf":   1718273700,
		"exp":   1718277300,
	}
	token := signedToken(t, claims)
	record := fmt.Sprintf(`{"ts":"2024-06-13T10:15:30Z","headers":{"authorization":"Bearer %s"},"client":"10.0.0.8:4411"}`, token)
	m := mustMapping(t, "token=headers.authorization,time=ts,ip=client")

	r := parseText(t, m, "token.jsonl", record)

	if len(r.events) != 1 {
		t.Fatalf("got\n%s want one event", r)
	}
	got := r.events[0]
	want := audit.Event{
		ID:          audit.NewID("jsonl", record),
		Time:        time.Date(2024, 6, 13, 10, 15, 30, 0, time.UTC),
		Kind:        audit.KindUsed,
		TokenID:     "tok-7f3a",
		Fingerprint: audit.Fingerprint(token),
		Issuer:      "https://idp.example.com",
		Subject:     "user-42",
		Audience:    []string{"orders-api"},
		ClientID:    "mobile-app",
		SessionID:   "session-9",
		Scopes:      []string{"orders:read", "orders:write"},
		IssuedAt:    time.Unix(1718273700, 0).UTC(),
		NotBefore:   time.Unix(1718273700, 0).UTC(),
		ExpiresAt:   time.Unix(1718277300, 0).UTC(),
		IP:          netip.MustParseAddr("10.0.0.8"),
		Source:      "token.jsonl:1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("event:\n got %+v\nwant %+v", got, want)
	}

	// The token is kept nowhere: not whole, not its signature.
	signature := token[strings.LastIndexByte(token, '.')+1:]
	if dump := fmt.Sprintf("%+v %#v", got, got); strings.Contains(dump, token) || strings.Contains(dump, signature) {
		t.Errorf("the raw token appears in the event: %s", dump)
	}
}

func TestTokenIdentityCases(t *testing.T) {
	withJTI := signedToken(t, jwt.MapClaims{"jti": "from-token", "sub": "from-token-sub"})
	withoutJTI := signedToken(t, jwt.MapClaims{"sub": "anonymous-token"})
	tests := []struct {
		name        string
		record      string
		tokenID     string
		fingerprint string
		subject     string
		reject      string // a part of the rejection reason, when rejected
	}{
		{
			name:        "compact JWT without Bearer",
			record:      `{"ts":"2024-06-13T10:15:30Z","tok":"` + withJTI + `"}`,
			tokenID:     "from-token",
			fingerprint: audit.Fingerprint(withJTI),
			subject:     "from-token-sub",
		},
		{
			name:        "mapped fields win over claims",
			record:      `{"ts":"2024-06-13T10:15:30Z","tok":"Bearer ` + withJTI + `","jti":"from-log","sub":"log-sub"}`,
			tokenID:     "from-log",
			fingerprint: audit.Fingerprint(withJTI),
			subject:     "log-sub",
		},
		{
			name:        "JWT without jti",
			record:      `{"ts":"2024-06-13T10:15:30Z","tok":"bearer ` + withoutJTI + `"}`,
			fingerprint: audit.Fingerprint(withoutJTI),
			subject:     "anonymous-token",
		},
		{
			name:        "opaque bearer token",
			record:      `{"ts":"2024-06-13T10:15:30Z","tok":"Bearer 2YotnFZFEjr1zCsicMWpAA=="}`,
			fingerprint: audit.Fingerprint("2YotnFZFEjr1zCsicMWpAA=="),
		},
		{
			name:   "token with white space inside",
			record: `{"ts":"2024-06-13T10:15:30Z","tok":"Bearer abc def"}`,
			reject: "field token (path tok): the value is neither a JWT nor a bearer token",
		},
		{
			name:   "token not a string",
			record: `{"ts":"2024-06-13T10:15:30Z","tok":{"value":"x"}}`,
			reject: "field token (path tok): the value is a JSON object, want a string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustMapping(t, "token=tok,jti=jti,sub=sub,time=ts")

			r := parseText(t, m, "cases.jsonl", tt.record)

			if tt.reject != "" {
				if len(r.rejects) != 1 || !strings.Contains(r.rejects[0].Reason, tt.reject) {
					t.Fatalf("got\n%s want a rejection containing %q", r, tt.reject)
				}
				if strings.Contains(r.rejects[0].Reason, "dXNlcjpwYXNzd29yZA") {
					t.Errorf("rejection reason %q shows the credential", r.rejects[0].Reason)
				}
				return
			}
			if len(r.events) != 1 {
				t.Fatalf("got\n%s want one event", r)
			}
			e := r.events[0]
			if e.TokenID != tt.tokenID {
				t.Errorf("TokenID = %q, want %q", e.TokenID, tt.tokenID)
			}
			if e.Fingerprint != tt.fingerprint {
				t.Errorf("Fingerprint = %q, want %q", e.Fingerprint, tt.fingerprint)
			}
			if e.Subject != tt.subject {
				t.Errorf("Subject = %q, want %q", e.Subject, tt.subject)
			}
		})
	}
}

func TestRecordWithoutTokenIsSkipped(t *testing.T) {
	m := mustMapping(t, "token=tok,jti=jti,sub=sub,time=ts")

	r := parseText(t, m, "cases.jsonl", `{"ts":"2024-06-13T10:15:30Z","tok":"-"}`)

	checkCounts(t, r, 0, 1, 0)
	if reason := r.skipAt(t, 1); reason != "no token: field jti (path jti), field token (path tok) are all missing" {
		t.Errorf("skip reason = %q, want one naming the mapped token fields", reason)
	}
}

func TestBasicCredentialIsNoToken(t *testing.T) {
	m := mustMapping(t, "token=tok,jti=jti,sub=sub,time=ts")

	r := parseText(t, m, "cases.jsonl", `{"ts":"2024-06-13T10:15:30Z","tok":"Basic dXNlcjpwYXNzd29yZA=="}`)

	checkCounts(t, r, 0, 1, 0)
	if reason := r.skipAt(t, 1); reason != "no token: field token (path tok) contains Basic credentials, not a token" {
		t.Errorf("skip reason = %q, want one naming the Basic scheme", reason)
	}
	if strings.Contains(r.String(), "dXNlcjpwYXNzd29yZA") {
		t.Errorf("parse result shows the credential:\n%s", r)
	}
}

func TestFreeTextRejectReasonIsKept(t *testing.T) {
	m := mustMapping(t, "jti=jti,time=ts,status=st,reject_status=401,reject_reason=err")

	r := parseText(t, m, "gw.jsonl", `{"jti":"a","ts":"2024-06-13T10:15:30Z","st":401,"err":"token expired"}`)

	checkTotals(t, r, 1, 0)
	if e := r.events[0]; e.Kind != audit.KindRejected || e.RejectReason != audit.RejectOther || e.Reason != "token expired" {
		t.Errorf("Kind, RejectReason, Reason = %v, %q, %q; want rejected, other, the gateway's text", e.Kind, e.RejectReason, e.Reason)
	}
}

func TestBadValueMessagesHideTokens(t *testing.T) {
	raw := "eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"
	m := mustMapping(t, "jti=jti,time=ts,revocation_method=how,fingerprint=fp")
	for _, field := range []string{"how", "fp"} {
		record := fmt.Sprintf(`{"jti":"a","ts":"2024-06-13T10:15:30Z",%q:"by %s"}`, field, raw)

		r := parseText(t, m, "leak.jsonl", record)

		if len(r.rejects) != 1 {
			t.Fatalf("%s: got\n%s want one rejection", field, r)
		}
		if reason := r.rejects[0].Reason; strings.Contains(strings.ToLower(reason), strings.ToLower(raw[:20])) {
			t.Errorf("%s: rejection %q shows the token", field, reason)
		}
	}
}

func TestBearerPlaceholdersAreNoToken(t *testing.T) {
	m := mustMapping(t, "token=tok,time=ts")
	for _, value := range []string{"Bearer null", "Bearer undefined", "Bearer -", "Bearer  ", "bearer", "N/A", "undefined"} {
		record := fmt.Sprintf(`{"ts":"2024-06-13T10:15:30Z","tok":%q}`, value)

		r := parseText(t, m, "gw.jsonl", record)

		if len(r.events) != 0 || len(r.skips) != 1 {
			t.Errorf("token %q: got\n%s want the record skipped as carrying no token", value, r)
		}
	}
}

func TestSessionRecordNeedsNoToken(t *testing.T) {
	m := mustMapping(t, "jti=jti,time=ts,kind=k,session=sid,sub=sub,reason=outcome")

	r := parseText(t, m, "idp.jsonl", `{"ts":"2024-06-13T10:15:30Z","k":"session","sid":"s-1","sub":"alice","outcome":"login"}`+"\n"+
		`{"ts":"2024-06-13T10:15:31Z","k":"session","sub":"alice"}`)

	checkCounts(t, r, 1, 1, 0)
	if e := r.events[0]; e.Kind != audit.KindSession || e.SessionID != "s-1" || e.TokenID != "" {
		t.Errorf("event kind %v, session %q, token %q; want a session event of s-1 without token", e.Kind, e.SessionID, e.TokenID)
	}
}

func TestParseBadRecords(t *testing.T) {
	const spec = "jti=jti,time=ts,ip=ip,status=status,kind=kind,fingerprint=fp,lat=lat,accuracy_km=radius,asn=asn,aud=aud," +
		"revocation_method=how,reject_reason=why"
	tests := []struct {
		name   string
		line   string
		reason string
	}{
		{"truncated JSON", `{"jti":"a","ts":"2024-06-13T10:15:30Z"`, "invalid JSON at byte"},
		{"not JSON", `jti=a ts=now`, "invalid JSON at byte 1"},
		{"scalar record", `42`, "record is a JSON number, want an object"},
		{"no time", `{"jti":"a"}`, "field time (path ts) is missing, so the event has no time"},
		{"status an object", `{"jti":"a","ts":"2024-06-13T10:15:30Z","status":{"code":200}}`, "field status (path status): the value is a JSON object, want a number or a numeric string"},
		{"status out of range", `{"jti":"a","ts":"2024-06-13T10:15:30Z","status":"700"}`, "field status (path status): 700 is out of range [100, 599]"},
		{"status fractional", `{"jti":"a","ts":"2024-06-13T10:15:30Z","status":200.5}`, `field status (path status): "200.5" is not a whole number`},
		{"ip invalid", `{"jti":"a","ts":"2024-06-13T10:15:30Z","ip":"192.0.2"}`, `field ip (path ip): "192.0.2" is not an IP address`},
		{"ip a number", `{"jti":"a","ts":"2024-06-13T10:15:30Z","ip":16909060}`, "field ip (path ip): the value is a JSON number, want a string"},
		{"kind unknown", `{"jti":"a","ts":"2024-06-13T10:15:30Z","kind":"minted"}`, `field kind (path kind): "minted" is not one of issued, used`},
		{"fingerprint short", `{"ts":"2024-06-13T10:15:30Z","fp":"abc123"}`, `field fingerprint (path fp): "abc123" is not 64 hex digits`},
		{"latitude out of range", `{"jti":"a","ts":"2024-06-13T10:15:30Z","lat":91.5}`, "field lat (path lat): 91.5 is out of range [-90, 90]"},
		{"accuracy radius negative", `{"jti":"a","ts":"2024-06-13T10:15:30Z","radius":-5}`, "field accuracy_km (path radius): -5 is out of range [0, 20037]"},
		{"asn too large", `{"jti":"a","ts":"2024-06-13T10:15:30Z","asn":4294967296}`, "field asn (path asn): 4294967296 is out of range"},
		{"aud element a number", `{"jti":"a","ts":"2024-06-13T10:15:30Z","aud":["x",7]}`, "field aud (path aud): element 1 is a JSON number, want a string"},
		{"revocation method unknown", `{"jti":"a","ts":"2024-06-13T10:15:30Z","how":"magic"}`, `field revocation_method (path how): "magic" is not one of api, admin, logout, automated`},
		{"time out of range", `{"jti":"a","ts":"9999-06-13T10:15:30Z"}`, "event is invalid: field Time is outside the years 1678 to 2261"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustMapping(t, spec)
			good := `{"jti":"good","ts":"2024-06-13T10:15:30Z"}`
			text := tt.line + "\n\n" + good + "\n"

			r := parseText(t, m, "bad.jsonl", text)

			if len(r.rejects) != 1 {
				t.Fatalf("got\n%s want one rejection", r)
			}
			if got := r.rejects[0]; got.File != "bad.jsonl" || got.Line != 1 {
				t.Errorf("rejection at %s:%d, want bad.jsonl:1", got.File, got.Line)
			}
			if got := r.rejects[0].Reason; !strings.Contains(got, tt.reason) {
				t.Errorf("rejection reason = %q, want it to contain %q", got, tt.reason)
			}
			// The blank line 2 is ignored and line 3 is read.
			if len(r.events) != 1 || r.events[0].Source != "bad.jsonl:3" {
				t.Errorf("events:\n%s want the one from line 3", r)
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	m := mustMapping(t, "jti=jti,time=ts,ip=ip,status=status,asn=asn,lat=geo.lat,lon=geo.lon,accuracy_km=geo.radius,scope=scope,aud=aud,"+
		"kind=kind,revocation_method=how,actor=who,id=event_id,country=geo.cc")
	record := `{"event_id":"evt-1","jti":7781,"ts":"2024-06-13T10:15:30Z","ip":"[2001:db8::1]:8443","status":"201",` +
		`"asn":"AS13335","geo":{"lat":"48.85","lon":2.35,"radius":300,"cc":"FR"},"scope":["a","b"],"aud":"api","kind":"Revoked",` +
		`"how":"Admin","who":"alice"}`

	r := parseText(t, m, "values.jsonl", record)

	if len(r.events) != 1 {
		t.Fatalf("got\n%s want one event", r)
	}
	e := r.events[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"ID", e.ID, audit.NewID("jsonl", "evt-1", "7781", "", "")},
		{"TokenID", e.TokenID, "7781"},
		{"IP", e.IP, netip.MustParseAddr("2001:db8::1")},
		{"Status", e.Status, 201},
		{"ASN", e.Geo.ASN, uint32(13335)},
		{"Latitude", e.Geo.Latitude, 48.85},
		{"Longitude", e.Geo.Longitude, 2.35},
		{"AccuracyKM", e.Geo.AccuracyKM, 300.0},
		{"Country", e.Geo.Country, "FR"},
		{"Scopes", e.Scopes, []string{"a", "b"}},
		{"Audience", e.Audience, []string{"api"}},
		{"Kind", e.Kind, audit.KindRevoked},
		{"RevocationMethod", e.RevocationMethod, audit.RevokedByAdmin},
		{"Actor", e.Actor, "alice"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseIPForms(t *testing.T) {
	tests := []struct {
		value string
		want  netip.Addr
	}{
		{"1.2.3.4", netip.MustParseAddr("1.2.3.4")},
		{"1.2.3.4:5678", netip.MustParseAddr("1.2.3.4")},
		{"[::1]:80", netip.MustParseAddr("::1")},
		{"2001:db8::7", netip.MustParseAddr("2001:db8::7")},
		{"203.0.113.7, 10.0.0.1, 10.0.0.2", netip.MustParseAddr("203.0.113.7")},
		{"::ffff:192.0.2.1", netip.MustParseAddr("192.0.2.1")},
		{"unknown", netip.Addr{}},
		{"-", netip.Addr{}},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			m := mustMapping(t, "jti=jti,time=ts,ip=ip")
			record := `{"jti":"a","ts":"2024-06-13T10:15:30Z","ip":"` + tt.value + `"}`

			r := parseText(t, m, "ip.jsonl", record)

			if len(r.events) != 1 {
				t.Fatalf("got\n%s want one event", r)
			}
			if got := r.events[0].IP; got != tt.want {
				t.Errorf("ip %q = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

func TestParseDefaultKind(t *testing.T) {
	m := mustMapping(t, "jti=jti,time=ts,kind=k,default_kind=revoked")
	text := `{"jti":"a","ts":"2024-06-13T10:15:30Z"}` + "\n" + `{"jti":"b","ts":"2024-06-13T10:15:31Z","k":"issued"}`

	r := parseText(t, m, "kind.jsonl", text)

	if len(r.events) != 2 {
		t.Fatalf("got\n%s want two events", r)
	}
	if r.events[0].Kind != audit.KindRevoked {
		t.Errorf("kind without a value = %v, want the default revoked", r.events[0].Kind)
	}
	if r.events[1].Kind != audit.KindIssued {
		t.Errorf("kind with a value = %v, want issued", r.events[1].Kind)
	}
}

func TestParseStableID(t *testing.T) {
	m := mustMapping(t, "jti=jti,time=ts")
	line := `{"jti":"a","ts":"2024-06-13T10:15:30Z"}`

	first := parseText(t, m, "one.jsonl", line)
	second := parseText(t, m, "two.jsonl", "\n"+line)

	if len(first.events) != 1 || len(second.events) != 1 {
		t.Fatalf("got\n%s%s want one event each", first, second)
	}
	if first.events[0].ID != second.events[0].ID {
		t.Errorf("IDs of one record in two files differ: %s and %s", first.events[0].ID, second.events[0].ID)
	}
}

func TestParseLongLine(t *testing.T) {
	m := mustMapping(t, "jti=jti,time=ts")
	long := `{"jti":"` + strings.Repeat("x", source.MaxLineBytes) + `"}`
	text := long + "\n" + `{"jti":"a","ts":"2024-06-13T10:15:30Z"}` + "\n"

	r := parseText(t, m, "long.jsonl", text)

	if reason := r.rejectAt(t, 1); !strings.Contains(reason, "line too long") {
		t.Errorf("rejection reason = %q, want line too long", reason)
	}
	if len(r.events) != 1 || r.events[0].Source != "long.jsonl:2" {
		t.Errorf("events:\n%s want the one from line 2", r)
	}
}

func TestParseInvalidMapping(t *testing.T) {
	in := source.Input{Reader: strings.NewReader(`{"a":1}`), Name: "x.jsonl"}

	err := Format(Mapping{}).Parse(context.Background(), in, &result{})

	if !errors.Is(err, ErrIncompleteMapping) {
		t.Errorf("Parse with the zero Mapping = %v, want ErrIncompleteMapping", err)
	}
}

func TestParseStopsOnHandlerError(t *testing.T) {
	boom := errors.New("store full")
	m := mustMapping(t, "jti=jti,time=ts")
	in := source.Input{Reader: strings.NewReader(`{"jti":"a","ts":"2024-06-13T10:15:30Z"}`), Name: "x.jsonl"}

	err := Format(m).Parse(context.Background(), in, failingHandler{boom})

	if !errors.Is(err, boom) {
		t.Errorf("Parse = %v, want the handler's error", err)
	}
}

type failingHandler struct{ err error }

func (h failingHandler) Event(audit.Event) error        { return h.err }
func (h failingHandler) Skip(int, string)               {}
func (h failingHandler) Reject(err *source.RecordError) {}

func TestParseCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := mustMapping(t, "jti=jti,time=ts")
	in := source.Input{Reader: strings.NewReader(`{"jti":"a","ts":"2024-06-13T10:15:30Z"}`), Name: "x.jsonl"}

	err := Format(m).Parse(ctx, in, &result{})

	if !errors.Is(err, context.Canceled) {
		t.Errorf("Parse = %v, want context.Canceled", err)
	}
}

func TestFormatNeverDetects(t *testing.T) {
	f := Format(mustMapping(t, "jti=jti,time=ts"))

	if f.Name != "jsonl" {
		t.Errorf("Name = %q, want jsonl", f.Name)
	}
	if f.Detect([]byte(`{"jti":"a","ts":"2024-06-13T10:15:30Z"}`)) {
		t.Errorf("Detect = true, want false for every sample")
	}
}

func TestParseInvalidUTF8(t *testing.T) {
	m := mustMapping(t, "jti=jti,time=ts,ua=ua")
	text := "{\"jti\":\"a\",\"ts\":\"2024-06-13T10:15:30Z\",\"ua\":\"kube\xffctl\"}\n" +
		// Invalid UTF-8 in a value that no field maps does not matter.
		"{\"jti\":\"b\",\"ts\":\"2024-06-13T10:15:30Z\",\"other\":\"\xfe\"}\n"

	r := parseText(t, m, "utf8.jsonl", text)

	want := "field ua (path ua): the value is not valid UTF-8, so convert the log to UTF-8 (for example with iconv)"
	if reason := r.rejectAt(t, 1); reason != want {
		t.Errorf("rejection reason = %q, want %q", reason, want)
	}
	if len(r.events) != 1 || r.events[0].TokenID != "b" {
		t.Errorf("events:\n%s want the one of line 2", r)
	}
}

func TestParseRejectStatus(t *testing.T) {
	m := mustMapping(t, "jti=jti,time=ts,status=code,kind=k,reject_status=401|403")
	text := `{"jti":"a","ts":"2024-06-13T10:15:30Z","code":200}
{"jti":"a","ts":"2024-06-13T10:15:31Z","code":401}
{"jti":"a","ts":"2024-06-13T10:15:32Z","code":"403"}
{"jti":"a","ts":"2024-06-13T10:15:33Z","code":401,"k":"revoked"}
{"jti":"a","ts":"2024-06-13T10:15:34Z","code":404}`

	r := parseText(t, m, "status.jsonl", text)

	want := []audit.Kind{audit.KindUsed, audit.KindRejected, audit.KindRejected, audit.KindRevoked, audit.KindUsed}
	if len(r.events) != len(want) {
		t.Fatalf("got\n%s want %d events", r, len(want))
	}
	for i, k := range want {
		if r.events[i].Kind != k {
			t.Errorf("event %d kind = %v, want %v", i+1, r.events[i].Kind, k)
		}
	}
}

func TestRejectStatusMappingForms(t *testing.T) {
	yamlText := "fields:\n  jti: jti\n  time: ts\n  status: code\nreject_status: [401, 403]\n"
	m, err := LoadMapping(strings.NewReader(yamlText))
	if err != nil {
		t.Fatalf("LoadMapping: %v", err)
	}
	if fmt.Sprint(m.RejectStatus) != "[401 403]" {
		t.Errorf("RejectStatus = %v, want [401 403]", m.RejectStatus)
	}
	back, err := ParseMapping(m.String())
	if err != nil || fmt.Sprint(back.RejectStatus) != "[401 403]" {
		t.Errorf("ParseMapping(String()) = %v, %v; want reject_status 401 and 403", back.RejectStatus, err)
	}

	for _, spec := range []string{
		"jti=jti,time=ts,reject_status=401",          // status not mapped
		"jti=jti,time=ts,status=s,reject_status=abc", // not a number
		"jti=jti,time=ts,status=s,reject_status=999", // not a status code
		"jti=jti,time=ts,status=s,reject_status=401,reject_status=403",
	} {
		if _, err := ParseMapping(spec); !errors.Is(err, ErrInvalidMapping) {
			t.Errorf("ParseMapping(%q) = %v, want ErrInvalidMapping", spec, err)
		}
	}
}

func TestParseRepeatedLinesAreEvents(t *testing.T) {
	m := mustMapping(t, "jti=jti,time=ts")
	line := `{"jti":"a","ts":"2024-06-13T10:15:30Z"}`
	text := line + "\n" + line + "\n" + line + "\n"

	first := parseText(t, m, "same.jsonl", text)
	again := parseText(t, m, "same.jsonl", text)

	if len(first.events) != 3 {
		t.Fatalf("got\n%s want three events", first)
	}
	ids := map[string]bool{}
	for i, e := range first.events {
		ids[e.ID] = true
		if e.ID != again.events[i].ID {
			t.Errorf("event %d ID = %s, then %s on a second import, want the same", i+1, e.ID, again.events[i].ID)
		}
	}
	if len(ids) != 3 {
		t.Errorf("identical lines got %d distinct IDs, want 3", len(ids))
	}
}
