package recorder

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// writeBatch stamps and validates the batch, writes its valid events and
// empties it. It returns a *LostError when the Writer failed every attempt.
func (f *flusher) writeBatch(ctx context.Context) error {
	if len(f.batch) == 0 {
		return nil
	}
	total := uint64(len(f.batch))

	valid := f.prepare(f.batch)
	var err error
	if len(valid) > 0 {
		budget := maxSplitCalls
		lost, attempts, appendErr := f.appendSplitting(ctx, valid, &budget)
		if len(lost) > 0 {
			err = f.lose(ctx, lost, attempts, appendErr)
		}
		if f.opts.OnWritten != nil && len(valid) > len(lost) {
			f.opts.OnWritten(without(valid, lost))
		}
	}

	f.r.counters.settled.Add(total)
	f.batch = f.batch[:0]
	return err
}

// prepare gives each event an ID and a UTC time, sanitizes it (see
// audit.Event.Sanitize), discards and counts the events that fail validation, and returns the valid ones, reusing batch's
// array.
func (f *flusher) prepare(batch []audit.Event) []audit.Event {
	valid := batch[:0]
	var invalid int
	for i := range batch {
		e := &batch[i]
		if e.ID == "" {
			e.ID = f.nextID()
		}
		e.Time = e.Time.UTC()
		// A raw token, invalid UTF-8 or an over-long header in one field
		// must not cost the whole event.
		if err := e.Prepare(); err != nil {
			// Only the first invalid event of a batch gets a line of its
			// own, and a count covers the rest. A caller who sends nothing
			// but invalid events then cannot flood the log.
			if invalid == 0 {
				f.r.log.LogAttrs(context.Background(), slog.LevelWarn, "recorder discarded an invalid event",
					invalidEventAttrs(e, err)...)
			}
			invalid++
			continue
		}
		// Copying 536 bytes onto themselves is not free, so an event moves
		// only when an invalid one before it left a gap.
		if len(valid) < i {
			batch[len(valid)] = *e
		}
		valid = valid[:len(valid)+1]
	}

	if invalid > 0 {
		f.r.counters.invalid.Add(uint64(invalid))
		if invalid > 1 {
			f.r.log.Warn("recorder discarded invalid events in one batch",
				slog.Int(keyInvalid, invalid), slog.Int(keyEvents, len(batch)))
		}
	}
	return valid
}

// nextID returns the recorder's prefix followed by the next counter value,
// 32 hex digits like the IDs of audit.NewID.
func (f *flusher) nextID() string {
	f.sequence++
	var counter [8]byte
	binary.BigEndian.PutUint64(counter[:], f.sequence)

	var id [32]byte
	copy(id[:16], f.prefix[:])
	hex.Encode(id[16:], counter[:])
	return string(id[:])
}

// maxSplitCalls bounds the Append calls that appendSplitting makes for one
// batch: enough to isolate a few refused events among 50,000 (about 32
// calls each), few enough that a Writer refusing everything costs little.
const maxSplitCalls = 128

// appendSplitting appends events with appendWithRetry. When the Writer
// refuses them as invalid, it appends each half apart, down to single
// events, so that an event that passed Prepare but that the Writer cannot
// hold is lost alone rather than with its batch. budget is what remains of
// maxSplitCalls; once it is spent, a refused part is lost whole. It
// returns the events lost, the Append calls made and the last error.
func (f *flusher) appendSplitting(ctx context.Context, events []audit.Event, budget *int) (lost []audit.Event, attempts int, err error) {
	attempts, err = f.appendWithRetry(ctx, events)
	*budget -= attempts
	if err == nil {
		return nil, attempts, nil
	}
	if !errors.Is(err, audit.ErrInvalidValue) || len(events) == 1 || *budget < 2 || ctx.Err() != nil {
		return events, attempts, err
	}

	half := len(events) / 2
	lostFirst, callsFirst, errFirst := f.appendSplitting(ctx, events[:half], budget)
	lostSecond, callsSecond, errSecond := f.appendSplitting(ctx, events[half:], budget)
	// A new array, since lostFirst may share the batch's.
	lost = append(append([]audit.Event(nil), lostFirst...), lostSecond...)
	return lost, attempts + callsFirst + callsSecond, cmp.Or(errSecond, errFirst)
}

