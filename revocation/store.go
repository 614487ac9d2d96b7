package revocation

import (
	"context"
	"fmt"
	"strconv"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// StoreSource is the Source that reads revocations from a tokentrail store,
// such as *sqlite.Store, in the order they were stored. Its Cursor is the
// store position of the last event read, in decimal. A StoreSource is safe
// for concurrent use if its store is.
type StoreSource struct {
	store    store.RevocationStore
	pageSize int
}

// NewStoreSource returns a Source over st that reads pages of pageSize
// events, or DefaultPageSize when pageSize is 0 or less. It panics if st is
// nil.
func NewStoreSource(st store.RevocationStore, pageSize int) *StoreSource {
	if st == nil {
		panic("revocation: NewStoreSource called with a nil store")
	}
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	return &StoreSource{store: st, pageSize: pageSize}
}

// Revocations returns up to a page of revoked events stored after the
// cursor. It fails for a cursor that is not a position this Source
// returned, and wraps the store's errors.
func (s *StoreSource) Revocations(ctx context.Context, after Cursor) ([]audit.Event, Cursor, error) {
	var seq int64
	if after != "" {
		n, err := strconv.ParseInt(string(after), 10, 64)
		if err != nil || n < 0 {
			return nil, after, fmt.Errorf("store source: invalid cursor %q: pass a cursor that this source returned", after)
		}
		seq = n
	}

	events, last, err := s.store.Revocations(ctx, seq, s.pageSize)
	if err != nil {
		return nil, after, err
	}
	if len(events) == 0 {
		return nil, after, nil
	}
	return events, Cursor(strconv.FormatInt(last, 10)), nil
}
