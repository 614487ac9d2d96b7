package k8saudit

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

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
// contains want, and the event of baseRecord at line 2.
func checkReadOn(tb testing.TB, r *result, err error, want string) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("Parse() = %v, want nil", err)
	}
	if len(r.rejects) != 1 {
		tb.Fatalf("rejects = %v, want one", r.rejects)
	}
	if got := r.rejects[0]; got.Line != 1 || !strings.Contains(got.Reason, want) {
		tb.Errorf("reject = line %d %q, want line 1 containing %q", got.Line, got.Reason, want)
	}
	if len(r.events) != 1 || r.events[0].Source != "hostile.jsonl:2" {
		tb.Errorf("events:\n%s\nwant the event of hostile.jsonl:2", r)
	}
}

func TestParseTenMegabyteLine(t *testing.T) {
	allocated := make(map[int]uint64)
	for _, size := range []int{10 << 20, 40 << 20} {
		line := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","stage":"ResponseComplete","userAgent":"` + strings.Repeat("x", size) + `"}`
		text := line + "\n" + baseRecord + "\n"
		var r *result
		var err error
		allocated[size] = allocatedDuring(func() { r, err = parseText(t, "hostile.jsonl", text, PendingWindow) })

		checkReadOn(t, r, err, "line too long")
	}
	// The line is read to its end but kept only up to source.MaxLineBytes,
	// so a longer line costs no more.
	if small, large := allocated[10<<20], allocated[40<<20]; large > small+1<<20 {
		t.Errorf("Parse allocated %d bytes for a 40 MiB line and %d for a 10 MiB one, want no more for the longer line", large, small)
	}
}

func TestParseDeeplyNestedJSON(t *testing.T) {
	const depth = 10_000
	nested := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	tests := []struct {
		name string
		line string
		want string
	}{
		{name: "objects", line: `{"a":` + nested + "}", want: "invalid JSON"},
		{name: "objects in a record", line: strings.Replace(baseRecord, `"verb":"get"`, `"verb":"get","requestObject":`+nested, 1), want: "invalid JSON"},
		{name: "arrays", line: strings.Repeat("[", depth) + strings.Repeat("]", depth), want: "want an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseText(t, "hostile.jsonl", tt.line+"\n"+baseRecord+"\n", PendingWindow)

			checkReadOn(t, r, err, tt.want)
		})
	}
}

func TestParseNestedDocument(t *testing.T) {
	const depth = 10_000
	text := "{\n" + `"a":` + strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth) + "\n}\n"

	r, err := parseText(t, "hostile.json", text, PendingWindow)

	if err != nil && !errors.Is(err, ErrUnreadableDocument) {
		t.Errorf("Parse() = %v, want nil or ErrUnreadableDocument", err)
	}
	if len(r.rejects) != 1 || r.rejects[0].Line < 1 || r.rejects[0].Line > 3 {
		t.Errorf("rejects = %v, want one within the document's 3 lines", r.rejects)
	}
}

func TestParseBinaryFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, start := range []string{"", "{\n", "[\n"} { // JSON lines, then a document
		text := start + string(data)
		lines := strings.Count(text, "\n") + 1

		type outcome struct {
			r   *result
			err error
		}
		done := make(chan outcome)
		go func() {
			r := &result{}
			in := source.Input{Reader: strings.NewReader(text), Name: "random.bin"}
			err := Format().Parse(context.Background(), in, r)
			done <- outcome{r, err}
		}()
		var got outcome
		select {
		case got = <-done:
		case <-time.After(time.Minute):
			t.Fatalf("Parse of 1 MiB of random bytes after %q did not end within a minute", start)
		}

		if got.err != nil && !errors.Is(got.err, ErrUnreadableDocument) {
			t.Errorf("Parse(%q + random) = %v, want nil or ErrUnreadableDocument", start, got.err)
		}
		if len(got.r.events) != 0 || len(got.r.rejects) == 0 {
			t.Errorf("Parse(%q + random): %d events, %d rejects, want none and some", start, len(got.r.events), len(got.r.rejects))
		}
		for _, e := range got.r.rejects {
			if e.File != "random.bin" || e.Line < 1 || e.Line > lines || e.Reason == "" {
				t.Errorf("reject %q at %s:%d, want a reason at random.bin:1 to %d", e.Reason, e.File, e.Line, lines)
			}
		}
	}
}

// TestParsePlaceholders reads the placeholders that real exports write where
// a value is missing or anonymized: "null" strings, a GUID in place of the
// address, IPv6 and IPv4-mapped IPv6 addresses, and a time with an offset.
func TestParsePlaceholders(t *testing.T) {
	const id = "11111111-2222-4333-8444-555555555555"
	want := audit.Event{
		ID:      audit.NewID("k8saudit", id),
		Time:    time.Date(2025, 2, 1, 8, 0, 0, 1000, time.UTC),
		Kind:    audit.KindUsed,
		TokenID: baseJTI,
		Issuer:  Issuer,
		Subject: "system:serviceaccount:shop:cart",
		Method:  "get",
		Path:    "/api/v1/namespaces/shop/configmaps/cart",
		Status:  200,
		TraceID: id,
		Source:  "placeholders.jsonl:1",
	}
	tests := []struct {
		name    string
		changes map[string]any
		ip      netip.Addr
		time    time.Time
		agent   string
	}{
		{name: "guid address and null agent", changes: map[string]any{"sourceIPs": []string{"{F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6}"}, "userAgent": "null"}},
		{name: "ipv6", changes: map[string]any{"sourceIPs": []string{"2001:db8::7", "10.0.0.1"}}, ip: netip.MustParseAddr("2001:db8::7"), agent: "cart/1.0"},
		{name: "ipv4-mapped ipv6", changes: map[string]any{"sourceIPs": []string{"::ffff:192.0.2.7"}}, ip: netip.MustParseAddr("192.0.2.7"), agent: "cart/1.0"},
		{name: "null address", changes: map[string]any{"sourceIPs": []string{"null"}}, agent: "cart/1.0"},
		{
			name:    "time with offset",
			changes: map[string]any{"requestReceivedTimestamp": "2025-02-01T10:00:00.000001+02:00"},
			ip:      netip.MustParseAddr("10.1.2.3"),
			agent:   "cart/1.0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseText(t, "placeholders.jsonl", makeRecord(t, tt.changes)+"\n", PendingWindow)
			if err != nil || len(r.rejects) != 0 || len(r.events) != 1 {
				t.Fatalf("Parse() = %v:\n%s\nwant one event: a placeholder must not reject a real event", err, r)
			}

			e := want
			e.IP, e.UserAgent = tt.ip, tt.agent
			checkEvent(t, r.events[0], e)
		})
	}
}