// without returns the events of all that are not in lost, in order.
func without(all, lost []audit.Event) []audit.Event {
	if len(lost) == 0 {
		return all
	}
	lostIDs := make(map[string]bool, len(lost))
	for _, e := range lost {
		lostIDs[e.ID] = true
	}
	stored := make([]audit.Event, 0, len(all)-len(lost))
	for _, e := range all {
		if !lostIDs[e.ID] {
			stored = append(stored, e)
		}
	}
	return stored
}

// appendWithRetry calls Append until it succeeds, the retries run out, the
// error is one a retry cannot fix, or ctx ends. It counts what was written
// and returns the Append calls made and, when the events were not stored,
// the last error.
func (f *flusher) appendWithRetry(ctx context.Context, events []audit.Event) (attempts int, err error) {
	c := &f.r.counters
	backoff := f.opts.RetryBackoff

	for attempt := 1; ; attempt++ {
		res, err := f.append(ctx, events)
		if err == nil {
			c.written.Add(uint64(res.Inserted))
			c.duplicates.Add(uint64(res.Duplicates))
			if res.Inserted+res.Duplicates != len(events) {
				f.r.log.Warn("writer reported counts that do not add up to the batch, so Stats may not add up",
					slog.Int(keyEvents, len(events)), slog.Int(keyInserted, res.Inserted),
					slog.Int(keyDuplicates, res.Duplicates), slog.String(keyFirstEventID, events[0].ID))
			}
			return attempt, nil
		}
		c.writeErrors.Add(1)

		if attempt > f.opts.Retries || !retryable(err) || ctx.Err() != nil {
			return attempt, err
		}
		f.r.log.Warn("recorder write failed, retrying",
			slog.Int(keyEvents, len(events)), slog.String(keyFirstEventID, events[0].ID),
			slog.Int(keyAttempt, attempt), slog.Duration(keyBackoff, backoff), slog.Any(keyError, err))
		if !sleep(ctx, backoff) {
			return attempt, err
		}
		backoff = min(2*backoff, maxRetryBackoff)
	}
}

// append makes one Append call bounded by WriteTimeout.
func (f *flusher) append(ctx context.Context, events []audit.Event) (store.Appended, error) {
	ctx, cancel := context.WithTimeout(ctx, f.opts.WriteTimeout)
	defer cancel()
	return f.w.Append(ctx, events)
}

// retryable reports whether a failed Append may succeed with the same
// events. A store that rejects an event as invalid, or that is closed, will
// do the same again.
func retryable(err error) bool {
	return !errors.Is(err, audit.ErrInvalidValue) && !errors.Is(err, store.ErrClosed)
}

// sleep waits for d and reports false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()

	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// lose counts events as lost, logs them and reports them to OnError.
func (f *flusher) lose(ctx context.Context, events []audit.Event, attempts int, err error) error {
	lostErr := &LostError{Events: len(events), Attempts: attempts, FirstEventID: events[0].ID, Err: err}
	f.r.counters.lost.Add(uint64(len(events)))
	if ctx.Err() != nil {
		// Close gave up on this batch, so it counts toward the number that
		// Close reports.
		f.r.abandoned.Add(uint64(len(events)))
	}

	f.r.log.Error("recorder lost a batch",
		slog.Int(keyEvents, len(events)), slog.String(keyFirstEventID, events[0].ID),
		slog.Int(keyAttempts, attempts), slog.Any(keyError, err))
	if f.opts.OnError != nil {
		f.opts.OnError(lostErr)
	}
	return lostErr
}
