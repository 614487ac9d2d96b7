package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tokentrail/tokentrail/store"
)

// feedWatcher finds the revocations that another process, such as
// tokentrail revoke, writes to the store, for every revocation long-poll of
// one server at once. While at least one long-poll waits, one goroutine
// reads the store's last revocation position every interval and wakes the
// waiters when it changed. The goroutine stops when the last waiter leaves
// or at close, which waits for it. It is safe for concurrent use.
//
// Its baseline comes only from its own reads, and the first read of each
// goroutine wakes every waiter. A waiter takes the channel of wait before
// its own read of the store and then holds. Take a revocation written
// after that read, and the first read of a goroutine that follows both
// the write and the hold, within about one interval. Either an earlier
// read of that goroutine predates the write, so the position differs from
// it, or none does, so the read is the first. So that read wakes the
// waiter, unless an earlier one did.
type feedWatcher struct {
	end      store.RevocationEnd
	interval time.Duration
	log      *slog.Logger
	wg       sync.WaitGroup // the running goroutines

	mu struct {
		sync.Mutex
		waiters int
		stop    context.CancelFunc // ends the running goroutine; nil when none runs
		changed chan struct{}      // closed and replaced when the goroutine wakes the waiters
		running int                // goroutines not yet returned, a stopped one included
		closed  bool
	}
}

func newFeedWatcher(end store.RevocationEnd, interval time.Duration, log *slog.Logger) *feedWatcher {
	w := &feedWatcher{end: end, interval: interval, log: log}
	w.mu.changed = make(chan struct{})
	return w
}

// hold counts the caller as a waiter, starting the goroutine if it is the
// first, until the caller calls the returned release once. After close it
// starts nothing, so the waiters are then no longer woken.
func (w *feedWatcher) hold() (release func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mu.waiters++
	if w.mu.waiters == 1 && !w.mu.closed {
		ctx, cancel := context.WithCancel(context.Background())
		w.mu.stop = cancel
		w.mu.running++
		w.wg.Add(1)
		go w.run(ctx)
	}
	return sync.OnceFunc(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.mu.waiters--
		if w.mu.waiters == 0 && w.mu.stop != nil {
			w.mu.stop()
			w.mu.stop = nil
		}
	})
}

// wait returns a channel that is closed when the goroutine next wakes the
// waiters. A waiter takes it before its read of the store.
func (w *feedWatcher) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.changed
}

// wake closes the channel that wait returned and replaces it.
func (w *feedWatcher) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.mu.changed)
	w.mu.changed = make(chan struct{})
}

// idle reports whether no goroutine runs.
func (w *feedWatcher) idle() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.running == 0
}

// run reads the last revocation position every interval until ctx ends.
// A failed read leaves the baseline as it was, and the failure is logged
// once, when it starts, and again with a count when reads succeed again.
func (w *feedWatcher) run(ctx context.Context) {
	defer w.wg.Done()
	defer func() {
		w.mu.Lock()
		w.mu.running--
		w.mu.Unlock()
	}()

	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	var last int64
	read, failures := false, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}

		seq, err := w.end.LastRevocationSeq(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if failures == 0 {
				w.log.Warn("failed to read the last revocation position for the held revocation feed requests. "+
					"Until a read succeeds, revocations that another process writes do not end them before their wait ends",
					slog.Any(logError, err))
			}
			failures++
			continue
		case failures > 0:
			w.log.Info("read the last revocation position again after failed reads", slog.Int(logFailedReads, failures))
			failures = 0
		}
		if !read || seq != last {
			w.wake()
		}
		last, read = seq, true
	}
}

// close stops the goroutine and waits for it to return, or returns
// ctx.Err() when ctx ends first. It may be called more than once.
func (w *feedWatcher) close(ctx context.Context) error {
	w.mu.Lock()
	w.mu.closed = true
	if w.mu.stop != nil {
		w.mu.stop()
		w.mu.stop = nil
	}
	w.mu.Unlock()

	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
