package revocation

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// Cursor is a position in a Source's sequence of revocations. Only the
// Source that returned it can read it. The zero Cursor is the start.
type Cursor string

// Source returns revoked events in the order it stored them.
//
// Revocations returns events stored after the position after, at most a
// page of them, and the cursor of the last one returned. It returns no
// events and after itself when there is nothing new. It must not return an
// event twice for one sequence of cursors, although returning one again
// does no harm.
//
// A Source pages by the order in which it stored events, not by event
// time: an import of an old revocation would land behind a cursor on event
// time and never be read. StoreSource reads the tokentrail store that way.
type Source interface {
	Revocations(ctx context.Context, after Cursor) ([]audit.Event, Cursor, error)
}

// LongPollSource is a Source whose Revocations can hold a call open until a
// revocation is stored, such as an HTTPSource with a Wait. A Refresher
// counts its Set current while such a call is held, because the Source
// would return a new revocation at once. It counts an empty result as a
// refresh at the time the call returned.
type LongPollSource interface {
	Source

	// LongPollWait returns how long a call of Revocations with cursor
	// after may be held before it returns no events, or 0 when the call
	// returns at once.
	LongPollWait(after Cursor) time.Duration
}

// LongPollGrace is how long a Refresher waits for a long poll past its
// wait before it counts the Source as hung, which covers the time the
// response takes to arrive. A held call keeps its Set current only until
// its wait plus LongPollGrace have passed, and is canceled then.
const LongPollGrace = 5 * time.Second

// MemorySource is a Source that keeps revoked events in memory, for tests
// and for a service that learns of revocations by other means. The zero
// MemorySource is empty and returns pages of DefaultPageSize events. It is
// safe for concurrent use.
type MemorySource struct {
	// PageSize is the maximum number of events one call returns; 0 means
	// DefaultPageSize.
	PageSize int

	mu     sync.Mutex
	events []audit.Event
}

// DefaultPageSize is the page size of a MemorySource whose PageSize is 0.
const DefaultPageSize = 1000

// Add appends events of kind revoked and skips the others.
func (m *MemorySource) Add(events ...audit.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range events {
		if e.Kind == audit.KindRevoked {
			m.events = append(m.events, e)
		}
	}
}

// Revocations returns up to PageSize events added after the cursor, which is
// the count of events already read. It fails for a cursor it did not return.
func (m *MemorySource) Revocations(ctx context.Context, after Cursor) ([]audit.Event, Cursor, error) {
	if err := ctx.Err(); err != nil {
		return nil, after, err
	}

	start := 0
	if after != "" {
		n, err := strconv.Atoi(string(after))
		if err != nil || n < 0 {
			return nil, after, fmt.Errorf("memory source: invalid cursor %q: pass a cursor that this source returned", after)
		}
		start = n
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if start > len(m.events) {
		return nil, after, fmt.Errorf("memory source: cursor %q is past the %d events held: pass a cursor that this source returned", after, len(m.events))
	}
	size := m.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	end := min(start+size, len(m.events))
	if end == start {
		return nil, after, nil
	}
	page := make([]audit.Event, end-start)
	copy(page, m.events[start:end])
	return page, Cursor(strconv.Itoa(end)), nil
}
