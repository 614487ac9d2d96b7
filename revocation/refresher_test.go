package revocation_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/revocation"
)

// fakeClock returns a time that the test sets.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// runner starts a Refresher driven by a tick channel, and lets the test
// wait for each poll to finish.
type runner struct {
	tick   chan time.Time
	polled chan error
	cancel context.CancelFunc
	done   chan error
}

func startRefresher(t *testing.T, set *revocation.Set, src revocation.Source, opts revocation.RefresherOptions) *runner {
	t.Helper()
	r := &runner{tick: make(chan time.Time), polled: make(chan error, 1), done: make(chan error, 1)}
	ref := revocation.NewTestRefresher(set, src, opts, r.tick, func(err error) { r.polled <- err })
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- ref.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run() = %v, want context.Canceled", err)
		}
	})
	return r
}

// poll fires one tick and waits until the poll it starts has finished.
func (r *runner) poll(t *testing.T) error {
	t.Helper()
	r.tick <- time.Time{}
	return <-r.polled
}

// TestRefresherPropagationBound checks the bound that the package states: a
// revocation added to the Source is in the Set once the poll at the next
// tick has returned, which is at most Interval plus one poll after it was
// added.
func TestRefresherPropagationBound(t *testing.T) {
	clock := &fakeClock{now: t0}
	src := &revocation.MemorySource{}
	var set revocation.Set
	r := startRefresher(t, &set, src, revocation.RefresherOptions{Clock: clock.Now, Logger: quietLogger()})

	if err := <-r.polled; err != nil {
		t.Fatalf("first poll = %v, want nil", err)
	}
	if got := set.Refreshed(); !got.Equal(t0) {
		t.Fatalf("Refreshed() after the first poll = %v, want %v", got, t0)
	}

	src.Add(revokedToken("jti-stolen"))
	if revoked, _ := set.Check(revocation.Token{TokenID: "jti-stolen"}); revoked {
		t.Fatal("Check() = true before any poll ran after the Add, want false (the test would prove nothing)")
	}

	next := t0.Add(revocation.DefaultInterval)
	clock.Set(next)
	if err := r.poll(t); err != nil {
		t.Fatalf("poll = %v, want nil", err)
	}
	if revoked, reason := set.Check(revocation.Token{TokenID: "jti-stolen"}); !revoked || reason != revocation.ByToken {
		t.Errorf("Check() after one tick = %v, %v, want true, token", revoked, reason)
	}
	if got := set.Refreshed(); !got.Equal(next) {
		t.Errorf("Refreshed() = %v, want %v", got, next)
	}
}

func TestRefresherReadsEveryPage(t *testing.T) {
	src := &revocation.MemorySource{PageSize: 7}
	for i := range 100 {
		src.Add(revokedToken(fmt.Sprintf("jti-%d", i)))
	}
	var set revocation.Set
	ref := revocation.NewRefresher(&set, src, revocation.RefresherOptions{Logger: quietLogger()})

	if err := ref.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh() = %v, want nil", err)
	}
	for _, id := range []string{"jti-0", "jti-50", "jti-99"} {
		if revoked, _ := set.Check(revocation.Token{TokenID: id}); !revoked {
			t.Errorf("Check(%s) = false after one Refresh over 15 pages, want true", id)
		}
	}
}

// flakySource fails while failing is set, and otherwise reads from a
// MemorySource.
type flakySource struct {
	revocation.MemorySource
	mu      sync.Mutex
	failing bool
}

func (f *flakySource) setFailing(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing = v
}

func (f *flakySource) Revocations(ctx context.Context, after revocation.Cursor) ([]audit.Event, revocation.Cursor, error) {
	f.mu.Lock()
	failing := f.failing
	f.mu.Unlock()
	if failing {
		return nil, after, errors.New("database is locked")
	}
	return f.MemorySource.Revocations(ctx, after)
}

func TestRefresherKeepsLastGoodSetOnError(t *testing.T) {
	clock := &fakeClock{now: t0}
	src := &flakySource{}
	src.Add(revokedToken("jti-old"))
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	var set revocation.Set
	r := startRefresher(t, &set, src, revocation.RefresherOptions{Clock: clock.Now, Logger: logger})
	if err := <-r.polled; err != nil {
		t.Fatalf("first poll = %v, want nil", err)
	}

	src.setFailing(true)
	src.Add(revokedToken("jti-new"))
	clock.Set(t0.Add(2 * time.Second))
	if err := r.poll(t); err == nil {
		t.Fatal("poll with a failing source = nil, want an error")
	}
	if revoked, _ := set.Check(revocation.Token{TokenID: "jti-old"}); !revoked {
		t.Error("Check(jti-old) = false after a failed poll, want true: the last good set stays")
	}
	if got := set.Refreshed(); !got.Equal(t0) {
		t.Errorf("Refreshed() after a failed poll = %v, want %v, the last success", got, t0)
	}
	if !set.Stale(t0.Add(5*time.Second), 4*time.Second) {
		t.Error("Stale(5s after the last success, 4s) = false, want true")
	}
	if !strings.Contains(logs.String(), "database is locked") {
		t.Errorf("log = %q, want the failure logged", logs.String())
	}

	src.setFailing(false)
	clock.Set(t0.Add(4 * time.Second))
	if err := r.poll(t); err != nil {
		t.Fatalf("poll after recovery = %v, want nil", err)
	}
	if revoked, _ := set.Check(revocation.Token{TokenID: "jti-new"}); !revoked {
		t.Error("Check(jti-new) = false after recovery, want true")
	}
	if !strings.Contains(logs.String(), "recovered") {
		t.Errorf("log = %q, want the recovery logged", logs.String())
	}
}

// stuckSource returns the same page and cursor forever.
type stuckSource struct{}

func (stuckSource) Revocations(context.Context, revocation.Cursor) ([]audit.Event, revocation.Cursor, error) {
	return []audit.Event{revokedToken("jti-loop")}, "same", nil
}

func TestRefresherStopsOnStuckCursor(t *testing.T) {
	var set revocation.Set
	ref := revocation.NewRefresher(&set, stuckSource{}, revocation.RefresherOptions{Logger: quietLogger()})
	err := ref.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "did not advance") {
		t.Fatalf("Refresh() = %v, want an error saying the cursor did not advance", err)
	}
	if !set.Refreshed().IsZero() {
		t.Error("Refreshed() is set after a failed Refresh, want zero")
	}
}

func TestMemorySourceRejectsForeignCursor(t *testing.T) {
	src := &revocation.MemorySource{}
	for _, c := range []revocation.Cursor{"abc", "-1", "5"} {
		if _, _, err := src.Revocations(context.Background(), c); err == nil {
			t.Errorf("Revocations(cursor %q) = nil error, want an error naming the cursor", c)
		}
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
