package recorder

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

func TestRecordSetsKind(t *testing.T) {
	tests := []struct {
		name   string
		record func(*Recorder, audit.Event) bool
		want   audit.Kind
	}{
		{name: "issued", record: (*Recorder).RecordIssued, want: audit.KindIssued},
		{name: "used", record: (*Recorder).RecordUsed, want: audit.KindUsed},
		{name: "refreshed", record: (*Recorder).RecordRefreshed, want: audit.KindRefreshed},
		{name: "revoked", record: (*Recorder).RecordRevoked, want: audit.KindRevoked},
		{name: "rejected", record: (*Recorder).RecordRejected, want: audit.KindRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFakeWriter()
			r, _ := newTestRecorder(t, w, Options{})

			if !tt.record(r, usedEvent("jti-1")) {
				t.Fatalf("Record%s() = false, want true", tt.name)
			}
			flush(t, r)

			got := w.events()
			if len(got) != 1 {
				t.Fatalf("writer stored %d events, want 1", len(got))
			}
			if got[0].Kind != tt.want {
				t.Errorf("stored Kind = %v, want %v", got[0].Kind, tt.want)
			}
		})
	}
}

func TestBatchBySize(t *testing.T) {
	w := newFakeWriter()
	r, _ := newTestRecorder(t, w, Options{BatchSize: 3})

	for i := range 7 {
		r.RecordUsed(usedEvent(fmt.Sprintf("jti-%d", i)))
	}

	// No tick and no Flush: only a full batch makes the flusher write.
	for b := range 2 {
		batch := waitStored(t, w)
		if len(batch) != 3 {
			t.Fatalf("batch %d has %d events, want 3", b, len(batch))
		}
		for i, e := range batch {
			if want := fmt.Sprintf("jti-%d", 3*b+i); e.TokenID != want {
				t.Errorf("batch %d event %d TokenID = %q, want %q", b, i, e.TokenID, want)
			}
		}
	}

	flush(t, r)

	last := waitStored(t, w)
	if len(last) != 1 {
		t.Fatalf("batch after Flush has %d events, want 1", len(last))
	}
	if last[0].TokenID != "jti-6" {
		t.Errorf("batch after Flush TokenID = %q, want jti-6", last[0].TokenID)
	}
}

func TestBatchByInterval(t *testing.T) {
	w := newFakeWriter()
	r, tick := newTestRecorder(t, w, Options{BatchSize: 100})

	r.RecordUsed(usedEvent("jti-1"))
	r.RecordUsed(usedEvent("jti-2"))
	tick <- time.Time{}

	batch := waitStored(t, w)
	if len(batch) != 2 {
		t.Fatalf("batch written at tick has %d events, want 2", len(batch))
	}
	if got := w.callCount(); got != 1 {
		t.Errorf("Append calls = %d, want 1", got)
	}
}

// blockedRecorder returns a Recorder with a queue of 2 whose flusher is stuck
// inside Append with one event, so the next 2 events fill the queue.
func blockedRecorder(t *testing.T, opts Options) (*Recorder, *fakeWriter, *logBuffer) {
	t.Helper()
	w := newFakeWriter()
	w.gate = make(chan struct{})
	logs := &logBuffer{}
	opts.QueueSize = 2
	opts.BatchSize = 1
	opts.Logger = newLogger(logs)
	r, _ := newTestRecorder(t, w, opts)

	if !r.RecordUsed(usedEvent("jti-0")) {
		t.Fatal("RecordUsed(jti-0) = false, want true")
	}
	waitEntered(t, w)
	for _, jti := range []string{"jti-1", "jti-2"} {
		if !r.RecordUsed(usedEvent(jti)) {
			t.Fatalf("RecordUsed(%s) = false with room in the queue, want true", jti)
		}
	}
	return r, w, logs
}

