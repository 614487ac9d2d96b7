package revocation_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/httpmw"
	"github.com/tokentrail/tokentrail/revocation"
)

// receive returns the next value of c, and fails the test when none comes
// within a minute, a guard against a hang that no passing run comes near.
func receive[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("no %s within a minute", what)
		panic("unreachable")
	}
}

// acceptAll is an httpmw.Recorder that accepts every event.
type acceptAll struct{}

func (acceptAll) Record(audit.Event) bool { return true }

// TestLongPollKeepsSetFresh follows a server with the settings that
// docs/revocation.md and docs/middleware.md give (Wait 25s, Interval 1s,
// Timeout 30s, RevocationMaxAge 10s, fail-closed) and sends a request
// every 5 seconds while the server holds the long poll. Every request gets
// 200, because a held long poll shows that nothing was revoked since.
func TestLongPollKeepsSetFresh(t *testing.T) {
	fs := startFeedServer(t)
	held := make(chan struct{}, 1)
	hold := func(*http.Request) bool { held <- struct{}{}; return true }
	fs.hold.Store(&hold)

	clock := &fakeClock{now: t0}
	src, err := revocation.NewHTTPSource(fs.URL, fs.serviceKey, revocation.HTTPSourceOptions{Wait: 25 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var set revocation.Set
	r := startRefresher(t, &set, src, revocation.RefresherOptions{Interval: time.Second, Timeout: 30 * time.Second, Clock: clock.Now, Logger: quietLogger()})
	if err := receive(t, r.polled, "first poll"); err != nil {
		t.Fatalf("first poll = %v, want nil", err)
	}

	var logs bytes.Buffer
	mw, err := httpmw.New(httpmw.Options{
		Recorder: acceptAll{}, Revocations: &set, RevocationMaxAge: 10 * time.Second, FailClosed: true,
		Claims: func(*http.Request) (httpmw.Claims, bool) { return httpmw.Claims{TokenID: "jti-ok"}, true },
		Clock:  clock.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})))
	defer app.Close()

	// The poll at the next tick is a long poll, which the server holds
	// because nothing is revoked.
	clock.Set(t0.Add(time.Second))
	r.tick <- time.Time{}
	receive(t, held, "long poll")
	for _, at := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 20 * time.Second, 25 * time.Second} {
		clock.Set(t0.Add(at))
		resp, err := http.Get(app.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("request at %v while the server holds the long poll = %d, want 200", at, resp.StatusCode)
		}
	}
	if strings.Contains(logs.String(), "stale") {
		t.Errorf("middleware log = %q, want no stale warning", logs.String())
	}

	// A revocation ends the long poll at once and reaches the Set.
	fs.revoke(t, "jti-stolen")
	if err := receive(t, r.polled, "poll after the revocation"); err != nil {
		t.Fatalf("poll after the revocation = %v, want nil", err)
	}
	if revoked, _ := set.Check(revocation.Token{TokenID: "jti-stolen"}); !revoked {
		t.Error("Check(jti-stolen) = false after the long poll returned, want true")
	}
	if set.Stale(clock.Now(), 10*time.Second) {
		t.Errorf("Stale(%v, 10s) after the long poll returned the revocation = true, want false", clock.Now())
	}
}

// TestLongPollRefreshedAtEnd checks that a long poll that ends with
// nothing new marks the Set refreshed when it ends, not when it started.
func TestLongPollRefreshedAtEnd(t *testing.T) {
	fs := startFeedServer(t)
	clock := &fakeClock{now: t0}
	held := make(chan struct{})
	release := make(chan struct{})
	hold := func(*http.Request) bool {
		held <- struct{}{}
		<-release
		return true
	}
	fs.hold.Store(&hold)

	// The server responds to the long poll with 304 after Wait.
	src, err := revocation.NewHTTPSource(fs.URL, fs.serviceKey, revocation.HTTPSourceOptions{Wait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var set revocation.Set
	r := startRefresher(t, &set, src, revocation.RefresherOptions{Clock: clock.Now, Logger: quietLogger()})
	if err := receive(t, r.polled, "first poll"); err != nil {
		t.Fatalf("first poll = %v, want nil", err)
	}

	r.tick <- time.Time{}
	receive(t, held, "long poll")
	end := t0.Add(20 * time.Second)
	clock.Set(end)
	close(release)
	if err := receive(t, r.polled, "long poll end"); err != nil {
		t.Fatalf("long poll = %v, want nil", err)
	}
	if got := set.Refreshed(); !got.Equal(end) {
		t.Errorf("Refreshed() after a long poll that found nothing new = %v, want %v, its end", got, end)
	}
}

// TestLongPollHungServerMakesSetStale checks the bound on a server that
// accepts a long poll and never responds: the Set turns stale once the
// poll is older than Wait plus LongPollGrace, and a call after a failed
// poll does not keep it current.
func TestLongPollHungServerMakesSetStale(t *testing.T) {
	fs := startFeedServer(t)
	clock := &fakeClock{now: t0}
	held := make(chan struct{}, 1)
	fail := make(chan struct{})
	hold := func(r *http.Request) bool {
		held <- struct{}{}
		select {
		case <-fail:
		case <-r.Context().Done():
		}
		return false
	}
	fs.hold.Store(&hold)

	const wait, maxAge = 25 * time.Second, 10 * time.Second
	src, err := revocation.NewHTTPSource(fs.URL, fs.serviceKey, revocation.HTTPSourceOptions{Wait: wait})
	if err != nil {
		t.Fatal(err)
	}
	var set revocation.Set
	r := startRefresher(t, &set, src, revocation.RefresherOptions{Interval: time.Second, Timeout: 30 * time.Second, Clock: clock.Now, Logger: quietLogger()})
	if err := receive(t, r.polled, "first poll"); err != nil {
		t.Fatalf("first poll = %v, want nil", err)
	}

	r.tick <- time.Time{}
	receive(t, held, "long poll")
	bound := t0.Add(wait + revocation.LongPollGrace)
	if set.Stale(bound, maxAge) {
		t.Errorf("Stale(Wait+LongPollGrace after the held poll started, %v) = true, want false", maxAge)
	}
	if !set.Stale(bound.Add(time.Nanosecond), maxAge) {
		t.Errorf("Stale(just past Wait+LongPollGrace after the held poll started, %v) = false, want true", maxAge)
	}

	// The hung server then fails the poll. The next call does not wait,
	// so no held call keeps the Set current, and the Set is stale from
	// RevocationMaxAge after the last refresh on.
	close(fail)
	if err := receive(t, r.polled, "failed long poll"); err == nil {
		t.Fatal("poll answered 503 = nil error, want an error")
	}
	if wait := src.LongPollWait(""); wait != 0 {
		t.Errorf("LongPollWait after a failed call = %v, want 0", wait)
	}
	if !set.Stale(t0.Add(maxAge+time.Second), maxAge) {
		t.Errorf("Stale(%v after the last refresh, %v) after a failed poll = false, want true", maxAge+time.Second, maxAge)
	}
}
