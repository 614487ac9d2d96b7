package recorder

import (
	"sync"

	"github.com/tokentrail/tokentrail/audit"
)

// queue is the bounded FIFO between Record and the flusher goroutine. It
// keeps events in chunks of up to chunkSize events, preallocated by
// newQueue. Record copies an event into the open chunk, and the flusher
// takes whole chunks and writes each one as a batch. So an event is copied
// once on its way in, and Record wakes the flusher only when a chunk fills,
// not once per event as a channel receive would.
//
// The flusher holds at most one taken chunk at a time, and events in it no
// longer count toward the limit. So, as with a channel of size limit and a
// batch beside it, at most limit events wait plus one batch in the Writer.
type queue struct {
	mu sync.Mutex

	closed  bool
	limit   int           // most events the queue holds; Options.QueueSize
	len     int           // events in open and in ready
	open    []audit.Event // chunk Record appends to; nil until the next Record
	ready   chunkRing     // chunks waiting for the flusher, oldest first
	free    [][]audit.Event
	waiters sync.WaitGroup // Record calls waiting for room under Block

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
	q := &queue{
		limit:     limit,
		ready:     chunkRing{chunks: make([][]audit.Event, chunks)},
		free:      make([][]audit.Event, 0, chunks),
		chunkSize: chunkSize,
		wake:      make(chan struct{}, 1),
	}
	for i := range chunks {
		q.free = append(q.free, events[i*chunkSize:i*chunkSize:(i+1)*chunkSize])
	}
	return q
}

// pushLocked appends a copy of *e to the open chunk and wakes the flusher
// if that fills it. The caller holds mu and has checked that the queue has
// room.
func (q *queue) pushLocked(e *audit.Event) {
	if q.open == nil {
		last := len(q.free) - 1
		q.open = q.free[last]
		q.free = q.free[:last]
	}
	n := len(q.open)
	q.open = q.open[:n+1]
	q.open[n] = *e
	q.len++

	if n+1 == q.chunkSize {
		q.ready.push(q.open)
		q.open = nil
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

	if len(q.open) > 0 {
		q.ready.push(q.open)
		q.open = nil
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
// for room. It returns nil when no chunk is ready. The caller returns the
// chunk with release once written.
func (q *queue) take() []audit.Event {
	q.mu.Lock()
	defer q.mu.Unlock()

	if q.ready.len == 0 {
		return nil
	}
	chunk := q.ready.pop()
	q.len -= len(chunk)
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	return chunk
}

// release returns a taken chunk for reuse.
func (q *queue) release(chunk []audit.Event) {
	clear(chunk) // drops the strings of written events for the garbage collector
	q.mu.Lock()
	q.free = append(q.free, chunk[:0])
	q.mu.Unlock()
}

// discard empties the queue and returns how many events it held. Close
// uses it when its context ends before every event was written.
func (q *queue) discard() int {
	q.mu.Lock()
	defer q.mu.Unlock()

	n := q.len
	if q.open != nil {
		q.free = append(q.free, q.open[:0])
		q.open = nil
	}
	for q.ready.len > 0 {
		q.free = append(q.free, q.ready.pop()[:0])
	}
	q.len = 0
	return n
}

// chunkRing is a FIFO of chunks on a fixed array, so that queuing a chunk
// never allocates.
type chunkRing struct {
	chunks [][]audit.Event
	head   int // index of the oldest chunk
	len    int
}

func (r *chunkRing) push(chunk []audit.Event) {
	r.chunks[(r.head+r.len)%len(r.chunks)] = chunk
	r.len++
}

func (r *chunkRing) pop() []audit.Event {
	chunk := r.chunks[r.head]
	r.chunks[r.head] = nil
	r.head = (r.head + 1) % len(r.chunks)
	r.len--
	return chunk
}