func TestOverflowDropNewest(t *testing.T) {
	r, w, logs := blockedRecorder(t, Options{Overflow: DropNewest})

	if r.RecordUsed(usedEvent("jti-3")) {
		t.Fatal("RecordUsed(jti-3) with a full queue = true, want false")
	}
	if r.RecordUsed(usedEvent("jti-4")) {
		t.Fatal("RecordUsed(jti-4) with a full queue = true, want false")
	}

	close(w.gate)
	flush(t, r)

	s := r.Stats()
	if s.Accepted != 3 {
		t.Errorf("Stats().Accepted = %d, want 3", s.Accepted)
	}
	if s.Dropped != 2 {
		t.Errorf("Stats().Dropped = %d, want 2", s.Dropped)
	}
	if s.Written != 3 {
		t.Errorf("Stats().Written = %d, want 3", s.Written)
	}

	lines := logs.records(t, "recorder dropped events because the queue was full")
	if len(lines) != 1 {
		t.Fatalf("drop log lines = %d, want 1 for the flush that followed the drops", len(lines))
	}
	if got := lines[0][keyDropped]; got != float64(2) {
		t.Errorf("drop log %s = %v, want 2", keyDropped, got)
	}
}

func TestOverflowBlockTimesOut(t *testing.T) {
	r, w, _ := blockedRecorder(t, Options{Overflow: Block, BlockTimeout: time.Millisecond})

	if r.RecordUsed(usedEvent("jti-3")) {
		t.Fatal("RecordUsed(jti-3) with a queue that stays full = true, want false")
	}

	close(w.gate)
	flush(t, r)

	s := r.Stats()
	if s.Dropped != 1 {
		t.Errorf("Stats().Dropped = %d, want 1", s.Dropped)
	}
	if s.Written != 3 {
		t.Errorf("Stats().Written = %d, want 3", s.Written)
	}
}

func TestOverflowBlockWaitsForRoom(t *testing.T) {
	r, w, _ := blockedRecorder(t, Options{Overflow: Block, BlockTimeout: time.Hour})

	result := make(chan bool)
	go func() { result <- r.RecordUsed(usedEvent("jti-3")) }()
	close(w.gate)

	if !<-result {
		t.Fatal("RecordUsed(jti-3) under Block once the writer resumed = false, want true")
	}
	flush(t, r)

	s := r.Stats()
	if s.Dropped != 0 {
		t.Errorf("Stats().Dropped = %d, want 0", s.Dropped)
	}
	if s.Written != 4 {
		t.Errorf("Stats().Written = %d, want 4", s.Written)
	}
}

func TestUnknownOverflowDropsNewest(t *testing.T) {
	r, w, logs := blockedRecorder(t, Options{Overflow: Overflow(9), BlockTimeout: time.Hour})

	if r.RecordUsed(usedEvent("jti-3")) {
		t.Fatal("RecordUsed(jti-3) with a full queue = true, want false")
	}
	close(w.gate)
	if got := len(logs.records(t, "unknown overflow policy, using drop_newest")); got != 1 {
		t.Errorf("warnings about the unknown policy = %d, want 1", got)
	}
}

