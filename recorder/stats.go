package recorder

import "sync/atomic"

// Stats counts what a Recorder did since New. Every accepted event ends in
// exactly one of Written, Duplicates, Invalid and Lost, or is still Queued,
// as long as the Writer's store.Appended counts add up to the batch it was
// given.
type Stats struct {
	Accepted          uint64 // events Record put in the queue
	Dropped           uint64 // events Record rejected because the queue was full
	DroppedAfterClose uint64 // events Record rejected because Close had been called
	Written           uint64 // events the Writer stored (store.Appended.Inserted)
	Duplicates        uint64 // events the Writer skipped because their ID was already stored
	Invalid           uint64 // events discarded because audit.Event.Validate rejected them
	WriteErrors       uint64 // failed Append calls, each retry included
	Lost              uint64 // events of batches that failed every attempt, or left when a Close context ended
	Queued            uint64 // accepted events not yet counted in any of the above
}

// counters are the atomic sources of Stats, except Accepted, which the
// queue counts under its lock. Callers of Record write the first group and
// the flusher goroutine writes the second. The padding keeps
// the two groups on different cache lines, so that the flusher's updates do
// not slow Record down.
type counters struct {
	dropped           atomic.Uint64
	droppedAfterClose atomic.Uint64
	closedWarned      atomic.Bool
	_                 [64]byte

	written     atomic.Uint64
	duplicates  atomic.Uint64
	invalid     atomic.Uint64
	writeErrors atomic.Uint64
	lost        atomic.Uint64
	// settled counts accepted events that reached a final outcome: the sum
	// of the batch lengths handed to Written, Duplicates, Invalid and Lost.
	settled atomic.Uint64
}

// Stats returns the counters. Each counter is read atomically, but the set
// is not one snapshot: while events flow, an event may be seen in Queued and
// in Written at once for a moment. The counts are exact once Close has
// returned, or once Flush has returned while no Record call was running.
func (r *Recorder) Stats() Stats {
	c := &r.counters
	settled := c.settled.Load()
	r.queue.mu.Lock()
	accepted := r.queue.accepted
	r.queue.mu.Unlock()
	s := Stats{
		Accepted:          accepted,
		Dropped:           c.dropped.Load(),
		DroppedAfterClose: c.droppedAfterClose.Load(),
		Written:           c.written.Load(),
		Duplicates:        c.duplicates.Load(),
		Invalid:           c.invalid.Load(),
		WriteErrors:       c.writeErrors.Load(),
		Lost:              c.lost.Load(),
	}
	// settled is read before accepted, and an event is counted as
	// accepted when it is queued, so settled <= accepted here.
	if s.Accepted > settled {
		s.Queued = s.Accepted - settled
	}
	return s
}
