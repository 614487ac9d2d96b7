package keycloak

import (
	"context"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// tenMegabytes is the length of the value that makes a line of over 10 MiB.
const tenMegabytes = 10 << 20

// goodLine is a text log line with one issued event, which follows each
// hostile input to show that reading goes on.
const goodLine = prefix + `type="CLIENT_LOGIN", realmId="r", clientId="svc", userId="u", ipAddress="192.0.2.1", token_id="after"`

// allocatedDuring returns the bytes allocated while f runs.
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// checkReadOn checks that c holds one rejection at line 1, whose reason
// contains want, and the event of goodLine at line 2.
func checkReadOn(tb testing.TB, c *collector, want string) {
	tb.Helper()
	if len(c.rejects) != 1 {
		tb.Fatalf("rejects = %v, want one", c.rejects)
	}
	if r := c.rejects[0]; r.File != "hostile.log" || r.Line != 1 || !strings.Contains(r.Reason, want) {
		tb.Errorf("reject = %s:%d %q, want hostile.log:1 containing %q", r.File, r.Line, r.Reason, want)
	}
	if len(c.events) != 1 || c.events[0].TokenID != "after" || c.events[0].Source != "hostile.log:2" {
		tb.Errorf("events = %+v, want the event of token after from hostile.log:2", c.events)
	}
}

func TestParseTenMegabyteLine(t *testing.T) {
	tests := []struct {
		name string
		line func(value string) string
	}{
		{name: "text log", line: func(v string) string { return prefix + `type="CLIENT_LOGIN", token_id="t", clientId="` + v + `"` }},
		{name: "json console", line: func(v string) string {
			return `{"timestamp":"2024-10-30T17:27:03+05:30","loggerName":"org.keycloak.events","message":"` + v + `"}`
		}},
		{name: "no line break", line: func(v string) string { return v }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			allocated := make(map[int]uint64)
			for _, size := range []int{tenMegabytes, 4 * tenMegabytes} {
				text := tt.line(strings.Repeat("x", size)) + "\n" + goodLine + "\n"
				var c *collector
				allocated[size] = allocatedDuring(func() { c = parseText(t, Options{}, "hostile.log", text) })

				checkReadOn(t, c, "line too long")
			}
			// The line is read to its end but kept only up to
			// source.MaxLineBytes, so a longer line costs no more.
			if small, large := allocated[tenMegabytes], allocated[4*tenMegabytes]; large > small+1<<20 {
				t.Errorf("Parse allocated %d bytes for a 40 MiB line and %d for a 10 MiB one, want no more for the longer line", large, small)
			}
		})
	}
}

func TestParseDeeplyNestedJSON(t *testing.T) {
	const depth = 10_000
	nested := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	tests := []struct {
		name string
		line string
		want string // part of the reason of the rejection or skip of line 1
	}{
		{name: "objects", line: nested, want: "neither a log record nor a Keycloak event"},
		{name: "objects one level deeper", line: `{"a":` + nested + "}", want: "invalid JSON"},
		{name: "arrays", line: strings.Repeat("[", depth) + strings.Repeat("]", depth), want: "want an object"},
		{name: "objects in an event", line: `{"time":1718000000123,"type":"CLIENT_LOGIN","details":` + nested + "}", want: "invalid JSON"},
		{name: "objects after a listener marker", line: prefix + "JSON_EVENT::" + nested, want: "the event has no type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseText(t, Options{}, "hostile.log", tt.line+"\n"+goodLine+"\n")

			reason := c.skips[1]
			if len(c.rejects) > 0 {
				reason = c.rejects[0].Reason
			}
			if len(c.rejects)+len(c.skips) != 1 || !strings.Contains(reason, tt.want) {
				t.Errorf("rejects = %v, skips = %v, want one for line 1 containing %q", c.rejects, c.skips, tt.want)
			}
			if len(c.events) != 1 || c.events[0].Source != "hostile.log:2" {
				t.Errorf("events = %+v, want the event of hostile.log:2", c.events)
			}
		})
	}
}

func TestParseBinaryFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	text := string(data)
	lines := strings.Count(text, "\n") + 1

	done := make(chan *collector)
	go func() {
		c := &collector{}
		in := source.Input{Reader: strings.NewReader(text), Name: "random.bin"}
		if err := Format(Options{}).Parse(context.Background(), in, c); err != nil {
			t.Errorf("Parse() = %v, want nil", err)
		}
		done <- c
	}()
	var c *collector
	select {
	case c = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Parse of 1 MiB of random bytes did not end within a minute")
	}

	if len(c.events) != 0 {
		t.Errorf("events = %+v, want none from random bytes", c.events)
	}
	if len(c.rejects)+len(c.skips) == 0 {
		t.Error("Parse reported nothing, want the lines rejected or skipped")
	}
	for _, r := range c.rejects {
		if r.File != "random.bin" || r.Line < 1 || r.Line > lines || r.Reason == "" {
			t.Errorf("reject %q at %s:%d, want a reason at random.bin:1 to %d", r.Reason, r.File, r.Line, lines)
		}
	}
}

