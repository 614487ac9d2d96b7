package okta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// baseRecord is a session record of the synthetic token log, line 1.
func baseRecord(tb testing.TB) map[string]any {
	tb.Helper()
	line, _, _ := bytes.Cut(readFile(tb, "testdata/oauth-token-events.jsonl"), []byte("\n"))
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// grantRecord is the access token grant of the synthetic token log, line 3.
func grantRecord(tb testing.TB) map[string]any {
	tb.Helper()
	lines := bytes.Split(readFile(tb, "testdata/oauth-token-events.jsonl"), []byte("\n"))
	var m map[string]any
	if err := json.Unmarshal(lines[2], &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// set sets the value at a dotted path of m, creating objects on the way.
func set(m map[string]any, path string, value any) {
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = value
}

// remove deletes the value at a dotted path of m.
func remove(m map[string]any, path string) {
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, keys[len(keys)-1])
}

func marshal(tb testing.TB, m map[string]any) []byte {
	tb.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestPlaceholders checks that the placeholders of real exports leave a
// field empty instead of rejecting the record.
func TestPlaceholders(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(m map[string]any)
		check func(t *testing.T, e audit.Event)
	}{
		{
			name: "GUID for an address",
			edit: func(m map[string]any) { set(m, "client.ipAddress", "1b4e28ba-2fa1-11d2-883f-0016d3cca427") },
			check: func(t *testing.T, e audit.Event) {
				// request.ipChain still holds the real address, but
				// client.ipAddress is present, so it is not consulted.
				if e.IP.IsValid() {
					t.Errorf("IP = %v, want none", e.IP)
				}
			},
		},
		{
			name: "null strings",
			edit: func(m map[string]any) {
				set(m, "client.ipAddress", "null")
				set(m, "client.userAgent.rawUserAgent", "null")
				set(m, "client.geographicalContext.city", "null")
				set(m, "securityContext.asOrg", "null")
				set(m, "securityContext.isp", "null")
				set(m, "transaction.id", "null")
				set(m, "debugContext.debugData.requestId", "null")
			},
			check: func(t *testing.T, e audit.Event) {
				// The address comes from request.ipChain instead.
				if want := netip.MustParseAddr("203.0.113.10"); e.IP != want {
					t.Errorf("IP = %v, want %v from request.ipChain", e.IP, want)
				}
				if e.UserAgent != "" || e.Geo.City != "" || e.Geo.Org != "" || e.TraceID != "" {
					t.Errorf("UserAgent %q, City %q, Org %q, TraceID %q, want all empty", e.UserAgent, e.Geo.City, e.Geo.Org, e.TraceID)
				}
			},
		},
		{
			name: "dash and empty strings",
			edit: func(m map[string]any) {
				set(m, "client.ipAddress", "-")
				set(m, "request.ipChain", []any{map[string]any{"ip": ""}})
				set(m, "client.geographicalContext.country", "")
				set(m, "authenticationContext.externalSessionId", "-")
			},
			check: func(t *testing.T, e audit.Event) {
				if e.IP.IsValid() || e.Geo.Country != "" {
					t.Errorf("IP %v, Country %q, want none", e.IP, e.Geo.Country)
				}
				if e.SessionID != "idxExampleRootSession01" {
					t.Errorf("SessionID = %q, want the root session", e.SessionID)
				}
			},
		},
		{
			name: "zero coordinates",
			edit: func(m map[string]any) {
				set(m, "client.geographicalContext.geolocation", map[string]any{"lat": 0, "lon": 0})
			},
			check: func(t *testing.T, e audit.Event) {
				if e.Geo.Latitude != 0 || e.Geo.Longitude != 0 || e.Geo.City != "Lisbon" {
					t.Errorf("Geo = %+v, want Lisbon without coordinates", e.Geo)
				}
			},
		},
		{
			name: "coordinates out of range",
			edit: func(m map[string]any) {
				set(m, "client.geographicalContext.geolocation", map[string]any{"lat": 391, "lon": "-9.1"})
			},
			check: func(t *testing.T, e audit.Event) {
				if e.Geo.HasCoordinates() || e.Geo.Latitude != 0 {
					t.Errorf("Geo = %+v, want no coordinates", e.Geo)
				}
			},
		},
		{
			name: "IPv6",
			edit: func(m map[string]any) { set(m, "client.ipAddress", "2001:db8::1") },
			check: func(t *testing.T, e audit.Event) {
				if want := netip.MustParseAddr("2001:db8::1"); e.IP != want {
					t.Errorf("IP = %v, want %v", e.IP, want)
				}
			},
		},
		{
			name: "IPv4-mapped IPv6",
			edit: func(m map[string]any) { set(m, "client.ipAddress", "::ffff:203.0.113.9") },
			check: func(t *testing.T, e audit.Event) {
				if want := netip.MustParseAddr("203.0.113.9"); e.IP != want {
					t.Errorf("IP = %v, want %v", e.IP, want)
				}
			},
		},
		{
			name: "time with offset",
			edit: func(m map[string]any) { set(m, "published", "2024-03-12T10:15:58.412+02:00") },
			check: func(t *testing.T, e audit.Event) {
				if want := mustTime(t, "2024-03-12T08:15:58.412Z"); !e.Time.Equal(want) || e.Time.Location() != time.UTC {
					t.Errorf("Time = %v, want %v in UTC", e.Time, want)
				}
			},
		},
		{
			name: "time without zone",
			edit: func(m map[string]any) { set(m, "published", "2024-03-12 08:15:58.412") },
			check: func(t *testing.T, e audit.Event) {
				if want := mustTime(t, "2024-03-12T08:15:58.412Z"); !e.Time.Equal(want) {
					t.Errorf("Time = %v, want %v", e.Time, want)
				}
			},
		},
		{
			name: "ASN as a string",
			edit: func(m map[string]any) { set(m, "securityContext.asNumber", "AS64500") },
			check: func(t *testing.T, e audit.Event) {
				if e.Geo.ASN != 64500 {
					t.Errorf("ASN = %d, want 64500", e.Geo.ASN)
				}
			},
		},
		{
			name: "wrong types of optional fields",
			edit: func(m map[string]any) {
				set(m, "client", "Computer")
				set(m, "actor.id", 42)
				set(m, "securityContext.asNumber", -5)
				set(m, "target", map[string]any{"id": "AT.x"})
			},
			check: func(t *testing.T, e audit.Event) {
				if e.IP.IsValid() == false || e.Subject != "" || e.Geo.ASN != 0 {
					t.Errorf("IP %v, Subject %q, ASN %d, want the ipChain address, no subject, no ASN", e.IP, e.Subject, e.Geo.ASN)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := baseRecord(t)
			tc.edit(m)
			r := parseData(t, "placeholders.jsonl", marshal(t, m))
			checkTotals(t, r, 1, 0, 0)
			if len(r.events) == 1 {
				tc.check(t, r.events[0])
			}
		})
	}
}

// TestRequiredFields checks that a record missing a field that an event
// needs is rejected with the field's name.
func TestRequiredFields(t *testing.T) {
	tests := []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"no eventType", func(m map[string]any) { remove(m, "eventType") }, "eventType is missing"},
		{"eventType a number", func(m map[string]any) { set(m, "eventType", 7) }, "eventType is a JSON number, not a string"},
		{"eventType a placeholder", func(m map[string]any) { set(m, "eventType", "null") }, `eventType is the placeholder "null"`},
		{"no uuid", func(m map[string]any) { remove(m, "uuid") }, "uuid is missing"},
		{"no published", func(m map[string]any) { remove(m, "published") }, "published is missing"},
		{"published not a time", func(m map[string]any) { set(m, "published", "yesterday") }, `published is not a time in RFC 3339 form, such as 2024-05-01T12:00:00.000Z: "yesterday"`},
		{"published out of range", func(m map[string]any) { set(m, "published", "9999-01-01T00:00:00Z") }, "field Time is outside the years 1678 to 2261"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := baseRecord(t)
			tc.edit(m)
			data := append([]byte("\n"), marshal(t, m)...)
			r := parseData(t, "required.jsonl", data)
			checkTotals(t, r, 0, 0, 1)
			if reason := r.rejectAt(t, 2); !strings.Contains(reason, tc.want) {
				t.Errorf("reject reason = %q, want it to contain %q", reason, tc.want)
			}
		})
	}

	t.Run("skipped record needs no uuid", func(t *testing.T) {
		m := baseRecord(t)
		set(m, "eventType", "user.account.lock")
		remove(m, "uuid")
		remove(m, "published")
		r := parseData(t, "required.jsonl", marshal(t, m))
		checkTotals(t, r, 0, 1, 0)
	})

	t.Run("session fact without session needs no uuid", func(t *testing.T) {
		m := baseRecord(t)
		set(m, "authenticationContext", map[string]any{"externalSessionId": "unknown"})
		remove(m, "uuid")
		r := parseData(t, "required.jsonl", marshal(t, m))
		checkTotals(t, r, 0, 1, 0)
	})
}

