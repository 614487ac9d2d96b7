package auth0

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		code string
		want class
	}{
		{"seacft", classIssued},
		{"seccft", classIssued},
		{"sepft", classIssued},
		{"seoobft", classIssued},
		{"seotpft", classIssued},
		{"sepotpft", classIssued},
		{"sercft", classIssued},
		{"sede", classIssued},
		{"sens", classIssued},
		{"secte", classIssued},
		{"ciba_exchange_succeeded", classIssued},
		{"sertft", classRefreshed},
		{"feacft", classExchangeFailed},
		{"feccft", classExchangeFailed},
		{"fertft", classExchangeFailed},
		{"fepotpft", classExchangeFailed},
		{"fede", classExchangeFailed},
		{"fens", classExchangeFailed},
		{"ferrt", classReused},
		{"srrt", classRevoked},
		{"sapi", classAPIUsed},
		{"fapi", classAPIFailed},
		{"s", classSession},
		{"ss", classSession},
		{"ssa", classSession},
		{"slo", classSession},
		{"f", classSession},
		{"fp", classSession},
		{"fu", classSession},
		{"fc", classSession},
		{"fco", classSession},
		{"fcoa", classSession},
		{"fn", classSession},
		{"gd_auth_succeed", classSession},
		{"gd_otp_rate_limit_exceed", classSession},
		{"du", classOther},
		{"sv", classOther},
		{"mgmt_api_read", classOther},
		{"seft", classOther}, // no grant letters between "se" and "ft"
		{"seACft", classOther},
		{"", classOther},
	}
	for _, tt := range tests {
		if got := classify(tt.code); got != tt.want {
			t.Errorf("classify(%q) = %d, want %d", tt.code, got, tt.want)
		}
	}
}

// record returns a log-stream record of type code with the extra fields
// (a JSON object's members, without braces) added to its data.
func record(code, extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return `{"log_id":"900001","data":{"log_id":"900001","date":"2025-03-01T10:00:00.000Z","type":"` + code + `"` + extra + `}}`
}

func TestRecordRejects(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string // the reject reason, or a part of it after "..."
	}{
		{"missing log_id", `{"date":"2025-03-01T10:00:00Z","type":"s"}`, `field "log_id" is missing`},
		{"log_id placeholder", `{"log_id":"null","date":"2025-03-01T10:00:00Z","type":"s"}`, `field "log_id" is empty ("null")`},
		{"log_id number", `{"log_id":42,"date":"2025-03-01T10:00:00Z","type":"s"}`, `field "log_id" is a JSON number, want a string`},
		{"missing type", `{"log_id":"900001","date":"2025-03-01T10:00:00Z"}`, `log 900001: field "type" is missing`},
		{"type null", `{"log_id":"900001","type":null}`, `log 900001: field "type" is missing`},
		{"missing date", `{"log_id":"900001","date":null,"type":"seacft"}`, `log 900001 (seacft): field "date" is missing`},
		{"bad date", `{"log_id":"900001","date":"03/01/2025","type":"slo"}`, `log 900001 (slo): field "date" "03/01/2025" is not an RFC 3339 time such as 2021-11-04T00:15:10.706Z`},
		{"date out of range", `{"log_id":"900001","date":"3000-01-01T00:00:00Z","type":"seacft"}`, `issued event is invalid: field Time is outside the years 1678 to 2261 that stores can keep: "3000-01-01T00:00:00Z"`},
		{"array", `[{"log_id":"900001"}]`, "record is a JSON array, not a log object"},
		{"number", `42`, "record is a JSON number, not a log object"},
		{"invalid JSON", `{"log_id":`, "invalid JSON: ..."},
		{"deep nesting", strings.Repeat("[", 10000) + strings.Repeat("]", 10000), "invalid JSON: ...depth"},
		{"deep nesting in details", record("sapi", `"details":`+strings.Repeat(`{"a":`, 10000)+"1"+strings.Repeat("}", 10000)), "invalid JSON: ...depth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseRecord(t, tt.raw)
			if len(r.events) != 0 || len(r.skips) != 0 || len(r.rejects) != 1 {
				t.Fatalf("want one rejection, got:\n%s", r)
			}
			got := r.rejects[0]
			if got.File != "test.json" || got.Line != 1 {
				t.Errorf("rejection at %s:%d, want test.json:1", got.File, got.Line)
			}
			prefix, part, partial := strings.Cut(tt.want, "...")
			switch {
			case partial && (!strings.HasPrefix(got.Reason, prefix) || !strings.Contains(got.Reason, part)):
				t.Errorf("reason = %q, want %q followed by %q", got.Reason, prefix, part)
			case !partial && got.Reason != tt.want:
				t.Errorf("reason = %q, want %q", got.Reason, tt.want)
			}
		})
	}
}

