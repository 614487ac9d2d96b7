// Package recorder captures token lifecycle events inside a Go service
// without making the request path wait for storage. Record puts an event in
// a bounded queue and returns at once. One flusher goroutine stamps,
// validates and writes the queued events in batches to a Writer such as
// *sqlite.Store. When the queue is full, the Overflow policy decides, and
// every event that is not written is counted in Stats and logged.
package recorder

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// Writer stores batches of events. *sqlite.Store and every store.Store
// satisfy it. Append must not keep the slice after it returns, because the
// Recorder reuses it for the next batch, and it should return soon after ctx
// ends, because Close relies on that to stop in time.
type Writer interface {
	Append(ctx context.Context, events []audit.Event) (store.Appended, error)
}

// Recorder queues events and writes them in batches from one goroutine. It is
// safe for concurrent use. Create it with New and stop it with Close, which
// writes what is still queued.
type Recorder struct {
	queue        *queue
	clock        func() time.Time
	overflow     Overflow
	blockTimeout time.Duration
	log          *slog.Logger

	counters counters

	flushes chan flushRequest
	stop    chan struct{} // closed by the first Close: drain the queue and exit
	abort   context.CancelFunc
	done    chan struct{} // closed by the flusher goroutine when it exits

	// abandoned is the number of events the flusher gave up on because a
	// Close context ended. It is written before done is closed.
	abandoned atomic.Uint64
	// drainErr is the error of the final drain, which reports lost
	// batches. It is written before done is closed.
	drainErr error
}

// flushRequest is a request to the flusher to write what is queued. reply is
// buffered, so the flusher never waits for a caller that gave up.
type flushRequest struct {
	reply chan error
}

// New starts a Recorder that writes to w, with opts completed by the
// defaults documented on Options. The caller must call Close to stop its
// goroutine. New panics if w is nil, which is a programming error that would
// otherwise surface later, in the flusher goroutine.
func New(w Writer, opts Options) *Recorder {
	if w == nil {
		panic("recorder: New called with a nil Writer")
	}
	opts = opts.withDefaults()
	ticker := time.NewTicker(opts.FlushInterval)
	return newRecorder(w, opts, ticker.C, ticker.Stop)
}

// newRecorder starts a Recorder whose interval flushes follow tick, so that
// tests can drive them. The flusher calls stopTick when it exits. opts must
// already carry its defaults.
func newRecorder(w Writer, opts Options, tick <-chan time.Time, stopTick func()) *Recorder {
	log := opts.Logger.With(slog.String(keyComponent, "recorder"))
	if opts.Overflow != DropNewest && opts.Overflow != Block {
		log.Warn("unknown overflow policy, using drop_newest", slog.String(keyOverflow, opts.Overflow.String()))
		opts.Overflow = DropNewest
	}

	ctx, cancel := context.WithCancel(context.Background())
	r := &Recorder{
		queue:        newQueue(opts.QueueSize, opts.BatchSize),
		clock:        opts.Clock,
		overflow:     opts.Overflow,
		blockTimeout: opts.BlockTimeout,
		log:          log,
		flushes:      make(chan flushRequest),
		stop:         make(chan struct{}),
		abort:        cancel,
		done:         make(chan struct{}),
	}

	f := &flusher{
		r:        r,
		w:        w,
		tick:     tick,
		stopTick: stopTick,
		opts:     opts,
		prefix:   newIDPrefix(),
	}
	log.Debug("recorder started",
		slog.Int(keyQueueSize, opts.QueueSize),
		slog.Int(keyBatchSize, opts.BatchSize),
		slog.Duration(keyFlushInterval, opts.FlushInterval),
		slog.String(keyOverflow, opts.Overflow.String()))
	go f.run(ctx)
	return r
}

// newIDPrefix returns 16 random hex digits. Each Recorder's IDs start with
// its own prefix and end with a counter, so IDs from different processes
// only collide if two of the 2^64 prefixes do.
func newIDPrefix() [16]byte {
	var random [8]byte
	// crypto/rand.Read never returns an error since Go 1.24: it crashes the
	// program if the system's random source fails.
	_, _ = rand.Read(random[:])
	var prefix [16]byte
	hex.Encode(prefix[:], random[:])
	return prefix
}

// RecordIssued records that a token was minted. Users of .NET token audit
// libraries may know this call as LogTokenCreation. See Record.
func (r *Recorder) RecordIssued(e audit.Event) bool {
	e.Kind = audit.KindIssued
	return r.Record(e)
}

// RecordUsed records that a token was presented and accepted. Users of .NET
// token audit libraries may know this call as LogTokenUsage. See Record.
func (r *Recorder) RecordUsed(e audit.Event) bool {
	e.Kind = audit.KindUsed
	return r.Record(e)
}

