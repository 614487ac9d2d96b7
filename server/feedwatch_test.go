package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// countingStore is a SQLite store that counts the reads of the revocation
// feed and of the last revocation position.
type countingStore struct {
	*sqlite.Store
	revocationReads atomic.Int64
	lastSeqReads    atomic.Int64
	lastSeqInFlight atomic.Int64
	maxInFlight     atomic.Int64 // the most LastRevocationSeq calls that ran at once
}

func (c *countingStore) Revocations(ctx context.Context, afterSeq int64, limit int) ([]audit.Event, int64, error) {
	c.revocationReads.Add(1)
	return c.Store.Revocations(ctx, afterSeq, limit)
}

func (c *countingStore) LastRevocationSeq(ctx context.Context) (int64, error) {
	n := c.lastSeqInFlight.Add(1)
	defer c.lastSeqInFlight.Add(-1)
	for m := c.maxInFlight.Load(); n > m && !c.maxInFlight.CompareAndSwap(m, n); m = c.maxInFlight.Load() {
	}
	c.lastSeqReads.Add(1)
	return c.Store.LastRevocationSeq(ctx)
}

// pollResult is the outcome of a long-poll that startPoll sent.
type pollResult struct {
	status int
	page   feedPage
	err    error
}

// startPoll sends a revocation long-poll after position 0 with the ETag
// of that position and returns the channel of its result. Canceling ctx
// ends it.
func startPoll(ctx context.Context, ts *testServer, wait string) <-chan pollResult {
	result := make(chan pollResult, 1)
	go func() {
		var res pollResult
		defer func() { result <- res }()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/api/v1/revocations?after=0&wait="+wait, nil)
		if err != nil {
			res.err = err
			return
		}
		req.Header.Set("Authorization", "Bearer "+ts.keys.read)
		req.Header.Set("If-None-Match", `"0"`)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res.err = err
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			res.err = err
			return
		}
		res.status = resp.StatusCode
		if resp.StatusCode == http.StatusOK {
			res.err = json.Unmarshal(data, &res.page)
		}
	}()
	return result
}

// waitFor calls cond until it returns true, and fails the test when it
// has not after a bound far above what the condition needs.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for range 2000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("gave up waiting for %s", what)
}

// waitersOf returns the number of long-polls that hold the watcher.
func waitersOf(w *feedWatcher) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.waiters
}

// noRevocationEnd is a Store that is no store.RevocationEnd, so the
// server has no watcher.
type noRevocationEnd struct{ Store }

// TestRevocationFeedWakesOnOtherProcess checks that a revocation that a
// second handle of the store writes, as tokentrail revoke does, ends a
// held long-poll with that revocation before the poll's wait ends. It
// checks the watcher, and the recheck of each request that serves a Store
// without store.RevocationEnd.
func TestRevocationFeedWakesOnOtherProcess(t *testing.T) {
	for _, tc := range []struct {
		name    string
		watched bool
	}{
		{"watcher", true},
		{"recheck per request", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "server.db")
			var counted *countingStore
			ts := newTestServerAt(t, path, func(c *Config) {
				counted = &countingStore{Store: c.Store.(*sqlite.Store)}
				c.Store = counted
				if !tc.watched {
					c.Store = noRevocationEnd{counted}
				}
			})
			if got := ts.watcher != nil; got != tc.watched {
				t.Fatalf("server has a watcher = %v, want %v", got, tc.watched)
			}
			other, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()

			result := startPoll(context.Background(), ts, "30s")
			if tc.watched {
				waitFor(t, "the long-poll to be held", func() bool { return waitersOf(ts.watcher) == 1 })
			} else {
				waitFor(t, "the long-poll to read the feed again", func() bool { return counted.revocationReads.Load() >= 2 })
			}
			if _, err := revocation.Record(context.Background(), other, revocation.TokenEvent("jti-other", "", now), true); err != nil {
				t.Fatal(err)
			}

			res := <-result // the poll ends at the latest when its 30 s wait does
			if res.err != nil {
				t.Fatal(res.err)
			}
			if res.status != http.StatusOK || len(res.page.Revocations) != 1 {
				t.Fatalf("held long-poll = %d with %d revocations, want 200 with the one written by the second handle", res.status, len(res.page.Revocations))
			}
			if got := res.page.Revocations[0].TokenID; got != "jti-other" {
				t.Errorf("revocation of token %q, want jti-other", got)
			}
		})
	}
}

// TestRevocationFeedWatcherSharesReads checks that many held long-polls
// share one reader of the last revocation position, which reads the
// store one call at a time, and that the reader stops when they leave.
func TestRevocationFeedWatcherSharesReads(t *testing.T) {
	var counted *countingStore
	ts := newTestServer(t, func(c *Config) {
		counted = &countingStore{Store: c.Store.(*sqlite.Store)}
		c.Store = counted
	})
	const polls = 40

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	results := make([]<-chan pollResult, polls)
	for i := range results {
		results[i] = startPoll(ctx, ts, "60s")
	}
	waitFor(t, fmt.Sprintf("%d long-polls to be held", polls), func() bool { return waitersOf(ts.watcher) == polls })
	start := counted.lastSeqReads.Load()
	waitFor(t, "3 reads of the last revocation position", func() bool { return counted.lastSeqReads.Load() >= start+3 })

	// Each poll read the feed once before it was held, and at most once
	// more when the watcher's first read woke it. A poll that read the
	// store itself every second would have read it 3 times more by now.
	if got := counted.revocationReads.Load(); got > 2*polls {
		t.Errorf("%d held long-polls read the feed %d times, want at most %d", polls, got, 2*polls)
	}
	if got := counted.maxInFlight.Load(); got != 1 {
		t.Errorf("at most %d reads of the last revocation position ran at once, want 1", got)
	}

	cancel()
	var wg sync.WaitGroup
	for _, result := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := <-result; !errors.Is(res.err, context.Canceled) {
				t.Errorf("canceled long-poll = %d, %v, want context.Canceled", res.status, res.err)
			}
		}()
	}
	wg.Wait()
	waitFor(t, "the long-polls to leave", func() bool { return waitersOf(ts.watcher) == 0 })
	waitFor(t, "the watcher to stop", ts.watcher.idle)
}

// lastSeqFunc is a store.RevocationEnd that calls a function.
type lastSeqFunc func(ctx context.Context) (int64, error)

func (f lastSeqFunc) LastRevocationSeq(ctx context.Context) (int64, error) { return f(ctx) }

// TestFeedWatcherClose checks that close stops the watcher while a waiter
// still holds it, and that no later hold starts it again.
func TestFeedWatcherClose(t *testing.T) {
	reads := make(chan struct{}, 100)
	w := newFeedWatcher(lastSeqFunc(func(ctx context.Context) (int64, error) {
		reads <- struct{}{}
		return 7, nil
	}), time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))

	woken := w.wait()
	release := w.hold()
	<-reads
	<-woken // the first read wakes the waiters

	if err := w.close(context.Background()); err != nil {
		t.Fatalf("close() = %v", err)
	}
	if !w.idle() {
		t.Fatal("watcher runs after close")
	}
	release()
	defer w.hold()()
	if !w.idle() {
		t.Error("hold after close started the watcher")
	}
	if err := w.close(context.Background()); err != nil {
		t.Errorf("second close() = %v", err)
	}
}