// TestParsePlaceholders reads the placeholders that real exports write where
// a value is missing or anonymized: "null", a GUID in place of the address,
// IPv6 and IPv4-mapped IPv6 addresses, and times with and without a zone.
func TestParsePlaceholders(t *testing.T) {
	const guid = "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
	tests := []struct {
		name string
		line string
		role string // the suffix of the event's ID
		want audit.Event
	}{
		{
			name: "null user and guid address in text log",
			line: `2024-02-03 04:05:06,789 DEBUG [org.keycloak.events] (t) type="INTROSPECT_TOKEN", realmId="r", realmName="null", clientId="svc", userId="null", sessionId="null", ipAddress="` + guid + `", token_id="t1"`,
			role: "used",
			want: audit.Event{Time: utc(t, "2024-02-03T04:05:06.789Z"), Kind: audit.KindUsed, Action: "INTROSPECT_TOKEN", TokenID: "t1", Issuer: "r", ClientID: "svc"},
		},
		{
			name: "ipv6 in json console with offset",
			line: `{"timestamp":"2024-10-30T17:27:03.414798073+05:30","loggerName":"org.keycloak.events","message":"type=\"INTROSPECT_TOKEN\", realmId=\"r\", ipAddress=\"2001:db8::17\", token_id=\"t2\""}`,
			role: "used",
			want: audit.Event{Time: utc(t, "2024-10-30T11:57:03.414Z"), Kind: audit.KindUsed, Action: "INTROSPECT_TOKEN", TokenID: "t2", Issuer: "r", IP: mustAddr(t, "2001:db8::17")},
		},
		{
			name: "ipv4-mapped ipv6 in ecs record in utc",
			line: `{"@timestamp":"2024-10-30T11:57:03.5Z","log.logger":"org.keycloak.events","message":"type=\"INTROSPECT_TOKEN\", realmId=\"r\", ipAddress=\"::ffff:203.0.113.9\", token_id=\"t3\""}`,
			role: "used",
			want: audit.Event{Time: utc(t, "2024-10-30T11:57:03.5Z"), Kind: audit.KindUsed, Action: "INTROSPECT_TOKEN", TokenID: "t3", Issuer: "r", IP: mustAddr(t, "203.0.113.9")},
		},
		{
			name: "empty and dash values",
			line: `2024-02-03 04:05:06,789 DEBUG [org.keycloak.events] (t) type=INTROSPECT_TOKEN, realmId=r, userId=, ipAddress=-, sessionId=-, token_id=t4`,
			role: "used",
			want: audit.Event{Time: utc(t, "2024-02-03T04:05:06.789Z"), Kind: audit.KindUsed, Action: "INTROSPECT_TOKEN", TokenID: "t4", Issuer: "r"},
		},
		{
			name: "failed login of an unknown user",
			line: `2024-02-03 04:05:06,789 WARN  [org.keycloak.events] (t) type="LOGIN_ERROR", realmId="r", realmName="null", clientId="null", userId="null", sessionId="null", ipAddress="` + guid + `", error="user_not_found", code_id="s5", authSessionParentId="s5"`,
			role: "session",
			want: audit.Event{Time: utc(t, "2024-02-03T04:05:06.789Z"), Kind: audit.KindSession, Action: "LOGIN_ERROR", Issuer: "r", SessionID: "s5", Reason: "user_not_found"},
		},
		{
			name: "dash session id after an empty one",
			line: `2024-02-03 04:05:06,789 INFO  [org.keycloak.events] (t) type=LOGOUT, realmId=r, userId=u6, sessionId=, code_id=-, authSessionParentId=s6, ipAddress=2001:db8::6`,
			role: "session",
			want: audit.Event{Time: utc(t, "2024-02-03T04:05:06.789Z"), Kind: audit.KindSession, Action: "LOGOUT", Issuer: "r", Subject: "u6", SessionID: "s6", IP: mustAddr(t, "2001:db8::6")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseText(t, Options{}, "placeholders.log", tt.line+"\n")

			if len(c.rejects) != 0 {
				t.Fatalf("rejects = %v, want none: a placeholder must not reject a real event", c.rejects)
			}
			want := tt.want
			want.ID = audit.NewID("keycloak", recordKey(t, tt.line), tt.role)
			want.Source = "placeholders.log:1"
			checkEvents(t, c.events, []audit.Event{want})
		})
	}
}
