package revocation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DefaultInterval is the time between two polls of a Refresher whose
// Interval is 0.
const DefaultInterval = 2 * time.Second

// RefresherOptions configures a Refresher. The zero value is valid: each
// zero field gets the default named in its comment.
type RefresherOptions struct {
	// Interval is the time between the starts of two polls; default
	// DefaultInterval. A revocation stored in the Source reaches the Set
	// at most Interval plus the duration of one poll later, as long as
	// polls succeed. A poll of a LongPollSource that is held lasts until a
	// revocation is stored or its wait ends, and the next poll then starts
	// at once.
	Interval time.Duration

	// Timeout bounds one poll, every page included; default Interval. A
	// held long poll (LongPollSource) is canceled only after its wait plus
	// LongPollGrace, even when Timeout is shorter.
	Timeout time.Duration

	// Logger receives failed polls, recoveries and restarts from the
	// start of the Source; default slog.Default().
	Logger *slog.Logger

	// Clock gives the times that Set.Refreshed returns and that Set.Stale
	// compares with its now, such as the end of a held long poll. It also
	// gives the time that decides which entries have expired. The default
	// is time.Now.
	Clock func() time.Time
}

// Refresher keeps a Set current with the revocations of a Source. Run polls
// the Source at once and then every Interval. After a failed poll the Set
// keeps serving what it holds, and Set.Refreshed returns the time of the
// last success.
// A Refresher is safe for concurrent use, but Run must not be called twice
// at once.
type Refresher struct {
	set     *Set
	src     Source
	opts    RefresherOptions
	log     *slog.Logger
	newTick func(time.Duration) (<-chan time.Time, func())

	// afterPoll, when set, is called at the end of each poll that Run
	// makes, with the poll's error. Tests use it to wait for a poll.
	afterPoll func(error)

	// mu serializes polls and guards what they share.
	mu struct {
		sync.Mutex
		cursor   Cursor
		failures int // consecutive failed polls
	}
}

// NewRefresher returns a Refresher that adds the revocations of src to set.
// It starts nothing: call Run. It panics if set or src is nil, a
// programming error that would otherwise surface in Run's goroutine.
func NewRefresher(set *Set, src Source, opts RefresherOptions) *Refresher {
	if set == nil || src == nil {
		panic("revocation: NewRefresher called with a nil Set or Source")
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = opts.Interval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Refresher{
		set:  set,
		src:  src,
		opts: opts,
		log:  opts.Logger.With(slog.String("component", "revocation")),
		newTick: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		},
	}
}

// Run polls the Source now and then every Interval until ctx ends, and
// returns ctx.Err(). A failed poll is logged and retried at the next tick.
// The caller that starts Run in a goroutine owns it and stops it by
// canceling ctx.
func (r *Refresher) Run(ctx context.Context) error {
	tick, stop := r.newTick(r.opts.Interval)
	defer stop()

	r.pollAndReport(ctx)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
			r.pollAndReport(ctx)
		}
	}
}

func (r *Refresher) pollAndReport(ctx context.Context) {
	err := r.Refresh(ctx)
	if r.afterPoll != nil {
		r.afterPoll(err)
	}
}

