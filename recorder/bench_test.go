package recorder

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// discardWriter stores nothing and reports every event as inserted, so that
// a benchmark measures the Recorder and not a database.
type discardWriter struct{}

func (discardWriter) Append(_ context.Context, events []audit.Event) (store.Appended, error) {
	return store.Appended{Inserted: len(events)}, nil
}

// BenchmarkCapture compares what a request handler pays to record one token
// use: the Recorder, a JSON log line with log/slog (what a team would write
// without tokentrail), and a bare channel send of the same audit.Event, the
// least any queue can cost. Run the variants together:
//
//	go test -run '^$' -bench BenchmarkCapture -benchmem ./recorder
func BenchmarkCapture(b *testing.B) {
	e := usedEvent("4f1c2a9e-7b3d-4e8a-9c1f-2d5e6a7b8c9d")

	b.Run("recorder", func(b *testing.B) {
		benchmarkRecorderWithRoom(b, e)
	})
	b.Run("recorder_time_set", func(b *testing.B) {
		// A caller that already has the event's time, such as middleware
		// that read the clock when the request arrived, saves Record its
		// own clock read.
		timed := e
		timed.Time = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		benchmarkRecorderWithRoom(b, timed)
	})
	b.Run("recorder_flusher_blocked", func(b *testing.B) {
		benchmarkRecorderFlusherBlocked(b, e)
	})
	b.Run("recorder_overload", func(b *testing.B) {
		benchmarkRecorder(b, Options{}, e, false)
	})
	b.Run("recorder_block", func(b *testing.B) {
		benchmarkRecorder(b, Options{Overflow: Block}, e, false)
	})
	b.Run("slog_json", func(b *testing.B) {
		benchmarkSlog(b, e, false)
	})
	b.Run("channel", func(b *testing.B) {
		benchmarkChannel(b, e, false)
	})

	b.Run("recorder_overload_parallel", func(b *testing.B) {
		benchmarkRecorder(b, Options{}, e, true)
	})
	b.Run("recorder_block_parallel", func(b *testing.B) {
		benchmarkRecorder(b, Options{Overflow: Block}, e, true)
	})
	b.Run("slog_json_parallel", func(b *testing.B) {
		benchmarkSlog(b, e, true)
	})
	b.Run("channel_parallel", func(b *testing.B) {
		benchmarkChannel(b, e, true)
	})
}

// benchmarkRecorderWithRoom measures Record as a request handler meets it:
// with room in the queue. Every half queue, with the timer stopped, it waits
// for Flush, so no event is dropped however fast the loop runs. The flusher
// still works on the other events while the timer runs.
func benchmarkRecorderWithRoom(b *testing.B, e audit.Event) {
	const room = DefaultQueueSize / 2
	r := New(discardWriter{}, Options{Logger: quietLogger})
	ctx := context.Background()
	b.ReportAllocs()

	for i := range b.N {
		if i%room == room-1 {
			b.StopTimer()
			if err := r.Flush(ctx); err != nil {
				b.Fatalf("Flush() = %v", err)
			}
			b.StartTimer()
		}
		r.RecordUsed(e)
	}

	b.StopTimer()
	if err := r.Close(ctx); err != nil {
		b.Fatalf("Close() = %v", err)
	}
	b.ReportMetric(float64(r.Stats().Dropped)/float64(b.N), "drops/op")
}

// gateWriter is a Writer whose every Append waits for a value on gate, like
// a slow database call.
type gateWriter struct {
	gate chan struct{}
}

func (w gateWriter) Append(ctx context.Context, events []audit.Event) (store.Appended, error) {
	select {
	case <-w.gate:
		return store.Appended{Inserted: len(events)}, nil
	case <-ctx.Done():
		return store.Appended{}, ctx.Err()
	}
}

// benchmarkRecorderFlusherBlocked measures Record while the flusher waits in
// Append, as it does most of the time with a real database: the caller's
// cost without a concurrent receiver on the queue. With the timer stopped,
// it lets the Writer take the queued events every half queue.
func benchmarkRecorderFlusherBlocked(b *testing.B, e audit.Event) {
	const room = DefaultQueueSize / 2
	w := gateWriter{gate: make(chan struct{})}
	r := New(w, Options{BatchSize: 1, Logger: quietLogger})
	b.ReportAllocs()

	for i := range b.N {
		if i%room == room-1 {
			b.StopTimer()
			for queuedEvents(r) > 0 {
				w.gate <- struct{}{}
			}
			b.StartTimer()
		}
		r.RecordUsed(e)
	}

	b.StopTimer()
	close(w.gate)
	if err := r.Close(context.Background()); err != nil {
		b.Fatalf("Close() = %v", err)
	}
	b.ReportMetric(float64(r.Stats().Dropped)/float64(b.N), "drops/op")
}

// queuedEvents returns how many events wait in r's queue, not counting
// the batch the flusher holds.
func queuedEvents(r *Recorder) int {
	r.queue.mu.Lock()
	defer r.queue.mu.Unlock()
	return r.queue.len
}

// quietLogger discards the drop lines that overload benchmarks cause.
var quietLogger = slog.New(slog.DiscardHandler)

// benchmarkRecorder records e as fast as the loop runs and reports the share
// of events dropped because the flusher, which stamps, validates and writes
// each event, fell behind. Under Block the loop runs at the flusher's pace,
// so ns/op is the Recorder's throughput from Record to Writer.
func benchmarkRecorder(b *testing.B, opts Options, e audit.Event, parallel bool) {
	opts.Logger = quietLogger // drops are expected here, and counted below
	r := New(discardWriter{}, opts)
	b.ReportAllocs()

	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r.RecordUsed(e)
			}
		})
	} else {
		for b.Loop() {
			r.RecordUsed(e)
		}
	}

	b.StopTimer()
	if err := r.Close(context.Background()); err != nil {
		b.Fatalf("Close() = %v", err)
	}
	s := r.Stats()
	b.ReportMetric(float64(s.Dropped)/float64(b.N), "drops/op")
}

// benchmarkSlog writes the same fields as one JSON log line to io.Discard.
func benchmarkSlog(b *testing.B, e audit.Event, parallel bool) {
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ctx := context.Background()
	ip := e.IP.String()
	logLine := func() {
		logger.LogAttrs(ctx, slog.LevelInfo, "token used",
			slog.String("jti", e.TokenID),
			slog.String("sub", e.Subject),
			slog.String("ip", ip),
			slog.String("user_agent", e.UserAgent),
			slog.String("method", e.Method),
			slog.String("path", e.Path),
			slog.Int("status", e.Status))
	}
	b.ReportAllocs()

	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				logLine()
			}
		})
		return
	}
	for b.Loop() {
		logLine()
	}
}

// benchmarkChannel sends e on a channel as large as the Recorder's default
// queue, which one goroutine empties.
func benchmarkChannel(b *testing.B, e audit.Event, parallel bool) {
	queue := make(chan audit.Event, DefaultQueueSize)
	drained := make(chan struct{})
	go func() {
		for range queue {
		}
		close(drained)
	}()
	b.ReportAllocs()

	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				queue <- e
			}
		})
	} else {
		for b.Loop() {
			queue <- e
		}
	}

	b.StopTimer()
	close(queue)
	<-drained
}