func TestStatsCountOutcomes(t *testing.T) {
	w := newFakeWriter()
	r, _ := newTestRecorder(t, w, Options{})

	r.RecordUsed(usedEvent("jti-1"))
	r.RecordUsed(usedEvent("jti-2"))
	fixed := usedEvent("jti-3")
	fixed.ID = "fixed-id"
	r.RecordUsed(fixed)
	r.RecordUsed(fixed) // same ID: the writer skips it
	noToken := usedEvent("")
	r.RecordUsed(noToken)
	r.Record(usedEvent("jti-4")) // Kind left zero
	flush(t, r)

	want := Stats{Accepted: 6, Written: 3, Duplicates: 1, Invalid: 2}
	if got := r.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

func TestInvalidEventLeavesBatchIntact(t *testing.T) {
	w := newFakeWriter()
	r, _ := newTestRecorder(t, w, Options{})

	r.RecordUsed(usedEvent("jti-1"))
	r.RecordUsed(usedEvent(""))
	r.RecordUsed(usedEvent("jti-2"))
	r.RecordUsed(usedEvent(""))
	r.RecordUsed(usedEvent("jti-3"))
	flush(t, r)

	var got []string
	for _, e := range w.events() {
		got = append(got, e.TokenID)
	}
	if want := []string{"jti-1", "jti-2", "jti-3"}; !slices.Equal(got, want) {
		t.Errorf("stored TokenIDs = %q, want %q", got, want)
	}
}

func TestQueuedCountsPendingEvents(t *testing.T) {
	w := newFakeWriter()
	r, _ := newTestRecorder(t, w, Options{BatchSize: 100})

	for i := range 5 {
		r.RecordUsed(usedEvent(fmt.Sprintf("jti-%d", i)))
	}

	if got := r.Stats().Queued; got != 5 {
		t.Errorf("Stats().Queued before any write = %d, want 5", got)
	}

	flush(t, r)

	if got := r.Stats().Queued; got != 0 {
		t.Errorf("Stats().Queued after Flush = %d, want 0", got)
	}
}

func TestStamping(t *testing.T) {
	zone := time.FixedZone("UTC+2", 2*60*60)
	now := time.Date(2026, 3, 1, 14, 0, 0, 0, zone)
	w := newFakeWriter()
	r, _ := newTestRecorder(t, w, Options{Clock: func() time.Time { return now }})

	r.RecordUsed(usedEvent("jti-1"))
	r.RecordUsed(usedEvent("jti-2"))
	preset := usedEvent("jti-3")
	preset.ID = "preset-id"
	preset.Time = time.Date(2026, 2, 1, 9, 30, 0, 0, zone)
	r.RecordUsed(preset)
	flush(t, r)

	got := w.events()
	if len(got) != 3 {
		t.Fatalf("writer stored %d events, want 3", len(got))
	}

	for _, e := range got[:2] {
		if !e.Time.Equal(now) {
			t.Errorf("stamped Time of %s = %v, want %v", e.TokenID, e.Time, now)
		}
		if e.Time.Location() != time.UTC {
			t.Errorf("stamped Time of %s is in %v, want UTC", e.TokenID, e.Time.Location())
		}
		if len(e.ID) != 32 || strings.Trim(e.ID, "0123456789abcdef") != "" {
			t.Errorf("generated ID of %s = %q, want 32 lowercase hex digits", e.TokenID, e.ID)
		}
	}
	if got[0].ID == got[1].ID {
		t.Errorf("generated IDs are both %q, want distinct IDs", got[0].ID)
	}

	if got[2].ID != "preset-id" {
		t.Errorf("ID of an event that had one = %q, want preset-id", got[2].ID)
	}
	if !got[2].Time.Equal(preset.Time) || got[2].Time.Location() != time.UTC {
		t.Errorf("Time of an event that had one = %v, want %v in UTC", got[2].Time, preset.Time.UTC())
	}
}

func TestGeneratedIDsDifferAcrossRecorders(t *testing.T) {
	first, second := newFakeWriter(), newFakeWriter()
	r1, _ := newTestRecorder(t, first, Options{})
	r2, _ := newTestRecorder(t, second, Options{})

	r1.RecordUsed(usedEvent("jti-1"))
	r2.RecordUsed(usedEvent("jti-1"))
	flush(t, r1)
	flush(t, r2)

	id1, id2 := first.events()[0].ID, second.events()[0].ID
	if id1 == id2 {
		t.Errorf("the first IDs of two recorders are both %q, want distinct IDs", id1)
	}
}

// compactToken builds an unsigned JWT that has the shape of a real one.
func compactToken(claims string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc.EncodeToString([]byte(claims)) + "." +
		enc.EncodeToString([]byte("not-a-real-signature"))
}

func TestInvalidEventLogHidesToken(t *testing.T) {
	token := compactToken(`{"sub":"user-42","jti":"jti-secret"}`)
	logs := &logBuffer{}
	w := newFakeWriter()
	r, _ := newTestRecorder(t, w, Options{Logger: newLogger(logs)})

	// A caller mistake: the raw token where its fingerprint and jti belong.
	e := usedEvent(token)
	e.Fingerprint = "Bearer " + token
	r.RecordUsed(e)
	flush(t, r)

	if got := r.Stats().Invalid; got != 1 {
		t.Fatalf("Stats().Invalid = %d, want 1", got)
	}
	out := logs.String()
	if strings.Contains(out, token) {
		t.Fatalf("log contains the raw token:\n%s", out)
	}

	lines := logs.records(t, "recorder discarded an invalid event")
	if len(lines) != 1 {
		t.Fatalf("invalid-event log lines = %d, want 1", len(lines))
	}
	want := "sha256:" + audit.Fingerprint(token)
	if got := lines[0][keyValue]; got != want {
		t.Errorf("logged %s = %v, want %s", keyValue, got, want)
	}
	// Sanitize has already replaced the raw token in TokenID by its jti.
	if got := lines[0][keyTokenID]; got != "jti-secret" {
		t.Errorf("logged %s = %v, want jti-secret", keyTokenID, got)
	}
	if got := lines[0][keyField]; got != "Fingerprint" {
		t.Errorf("logged %s = %v, want Fingerprint", keyField, got)
	}
}

func TestInvalidEventsLoggedOncePerBatch(t *testing.T) {
	logs := &logBuffer{}
	w := newFakeWriter()
	r, _ := newTestRecorder(t, w, Options{Logger: newLogger(logs)})

	for range 50 {
		r.RecordUsed(usedEvent(""))
	}
	flush(t, r)

	if got := len(logs.records(t, "recorder discarded an invalid event")); got != 1 {
		t.Errorf("detailed invalid-event lines = %d, want 1", got)
	}
	summary := logs.records(t, "recorder discarded invalid events in one batch")
	if len(summary) != 1 {
		t.Fatalf("summary lines = %d, want 1", len(summary))
	}
	if got := summary[0][keyInvalid]; got != float64(50) {
		t.Errorf("summary %s = %v, want 50", keyInvalid, got)
	}
}

func TestFlushContextEnded(t *testing.T) {
	r, _ := newTestRecorder(t, newFakeWriter(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	if err := r.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Flush(canceled) = %v, want context.Canceled", err)
	}
}

func TestCloseDrainsQueue(t *testing.T) {
	logs := &logBuffer{}
	w := newFakeWriter()
	r, _ := newTestRecorder(t, w, Options{BatchSize: 8, Logger: newLogger(logs)})

	for i := range 50 {
		r.RecordUsed(usedEvent(fmt.Sprintf("jti-%d", i)))
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}

	if got := len(w.events()); got != 50 {
		t.Errorf("writer stored %d events after Close, want 50", got)
	}
	select {
	case <-r.done:
	default:
		t.Error("flusher goroutine still running after Close returned")
	}
	want := Stats{Accepted: 50, Written: 50}
	if got := r.Stats(); got != want {
		t.Errorf("Stats() after Close = %+v, want %+v", got, want)
	}
	if got := len(logs.records(t, "recorder stopped")); got != 1 {
		t.Errorf("stop log lines = %d, want 1", got)
	}
}

func TestRecordAfterClose(t *testing.T) {
	logs := &logBuffer{}
	r, _ := newTestRecorder(t, newFakeWriter(), Options{Logger: newLogger(logs)})
	if err := r.Close(context.Background()); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}

	for range 3 {
		if r.RecordUsed(usedEvent("jti-late")) {
			t.Fatal("RecordUsed after Close = true, want false")
		}
	}

	s := r.Stats()
	if s.DroppedAfterClose != 3 {
		t.Errorf("Stats().DroppedAfterClose = %d, want 3", s.DroppedAfterClose)
	}
	if s.Accepted != 0 {
		t.Errorf("Stats().Accepted = %d, want 0", s.Accepted)
	}
	if got := len(logs.records(t, "recorder is closed, dropping events recorded after Close; see Stats.DroppedAfterClose for the count")); got != 1 {
		t.Errorf("log lines about events after Close = %d, want 1", got)
	}
	if err := r.Flush(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
}

func TestCloseContextEnded(t *testing.T) {
	w := newFakeWriter()
	w.gate = make(chan struct{}) // never opened: Append returns only when ctx ends
	r, _ := newTestRecorder(t, w, Options{BatchSize: 2, QueueSize: 10})

	for i := range 5 {
		r.RecordUsed(usedEvent(fmt.Sprintf("jti-%d", i)))
	}
	waitEntered(t, w)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err := r.Close(ctx)

	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Close(canceled) = %v, want an error wrapping context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "5 events left unwritten") {
		t.Errorf("Close(canceled) = %q, want it to say 5 events left unwritten", err)
	}
	select {
	case <-r.done:
	default:
		t.Error("flusher goroutine still running after Close returned")
	}
	s := r.Stats()
	if s.Lost != 5 {
		t.Errorf("Stats().Lost = %d, want 5", s.Lost)
	}
	if s.Written != 0 {
		t.Errorf("Stats().Written = %d, want 0", s.Written)
	}
	if s.Queued != 0 {
		t.Errorf("Stats().Queued = %d, want 0", s.Queued)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
}

var errUnavailable = errors.New("database is locked")

func TestCloseCutsRetryBackoff(t *testing.T) {
	w := newFakeWriter()
	w.fail = func(int) error { return errUnavailable }
	r, _ := newTestRecorder(t, w, Options{Retries: 5, RetryBackoff: time.Hour})

	r.RecordUsed(usedEvent("jti-1"))
	tick := make(chan struct{})
	go func() {
		defer close(tick)
		_ = r.Flush(context.Background()) // ends with ErrClosed or the lost batch
	}()
	waitEntered(t, w)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err := r.Close(ctx)

	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Close(canceled) during a retry backoff = %v, want an error wrapping context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "1 event left unwritten") {
		t.Errorf("Close(canceled) = %q, want it to say 1 event left unwritten", err)
	}
	if got := w.callCount(); got != 1 {
		t.Errorf("Append calls = %d, want 1 because Close cut the backoff short", got)
	}
	if got := r.Stats().Lost; got != 1 {
		t.Errorf("Stats().Lost = %d, want 1", got)
	}
	<-tick
}

func TestWriteRetries(t *testing.T) {
	invalid := fmt.Errorf("append: %w", audit.ErrInvalidValue)
	tests := []struct {
		name        string
		retries     int
		fail        func(call int) error
		wantWritten uint64
		wantErrors  uint64
		wantLost    uint64
		wantCalls   int
	}{
		{
			name:    "succeeds after two failures",
			retries: 3,
			fail: func(call int) error {
				if call <= 2 {
					return errUnavailable
				}
				return nil
			},
			wantWritten: 4, wantErrors: 2, wantCalls: 3,
		},
		{
			name:       "fails every attempt",
			retries:    2,
			fail:       func(int) error { return errUnavailable },
			wantErrors: 3, wantLost: 4, wantCalls: 3,
		},
		{
			name:       "no retries",
			retries:    -1,
			fail:       func(int) error { return errUnavailable },
			wantErrors: 1, wantLost: 4, wantCalls: 1,
		},
		{
			// Refused as invalid, the batch is not retried but split, down
			// to single events, to find which are refused.
			name:       "invalid batch is split, not retried",
			retries:    3,
			fail:       func(int) error { return invalid },
			wantErrors: 7, wantLost: 4, wantCalls: 7,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFakeWriter()
			w.fail = tt.fail
			var reported []error
			logs := &logBuffer{}
			r, _ := newTestRecorder(t, w, Options{
				Retries:      tt.retries,
				RetryBackoff: time.Nanosecond,
				Logger:       newLogger(logs),
				OnError:      func(err error) { reported = append(reported, err) },
			})

			for i := range 4 {
				r.RecordUsed(usedEvent(fmt.Sprintf("jti-%d", i)))
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			err := r.Flush(ctx)

			s := r.Stats()
			if s.Written != tt.wantWritten {
				t.Errorf("Stats().Written = %d, want %d", s.Written, tt.wantWritten)
			}
			if s.WriteErrors != tt.wantErrors {
				t.Errorf("Stats().WriteErrors = %d, want %d", s.WriteErrors, tt.wantErrors)
			}
			if s.Lost != tt.wantLost {
				t.Errorf("Stats().Lost = %d, want %d", s.Lost, tt.wantLost)
			}
			if got := w.callCount(); got != tt.wantCalls {
				t.Errorf("Append calls = %d, want %d", got, tt.wantCalls)
			}
			wantRetries := tt.wantCalls - 1
			if errors.Is(tt.fail(1), audit.ErrInvalidValue) {
				wantRetries = 0
			}
			if got := len(logs.records(t, "recorder write failed, retrying")); got != wantRetries {
				t.Errorf("retry log lines = %d, want %d", got, wantRetries)
			}

			if tt.wantLost == 0 {
				if err != nil {
					t.Errorf("Flush() = %v, want nil", err)
				}
				if len(reported) != 0 {
					t.Errorf("OnError calls = %d, want 0", len(reported))
				}
				return
			}
			var lost *LostError
			if !errors.As(err, &lost) {
				t.Fatalf("Flush() = %v, want a *LostError", err)
			}
			if lost.Events != 4 || lost.Attempts != tt.wantCalls {
				t.Errorf("LostError = %d events after %d attempts, want 4 after %d", lost.Events, lost.Attempts, tt.wantCalls)
			}
			if !errors.Is(err, tt.fail(1)) {
				t.Errorf("Flush() = %v, want it to wrap %v", err, tt.fail(1))
			}
			if len(reported) != 1 {
				t.Errorf("OnError calls = %d, want 1", len(reported))
			}
			if got := len(logs.records(t, "recorder lost a batch")); got != 1 {
				t.Errorf("lost-batch log lines = %d, want 1", got)
			}
		})
	}
}

func TestWriteTimeout(t *testing.T) {
	w := newFakeWriter()
	w.gate = make(chan struct{}) // never opened: Append returns only when ctx ends
	r, _ := newTestRecorder(t, w, Options{WriteTimeout: time.Millisecond, Retries: -1})

	r.RecordUsed(usedEvent("jti-1"))
	err := r.Flush(context.Background())

	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush() with a writer that outlives WriteTimeout = %v, want context.DeadlineExceeded", err)
	}
	if got := r.Stats().Lost; got != 1 {
		t.Errorf("Stats().Lost = %d, want 1", got)
	}
}

