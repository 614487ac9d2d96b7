package okta

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// benchRecords is the number of records of the generated log, unless
// TOKENTRAIL_BENCH_RECORDS sets another.
const benchRecords = 500_000

// counter counts what Parse reports and fails on a rejection.
type counter struct {
	tb      testing.TB
	events  int
	skipped int
}

func (c *counter) Event(audit.Event) error { c.events++; return nil }
func (c *counter) Skip(int, string)        { c.skipped++ }
func (c *counter) Reject(err *source.RecordError) {
	c.tb.Fatalf("generated record rejected: %v", err)
}

// generateLog returns n System Log records as JSON lines, made from the
// records of the synthetic token log in turn: sign-ins, grants, refreshes,
// revocations, reuse detection and skipped event types, about 1.8 KB each.
// Each record gets its own uuid, time and client address.
func generateLog(tb testing.TB, n int) []byte {
	tb.Helper()
	var templates []string
	for line := range bytes.SplitSeq(readFile(tb, "testdata/oauth-token-events.jsonl"), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var fields struct {
			UUID      string `json:"uuid"`
			Published string `json:"published"`
			Client    struct {
				IPAddress string `json:"ipAddress"`
			} `json:"client"`
		}
		if err := json.Unmarshal(line, &fields); err != nil {
			tb.Fatal(err)
		}
		tmpl := strings.ReplaceAll(string(line), "%", "%%")
		tmpl = strings.Replace(tmpl, strconv.Quote(fields.UUID), `"%[1]s"`, 1)
		tmpl = strings.Replace(tmpl, strconv.Quote(fields.Published), `"%[2]s"`, 1)
		tmpl = strings.ReplaceAll(tmpl, strconv.Quote(fields.Client.IPAddress), `"%[3]s"`)
		templates = append(templates, tmpl+"\n")
	}

	var buf bytes.Buffer
	buf.Grow(n * 1900)
	start := time.Date(2024, 3, 12, 0, 0, 0, 0, time.UTC)
	for i := range n {
		uuid := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i*7919)
		published := start.Add(time.Duration(i) * 37 * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		ip := fmt.Sprintf("203.0.%d.%d", i/256%256, i%256)
		fmt.Fprintf(&buf, templates[i%len(templates)], uuid, published, ip)
	}
	return buf.Bytes()
}

func benchRecordCount(tb testing.TB) int {
	tb.Helper()
	s := os.Getenv("TOKENTRAIL_BENCH_RECORDS")
	if s == "" {
		return benchRecords
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		tb.Fatalf("TOKENTRAIL_BENCH_RECORDS = %q, want a positive number of records", s)
	}
	return n
}

// BenchmarkParse imports a generated log with Format().Parse, and decodes
// the same log with encoding/json into map[string]any, one line at a
// time, which is the generic decoding a user would otherwise write before
// mapping any field.
func BenchmarkParse(b *testing.B) {
	n := benchRecordCount(b)
	data := generateLog(b, n)

	b.Run("okta", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		f := Format()
		events := 0
		for b.Loop() {
			c := &counter{tb: b}
			in := source.Input{Reader: bytes.NewReader(data), Name: "bench.jsonl"}
			if err := f.Parse(context.Background(), in, c); err != nil {
				b.Fatal(err)
			}
			events += c.events
		}
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	})

	// The same log, each event the detail of an EventBridge event of Okta's
	// log stream.
	wrapped := eventBridgeLog(data)
	b.Run("okta-eventbridge", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(wrapped)))
		f := Format()
		events := 0
		for b.Loop() {
			c := &counter{tb: b}
			in := source.Input{Reader: bytes.NewReader(wrapped), Name: "bench.jsonl"}
			if err := f.Parse(context.Background(), in, c); err != nil {
				b.Fatal(err)
			}
			events += c.events
		}
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	})

	b.Run("unmarshal-map", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		records := 0
		for b.Loop() {
			rest := data
			for len(rest) > 0 {
				line, tail, _ := bytes.Cut(rest, []byte("\n"))
				rest = tail
				var record map[string]any
				if err := json.Unmarshal(line, &record); err != nil {
					b.Fatal(err)
				}
				records++
			}
		}
		b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	})
}

// eventBridgeLog wraps each line of log in an AWS EventBridge event of
// Okta's log stream, one event a line.
func eventBridgeLog(log []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(log) * 9 / 8)
	i := 0
	for line := range bytes.Lines(log) {
		fmt.Fprintf(&buf, `{"version":"0","id":"5e7f0004-0000-4000-8000-%012d","detail-type":"SystemLog",`+
			`"source":"aws.partner/okta.com/example/travel-log-stream","account":"111122223333",`+
			`"time":"2024-03-12T00:00:00Z","region":"eu-west-1","resources":[],"detail":%s}`, i, bytes.TrimSpace(line))
		buf.WriteByte('\n')
		i++
	}
	return buf.Bytes()
}

// TestGeneratedLog checks that the benchmark's log imports without
// rejections and with the expected mix of events.
func TestGeneratedLog(t *testing.T) {
	const n = 19 * 20
	data := generateLog(t, n)
	c := &counter{tb: t}
	in := source.Input{Reader: bytes.NewReader(data), Name: "bench.jsonl"}
	if err := Format().Parse(context.Background(), in, c); err != nil {
		t.Fatal(err)
	}
	if want := 20 * 20; c.events != want {
		t.Errorf("events = %d, want %d", c.events, want)
	}
	if want := 2 * 20; c.skipped != want {
		t.Errorf("skipped = %d, want %d", c.skipped, want)
	}

	wrapped := &counter{tb: t}
	in = source.Input{Reader: bytes.NewReader(eventBridgeLog(data)), Name: "bench.jsonl"}
	if err := Format().Parse(context.Background(), in, wrapped); err != nil {
		t.Fatal(err)
	}
	if wrapped.events != c.events || wrapped.skipped != c.skipped {
		t.Errorf("in EventBridge events: %d events, %d skipped, want %d and %d", wrapped.events, wrapped.skipped, c.events, c.skipped)
	}
}
