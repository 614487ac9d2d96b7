package server

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
)

// detection runs live detection on ingested events in one goroutine, so
// that an ingest request returns once its events are stored. Batches wait
// in a bounded queue. When it is full, a batch is not checked: its events
// are counted in tokentrail_detect_dropped_events_total and logged, and
// stay stored, so tokentrail detect can check them later.
type detection struct {
	engine  *detect.Engine
	enrich  func(*audit.Event)
	store   Store
	metrics *metrics
	log     *slog.Logger

	queue   chan []audit.Event
	waiting atomic.Int64 // events in queue

	mu     sync.Mutex // guards closed and sends on queue
	closed bool

	done chan struct{} // closed when run returns
}

func startDetection(st Store, engine *detect.Engine, enrich func(*audit.Event), size int, m *metrics, log *slog.Logger) *detection {
	d := &detection{
		engine: engine, enrich: enrich, store: st, metrics: m, log: log,
		queue: make(chan []audit.Event, size),
		done:  make(chan struct{}),
	}
	go d.run()
	return d
}

// add queues events for detection, or drops them when the queue is full
// or closed. It does not wait for room in the queue.
func (d *detection) add(ctx context.Context, events []audit.Event) {
	if len(events) == 0 {
		return
	}
	d.mu.Lock()
	queued := false
	if !d.closed {
		select {
		case d.queue <- events:
			queued = true
			d.waiting.Add(int64(len(events)))
		default:
		}
	}
	d.mu.Unlock()

	if !queued {
		d.metrics.dropped.Add(float64(len(events)))
		d.log.LogAttrs(ctx, slog.LevelWarn, "detection queue full, events stored but not checked; run tokentrail detect over their time range",
			slog.Int(logDropped, len(events)), slog.Time("first", events[0].Time), slog.Time("last", events[len(events)-1].Time))
	}
}

func (d *detection) depth() int64 { return d.waiting.Load() }

func (d *detection) run() {
	defer close(d.done)
	for first := range d.queue {
		batch := d.collect(first)
		d.waiting.Add(-int64(len(batch)))
		if d.enrich != nil {
			// The enrichment feeds the rules only: the stored events stay
			// as the sender wrote them.
			for i := range batch {
				d.enrich(&batch[i])
			}
		}
		d.save(d.engine.ObserveBatch(batch))
	}
	d.save(d.engine.Flush())
}

// collect appends to first the batches queued behind it, up to
// maxGroupEvents events. Concurrent requests queue batches that overlap in
// event time, and the engine merges each group into the events it holds
// for reordering in one pass (detect.Engine.ObserveBatch), so fewer and
// larger groups cost less.
func (d *detection) collect(first []audit.Event) []audit.Event {
	batch := first
	for len(batch) < maxGroupEvents {
		select {
		case more, ok := <-d.queue:
			if !ok {
				return batch
			}
			batch = append(batch, more...)
		default:
			return batch
		}
	}
	return batch
}

// save stores anomalies. It runs in the detection goroutine, whose work
// outlives any request, so it has a context of its own.
func (d *detection) save(found []audit.Anomaly) {
	if len(found) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := d.store.AppendAnomalies(ctx, found); err != nil {
		d.log.LogAttrs(ctx, slog.LevelError, "store anomalies failed", slog.Int(logAnomalies, len(found)), slog.Any(logError, err))
		return
	}
	for _, a := range found {
		d.metrics.anomalies.WithLabelValues(a.Rule).Inc()
	}
}

// close stops taking batches and waits until the queued ones are checked,
// or ctx ends.
func (d *detection) close(ctx context.Context) error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.queue)
	}
	d.mu.Unlock()

	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
