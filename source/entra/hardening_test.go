package entra

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// parseText runs Format().Parse over text and fails tb on an error.
func parseText(tb testing.TB, name, text string) *result {
	tb.Helper()
	r := &result{}
	in := source.Input{Reader: strings.NewReader(text), Name: name}
	if err := Format().Parse(context.Background(), in, r); err != nil {
		tb.Fatalf("Parse(%s) = %v, want nil", name, err)
	}
	return r
}

func TestParseLongLine(t *testing.T) {
	r, _ := parseLongLine(t, 10<<20)
	checkTotals(t, r, 2, 0, 1)
	if reason := r.rejectAt(t, 2); reason == "" {
		t.Errorf("the 10 MB line was rejected without a reason")
	}
	if got := r.rejects[0].Error(); !strings.HasPrefix(got, "long.jsonl:2: ") {
		t.Errorf("rejection = %q, want it to start with long.jsonl:2: ", got)
	}
	r.eventAt(t, "long.jsonl", 1)
	r.eventAt(t, "long.jsonl", 3)
}

// TestParseLongLineMemory checks that a long line is never held whole: what
// Parse allocates does not grow with the line.
func TestParseLongLineMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40 MB input")
	}
	_, allocated10 := parseLongLine(t, 10<<20)
	_, allocated40 := parseLongLine(t, 40<<20)
	if allocated40 > 40<<20 || allocated40 > allocated10+1<<20 {
		t.Errorf("Parse allocated %d bytes for a 10 MB line and %d for a 40 MB line, want the same bound for both", allocated10, allocated40)
	}
}

// parseLongLine parses a sign-in, a sign-in whose user agent has size
// bytes, and a Graph request, one a line. It returns what Parse reported
// and how many bytes it allocated.
func parseLongLine(tb testing.TB, size int) (*result, uint64) {
	tb.Helper()
	long := strings.Replace(baseSignIn, "azure-cli/2.66.0", strings.Repeat("A", size), 1)
	text := baseSignIn + "\n" + long + "\n" + baseGraph + "\n"

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := parseText(tb, "long.jsonl", text)
	runtime.ReadMemStats(&after)
	return r, after.TotalAlloc - before.TotalAlloc
}

func TestParseDeepNesting(t *testing.T) {
	const depth = 10_000
	deep := strings.Replace(baseSignIn, `"userAgent":"azure-cli/2.66.0"`,
		`"userAgent":`+strings.Repeat("[", depth)+strings.Repeat("]", depth), 1)
	text := deep + "\n" + baseGraph + "\n"

	r := parseText(t, "deep.jsonl", text)
	checkTotals(t, r, 1, 0, 1)
	r.rejectAt(t, 1)
	r.eventAt(t, "deep.jsonl", 2)
}

func TestParseBinary(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 7))
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	lines := bytes.Count(data, []byte("\n")) + 1

	r := parseText(t, "random.bin", string(data))
	if len(r.events) != 0 {
		t.Errorf("random bytes yielded %d events", len(r.events))
	}
	for _, e := range r.rejects {
		if e.Line < 1 || e.Line > lines {
			t.Errorf("rejection %v names a line outside the input's %d lines", e, lines)
		}
	}
}

func TestParseLayouts(t *testing.T) {
	tests := []struct {
		name string
		text string
	}{
		{"JSON lines", baseSignIn + "\n\n" + baseGraph + "\n"},
		{"JSON array", "[" + baseSignIn + ",\n" + baseGraph + "]"},
		{"records wrapper", `{"records":[` + baseSignIn + ",\n" + baseGraph + "]}"},
		{"value wrapper", `{"@odata.context":"https://graph.microsoft.com/beta/$metadata#auditLogs/signIns","value":[` + baseSignIn + ",\n" + baseGraph + "]}"},
		{"byte order mark", "\xEF\xBB\xBF" + baseSignIn + "\n" + baseGraph},
		{"CRLF line ends", baseSignIn + "\r\n" + baseGraph + "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseText(t, "layout.json", tt.text)
			checkTotals(t, r, 2, 0, 0)
			if len(r.events) == 2 && (r.events[0].Kind != audit.KindIssued || r.events[1].Kind != audit.KindUsed) {
				t.Errorf("kinds = %v, %v, want issued, used", r.events[0].Kind, r.events[1].Kind)
			}
		})
	}
}

func TestParseInvalidUTF8(t *testing.T) {
	bad := strings.Replace(baseGraph, "python-requests", "python\xff-requests", 1)
	r := parseText(t, "utf8.jsonl", bad+"\n"+baseSignIn+"\n")
	checkTotals(t, r, 1, 0, 1)
	if got := r.rejects[0].Error(); !strings.HasPrefix(got, "utf8.jsonl:1: ") || !strings.Contains(got, "UTF-8") {
		t.Errorf("rejection = %q, want utf8.jsonl:1 and the invalid UTF-8", got)
	}
	r.eventAt(t, "utf8.jsonl", 2)
}

// failingHandler returns err from Event.
type failingHandler struct {
	result
	err error
}

func (h *failingHandler) Event(audit.Event) error { return h.err }

func TestParseHandlerError(t *testing.T) {
	errStop := errors.New("store is full")
	h := &failingHandler{err: errStop}
	in := source.Input{Reader: strings.NewReader(baseSignIn + "\n" + baseGraph + "\n"), Name: "stop.jsonl"}
	if err := Format().Parse(context.Background(), in, h); err != errStop {
		t.Errorf("Parse = %v, want the Handler's error %v as it is", err, errStop)
	}
}

func TestParseCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := source.Input{Reader: strings.NewReader(baseSignIn + "\n"), Name: "canceled.jsonl"}
	if err := Format().Parse(ctx, in, &result{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Parse = %v, want context.Canceled", err)
	}
}