// TestLongLine checks that a 10 MB line is rejected with its location,
// that the lines around it are imported, and that reading a long line costs
// memory bounded by the line limit, not by the line.
func TestLongLine(t *testing.T) {
	good := marshal(t, baseRecord(t))
	withLongLine := func(size int) []byte {
		m := baseRecord(t)
		set(m, "debugContext.debugData.padding", strings.Repeat("x", size))
		var data bytes.Buffer
		data.Write(good)
		data.WriteByte('\n')
		data.Write(marshal(t, m))
		data.WriteByte('\n')
		data.Write(good)
		data.WriteByte('\n')
		return data.Bytes()
	}
	allocated := func(data []byte) (*result, uint64) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := parseData(t, "long.jsonl", data)
		runtime.ReadMemStats(&after)
		return r, after.TotalAlloc - before.TotalAlloc
	}

	r, tenMB := allocated(withLongLine(10 << 20))
	checkTotals(t, r, 2, 0, 1)
	if reason := r.rejectAt(t, 2); !strings.Contains(reason, "longer than the limit") {
		t.Errorf("reject reason = %q, want it to say the line is longer than the limit", reason)
	}
	if got := r.rejects[0].Error(); !strings.HasPrefix(got, "long.jsonl:2: ") {
		t.Errorf("reject = %q, want it to start with long.jsonl:2: ", got)
	}

	// A line three times as long costs no more than the first, give or
	// take 4 MiB of noise.
	r, thirtyMB := allocated(withLongLine(30 << 20))
	checkTotals(t, r, 2, 0, 1)
	if thirtyMB > tenMB+4<<20 {
		t.Errorf("Parse allocated %d bytes with a 30 MB line and %d with a 10 MB line, want about the same", thirtyMB, tenMB)
	}
}

