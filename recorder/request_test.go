package recorder

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// fillUsed returns a fill function that writes usedEvent(jti) without its
// IP and leaves remoteAddr for Complete, which parses it into IP in the
// flusher goroutine.
func fillUsed(jti, remoteAddr string, calls *int) func(*audit.Event, *RequestContext) {
	return func(e *audit.Event, rc *RequestContext) {
		*calls++
		*e = usedEvent(jti)
		e.Kind = audit.KindUsed
		e.IP = netip.Addr{}
		rc.RemoteAddr = remoteAddr
		rc.Complete = func(e *audit.Event, rc *RequestContext) {
			ap, err := netip.ParseAddrPort(rc.RemoteAddr)
			if err == nil {
				e.IP = ap.Addr()
			}
		}
	}
}

func TestRecordFuncCompletesInFlusher(t *testing.T) {
	w := newFakeWriter()
	r, _ := newTestRecorder(t, w, Options{Logger: quietLogger})
	calls := 0

	if !r.RecordFunc(fillUsed("jti-1", "203.0.113.7:51234", &calls)) {
		t.Fatal("RecordFunc(jti-1) = false, want true")
	}
	flush(t, r)

	events := w.events()
	if len(events) != 1 {
		t.Fatalf("written events = %d, want 1", len(events))
	}
	e := events[0]
	if e.IP.String() != "203.0.113.7" {
		t.Errorf("event IP = %s, want 203.0.113.7 set by Complete", e.IP)
	}
	if e.ID == "" || e.Time.IsZero() || e.Time.Location() != time.UTC {
		t.Errorf("event ID, Time = %q, %v, want a generated ID and a UTC time", e.ID, e.Time)
	}
	if e.TokenID != "jti-1" || e.Kind != audit.KindUsed || e.Status != 200 {
		t.Errorf("event = %+v, want the fields fill wrote", e)
	}
}

func TestRecordFuncMatchesRecord(t *testing.T) {
	w := newFakeWriter()
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	r, _ := newTestRecorder(t, w, Options{Logger: quietLogger, Clock: func() time.Time { return now }})
	calls := 0

	want := usedEvent("jti-1")
	want.Kind = audit.KindUsed
	r.Record(want)
	r.RecordFunc(fillUsed("jti-1", "203.0.113.7:51234", &calls))
	flush(t, r)

	events := w.events()
	if len(events) != 2 {
		t.Fatalf("written events = %d, want 2", len(events))
	}
	events[0].ID, events[1].ID = "", ""
	if !reflect.DeepEqual(events[0], events[1]) {
		t.Errorf("RecordFunc event = %v, want %v as Record writes it", events[1], events[0])
	}
}

// TestRecordFuncSlotsStartZero checks that an event written in place
// inherits no field of the event that used the slot before it.
func TestRecordFuncSlotsStartZero(t *testing.T) {
	w := newFakeWriter()
	r, _ := newTestRecorder(t, w, Options{QueueSize: 2, BatchSize: 1, Logger: quietLogger})
	full := usedEvent("jti-full")
	full.Kind = audit.KindUsed
	full.Actor, full.Reason, full.Scopes = "admin", "leaked", []string{"orders"}

	for range 4 { // more than the queue's chunks, so that slots are reused
		r.Record(full)
		flush(t, r)
	}
	for range 4 {
		r.RecordFunc(func(e *audit.Event, _ *RequestContext) {
			e.Kind = audit.KindUsed
			e.TokenID = "jti-small"
		})
		flush(t, r)
	}

	for _, e := range w.events() {
		if e.TokenID == "jti-small" && (e.Actor != "" || e.Subject != "" || e.Scopes != nil || e.IP.IsValid()) {
			t.Errorf("in-place event = %+v, want only Kind, TokenID, ID and Time set", e)
		}
	}
}

func TestRecordFuncDropsWhenFull(t *testing.T) {
	r, w, _ := blockedRecorder(t, Options{Overflow: DropNewest})
	calls := 0

	if r.RecordFunc(fillUsed("jti-3", "203.0.113.7:1", &calls)) {
		t.Fatal("RecordFunc(jti-3) with a full queue = true, want false")
	}
	close(w.gate)
	flush(t, r)

	if calls != 0 {
		t.Errorf("fill calls for a dropped event = %d, want 0", calls)
	}
	if s := r.Stats(); s.Dropped != 1 || s.Written != 3 {
		t.Errorf("Stats() = %+v, want 1 dropped and 3 written", s)
	}
}

