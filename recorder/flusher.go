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

	batch       []audit.Event
	prefix      [16]byte // hex digits that start every generated ID
	sequence    uint64   // counter that ends the last generated ID
	loggedDrops uint64   // Stats.Dropped when drops were last logged
}

// run moves events from the queue into batches until Close. A batch is
// written when it is full, at each tick, and on Flush. ctx is canceled when
// a Close context ends, which cuts short the Append in progress and the
// retries.
func (f *flusher) run(ctx context.Context) {
	r := f.r
	defer close(r.done)
	defer f.stopTick()

	for {
		select {
		case e := <-r.queue:
			f.batch = append(f.batch, e)
			f.takeAvailable()
			if len(f.batch) >= f.opts.BatchSize {
				_ = f.writeBatch(ctx) // a lost batch is already logged and counted
			}
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

// takeAvailable moves queued events into the batch until it is full or the
// queue is empty. Receiving them here instead of in run's select saves the
// cost of a select with four cases per event, which matters when Record
// calls arrive faster than the Writer takes them.
func (f *flusher) takeAvailable() {
	for len(f.batch) < f.opts.BatchSize {
		select {
		case e := <-f.r.queue:
			f.batch = append(f.batch, e)
		default:
			return
		}
	}
}

// add appends e to the batch and writes the batch once it is full.
func (f *flusher) add(ctx context.Context, e audit.Event) error {
	f.batch = append(f.batch, e)
	if len(f.batch) < f.opts.BatchSize {
		return nil
	}
	return f.writeBatch(ctx)
}

// flushQueued writes the batch and every event queued now. Events recorded
// while it runs wait for the next flush, so a steady stream of Record calls
// cannot keep it busy forever.
func (f *flusher) flushQueued(ctx context.Context) error {
	var errs []error
	for n := len(f.r.queue); n > 0; n-- {
		if err := f.add(ctx, <-f.r.queue); err != nil {
			errs = append(errs, err)
		}
	}
	if err := f.writeBatch(ctx); err != nil {
		errs = append(errs, err)
	}
	f.logDrops()
	return errors.Join(errs...)
}

// drain writes everything left in the queue once Close has stopped Record.
// If ctx ends meanwhile, it counts the rest as lost instead.
func (f *flusher) drain(ctx context.Context) error {
	var errs []error
	for {
		if ctx.Err() != nil {
			f.abandon()
			return errors.Join(errs...)
		}
		select {
		case e := <-f.r.queue:
			if err := f.add(ctx, e); err != nil {
				errs = append(errs, err)
			}
			continue
		default:
		}

		if err := f.writeBatch(ctx); err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			f.abandon()
		}
		f.logDrops()
		return errors.Join(errs...)
	}
}

// abandon counts the batch and the queue as lost, because a Close context
// ended before they could be written.
func (f *flusher) abandon() {
	n := uint64(len(f.batch))
	f.batch = f.batch[:0]
	for len(f.r.queue) > 0 {
		<-f.r.queue
		n++
	}
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
		slog.Int(keyQueueSize, cap(f.r.queue)), slog.String(keyOverflow, f.opts.Overflow.String()))
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
