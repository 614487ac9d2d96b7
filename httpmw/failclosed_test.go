package httpmw_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/httpmw"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// gatedWriter holds every Append until open is closed, as a stalled disk
// would, so that the recorder's queue fills.
type gatedWriter struct {
	st   *sqlite.Store
	open chan struct{}
	once sync.Once
}

func (g *gatedWriter) Append(ctx context.Context, events []audit.Event) (store.Appended, error) {
	select {
	case <-g.open:
	case <-ctx.Done():
		return store.Appended{}, ctx.Err()
	}
	return g.st.Append(ctx, events)
}

func (g *gatedWriter) release() { g.once.Do(func() { close(g.open) }) }

// fakeClock returns a time that the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func saturatedTrail(t *testing.T) (*trail, *gatedWriter) {
	t.Helper()
	var gate *gatedWriter
	tr := newTrail(t, func(st *sqlite.Store) recorder.Writer {
		gate = &gatedWriter{st: st, open: make(chan struct{})}
		return gate
	}, recorder.Options{QueueSize: 1, BatchSize: 1})
	t.Cleanup(gate.release) // before the trail's cleanup, which closes the recorder
	return tr, gate
}

func TestFailClosedWhenRecorderSaturated(t *testing.T) {
	tr, gate := saturatedTrail(t)
	clock := &fakeClock{now: t0}
	served := 0
	mw := middleware(t, httpmw.Options{Recorder: tr.rec, FailClosed: true, RetryAfter: 2 * time.Second,
		Clock: clock.Now, Logger: tr.log})
	srv := serve(t, mw(authenticate(app(&served))))
	token := sign(t, signingKey, tokenClaims("jti-busy", "alice"))

	// The flusher holds one event in a blocked Append and the queue holds
	// one more, so the third event at the latest is refused. The request
	// that recorded it was already served; the next one is rejected.
	var resp *http.Response
	var body string
	for i := range 5 {
		resp, body = request(t, srv.URL+"/orders/1", token)
		if resp.StatusCode != http.StatusOK {
			break
		}
		if i == 4 {
			t.Fatal("5 requests served while the recorder was blocked, want a 503 by the 4th")
		}
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", resp.StatusCode)
	}
	if got := resp.Header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After = %q, want \"2\"", got)
	}
	if !strings.Contains(body, "cannot record their use") || !strings.Contains(body, "retry after 2 s") {
		t.Errorf("503 body = %q, want it to say why and when to retry", body)
	}
	if s := tr.rec.Stats(); s.Dropped == 0 {
		t.Errorf("recorder Stats().Dropped = 0, want the refused event counted")
	}

	// Within RetryAfter every token request is rejected, and a request
	// without a token is still served.
	clock.Advance(time.Second)
	if resp, _ := request(t, srv.URL+"/orders/1", token); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status 1s later = %d, want 503", resp.StatusCode)
	}
	if resp, _ := request(t, srv.URL+"/orders/1", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status without a token = %d, want the application's 401", resp.StatusCode)
	}
	if !strings.Contains(tr.logs.String(), "fail-closed") {
		t.Errorf("logs = %q, want the switch to 503 logged", tr.logs.String())
	}

	// Once the writer recovers and RetryAfter has passed, requests are
	// served again.
	gate.release()
	if err := tr.rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	if resp, _ := request(t, srv.URL+"/orders/1", token); resp.StatusCode != http.StatusOK {
		t.Errorf("status after recovery = %d, want 200", resp.StatusCode)
	}
}

func TestFailOpenServesWhenRecorderSaturated(t *testing.T) {
	tr, _ := saturatedTrail(t)
	served := 0
	mw := middleware(t, httpmw.Options{Recorder: tr.rec})
	srv := serve(t, mw(authenticate(app(&served))))
	token := sign(t, signingKey, tokenClaims("jti-busy-open", "alice"))

	for i := range 5 {
		if resp, _ := request(t, srv.URL+"/orders/1", token); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d status = %d, want 200 from a fail-open middleware", i, resp.StatusCode)
		}
	}
	if s := tr.rec.Stats(); s.Dropped == 0 {
		t.Errorf("recorder Stats().Dropped = 0, want the events it could not queue counted")
	}
}

func TestStaleRevocations(t *testing.T) {
	clock := &fakeClock{now: t0}
	var set revocation.Set
	ref := revocation.NewRefresher(&set, &revocation.MemorySource{}, revocation.RefresherOptions{Clock: clock.Now})
	if err := ref.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	token := sign(t, signingKey, tokenClaims("jti-stale", "alice"))

	tests := []struct {
		name       string
		failClosed bool
		advance    time.Duration
		want       int
		wantLog    string
	}{
		{"fresh fail-closed", true, 0, http.StatusOK, ""},
		{"stale fail-closed", true, 10 * time.Second, http.StatusServiceUnavailable, "revocation set is stale"},
		{"stale fail-open", false, 10 * time.Second, http.StatusOK, "stale revocation set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTrail(t, nil, recorder.Options{})
			now := t0.Add(tt.advance)
			served := 0
			mw := middleware(t, httpmw.Options{Recorder: tr.rec, Revocations: &set, RevocationMaxAge: 5 * time.Second,
				FailClosed: tt.failClosed, Clock: func() time.Time { return now }, Logger: tr.log})
			srv := serve(t, mw(authenticate(app(&served))))

			resp, _ := request(t, srv.URL+"/orders/1", token)

			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.wantLog != "" && !strings.Contains(tr.logs.String(), tt.wantLog) {
				t.Errorf("logs = %q, want %q", tr.logs.String(), tt.wantLog)
			}
		})
	}
}