func TestConcurrentProducers(t *testing.T) {
	const producers, perProducer = 8, 500
	w := newFakeWriter()
	r, tick := newTestRecorder(t, w, Options{
		QueueSize: 64, BatchSize: 32,
		Overflow: Block, BlockTimeout: time.Hour,
	})
	stopTicks := make(chan struct{})
	go func() {
		for {
			select {
			case tick <- time.Time{}:
			case <-stopTicks:
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range perProducer {
				if !r.RecordUsed(usedEvent(fmt.Sprintf("jti-%d-%d", p, i))) {
					t.Errorf("RecordUsed(jti-%d-%d) = false, want true", p, i)
				}
			}
		})
	}
	wg.Wait()
	close(stopTicks)
	if err := r.Close(context.Background()); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}

	got := w.events()
	if len(got) != producers*perProducer {
		t.Fatalf("writer stored %d events, want %d", len(got), producers*perProducer)
	}
	ids := make(map[string]bool, len(got))
	for _, e := range got {
		ids[e.ID] = true
	}
	if len(ids) != len(got) {
		t.Errorf("distinct IDs = %d, want %d", len(ids), len(got))
	}
	want := Stats{Accepted: producers * perProducer, Written: producers * perProducer}
	if s := r.Stats(); s != want {
		t.Errorf("Stats() = %+v, want %+v", s, want)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	const runs = 1000
	// The batch never fills and no tick comes, so the flusher only moves
	// events into its preallocated batch and allocates nothing either.
	r, _ := newTestRecorder(t, newFakeWriter(), Options{QueueSize: 4 * runs, BatchSize: 4 * runs})
	e := usedEvent("jti-1")

	if got := testing.AllocsPerRun(runs, func() { r.RecordUsed(e) }); got != 0 {
		t.Errorf("RecordUsed allocations = %v, want 0", got)
	}
}

func TestNewNilWriterPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(nil) did not panic, want a panic naming the nil Writer")
		}
	}()

	New(nil, Options{})
}

func TestOnWrittenSeesStoredBatches(t *testing.T) {
	w := newFakeWriter()
	var mu sync.Mutex
	var seen []string
	opts := Options{
		Retries: -1,
		OnWritten: func(events []audit.Event) {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range events {
				seen = append(seen, e.TokenID)
			}
		},
	}
	r, _ := newTestRecorder(t, w, opts)

	r.RecordUsed(usedEvent("t1"))
	r.RecordUsed(usedEvent("t2"))
	flush(t, r)

	mu.Lock()
	got := slices.Clone(seen)
	mu.Unlock()
	if want := []string{"t1", "t2"}; !slices.Equal(got, want) {
		t.Errorf("OnWritten saw %v, want %v in the order recorded", got, want)
	}
}

func TestOnWrittenSkipsLostBatches(t *testing.T) {
	w := newFakeWriter()
	w.fail = func(int) error { return errors.New("disk full") }
	called := false
	opts := Options{Retries: -1, Logger: newLogger(&logBuffer{}), OnWritten: func([]audit.Event) { called = true }}
	r, _ := newTestRecorder(t, w, opts)

	r.RecordUsed(usedEvent("t1"))
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_ = r.Flush(ctx) // reports the lost batch

	if called {
		t.Error("OnWritten was called for a batch the Writer did not store")
	}
}

