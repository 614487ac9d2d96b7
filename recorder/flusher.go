package recorder

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// flusher is the state of the one goroutine that drains the queue. Only that
// goroutine touches it.
type flusher struct {
	r        *Recorder
	w        Writer
	tick     <-chan time.Time
	stopTick func()
	opts     Options

	batch       []audit.Event // the chunk being written; nil between batches
	prefix      [16]byte      // hex digits that start every generated ID
	sequence    uint64        // counter that ends the last generated ID
	loggedDrops uint64        // Stats.Dropped when drops were last logged
}

// run writes the queued events in batches until Close. A batch is written
// when its chunk is full, and at each tick and on Flush with the events
// queued so far. ctx is canceled when a Close context ends, which cuts short
// the Append in progress and the retries.
func (f *flusher) run(ctx context.Context) {
	r := f.r
	defer close(r.done)
	defer f.stopTick()

	for {
		select {
		case <-r.queue.wake:
			f.writeReady(ctx)
		case <-f.tick:
			_ = f.flushQueued(ctx)
		case req := <-r.flushes:
			req.reply <- f.flushQueued(ctx)
		case <-r.stop:
			r.drainErr = f.drain(ctx)
			f.logStopped()
			return
		}
	}
}

// writeReady writes the chunks that filled up. It takes only those ready
// when it starts, so that a steady stream of Record calls cannot keep it
// from ticks, Flush and Close. A later chunk has sent its own wake-up.
func (f *flusher) writeReady(ctx context.Context) {
	for n := f.r.queue.readyChunks(); n > 0 && ctx.Err() == nil; n-- {
		_ = f.writeNext(ctx) // a lost batch is already logged and counted
	}
}

// writeNext takes the oldest ready chunk and writes it as one batch.
func (f *flusher) writeNext(ctx context.Context) error {
	c, ok := f.r.queue.take()
	if !ok {
		return nil
	}
	f.completeRequests(c)
	f.batch = c.events
	err := f.writeBatch(ctx)
	f.batch = nil
	f.r.queue.release(c)
	return err
}

// completeRequests runs the Complete function of each request context that
// RecordFunc left in c, here rather than on the request path. A panic in
// Complete would end the process from this goroutine, so it is recovered,
// the event is written as far as Complete got, and one line per batch logs
// it.
func (f *flusher) completeRequests(c chunk) {
	panics := 0
	var first any
	var firstEvent *audit.Event
	for i := range c.events {
		rc := &c.requests[i]
		if rc.Complete == nil {
			continue
		}
		if p := complete(&c.events[i], rc); p != nil {
			if panics == 0 {
				first, firstEvent = p, &c.events[i]
			}
			panics++
		}
	}
	if panics > 0 {
		f.r.log.Error("recorder recovered panics in RequestContext.Complete, writing those events without the rest of their request context",
			slog.Int(keyEvents, panics), slog.String(keyTokenID, redactToken(firstEvent.TokenID)),
			slog.Any(keyError, first))
	}
}

// complete runs rc.Complete on e and returns the value of a panic in it, or
// nil.
func complete(e *audit.Event, rc *RequestContext) (recovered any) {
	defer func() { recovered = recover() }()
	rc.Complete(e, rc)
	return nil
}

// flushQueued writes every event queued now. Events recorded while it runs
// wait for the next flush, so a steady stream of Record calls cannot keep it
// busy forever. It stops early with ErrClosed when a Close context ends,
// and leaves the rest to drain, which counts it as lost.
func (f *flusher) flushQueued(ctx context.Context) error {
	var errs []error
	for n := f.r.queue.closeOpen(); n > 0; n-- {
		if ctx.Err() != nil {
			errs = append(errs, ErrClosed)
			break
		}
		if err := f.writeNext(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	f.logDrops()
	return errors.Join(errs...)
}

// drain writes everything left in the queue once Close has stopped Record.
// If ctx ends meanwhile, it counts the rest as lost instead.
func (f *flusher) drain(ctx context.Context) error {
	var errs []error
	for n := f.r.queue.closeOpen(); n > 0; n-- {
		if ctx.Err() != nil {
			f.abandon()
			break
		}
		if err := f.writeNext(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	f.logDrops()
	return errors.Join(errs...)
}

// abandon counts the queued events as lost, because a Close context ended
// before they could be written.
func (f *flusher) abandon() {
	n := uint64(f.r.queue.discard())
	if n == 0 {
		return
	}

	c := &f.r.counters
	c.lost.Add(n)
	c.settled.Add(n)
	f.r.abandoned.Add(n)
	f.r.log.Error("recorder stopped before writing every event because the Close context ended",
		slog.Uint64(keyLost, n))
}

// logDrops writes one line when Record dropped events since the last line,
// so that a full queue costs one log line per flush, not one per event.
func (f *flusher) logDrops() {
	total := f.r.counters.dropped.Load()
	if total == f.loggedDrops {
		return
	}
	f.r.log.Warn("recorder dropped events because the queue was full",
		slog.Uint64(keyDropped, total-f.loggedDrops), slog.Uint64(keyDroppedTotal, total),
		slog.Int(keyQueueSize, f.r.queue.limit), slog.String(keyOverflow, f.opts.Overflow.String()))
	f.loggedDrops = total
}

// logStopped logs the final counts when the flusher exits.
func (f *flusher) logStopped() {
	s := f.r.Stats()
	f.r.log.Info("recorder stopped",
		slog.Uint64(keyWritten, s.Written), slog.Uint64(keyDuplicates, s.Duplicates),
		slog.Uint64(keyInvalid, s.Invalid), slog.Uint64(keyLost, s.Lost),
		slog.Uint64(keyDroppedTotal, s.Dropped))
}
