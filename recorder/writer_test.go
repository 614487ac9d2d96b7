package recorder

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// waitLimit bounds every wait of a test on the flusher, so that a bug fails
// the test instead of hanging it. No test asserts how long anything took.
const waitLimit = 10 * time.Second

// fakeWriter is a Writer that keeps the batches it stores in memory and skips
// IDs it has stored already, as store.Store.Append does.
type fakeWriter struct {
	// fail, when set, returns the error for the call'th Append (1-based),
	// or nil to let it succeed.
	fail func(call int) error
	// gate, when set, makes Append wait until gate is closed or ctx ends.
	gate chan struct{}
	// entered receives the batch length at the start of each Append.
	entered chan int
	// stored receives a copy of each stored batch.
	stored chan []audit.Event

	mu    sync.Mutex
	calls int
	ids   map[string]bool
	all   []audit.Event
}

func newFakeWriter() *fakeWriter {
	return &fakeWriter{
		entered: make(chan int, 1024),
		stored:  make(chan []audit.Event, 1024),
		ids:     make(map[string]bool),
	}
}

func (w *fakeWriter) Append(ctx context.Context, events []audit.Event) (store.Appended, error) {
	w.mu.Lock()
	w.calls++
	call := w.calls
	w.mu.Unlock()

	select {
	case w.entered <- len(events):
	default:
	}
	if w.gate != nil {
		select {
		case <-w.gate:
		case <-ctx.Done():
			return store.Appended{}, ctx.Err()
		}
	}
	if w.fail != nil {
		if err := w.fail(call); err != nil {
			return store.Appended{}, err
		}
	}

	var res store.Appended
	batch := make([]audit.Event, len(events))
	copy(batch, events)
	w.mu.Lock()
	for _, e := range batch {
		if w.ids[e.ID] {
			res.Duplicates++
			continue
		}
		w.ids[e.ID] = true
		w.all = append(w.all, e)
		res.Inserted++
	}
	w.mu.Unlock()
	w.stored <- batch
	return res, nil
}

// events returns every event stored so far, in order.
func (w *fakeWriter) events() []audit.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]audit.Event(nil), w.all...)
}

func (w *fakeWriter) callCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls
}

// waitStored returns the next batch the writer stores.
func waitStored(tb testing.TB, w *fakeWriter) []audit.Event {
	tb.Helper()
	select {
	case batch := <-w.stored:
		return batch
	case <-time.After(waitLimit):
		tb.Fatal("writer stored no batch")
		return nil
	}
}

// waitEntered waits until the flusher is inside Append.
func waitEntered(tb testing.TB, w *fakeWriter) int {
	tb.Helper()
	select {
	case n := <-w.entered:
		return n
	case <-time.After(waitLimit):
		tb.Fatal("flusher never called Append")
		return 0
	}
}

// newTestRecorder starts a Recorder whose interval flushes happen only when
// the test sends on the returned channel. Cleanup closes it.
func newTestRecorder(tb testing.TB, w Writer, opts Options) (*Recorder, chan<- time.Time) {
	tb.Helper()
	tick := make(chan time.Time)
	r := newRecorder(w, opts.withDefaults(), tick, func() {})
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_ = r.Close(ctx) // the tests check Close themselves where it matters
	})
	return r, tick
}

// usedEvent returns a typical token use, with the fields that middleware
// fills for a request that presented the token.
func usedEvent(jti string) audit.Event {
	return audit.Event{
		TokenID:   jti,
		Subject:   "user-42",
		IP:        netip.MustParseAddr("203.0.113.7"),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
		Method:    "GET",
		Path:      "/api/orders",
		Status:    200,
	}
}

func flush(tb testing.TB, r *Recorder) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := r.Flush(ctx); err != nil {
		tb.Fatalf("Flush() = %v, want nil", err)
	}
}

// logBuffer collects the JSON lines of a slog logger from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the decoded log lines whose message is msg.
func (b *logBuffer) records(tb testing.TB, msg string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, line := range bytes.Split([]byte(b.String()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			tb.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func newLogger(buf *logBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