// TestDeepNesting checks that JSON nested 10,000 levels is rejected
// cleanly, in a record and as a whole file.
func TestDeepNesting(t *testing.T) {
	const depth = 10_000
	deep := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	deepArray := strings.Repeat("[", depth) + strings.Repeat("]", depth)

	m := baseRecord(t)
	good := string(marshal(t, m))
	inField := strings.Replace(good, `"debugContext":{`, `"debugContext":{"deep":`+deep+`,`, 1)

	t.Run("in a field", func(t *testing.T) {
		r := parseData(t, "deep.jsonl", []byte(good+"\n"+inField+"\n"+good+"\n"))
		checkTotals(t, r, 2, 0, 1)
		r.rejectAt(t, 2)
	})
	t.Run("whole line", func(t *testing.T) {
		r := parseData(t, "deep.jsonl", []byte(good+"\n"+deep+"\n"+good+"\n"))
		checkTotals(t, r, 2, 0, 1)
		r.rejectAt(t, 2)
	})
	t.Run("array document", func(t *testing.T) {
		r := &result{}
		in := source.Input{Reader: strings.NewReader(deepArray), Name: "deep.json"}
		if err := Format().Parse(context.Background(), in, r); err != nil {
			t.Fatalf("Parse = %v, want nil", err)
		}
		if len(r.events) != 0 || len(r.rejects) == 0 {
			t.Errorf("got %d events and %d rejects, want a reject and no event", len(r.events), len(r.rejects))
		}
	})
}

