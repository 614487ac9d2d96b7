package recorder

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestQueueSizeExcludesBatchInWriter(t *testing.T) {
	w := newFakeWriter()
	w.gate = make(chan struct{})
	r, _ := newTestRecorder(t, w, Options{QueueSize: 10, BatchSize: 4, Logger: quietLogger})

	accepted := 0
	for i := range 30 {
		if r.RecordUsed(usedEvent(fmt.Sprintf("jti-%d", i))) {
			accepted++
		}
		if i == 3 {
			// The first batch fills and the flusher holds it in Append.
			waitEntered(t, w)
		}
	}

	if want := 4 + 10; accepted != want {
		t.Errorf("accepted events = %d, want %d: one batch in the Writer and a full queue", accepted, want)
	}
	close(w.gate)
	flush(t, r)
	if s := r.Stats(); s.Written != 14 || s.Dropped != 16 {
		t.Errorf("Stats() = %+v, want 14 written and 16 dropped", s)
	}
}

func TestFlushTakesPartialBatches(t *testing.T) {
	w := newFakeWriter()
	r, _ := newTestRecorder(t, w, Options{QueueSize: 7, BatchSize: 3, Logger: quietLogger})

	var want []string
	for round := range 5 {
		// Two events leave a partial batch, and Flush writes it. The
		// batches before it fill up and are written as they fill.
		for i := range round + 2 {
			jti := fmt.Sprintf("jti-%d-%d", round, i)
			want = append(want, jti)
			if !r.RecordUsed(usedEvent(jti)) {
				t.Fatalf("RecordUsed(%s) = false, want true", jti)
			}
		}
		flush(t, r)
	}

	var got []string
	for _, e := range w.events() {
		got = append(got, e.TokenID)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("stored TokenIDs = %q, want %q", got, want)
	}
	for len(w.stored) > 0 {
		if batch := <-w.stored; len(batch) > 3 {
			t.Errorf("batch of %d events, want at most BatchSize 3", len(batch))
		}
	}
}

// TestQueueUnderConcurrentFlushes records from several goroutines while
// others flush and tick, with a queue that is not a multiple of the batch
// size, so that full, partial and taken chunks all coexist. Every accepted
// event must be written once, in the order each producer recorded it.
func TestQueueUnderConcurrentFlushes(t *testing.T) {
	for _, overflow := range []Overflow{DropNewest, Block} {
		t.Run(overflow.String(), func(t *testing.T) {
			const producers, perProducer = 4, 300
			w := newFakeWriter()
			r, tick := newTestRecorder(t, w, Options{
				QueueSize: 10, BatchSize: 4,
				Overflow: overflow, BlockTimeout: time.Hour,
				Logger: quietLogger,
			})
			go func() {
				for range w.stored { // keeps Append from waiting on a full channel
				}
			}()

			stop := make(chan struct{})
			var helpers sync.WaitGroup
			helpers.Go(func() {
				for {
					select {
					case tick <- time.Time{}:
					case <-stop:
						return
					}
				}
			})
			helpers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
						_ = r.Flush(context.Background())
					}
				}
			})

			var wg sync.WaitGroup
			for p := range producers {
				wg.Go(func() {
					for i := range perProducer {
						ok := r.RecordUsed(usedEvent(fmt.Sprintf("jti-%d-%d", p, i)))
						if !ok && overflow == Block {
							t.Errorf("RecordUsed(jti-%d-%d) under Block = false, want true", p, i)
						}
					}
				})
			}
			wg.Wait()
			close(stop)
			helpers.Wait()
			if err := r.Close(context.Background()); err != nil {
				t.Fatalf("Close() = %v, want nil", err)
			}

			s := r.Stats()
			if s.Accepted+s.Dropped != producers*perProducer {
				t.Errorf("Stats() = %+v, want Accepted+Dropped = %d", s, producers*perProducer)
			}
			if s.Written != s.Accepted || s.Queued != 0 {
				t.Errorf("Stats() = %+v, want every accepted event written", s)
			}
			last := make(map[int]int)
			for _, e := range w.events() {
				var p, i int
				if _, err := fmt.Sscanf(e.TokenID, "jti-%d-%d", &p, &i); err != nil {
					t.Fatalf("stored TokenID %q: %v", e.TokenID, err)
				}
				if prev, ok := last[p]; ok && i <= prev {
					t.Errorf("producer %d: event %d stored after event %d, want recording order", p, i, prev)
				}
				last[p] = i
			}
		})
	}
}

func TestCloseWaitsForBlockedRecord(t *testing.T) {
	r, w, _ := blockedRecorder(t, Options{Overflow: Block, BlockTimeout: time.Hour})

	result := make(chan bool)
	go func() { result <- r.RecordUsed(usedEvent("jti-3")) }()
	waitWaiting(t, r)
	closed := make(chan error)
	go func() { closed <- r.Close(context.Background()) }()
	select {
	case ok := <-result:
		t.Fatalf("RecordUsed(jti-3) = %v while the queue stayed full, want it to wait", ok)
	case err := <-closed:
		t.Fatalf("Close() = %v before the waiting Record returned, want it to wait", err)
	case <-time.After(10 * time.Millisecond):
	}
	close(w.gate)

	if !<-result {
		t.Error("RecordUsed(jti-3) under Block, called before Close = false, want true")
	}
	if err := <-closed; err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
	if got := len(w.events()); got != 4 {
		t.Errorf("writer stored %d events, want 4 including the one that waited", got)
	}
}

// waitWaiting waits until a Record call waits for room in r's queue.
func waitWaiting(tb testing.TB, r *Recorder) {
	tb.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		r.queue.mu.Lock()
		waiting := r.queue.room != nil
		r.queue.mu.Unlock()
		if waiting {
			return
		}
		time.Sleep(time.Millisecond)
	}
	tb.Fatal("no Record call waits for room")
}

func TestNewQueueChunkCount(t *testing.T) {
	tests := []struct {
		limit, batch   int
		wantChunkSize  int
		wantFreeChunks int
	}{
		{limit: 8192, batch: 512, wantChunkSize: 512, wantFreeChunks: 18},
		{limit: 10, batch: 4, wantChunkSize: 4, wantFreeChunks: 5},
		{limit: 2, batch: 512, wantChunkSize: 2, wantFreeChunks: 3},
		{limit: 2, batch: 1, wantChunkSize: 1, wantFreeChunks: 4},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.limit)+"/"+strconv.Itoa(tt.batch), func(t *testing.T) {
			q := newQueue(tt.limit, tt.batch)
			if q.chunkSize != tt.wantChunkSize {
				t.Errorf("chunkSize = %d, want %d", q.chunkSize, tt.wantChunkSize)
			}
			if len(q.free) != tt.wantFreeChunks {
				t.Errorf("free chunks = %d, want %d", len(q.free), tt.wantFreeChunks)
			}
		})
	}
}