// rejectingWriter stores the events of each batch unless the batch holds
// the token refused, which it refuses whole as invalid, as a store does
// with a value it cannot hold.
type rejectingWriter struct {
	mu      sync.Mutex
	refused string
	stored  []string
	calls   int
}

func (w *rejectingWriter) Append(_ context.Context, events []audit.Event) (store.Appended, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	for _, e := range events {
		if e.TokenID == w.refused {
			return store.Appended{}, fmt.Errorf("event %s: %w", e.ID, audit.ErrInvalidValue)
		}
	}
	for _, e := range events {
		w.stored = append(w.stored, e.TokenID)
	}
	return store.Appended{Inserted: len(events)}, nil
}

// TestRefusedEventCostsOnlyItself records 100 uses, one of which the
// Writer refuses, and checks that the other 99 are stored and seen by
// OnWritten.
func TestRefusedEventCostsOnlyItself(t *testing.T) {
	w := &rejectingWriter{refused: "jti-37"}
	var written int
	var reported []error
	r, _ := newTestRecorder(t, w, Options{
		Logger:    newLogger(&logBuffer{}),
		OnWritten: func(events []audit.Event) { written += len(events) },
		OnError:   func(err error) { reported = append(reported, err) },
	})

	for i := range 100 {
		r.RecordUsed(usedEvent(fmt.Sprintf("jti-%d", i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	err := r.Flush(ctx)

	if s := r.Stats(); s.Written != 99 || s.Lost != 1 {
		t.Errorf("Stats() written %d, lost %d, want 99 and 1", s.Written, s.Lost)
	}
	if len(w.stored) != 99 || slices.Contains(w.stored, "jti-37") {
		t.Errorf("stored %d events, want 99 without jti-37", len(w.stored))
	}
	if written != 99 {
		t.Errorf("OnWritten saw %d events, want 99", written)
	}
	var lost *LostError
	if !errors.As(err, &lost) || lost.Events != 1 || len(reported) != 1 {
		t.Errorf("Flush() = %v, OnError calls %d, want one *LostError of 1 event", err, len(reported))
	}
	// Halving 100 events down to one takes 2 calls a level, about 7 levels.
	if w.calls > 2*8+1 {
		t.Errorf("Append calls = %d, want at most %d", w.calls, 2*8+1)
	}
}