// Refresh polls the Source once: it reads every page stored after the last
// one read and adds their revocations to the Set. On success it marks the
// Set refreshed as of the start of the call that found nothing new, or as
// of that call's end when it was a held long poll (LongPollSource). A
// service can call it before it starts serving, so that its first request
// meets a current Set.
//
// On failure the Set keeps what it holds, and the pages read before the
// failure stay added. Refresh logs the first failure of a run, then every
// 30th, and then the recovery.
//
// When the Source returns an error wrapping ErrCursorPastEnd, because its
// store was restored from an older copy or replaced, Refresh logs that
// once and reads every revocation again from the start. The Set keeps
// what it holds, because a revocation is never undone.
func (r *Refresher) Refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()

	start := r.opts.Clock()
	pollCtx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()

	asOf, added, err := r.readLocked(ctx, pollCtx, start)
	if err != nil {
		r.set.holdUntil(time.Time{})
		r.mu.failures++
		if r.mu.failures == 1 || r.mu.failures%30 == 0 {
			r.log.Warn("revocation refresh failed, serving the last revocations read",
				slog.Int("failures", r.mu.failures),
				slog.Time("last_refresh", r.set.Refreshed()),
				slog.String("error", err.Error()))
		}
		return err
	}

	if r.mu.failures > 0 {
		r.log.Info("revocation refresh recovered", slog.Int("failures", r.mu.failures), slog.Int("added", added))
		r.mu.failures = 0
	}
	r.set.markRefreshed(asOf)
	r.set.holdUntil(time.Time{})
	return nil
}

// readLocked reads pages until the Source has nothing new. It returns the
// time as of which the Set holds every revocation of the Source, and how
// many events it added. Each call of the Source runs under pollCtx, except
// a long poll that needs longer, which runs under ctx for its wait plus
// LongPollGrace. start decides which entries have expired. r.mu must be
// held.
func (r *Refresher) readLocked(ctx, pollCtx context.Context, start time.Time) (time.Time, int, error) {
	added := 0
	restarted := false
	for {
		callStart := r.opts.Clock()
		callCtx, cancel, wait := r.beginCallLocked(ctx, pollCtx, callStart)
		events, next, err := r.src.Revocations(callCtx, r.mu.cursor)
		cancel()

		if err != nil && errors.Is(err, ErrCursorPastEnd) && r.mu.cursor != "" && !restarted {
			r.log.Warn("revocation source no longer has the position read last, so its store was restored from an older copy or replaced: "+
				"reading every revocation again from the start, and keeping the revocations already held",
				slog.String("cursor", string(r.mu.cursor)),
				slog.Int("entries_held", r.set.Len()),
				slog.String("error", err.Error()))
			r.mu.cursor = ""
			restarted = true
			continue
		}
		if err != nil {
			return time.Time{}, added, fmt.Errorf("revocation: read revocations after cursor %q: %w", r.mu.cursor, err)
		}
		if len(events) == 0 {
			// A held long poll that ends empty shows that the Source had
			// nothing new until it returned.
			if wait > 0 {
				return r.opts.Clock(), added, nil
			}
			return callStart, added, nil
		}
		if next == r.mu.cursor {
			return time.Time{}, added, fmt.Errorf("revocation: source returned %d events but did not advance cursor %q: %w", len(events), next, errStuckCursor)
		}

		if err := r.set.add(start, events); err != nil {
			// The other events of the page are added, and the unusable
			// ones would fail again, so the poll goes on.
			r.log.Warn("revocation events skipped", slog.String("error", err.Error()))
		}
		added += len(events)
		r.mu.cursor = next
	}
}

// beginCallLocked returns the context of the next call of the Source, and
// the call's long-poll wait, 0 for none. A long poll gets at least its
// wait plus LongPollGrace, and keeps the Set current for that long, unless
// the poll before failed: a Source that just failed may be hung rather
// than holding the call. r.mu must be held.
func (r *Refresher) beginCallLocked(ctx, pollCtx context.Context, callStart time.Time) (context.Context, context.CancelFunc, time.Duration) {
	lp, ok := r.src.(LongPollSource)
	if !ok {
		return pollCtx, func() {}, 0
	}
	wait := lp.LongPollWait(r.mu.cursor)
	if wait <= 0 {
		return pollCtx, func() {}, 0
	}

	held := wait + LongPollGrace
	if r.mu.failures == 0 {
		r.set.holdUntil(callStart.Add(held))
	}
	if deadline, ok := pollCtx.Deadline(); ok && time.Until(deadline) < held {
		callCtx, cancel := context.WithTimeout(ctx, held)
		return callCtx, cancel, wait
	}
	return pollCtx, func() {}, wait
}
