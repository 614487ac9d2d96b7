package recorder

import "github.com/tokentrail/tokentrail/audit"

// RequestContext is the context of the request behind an event, as the
// request carried it, left for the flusher goroutine to parse. A middleware
// that passes it to RecordFunc keeps the parsing of addresses and headers
// off the request path. The zero RequestContext leaves nothing to do.
type RequestContext struct {
	RemoteAddr  string // the peer's "host:port", as http.Request.RemoteAddr
	Forwarded   string // the value of the forwarding header that trusted proxies write, if any
	Traceparent string // the W3C traceparent header, if any

	// Complete sets the fields of e that it derives from rc, such as IP
	// and TraceID. The flusher goroutine runs it before it stamps and
	// validates e. It must not block and must not call the Recorder. A
	// panic in it is recovered and logged, and e is written as far as it
	// got. nil leaves e as fill wrote it.
	Complete func(e *audit.Event, rc *RequestContext)
}

// RecordFunc queues the event that fill writes, as Record does, but lets
// fill write it in place in the queue, so that the event is not copied on
// its way in. fill receives a zero Event and a zero RequestContext, and
// runs only when the event is accepted. A zero Time is set to the clock's
// current time after fill returns.
//
// fill runs while the queue is locked, so it must only set fields: it must
// not block, panic or call the Recorder. RecordFunc returns false, and
// counts the drop, in the cases where Record does.
func (r *Recorder) RecordFunc(fill func(e *audit.Event, rc *RequestContext)) bool {
	q := r.queue
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		r.rejectAfterClose()
		return false
	}
	if !q.hasRoomLocked() && (r.overflow != Block || !r.waitForRoomLocked()) {
		q.mu.Unlock()
		r.counters.dropped.Add(1)
		return false
	}
	e, rc := q.reserveLocked()
	fill(e, rc)
	if e.Time.IsZero() {
		e.Time = r.clock().UTC()
	}
	q.commitLocked()
	q.mu.Unlock()
	return true
}