// TestBinaryFile checks that random bytes yield rejects or nothing, in
// bounded time, without a panic.
func TestBinaryFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	start := time.Now()
	r := &result{}
	in := source.Input{Reader: bytes.NewReader(data), Name: "random.bin"}
	if err := Format().Parse(context.Background(), in, r); err != nil {
		t.Fatalf("Parse = %v, want nil", err)
	}
	if len(r.events) != 0 {
		t.Errorf("got %d events from random bytes, want none", len(r.events))
	}
	if len(r.rejects) == 0 {
		t.Error("got no rejects from random bytes")
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("Parse took %v for 1 MiB of random bytes", elapsed)
	}
	if Detect(data) {
		t.Error("Detect(random bytes) = true")
	}
}

// TestCompactArray reads records as a JSON array on one line.
func TestCompactArray(t *testing.T) {
	m := baseRecord(t)
	g := grantRecord(t)
	data := []byte("[" + string(marshal(t, m)) + "," + string(marshal(t, g)) + "]\n")
	r := parseData(t, "array.json", data)
	checkTotals(t, r, 2, 0, 0)
	if !Detect(data) {
		t.Error("Detect(compact array) = false")
	}
}

// TestInvalidUTF8 checks that a record with invalid UTF-8 is rejected with
// its location.
func TestInvalidUTF8(t *testing.T) {
	good := marshal(t, baseRecord(t))
	bad := bytes.Replace(good, []byte("Lisbon"), []byte("Lisb\xffn"), 1)
	r := parseData(t, "utf8.jsonl", bytes.Join([][]byte{good, bad, good}, []byte("\n")))
	checkTotals(t, r, 2, 0, 1)
	if reason := r.rejectAt(t, 2); !strings.Contains(reason, "UTF-8") {
		t.Errorf("reject reason = %q, want it to name UTF-8", reason)
	}
}

// TestRawTokens checks that a raw JWT in a record, as a token id or inside
// a text field, never reaches an event.
func TestRawTokens(t *testing.T) {
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"jti": "AT.fromTheJWT", "sub": user, "exp": 1710238565,
	}).SignedString([]byte("tokentrail-testdata-not-a-secret"))
	if err != nil {
		t.Fatal(err)
	}

	g := grantRecord(t)
	targets := g["target"].([]any)
	targets[1].(map[string]any)["id"] = raw
	set(g, "client.userAgent.rawUserAgent", "curl/8.5 Bearer "+raw)
	set(g, "debugContext.debugData.requestUri", "/oauth2/v1/token?access_token="+raw)

	r := parseData(t, "tokens.jsonl", marshal(t, g))
	checkTotals(t, r, 1, 0, 0)
	for _, e := range r.events {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(raw)) || audit.ContainsToken(string(b)) {
			t.Errorf("event holds the raw token: %s", b)
		}
		if e.TokenID != "AT.fromTheJWT" || e.Fingerprint != audit.Fingerprint(raw) {
			t.Errorf("TokenID %q, Fingerprint %q, want the JWT's jti and fingerprint", e.TokenID, e.Fingerprint)
		}
	}
}

// TestHandlerError checks that Parse stops with the Handler's error.
func TestHandlerError(t *testing.T) {
	want := errors.New("store full")
	h := &failingHandler{err: want}
	in := source.Input{Reader: bytes.NewReader(readFile(t, "testdata/oauth-token-events.jsonl")), Name: "x.jsonl"}
	if err := Format().Parse(context.Background(), in, h); !errors.Is(err, want) {
		t.Errorf("Parse = %v, want %v", err, want)
	}
	if h.calls != 1 {
		t.Errorf("Event was called %d times, want 1", h.calls)
	}
}

// TestCanceled checks that Parse returns the context's error.
func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := source.Input{Reader: bytes.NewReader(readFile(t, "testdata/oauth-token-events.jsonl")), Name: "x.jsonl"}
	if err := Format().Parse(ctx, in, &result{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Parse = %v, want context.Canceled", err)
	}
}

// failingHandler returns err from Event.
type failingHandler struct {
	result
	err   error
	calls int
}

func (h *failingHandler) Event(audit.Event) error { h.calls++; return h.err }
