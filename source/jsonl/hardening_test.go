package jsonl

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// hardeningMapping maps the flat records of the hardening tests.
const hardeningMapping = "jti=jti,time=ts,ip=ip,country=geo.country,city=geo.city,lat=geo.lat,lon=geo.lon,ua=ua"

// goodRecord is a record with one event, which follows each hostile input
// to show that reading goes on.
const goodRecord = `{"jti":"after","ts":"2024-06-13T10:15:30Z"}`

// allocatedDuring returns the bytes allocated while f runs.
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// checkReadOn checks that r holds one rejection at line 1, whose reason
// contains want, and the event of goodRecord at line 2.
func checkReadOn(tb testing.TB, r *result, want string) {
	tb.Helper()
	if len(r.rejects) != 1 {
		tb.Fatalf("rejects = %v, want one", r.rejects)
	}
	if got := r.rejects[0]; got.File != "hostile.jsonl" || got.Line != 1 || !strings.Contains(got.Reason, want) {
		tb.Errorf("reject = %s:%d %q, want hostile.jsonl:1 containing %q", got.File, got.Line, got.Reason, want)
	}
	if len(r.events) != 1 || r.events[0].TokenID != "after" || r.events[0].Source != "hostile.jsonl:2" {
		tb.Errorf("events:\n%s\nwant the event of token after from hostile.jsonl:2", r)
	}
}

func TestParseTenMegabyteLine(t *testing.T) {
	m := mustMapping(t, hardeningMapping)
	allocated := make(map[int]uint64)
	for _, size := range []int{10 << 20, 40 << 20} {
		text := `{"jti":"t","ts":"2024-06-13T10:15:30Z","ua":"` + strings.Repeat("x", size) + "\"}\n" + goodRecord + "\n"
		var r *result
		allocated[size] = allocatedDuring(func() { r = parseText(t, m, "hostile.jsonl", text) })

		checkReadOn(t, r, "line too long")
	}
	// The line is read to its end but kept only up to source.MaxLineBytes,
	// so a longer line costs no more.
	if small, large := allocated[10<<20], allocated[40<<20]; large > small+1<<20 {
		t.Errorf("Parse allocated %d bytes for a 40 MiB line and %d for a 10 MiB one, want no more for the longer line", large, small)
	}
}

func TestParseDeeplyNestedJSON(t *testing.T) {
	const depth = 10_000
	m := mustMapping(t, hardeningMapping)
	nested := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	tests := []struct {
		name string
		line string
		want string
	}{
		{name: "objects", line: nested, want: "field time (path ts) is missing"},
		{name: "objects beside the fields", line: `{"jti":"t","ts":"2024-06-13T10:15:30Z","x":` + nested + `}`, want: "exceeded max depth"},
		{name: "objects on a mapped path", line: `{"jti":"t","ts":"2024-06-13T10:15:30Z","geo":` + nested + `}`, want: "exceeded max depth"},
		{name: "arrays", line: strings.Repeat("[", depth) + strings.Repeat("]", depth), want: "want an object"},
		{name: "unclosed", line: strings.Repeat("[", depth), want: "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseText(t, m, "hostile.jsonl", tt.line+"\n"+goodRecord+"\n")

			checkReadOn(t, r, tt.want)
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

	format := Format(mustMapping(t, hardeningMapping))
	done := make(chan *result)
	go func() {
		r := &result{}
		in := source.Input{Reader: strings.NewReader(text), Name: "random.bin"}
		if err := format.Parse(context.Background(), in, r); err != nil {
			t.Errorf("Parse() = %v, want nil", err)
		}
		done <- r
	}()
	var r *result
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Parse of 1 MiB of random bytes did not end within a minute")
	}

	if len(r.events) != 0 || len(r.rejects) == 0 {
		t.Errorf("%d events, %d rejects, want none and some", len(r.events), len(r.rejects))
	}
	for _, e := range r.rejects {
		if e.File != "random.bin" || e.Line < 1 || e.Line > lines || e.Reason == "" {
			t.Errorf("reject %q at %s:%d, want a reason at random.bin:1 to %d", e.Reason, e.File, e.Line, lines)
		}
	}
}

// TestParsePlaceholders reads the placeholders that real exports write where
// a value is missing or anonymized: "null" and "-" strings, a GUID in place
// of the address, 0/0 coordinates, an empty country, IPv6 and IPv4-mapped
// IPv6 addresses, and times with and without a zone.
func TestParsePlaceholders(t *testing.T) {
	m := mustMapping(t, hardeningMapping)
	tests := []struct {
		name   string
		record string
		want   audit.Event
	}{
		{
			name:   "guid address and null strings",
			record: `{"jti":"t1","ts":"2024-06-13T10:15:30Z","ip":"f81d4fae-7dec-11d0-a765-00a0c91e6bf6","ua":"null","geo":{"country":"-","city":"null"}}`,
			want:   audit.Event{TokenID: "t1", Time: time.Date(2024, 6, 13, 10, 15, 30, 0, time.UTC)},
		},
		{
			name:   "zero coordinates and empty country",
			record: `{"jti":"t2","ts":"2024-06-13T12:15:30+02:00","ip":"2001:db8::5","geo":{"country":"","city":"","lat":0.0,"lon":0.0}}`,
			want:   audit.Event{TokenID: "t2", Time: time.Date(2024, 6, 13, 10, 15, 30, 0, time.UTC), IP: netip.MustParseAddr("2001:db8::5")},
		},
		{
			name:   "ipv4-mapped ipv6 and a time without zone",
			record: `{"jti":"t3","ts":"2024-06-13T10:15:30.25","ip":"::ffff:198.51.100.4","geo":{"country":"NL","lat":52.37,"lon":4.89}}`,
			want: audit.Event{
				TokenID: "t3", Time: time.Date(2024, 6, 13, 10, 15, 30, 250_000_000, time.UTC), IP: netip.MustParseAddr("198.51.100.4"),
				Geo: audit.Geo{Country: "NL", Latitude: 52.37, Longitude: 4.89},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseText(t, m, "placeholders.jsonl", tt.record+"\n")
			if len(r.rejects) != 0 || len(r.events) != 1 {
				t.Fatalf("result:\n%s\nwant one event: a placeholder must not reject a real event", r)
			}

			want := tt.want
			want.ID = audit.NewID("jsonl", tt.record)
			want.Kind = audit.KindUsed
			want.Source = "placeholders.jsonl:1"
			checkEvent(t, r.events[0], want)
		})
	}
}
