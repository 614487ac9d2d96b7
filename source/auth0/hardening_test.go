package auth0

import (
	"bytes"
	"context"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/source"
)

// validRecord is a code exchange that becomes one event.
var validRecord = record("seacft", `"client_id":"c1","ip":"192.0.2.1"`)

func TestParseHugeLine(t *testing.T) {
	huge := `{"log_id":"900002","data":{"date":"2025-03-01T10:00:00Z","type":"seacft","description":"` +
		strings.Repeat("x", 10<<20) + `"}}`
	text := validRecord + "\n" + huge + "\n" + validRecord + "\n"

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := parseText(t, "huge.jsonl", text)
	runtime.ReadMemStats(&after)

	checkTotals(t, r, 2, 0, 1)
	if reason := r.rejectAt(t, 2); !strings.Contains(reason, "longer than") {
		t.Errorf("reject reason of line 2 = %q, want it to say the line is too long", reason)
	}
	for i, e := range r.events {
		if want := []string{"huge.jsonl:1", "huge.jsonl:3"}[i]; e.Source != want {
			t.Errorf("event %d Source = %s, want %s", i, e.Source, want)
		}
	}
	// The reader's buffers grow to about source.MaxLineBytes and no
	// further, whatever the length of the line. Their growth by doubling
	// and the reads ahead add up to about 5 times that limit in total.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 6*source.MaxLineBytes {
		t.Errorf("Parse allocated %d bytes for a 10 MiB line, want at most %d", alloc, 6*source.MaxLineBytes)
	}
}

func TestParseDeepNesting(t *testing.T) {
	deep := `{"log_id":"900002","data":{"date":"2025-03-01T10:00:00Z","type":"sapi","details":` +
		strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000) + "}}"
	for _, tt := range []struct {
		name, text string
		events     int
	}{
		{"JSON lines", validRecord + "\n" + deep + "\n" + validRecord + "\n", 2},
		{"array", "[" + deep + "]\n", 0},
		{"bare brackets", strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "\n" + validRecord + "\n", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := parseText(t, "deep.json", tt.text)
			if len(r.events) != tt.events || len(r.rejects) != 1 {
				t.Errorf("want %d events and one rejection, got:\n%s", tt.events, r)
			}
		})
	}
}

func TestParseBinary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1 << 10, 1 << 20} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.UintN(256))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r := &result{}
		err := Format().Parse(ctx, source.Input{Reader: bytes.NewReader(data), Name: "random.bin"}, r)
		cancel()
		if err != nil {
			t.Errorf("Parse(%d random bytes) = %v, want nil", len(data), err)
		}
		if len(r.events) != 0 {
			t.Errorf("Parse(%d random bytes) emitted events:\n%s", len(data), r)
		}
		if Detect(data) {
			t.Errorf("Detect(%d random bytes) = true", len(data))
		}
	}
}

// TestParseCompactArray reads an array on one line, as GET /api/v2/logs
// returns it without pretty-printing.
func TestParseCompactArray(t *testing.T) {
	text := "[" + record("s", `"details":{"session_id":"sid-1"}`) + "," +
		strings.Replace(record("slo", `"details":{"session_id":"sid-1"}`), "900001", "900002", 2) + "," +
		`42` + "]"
	r := parseText(t, "logs.json", text)
	checkTotals(t, r, 2, 0, 1)
	for _, e := range r.events {
		if e.Source != "logs.json:1" || e.SessionID != "sid-1" {
			t.Errorf("event %s of session %s, want logs.json:1 of sid-1", e.Source, e.SessionID)
		}
	}
}

func TestParseCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Format().Parse(ctx, source.Input{Reader: strings.NewReader(validRecord + "\n"), Name: "x.jsonl"}, &result{})
	if err == nil {
		t.Error("Parse with a cancelled context = nil, want the context's error")
	}
}

func TestParseInvalidUTF8(t *testing.T) {
	bad := "{\"log_id\":\"900002\",\"date\":\"2025-03-01T10:00:00Z\",\"type\":\"seacft\",\"user_agent\":\"x\xff\"}"
	r := parseText(t, "utf8.jsonl", validRecord+"\n"+bad+"\n")
	checkTotals(t, r, 1, 0, 1)
	if reason := r.rejectAt(t, 2); !strings.Contains(reason, "UTF-8") {
		t.Errorf("reject reason of line 2 = %q, want it to name UTF-8", reason)
	}
}