func TestRecordPlaceholders(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		check func(t *testing.T, e audit.Event)
	}{
		{"GUID as address", `"ip":"3f2504e0-4f89-41d3-9a0c-0305e82c3301"`, func(t *testing.T, e audit.Event) {
			if e.IP.IsValid() {
				t.Errorf("IP = %v, want none", e.IP)
			}
		}},
		{"mapped IPv6", `"ip":"::ffff:192.0.2.7"`, func(t *testing.T, e audit.Event) {
			if want := netip.MustParseAddr("192.0.2.7"); e.IP != want {
				t.Errorf("IP = %v, want %v", e.IP, want)
			}
		}},
		{"forwarded chain", `"ip":"203.0.113.1, 10.0.0.1"`, func(t *testing.T, e audit.Event) {
			if want := netip.MustParseAddr("203.0.113.1"); e.IP != want {
				t.Errorf("IP = %v, want %v", e.IP, want)
			}
		}},
		{"null strings", `"user_id":"null","client_id":"-","user_agent":"undefined","hostname":"","description":"null","ip":"null"`, func(t *testing.T, e audit.Event) {
			if e.Subject != "" || e.ClientID != "" || e.UserAgent != "" || e.Issuer != "" || e.IP.IsValid() {
				t.Errorf("event keeps a placeholder: %+v", e)
			}
		}},
		{"JSON nulls", `"user_id":null,"client_id":null,"scope":null,"audience":null,"location_info":null`, func(t *testing.T, e audit.Event) {
			if e.Subject != "" || e.ClientID != "" || e.Scopes != nil || e.Audience != nil || !e.Geo.IsZero() {
				t.Errorf("event keeps a null: %+v", e)
			}
		}},
		{"zero coordinates", `"location_info":{"country_code":"","country_name":"","city_name":"","latitude":0,"longitude":0}`, func(t *testing.T, e audit.Event) {
			if !e.Geo.IsZero() {
				t.Errorf("Geo = %+v, want none", e.Geo)
			}
		}},
		{"coordinates as strings", `"location_info":{"country_name":"Iceland","latitude":"64.1466","longitude":"-21.9426"}`, func(t *testing.T, e audit.Event) {
			if want := (audit.Geo{Country: "Iceland", Latitude: 64.1466, Longitude: -21.9426}); e.Geo != want {
				t.Errorf("Geo = %+v, want %+v", e.Geo, want)
			}
		}},
		{"coordinates out of range", `"location_info":{"country_code":"FR","latitude":91,"longitude":2}`, func(t *testing.T, e audit.Event) {
			if want := (audit.Geo{Country: "FR"}); e.Geo != want {
				t.Errorf("Geo = %+v, want %+v", e.Geo, want)
			}
		}},
		{"scope array with odd items", `"scope":["openid",7,null,"","read:orders"]`, func(t *testing.T, e audit.Event) {
			if got := strings.Join(e.Scopes, " "); got != "openid read:orders" {
				t.Errorf("Scopes = %q, want openid read:orders", e.Scopes)
			}
		}},
		{"wrong types of optional fields", `"user_id":12,"ip":true,"audience":{"a":1},"details":[1,2]`, func(t *testing.T, e audit.Event) {
			if e.Subject != "" || e.IP.IsValid() || e.Audience != nil {
				t.Errorf("event keeps a mistyped field: %+v", e)
			}
		}},
		{"time without zone", `"date":"2025-03-01T10:00:00.5"`, func(t *testing.T, e audit.Event) {
			if want := mustTime(t, "2025-03-01T10:00:00.5Z"); !e.Time.Equal(want) {
				t.Errorf("Time = %v, want %v", e.Time, want)
			}
		}},
		{"time with offset", `"date":"2025-03-01T12:00:00+02:00"`, func(t *testing.T, e audit.Event) {
			if want := mustTime(t, "2025-03-01T10:00:00Z"); e.Time != want {
				t.Errorf("Time = %v, want %v in UTC", e.Time, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A JSON object's first member of a name wins, so a case that
			// sets the date leaves the default date out.
			raw := `{"log_id":"900001","type":"seacft",` + tt.extra + `}`
			if !strings.Contains(tt.extra, `"date"`) {
				raw = `{"log_id":"900001","type":"seacft","date":"2025-03-01T10:00:00Z",` + tt.extra + `}`
			}
			r := parseRecord(t, raw)
			if len(r.events) != 1 {
				t.Fatalf("want one event, got:\n%s", r)
			}
			tt.check(t, r.events[0])
		})
	}
}

func TestRecordManagementAPIStatus(t *testing.T) {
	const auth = `"request":{"method":"get","path":"/api/v2/users","auth":{"credentials":{"jti":"abc123"}}}`
	tests := []struct {
		response string
		want     int
	}{
		{`{"statusCode":201}`, 201},
		{`{"statusCode":"404"}`, 404},
		{`{"statusCode":99}`, 0},
		{`{"statusCode":1000}`, 0},
		{`{}`, 0},
		{`"ok"`, 0},
	}
	for _, tt := range tests {
		r := parseRecord(t, record("sapi", `"details":{`+auth+`,"response":`+tt.response+`}`))
		if len(r.events) != 1 {
			t.Fatalf("response %s: want one event, got:\n%s", tt.response, r)
		}
		if got := r.events[0].Status; got != tt.want {
			t.Errorf("response %s: Status = %d, want %d", tt.response, got, tt.want)
		}
		if got := r.events[0].Method; got != "GET" {
			t.Errorf("Method = %q, want GET", got)
		}
	}
}

func TestRecordFailedAPIReason(t *testing.T) {
	r := parseRecord(t, record("fapi", `"details":{"request":{"auth":{"credentials":{"jti":"abc123"}}},"response":{"statusCode":401,"body":{"message":"Invalid token"}}}`))
	if len(r.events) != 1 {
		t.Fatalf("want one event, got:\n%s", r)
	}
	e := r.events[0]
	if e.Kind != audit.KindRejected || e.Reason != "Invalid token" || e.Status != 401 {
		t.Errorf("fapi event = %s, Reason %q, Status %d; want rejected, the response message, 401", e.Kind, e.Reason, e.Status)
	}
}

func TestRecordSessionID(t *testing.T) {
	tests := []struct {
		name    string
		details string
		want    string
	}{
		{"details", `"details":{"session_id":"sid-1"}`, "sid-1"},
		{"top level", `"session_id":"sid-2","details":{}`, "sid-2"},
		{"refresh token", `"details":{"refresh_token":{"session_id":"sid-3"}}`, "sid-3"},
		{"prompts", `"details":{"prompts":[{"name":"login"},{"name":"mfa","session_id":"sid-4"}]}`, "sid-4"},
		{"placeholder", `"details":{"session_id":"null"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseRecord(t, record("ssa", tt.details))
			if tt.want == "" {
				if len(r.skips) != 1 || r.skips[0].reason != "ssa: no session id" {
					t.Errorf("want skip for no session id, got:\n%s", r)
				}
				return
			}
			if len(r.events) != 1 || r.events[0].SessionID != tt.want {
				t.Errorf("want one event with SessionID %s, got:\n%s", tt.want, r)
			}
		})
	}
}

func TestRecordReasons(t *testing.T) {
	tests := []struct {
		code, description, want string
	}{
		{"s", "Successful login", "login succeeded"},
		{"fp", "Wrong email or password.", "Wrong email or password."},
		{"fp", "", "login failed: wrong password"},
		{"gd_auth_failed", "Invalid OTP code", "Invalid OTP code"},
		{"gd_enrollment_complete", "", "multi-factor authentication event gd_enrollment_complete"},
	}
	for _, tt := range tests {
		r := parseRecord(t, record(tt.code, fmt.Sprintf(`"description":%q,"details":{"session_id":"sid-1"}`, tt.description)))
		if len(r.events) != 1 {
			t.Fatalf("%s: want one event, got:\n%s", tt.code, r)
		}
		if got := r.events[0].Reason; got != tt.want {
			t.Errorf("%s with description %q: Reason = %q, want %q", tt.code, tt.description, got, tt.want)
		}
	}
}

// testJWT is a compact JWT with a jti and a filler signature.
const testJWT = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." +
	"eyJpc3MiOiJodHRwczovL2xvZ2luLmV4YW1wbGUuY29tLyIsInN1YiI6ImF1dGgwfDEiLCJqdGkiOiJsZWFrZWQtMSJ9." +
	"c2lnbmF0dXJlLWZpbGxlci1ub3QtYS1yZWFsLXNpZ25hdHVyZQ"

func TestRecordRawTokensKeptNowhere(t *testing.T) {
	signature := testJWT[strings.LastIndexByte(testJWT, '.')+1:]
	tests := []struct {
		name string
		raw  string
	}{
		{"description", record("fertft", `"description":"invalid refresh token `+testJWT+`"`)},
		{"user agent", record("seacft", `"user_agent":"Bearer `+testJWT+`"`)},
		{"management API jti", record("sapi", `"details":{"request":{"auth":{"credentials":{"jti":"`+testJWT+`"}}}}`)},
		{"invalid JSON", `{"log_id":"900001","description":"` + testJWT + `",`},
		{"bad date", `{"log_id":"900001","type":"s","date":"` + testJWT + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseRecord(t, tt.raw)
			output := fmt.Sprintf("%+v", r.events) + r.String()
			if strings.Contains(output, signature) {
				t.Errorf("the raw token appears in the output:\n%s", output)
			}
			for _, e := range r.events {
				if err := e.Validate(); err != nil {
					t.Errorf("event is invalid: %v", err)
				}
			}
		})
	}
}

func TestRecordHandlerError(t *testing.T) {
	stop := errors.New("store full")
	h := &failingHandler{err: stop}
	p := &parser{file: "test.json", h: h}
	if err := p.record(1, []byte(record("seacft", ""))); !errors.Is(err, stop) {
		t.Errorf("record = %v, want the Handler's error", err)
	}
}

// failingHandler returns err from Event.
type failingHandler struct {
	result
	err error
}

func (h *failingHandler) Event(audit.Event) error { return h.err }

var _ source.Handler = (*failingHandler)(nil)
