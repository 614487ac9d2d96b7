package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// BatchAppender stores several batches in one transaction and counts each;
// *sqlite.Store implements it. When the Store implements it, the server
// writes the batches of concurrent ingest requests together.
type BatchAppender interface {
	AppendBatches(ctx context.Context, batches [][]audit.Event) ([]store.Appended, error)
}

// maxGroupEvents bounds the events that one group commit writes. The
// SQLite import benchmark found batches of about 50,000 the fastest.
const maxGroupEvents = 50_000

// groupCommit is the Appender of ingest requests. One goroutine takes the
// batches that requests queue while the previous transaction runs, and
// writes them in one transaction: under load, each transaction serves many
// requests. A request waits for its own counts.
type groupCommit struct {
	store   BatchAppender
	single  Store // for the one-by-one retry of a group with an invalid event
	queue   chan *pendingAppend
	waiting atomic.Int64 // batches in queue

	// mu guards closed. Append holds it for reading while it sends on
	// queue, so that close, which holds it for writing, never closes the
	// channel under a send.
	mu     sync.RWMutex
	closed bool

	done chan struct{} // closed when run returns
}

type pendingAppend struct {
	events []audit.Event
	result store.Appended
	err    error
	done   chan struct{}
}

// errClosing is returned to ingest requests that arrive while the server
// stops.
var errClosing = &apiError{code: CodeUnavailable, message: "the server is stopping; retry on another instance or later"}

func startGroupCommit(st Store, batches BatchAppender, queue int) *groupCommit {
	g := &groupCommit{store: batches, single: st, queue: make(chan *pendingAppend, queue), done: make(chan struct{})}
	go g.run()
	return g
}

// Append queues events for the next group and waits for its result, or
// for ctx to end. Events whose request ended are still written when their
// group runs, and a retry of the request finds them stored.
func (g *groupCommit) Append(ctx context.Context, events []audit.Event) (store.Appended, error) {
	p := &pendingAppend{events: events, done: make(chan struct{})}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return store.Appended{}, errClosing
	}
	// A full queue blocks the request until the writer takes a group,
	// which it does without the lock.
	g.waiting.Add(1)
	select {
	case g.queue <- p:
	case <-ctx.Done():
		g.waiting.Add(-1)
		g.mu.RUnlock()
		return store.Appended{}, ctx.Err()
	}
	g.mu.RUnlock()

	select {
	case <-p.done:
		return p.result, p.err
	case <-ctx.Done():
		return store.Appended{}, ctx.Err()
	}
}

func (g *groupCommit) depth() int64 { return g.waiting.Load() }

func (g *groupCommit) run() {
	defer close(g.done)
	for first := range g.queue {
		group := []*pendingAppend{first}
		events := len(first.events)
	collect:
		for events < maxGroupEvents {
			select {
			case p, ok := <-g.queue:
				if !ok {
					break collect
				}
				group = append(group, p)
				events += len(p.events)
			default:
				break collect
			}
		}
		g.waiting.Add(-int64(len(group)))
		g.write(group)
	}
}

// write stores a group. When one of its events is invalid, the store
// rejects the whole transaction, so each batch is then written on its own
// and only the request that sent the invalid event gets the error. Package
// ingest handles that error by writing its events one by one.
func (g *groupCommit) write(group []*pendingAppend) {
	batches := make([][]audit.Event, len(group))
	for i, p := range group {
		batches[i] = p.events
	}
	// The group serves several requests, so no single request's context
	// may cancel it; each request bounds its own wait.
	ctx, cancel := context.WithTimeout(context.Background(), DefaultRequestTimeout)
	defer cancel()
	results, err := g.store.AppendBatches(ctx, batches)
	switch {
	case err == nil:
		for i, p := range group {
			p.result = results[i]
			close(p.done)
		}
	case len(group) > 1 && errors.Is(err, audit.ErrInvalidValue):
		for _, p := range group {
			p.result, p.err = g.single.Append(ctx, p.events)
			close(p.done)
		}
	default:
		for _, p := range group {
			p.err = fmt.Errorf("append %d batches: %w", len(group), err)
			close(p.done)
		}
	}
}

// close stops taking batches and waits until the queued ones are written,
// or ctx ends.
func (g *groupCommit) close(ctx context.Context) error {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.queue)
	}
	g.mu.Unlock()

	select {
	case <-g.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
