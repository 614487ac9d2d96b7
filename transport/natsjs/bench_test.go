package natsjs_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/transport/natsjs"
)

// BenchmarkAppend compares the Writers a recorder can have: the Publisher
// on the server of TOKENTRAIL_NATS_URL, into a file-backed stream, and a
// SQLite store on a file. Each Append takes one batch of the recorder's
// default size (512) with new event IDs.
func BenchmarkAppend(b *testing.B) {
	publisher := func(inFlight int) func(b *testing.B) recorder.Writer {
		return func(b *testing.B) recorder.Writer {
			nc := connect(b)
			s := newStream(b, nc, nil)
			p, err := natsjs.NewPublisher(nc, natsjs.PublisherOptions{SubjectPrefix: s.prefix, MaxInFlight: inFlight})
			if err != nil {
				b.Fatal(err)
			}
			return p
		}
	}
	writers := []struct {
		name string
		open func(b *testing.B) recorder.Writer
	}{
		{"sqlite", func(b *testing.B) recorder.Writer { return openStore(b) }},
		{"natsjs/in_flight=64", publisher(64)},
		{"natsjs/in_flight=256", publisher(natsjs.DefaultMaxInFlight)},
		{"natsjs/in_flight=512", publisher(512)},
	}
	for _, w := range writers {
		b.Run(w.name, func(b *testing.B) {
			writer := w.open(b)
			events := testEvents(recorder.DefaultBatchSize)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				for j := range events {
					events[j].ID = audit.NewID("bench", fmt.Sprint(i), fmt.Sprint(j))
				}
				b.StartTimer()
				res, err := writer.Append(ctx, events)
				if err != nil || res.Inserted != len(events) {
					b.Fatalf("Append() = %+v, %v, want %d inserted", res, err, len(events))
				}
			}
			b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
		})
	}
}
