package recorder

import (
	"sync"

	"github.com/tokentrail/tokentrail/audit"
)

// queue is the bounded FIFO between Record and the flusher goroutine. It
// keeps events in chunks of up to chunkSize events, preallocated by
// newQueue. Record copies an event into the open chunk, RecordFunc writes
// one there in place, and the flusher takes whole chunks and writes each
// one as a batch. So an event is copied at most once on its way in, and
// Record wakes the flusher only when a chunk fills, not once per event as a
// channel receive would.
//
// The flusher holds at most one taken chunk at a time, and events in it no
// longer count toward the limit. So, as with a channel of size limit and a
// batch beside it, at most limit events wait plus one batch in the Writer.
type queue struct {
	mu sync.Mutex

	closed   bool
	limit    int            // most events the queue holds; Options.QueueSize
	len      int            // events in open and in ready
	accepted uint64         // events ever queued: Stats.Accepted, counted under mu to spare Record an atomic add
	open     chunk          // chunk Record appends to; its events are nil until the next Record
	ready    chunkRing      // chunks waiting for the flusher, oldest first
	free     []chunk        // chunks whose slots are all zero
	waiters  sync.WaitGroup // Record calls waiting for room under Block

	// room, when not nil, is closed and cleared by the next take, which
	// frees room. A Record that waits for room creates it.
	room chan struct{}

	chunkSize int
	// wake signals the flusher that a chunk filled. A send that finds it
	// full is dropped, because the flusher takes every ready chunk once
	// it wakes.
	wake chan struct{}
}

// newQueue returns an empty queue of limit events in chunks of at most
// chunkSize events.
func newQueue(limit, chunkSize int) *queue {
	chunkSize = min(chunkSize, limit)
	// Record needs a free chunk whenever the queue has room. The chunks in
	// use are the open one, the ready ones and the one the flusher writes.
	// Every ready chunk is full except at most one, which Flush or a tick
	// closed early. While the queue has room, the full ones hold fewer
	// than limit events, so there are at most ceil(limit/chunkSize)-1 of
	// them. With the partial, open and written chunks that makes
	// ceil(limit/chunkSize)+2.
	chunks := (limit+chunkSize-1)/chunkSize + 2
	events := make([]audit.Event, chunks*chunkSize)
	requests := make([]RequestContext, chunks*chunkSize)
	q := &queue{
		limit:     limit,
		ready:     chunkRing{chunks: make([]chunk, chunks)},
		free:      make([]chunk, 0, chunks),
		chunkSize: chunkSize,
		wake:      make(chan struct{}, 1),
	}
	for i := range chunks {
		lo, hi := i*chunkSize, (i+1)*chunkSize
		q.free = append(q.free, chunk{events: events[lo:lo:hi], requests: requests[lo:hi:hi]})
	}
	return q
}

// chunk is a run of queue slots. requests[i] is the request context that
// RecordFunc left beside events[i] for the flusher to complete; it is zero
// for an event that Record queued.
type chunk struct {
	events   []audit.Event
	requests []RequestContext // len(requests) is the chunk's capacity
}

// clear zeroes every slot of c and empties it. It drops the strings of
// written events for the garbage collector, and RecordFunc relies on it,
// since fill writes only the fields it sets.
func (c chunk) clear() chunk {
	clear(c.events)
	clear(c.requests[:len(c.events)])
	c.events = c.events[:0]
	return c
}

// pushLocked appends a copy of *e to the open chunk and wakes the flusher
// if that fills it. The caller holds mu and has checked that the queue has
// room.
func (q *queue) pushLocked(e *audit.Event) {
	slot, _ := q.reserveLocked()
	*slot = *e
	q.commitLocked()
}

// reserveLocked returns the next slot of the open chunk, which is zero,
// and its request context. The caller holds mu, has checked that the queue
// has room, and calls commitLocked before it releases mu.
func (q *queue) reserveLocked() (*audit.Event, *RequestContext) {
	if q.open.events == nil {
		last := len(q.free) - 1
		q.open = q.free[last]
		q.free = q.free[:last]
	}
	n := len(q.open.events)
	q.open.events = q.open.events[:n+1]
	return &q.open.events[n], &q.open.requests[n]
}

// commitLocked counts the slot that reserveLocked returned as queued, and
// wakes the flusher if it filled the open chunk. The caller holds mu.
func (q *queue) commitLocked() {
	q.len++
	q.accepted++
	if len(q.open.events) == q.chunkSize {
		q.ready.push(q.open)
		q.open = chunk{}
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// hasRoomLocked reports whether a push would stay within the limit. The
// caller holds mu.
func (q *queue) hasRoomLocked() bool {
	return q.len < q.limit
}

// roomLocked returns a channel that is closed once the flusher takes a
// chunk. The caller holds mu.
func (q *queue) roomLocked() <-chan struct{} {
	if q.room == nil {
		q.room = make(chan struct{})
	}
	return q.room
}

// closeOpen moves the open chunk, if it holds events, behind the ready
// ones, and returns how many chunks are ready. Flush uses it to take every
// event queued before the call, and no later one.
func (q *queue) closeOpen() int {
	q.mu.Lock()
	defer q.mu.Unlock()

	if len(q.open.events) > 0 {
		q.ready.push(q.open)
		q.open = chunk{}
	}
	return q.ready.len
}

// readyChunks returns how many chunks are ready.
func (q *queue) readyChunks() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.ready.len
}

// take removes the oldest ready chunk and wakes the Record calls that wait
// for room. It returns false when no chunk is ready. The caller returns the
// chunk with release once written.
func (q *queue) take() (chunk, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()

	if q.ready.len == 0 {
		return chunk{}, false
	}
	c := q.ready.pop()
	q.len -= len(c.events)
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	return c, true
}

// release returns a taken chunk for reuse.
func (q *queue) release(c chunk) {
	c = c.clear()
	q.mu.Lock()
	q.free = append(q.free, c)
	q.mu.Unlock()
}

// discard empties the queue and returns how many events it held. Close
// uses it when its context ends before every event was written.
func (q *queue) discard() int {
	q.mu.Lock()
	defer q.mu.Unlock()

	n := q.len
	if q.open.events != nil {
		q.free = append(q.free, q.open.clear())
		q.open = chunk{}
	}
	for q.ready.len > 0 {
		q.free = append(q.free, q.ready.pop().clear())
	}
	q.len = 0
	return n
}

// chunkRing is a FIFO of chunks on a fixed array, so that queuing a chunk
// never allocates.
type chunkRing struct {
	chunks []chunk
	head   int // index of the oldest chunk
	len    int
}

func (r *chunkRing) push(c chunk) {
	r.chunks[(r.head+r.len)%len(r.chunks)] = c
	r.len++
}

func (r *chunkRing) pop() chunk {
	c := r.chunks[r.head]
	r.chunks[r.head] = chunk{}
	r.head = (r.head + 1) % len(r.chunks)
	r.len--
	return c
}
