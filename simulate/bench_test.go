package simulate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
)

// benchConfig is a small run: about 25,000 events.
var benchConfig = Config{Seed: 1, Subjects: 200, Days: 3, Events: 20_000, AttacksPerRule: 1}

// BenchmarkRun measures the generator alone, in events a second.
func BenchmarkRun(b *testing.B) {
	b.ReportAllocs()
	events := 0
	for b.Loop() {
		res, err := Run(context.Background(), benchConfig, func(audit.Event) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		events += res.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReadJSONLines measures the alternative to generating events:
// reading the same events back from JSON lines, as a saved events.jsonl
// would be read, with encoding/json.
func BenchmarkReadJSONLines(b *testing.B) {
	var buf bytes.Buffer
	w := NewEventWriter(&buf)
	if _, err := Run(context.Background(), benchConfig, w.Write); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()

	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	events := 0
	for b.Loop() {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var e audit.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				b.Fatal(err)
			}
			events++
		}
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkRunAndScore measures the generator with detection over its
// events, as `tokentrail simulate --score` runs them.
func BenchmarkRunAndScore(b *testing.B) {
	b.ReportAllocs()
	events := 0
	for b.Loop() {
		sc := newTestScorer(b)
		res, err := Run(context.Background(), benchConfig, func(e audit.Event) error {
			sc.Observe(e)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		sc.Score(res)
		events += res.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