func TestRecordFuncBlockWaitsForRoom(t *testing.T) {
	r, w, _ := blockedRecorder(t, Options{Overflow: Block, BlockTimeout: time.Hour})
	calls := 0

	result := make(chan bool)
	go func() { result <- r.RecordFunc(fillUsed("jti-3", "203.0.113.7:1", &calls)) }()
	waitWaiting(t, r)
	close(w.gate)

	if !<-result {
		t.Fatal("RecordFunc(jti-3) under Block once the writer resumed = false, want true")
	}
	flush(t, r)
	if s := r.Stats(); s.Dropped != 0 || s.Written != 4 {
		t.Errorf("Stats() = %+v, want none dropped and 4 written", s)
	}
}

func TestRecordFuncAfterClose(t *testing.T) {
	r, _ := newTestRecorder(t, newFakeWriter(), Options{Logger: quietLogger})
	if err := r.Close(context.Background()); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	calls := 0

	if r.RecordFunc(fillUsed("jti-late", "203.0.113.7:1", &calls)) {
		t.Fatal("RecordFunc after Close = true, want false")
	}
	if calls != 0 {
		t.Errorf("fill calls after Close = %d, want 0", calls)
	}
	if s := r.Stats(); s.DroppedAfterClose != 1 || s.Accepted != 0 {
		t.Errorf("Stats() = %+v, want 1 dropped after Close and none accepted", s)
	}
}

func TestRecordFuncDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	const runs = 1000
	r, _ := newTestRecorder(t, newFakeWriter(), Options{QueueSize: 4 * runs, BatchSize: 4 * runs, Logger: quietLogger})
	e := usedEvent("jti-1")
	e.Kind = audit.KindUsed
	fill := func(slot *audit.Event, _ *RequestContext) { *slot = e }

	if got := testing.AllocsPerRun(runs, func() { r.RecordFunc(fill) }); got != 0 {
		t.Errorf("RecordFunc allocations = %v, want 0", got)
	}
}

func TestRecordFuncConcurrentWithRecord(t *testing.T) {
	const producers, perProducer = 8, 500
	w := newFakeWriter()
	r, tick := newTestRecorder(t, w, Options{
		QueueSize: 64, BatchSize: 32,
		Overflow: Block, BlockTimeout: time.Hour, Logger: quietLogger,
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
			calls := 0
			for i := range perProducer {
				jti := fmt.Sprintf("jti-%d-%d", p, i)
				var ok bool
				if (p+i)%2 == 0 {
					ok = r.RecordFunc(fillUsed(jti, "203.0.113.7:51234", &calls))
				} else {
					e := usedEvent(jti)
					e.Kind = audit.KindUsed
					ok = r.Record(e)
				}
				if !ok {
					t.Errorf("recording %s = false, want true", jti)
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
	for _, e := range got {
		if e.IP.String() != "203.0.113.7" {
			t.Fatalf("event %s IP = %s, want 203.0.113.7 from either path", e.TokenID, e.IP)
		}
	}
}

func TestRecordFuncCompletePanicRecovered(t *testing.T) {
	w := newFakeWriter()
	logs := &logBuffer{}
	r, _ := newTestRecorder(t, w, Options{Logger: newLogger(logs)})

	for _, jti := range []string{"jti-1", "jti-2"} {
		r.RecordFunc(func(e *audit.Event, rc *RequestContext) {
			*e = usedEvent(jti)
			e.Kind = audit.KindUsed
			rc.Complete = func(*audit.Event, *RequestContext) { panic("bad header") }
		})
	}
	flush(t, r)

	if got := len(w.events()); got != 2 {
		t.Errorf("written events = %d, want 2 despite the panics", got)
	}
	lines := logs.records(t, "recorder recovered panics in RequestContext.Complete, writing those events without the rest of their request context")
	if len(lines) != 1 {
		t.Fatalf("panic log lines = %d, want 1 for the batch", len(lines))
	}
	if got := lines[0][keyEvents]; got != float64(2) {
		t.Errorf("panic log %s = %v, want 2", keyEvents, got)
	}
}
