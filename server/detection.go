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
//
// The goroutine also loads into the engine every revocation stored, at
// start and then as it is stored, by this server or by another process on
// the same store, so that revoked_token_use raises whatever path the
// revocation took. It releases the events that the engine holds for
// reordering once no batch arrived for the reorder window, in wall time.
type detection struct {
	engine  *detect.Engine
	enrich  func(*audit.Event)
	store   Store
	feed    *feed // wakes the goroutine when this server stores a revocation
	metrics *metrics
	log     *slog.Logger

	queue   chan []audit.Event
	waiting atomic.Int64 // events in queue

	mu     sync.Mutex // guards closed and sends on queue
	closed bool

	done chan struct{} // closed when run returns

	// Owned by the goroutine of run.
	revocationsRead    int64  // the store position of the last revocation loaded
	revocationsFailing bool   // the last read of revocations failed, and was logged
	revocationsDropped uint64 // the engine's TokenRevocationsDropped when last logged
}

func startDetection(st Store, engine *detect.Engine, enrich func(*audit.Event), f *feed, size int, m *metrics, log *slog.Logger) *detection {
	d := &detection{
		engine: engine, enrich: enrich, store: st, feed: f, metrics: m, log: log,
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

// quietStage is the step that run takes next when no batch arrives.
type quietStage int

const (
	quietIdle    quietStage = iota // nothing to do
	quietHeld                      // release the events held for reordering
	quietWaiting                   // give the verdicts of the uses waiting for unknown_token
)

func (d *detection) run() {
	defer close(d.done)
	d.followRevocations()

	cfg := d.engine.Config()
	// A negative reorder window holds no event, so only the waiting uses
	// need the quiet timer.
	releaseAfter := max(cfg.ReorderWindow, 0)
	poll := time.NewTicker(feedRecheck)
	defer poll.Stop()
	quiet := time.NewTimer(releaseAfter)
	defer quiet.Stop()
	stage := quietIdle

	for {
		// Taken before the reads, so that a revocation stored during one
		// still wakes the loop.
		changed := d.feed.wait()
		select {
		case first, ok := <-d.queue:
			if !ok {
				d.followRevocations()
				d.save(d.engine.Flush())
				return
			}
			select {
			case <-changed:
				d.followRevocations() // before the batch, which may use a token it revokes
			default:
			}
			d.observe(first)
			quiet.Reset(releaseAfter)
			stage = quietHeld
		case <-changed:
			d.followRevocations()
		case <-poll.C:
			d.followRevocations()
		case <-quiet.C:
			stage = d.releaseQuiet(stage)
			if stage == quietWaiting {
				quiet.Reset(cfg.ClockSkew)
			}
		}
	}
}

// observe checks the batch first and those queued behind it.
func (d *detection) observe(first []audit.Event) {
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

// releaseQuiet runs one stage of a quiet spell and returns the next. A
// reorder window with no batch, in wall time, releases the events that the
// engine holds, which would otherwise wait for a later event, however
// long. The uses still waiting for their unknown_token verdict get it
// after ClockSkew more: their issued event, if any, would be that late.
func (d *detection) releaseQuiet(stage quietStage) quietStage {
	switch stage {
	case quietHeld:
		// A revocation that another process stored since the last poll
		// may cover the events about to be checked.
		d.followRevocations()
		d.save(d.engine.ReleaseHeld())
		if d.engine.Stats().Waiting > 0 {
			return quietWaiting
		}
	case quietWaiting:
		d.save(d.engine.Flush())
	}
	return quietIdle
}

// followRevocations loads into the engine the revocations stored after
// the last one it loaded, in pages. A failed read is logged once, until a
// read succeeds, and retried at the next poll.
func (d *detection) followRevocations() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	read, err := d.engine.LoadStoredRevocations(ctx, d.store, d.revocationsRead)
	d.revocationsRead = read
	if err != nil {
		if !d.revocationsFailing {
			d.log.LogAttrs(ctx, slog.LevelError, "read revocations for detection failed; uses of tokens revoked since may raise no revoked_token_use until a read succeeds",
				slog.Int64(logRevocationSeq, d.revocationsRead), slog.Any(logError, err))
		}
		d.revocationsFailing = true
		return
	}
	if d.revocationsFailing {
		d.log.LogAttrs(ctx, slog.LevelInfo, "read revocations for detection succeeded again", slog.Int64(logRevocationSeq, d.revocationsRead))
		d.revocationsFailing = false
	}

	if dropped := d.engine.Stats().TokenRevocationsDropped; dropped > d.revocationsDropped {
		d.log.LogAttrs(ctx, slog.LevelWarn, "detection keeps no more revoked tokens, so uses of those not kept raise no revoked_token_use; raise max_tokens in the --rules file",
			slog.Uint64(logDropped, dropped-d.revocationsDropped))
		d.revocationsDropped = dropped
	}
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
