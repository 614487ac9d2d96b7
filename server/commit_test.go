package server

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

func openTestStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "commit.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestGroupCommitInvalidBatchAlone(t *testing.T) {
	db := openTestStore(t)
	g := &groupCommit{store: db, single: db}
	bad := usedEvent("tok-2", "bob", 1)
	bad.TokenID = "" // names no token, which the store rejects
	group := []*pendingAppend{
		{events: []audit.Event{usedEvent("tok-1", "alice", 0)}, done: make(chan struct{})},
		{events: []audit.Event{bad}, done: make(chan struct{})},
	}
	g.write(group)

	if group[0].err != nil || group[0].result.Inserted != 1 {
		t.Errorf("good batch = %+v, %v, want 1 inserted", group[0].result, group[0].err)
	}
	if !errors.Is(group[1].err, audit.ErrInvalidValue) {
		t.Errorf("bad batch error = %v, want one wrapping audit.ErrInvalidValue", group[1].err)
	}
}

func TestGroupCommitConcurrentCounts(t *testing.T) {
	db := openTestStore(t)
	g := startGroupCommit(db, db, 4)
	var wg sync.WaitGroup
	results := make([]int, 20)
	for i := range results {
		wg.Go(func() {
			// Each request sends its own event and one that all share.
			events := []audit.Event{usedEvent("tok-1", "alice", 100+i), usedEvent("tok-1", "alice", 0)}
			res, err := g.Append(context.Background(), events)
			if err != nil {
				t.Error(err)
			}
			results[i] = res.Inserted
		})
	}
	wg.Wait()
	if err := g.close(context.Background()); err != nil {
		t.Fatal(err)
	}

	total := 0
	for _, n := range results {
		total += n
	}
	if total != 21 {
		t.Errorf("inserted %d events over the requests, want 21: 20 own and the shared one once", total)
	}
	if n, err := db.Count(context.Background()); err != nil || n != 21 {
		t.Errorf("Count = %d, %v, want 21", n, err)
	}
	if _, err := g.Append(context.Background(), []audit.Event{usedEvent("tok-1", "alice", 1)}); !errors.Is(err, errClosing) {
		t.Errorf("Append after close = %v, want errClosing", err)
	}
}