// RecordRefreshed records that a refresh token was redeemed for new tokens.
// See Record.
func (r *Recorder) RecordRefreshed(e audit.Event) bool {
	e.Kind = audit.KindRefreshed
	return r.Record(e)
}

// RecordRevoked records that a token, a token family or a subject was
// revoked. Users of .NET token audit libraries may know this call as
// LogTokenRevocation. See Record.
func (r *Recorder) RecordRevoked(e audit.Event) bool {
	e.Kind = audit.KindRevoked
	return r.Record(e)
}

// RecordRejected records that a presented token was refused. See Record.
func (r *Recorder) RecordRejected(e audit.Event) bool {
	e.Kind = audit.KindRejected
	return r.Record(e)
}

// Record queues e for writing and reports whether it was accepted. A zero
// e.Time is set to the clock's current time. A missing e.ID is generated
// later, in the flusher goroutine. Record does no I/O and does not allocate
// unless it waits. It waits only under the Block policy when the queue is
// full, for at most BlockTimeout.
//
// Record returns false when the queue stays full (counted in Stats.Dropped)
// or after Close (counted in Stats.DroppedAfterClose). An accepted event that
// fails audit.Event.Validate is discarded later and counted in Stats.Invalid.
func (r *Recorder) Record(e audit.Event) bool {
	if e.Time.IsZero() {
		e.Time = r.clock().UTC()
	}

	q := r.queue
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		r.rejectAfterClose()
		return false
	}
	if q.hasRoomLocked() {
		q.pushLocked(&e)
		q.mu.Unlock()
		return true
	}
	accepted := r.overflow == Block && r.waitForRoomLocked()
	if accepted {
		q.pushLocked(&e)
	}
	q.mu.Unlock()

	if !accepted {
		r.counters.dropped.Add(1)
	}
	return accepted
}

// waitForRoomLocked waits until the queue has room, or gives up after
// BlockTimeout, and reports whether it has room. The caller holds the
// queue's mu, which is released while waiting and held again on return,
// and queues its event before it releases mu. Close waits for this call to
// return before it stops the flusher, which keeps freeing room meanwhile.
func (r *Recorder) waitForRoomLocked() bool {
	q := r.queue
	q.waiters.Add(1) // Close sets closed under mu before it waits, so this Add precedes that Wait
	defer q.waiters.Done()
	timer := time.NewTimer(r.blockTimeout)
	defer timer.Stop()

	for !q.hasRoomLocked() {
		room := q.roomLocked()
		q.mu.Unlock()
		select {
		case <-room:
			q.mu.Lock()
		case <-timer.C:
			q.mu.Lock()
			if !q.hasRoomLocked() {
				return false
			}
		}
	}
	return true
}

// rejectAfterClose counts an event recorded after Close. The flusher that
// reports drops has exited by then, so the first such event is logged here
// and the rest are only counted.
func (r *Recorder) rejectAfterClose() {
	r.counters.droppedAfterClose.Add(1)
	if r.counters.closedWarned.CompareAndSwap(false, true) {
		r.log.Warn("recorder is closed, dropping events recorded after Close; see Stats.DroppedAfterClose for the count")
	}
}

// Flush writes every event queued before the call and returns when the
// Writer has taken them, or when ctx ends. It returns ctx.Err() if ctx ends
// first (the flusher still writes the events), ErrClosed after Close, and an
// error wrapping a *LostError for each batch that failed every attempt.
func (r *Recorder) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}

	req := flushRequest{reply: make(chan error, 1)}
	select {
	case r.flushes <- req:
	case <-r.done:
		return ErrClosed
	case <-r.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}

	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting events, writes every queued event and stops the
// flusher goroutine, waiting for it to exit. It returns an error wrapping a
// *LostError for each batch of the final drain that failed every attempt.
//
// Close first waits for the Record calls in progress, which under Block can
// take up to BlockTimeout. If ctx ends before the queue is drained, Close
// cancels the Append in progress, counts every event not yet written in
// Stats.Lost, waits for the flusher to exit and returns an error that wraps
// ctx.Err() and gives that count. Close can be called more than once; later
// calls wait like the first and return nil.
func (r *Recorder) Close(ctx context.Context) error {
	q := r.queue
	q.mu.Lock()
	first := !q.closed
	q.closed = true
	q.mu.Unlock()
	q.waiters.Wait()
	if first {
		close(r.stop)
	}

	select {
	case <-r.done:
	case <-ctx.Done():
		r.abort()
		// NOTE: this wait ends only when the Writer's Append returns. A
		// Writer that ignores the cancellation of its ctx delays Close until
		// its call finishes.
		<-r.done
		if n := r.abandoned.Load(); n > 0 {
			return fmt.Errorf("recorder: close: context ended with %s left unwritten, counted as lost (give Close a later deadline): %w", count(n, "event"), ctx.Err())
		}
	}

	r.abort() // releases the flusher's context once it has exited

	if !first {
		return nil
	}
	return r.drainErr
}
