package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// scanFixture returns events whose order a scan must reproduce, shuffled
// in the order they are to be appended. Many events share an instant, and
// one instant has more events than a page of any backend is expected to
// hold. The IDs take both forms that a store may keep apart: 32 lowercase
// hex digits, as audit.NewID makes them, and any other text.
func scanFixture() []audit.Event {
	rng := rand.New(rand.NewPCG(17, 0x7363616e)) // "scan"
	var events []audit.Event
	add := func(at time.Time, n int, prefix string) {
		for i := range n {
			id := audit.NewID("scan", prefix, fmt.Sprint(i))
			switch rng.IntN(3) {
			case 0:
				id = fmt.Sprintf("%s-%04d", prefix, rng.IntN(10000)) + id[:4] // text that sorts among the hex IDs
			case 1:
				id = fmt.Sprintf("%x-%s", rng.IntN(16), id[:8])
			}
			events = append(events, minimalEvent(id, at, fmt.Sprintf("tok-%s-%d", prefix, i%50)))
		}
	}
	// Instants of 1 to 9 events each, one second apart.
	for second := range 900 {
		add(base.Add(time.Duration(second)*time.Second), 1+second%9, fmt.Sprintf("s%03d", second))
	}
	// A crowded instant, and a few events one nanosecond either side.
	crowded := base.Add(450*time.Second + time.Millisecond)
	add(crowded, 2500, "crowded")
	add(crowded.Add(-time.Nanosecond), 3, "before")
	add(crowded.Add(time.Nanosecond), 3, "after")

	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	return events
}

// inScanOrder returns the IDs of events sorted by time and then ID.
func inScanOrder(events []audit.Event) []string {
	sorted := slices.Clone(events)
	slices.SortFunc(sorted, func(a, b audit.Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return eventIDs(sorted)
}

// scanIDs returns the IDs that s.Scan(ctx, r) yields, failing the test on
// an error.
func scanIDs(tb testing.TB, s store.Store, r store.TimeRange) []string {
	tb.Helper()
	var list []string
	for e, err := range s.Scan(context.Background(), r) {
		if err != nil {
			tb.Fatalf("Scan(%s) error after %d events = %v", describeRange(r), len(list), err)
		}
		list = append(list, e.ID)
	}
	return list
}

func describeRange(r store.TimeRange) string {
	show := func(t time.Time) string {
		if t.IsZero() {
			return "open"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("[%s, %s)", show(r.Since), show(r.Until))
}

// firstDiff describes where got and want first differ.
func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("event %d is %s, want %s", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("got %d events, want %d", len(got), len(want))
}

func testScanOrder(t *testing.T, s store.Store) {
	events := scanFixture()
	for batch := range slices.Chunk(events, 1000) {
		mustAppend(t, s, batch...)
	}
	want := inScanOrder(events)

	got := scanIDs(t, s, store.TimeRange{})
	if !slices.Equal(got, want) {
		t.Errorf("Scan(every event) order: %s", firstDiff(got, want))
	}

	// A second range over the same sequence scans again.
	seq := s.Scan(context.Background(), store.TimeRange{})
	for range 2 {
		n := 0
		for _, err := range seq {
			if err != nil {
				t.Fatalf("Scan error = %v", err)
			}
			n++
		}
		if n != len(events) {
			t.Errorf("ranging over one Scan sequence again yielded %d events, want %d", n, len(events))
		}
	}
}

func testScanTies(t *testing.T, s store.Store) {
	// The IDs of testOrder, whose forms a store may keep apart.
	hexLow := "00000000000000000000000000000001"
	hexHigh := "ffffffffffffffffffffffffffffffff"
	events := []audit.Event{
		minimalEvent("zz-last", base, "tok-order"),
		minimalEvent(hexHigh, base, "tok-order"),
		minimalEvent("a-text", base, "tok-order"),
		minimalEvent("later", base.Add(time.Nanosecond), "tok-order"),
		minimalEvent(hexLow, base, "tok-order"),
		minimalEvent("earliest", base.Add(-time.Hour), "tok-order"),
		minimalEvent("0-text", base, "tok-order"),
		minimalEvent("ABCDEF00000000000000000000000000", base, "tok-order"),
	}
	mustAppend(t, s, events[:4]...)
	mustAppend(t, s, events[4:]...)

	got := scanIDs(t, s, store.TimeRange{})
	want := ids("earliest", "0-text", hexLow, "ABCDEF00000000000000000000000000", "a-text", hexHigh, "zz-last", "later")
	if !slices.Equal(got, want) {
		t.Errorf("Scan(ties) = %v, want %v", got, want)
	}
	events = mustEvents(t, s, store.Query{TokenID: "tok-order"})
	if fromEvents := eventIDs(events); !slices.Equal(got, fromEvents) {
		t.Errorf("Scan(ties) = %v, but Events orders them %v", got, fromEvents)
	}
}

func testScanRange(t *testing.T, s store.Store) {
	events := scanFixture()
	mustAppend(t, s, events...)
	crowded := base.Add(450*time.Second + time.Millisecond)

	tests := []struct {
		name string
		r    store.TimeRange
	}{
		{"since is inclusive", store.TimeRange{Since: base.Add(100 * time.Second)}},
		{"until is exclusive", store.TimeRange{Until: base.Add(100 * time.Second)}},
		{"since and until", store.TimeRange{Since: base.Add(10 * time.Second), Until: base.Add(20 * time.Second)}},
		{"since the crowded instant", store.TimeRange{Since: crowded}},
		{"until the crowded instant", store.TimeRange{Until: crowded}},
		{"the crowded instant alone", store.TimeRange{Since: crowded, Until: crowded.Add(time.Nanosecond)}},
		{"one nanosecond", store.TimeRange{Since: base.Add(3 * time.Second), Until: base.Add(3*time.Second + 1)}},
		{"until before since", store.TimeRange{Since: base.Add(20 * time.Second), Until: base.Add(10 * time.Second)}},
		{"since equals until", store.TimeRange{Since: base.Add(20 * time.Second), Until: base.Add(20 * time.Second)}},
		{"since the year 1", store.TimeRange{Since: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"until the year 9999", store.TimeRange{Until: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"since the year 9999", store.TimeRange{Since: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"until the year 1", store.TimeRange{Until: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"bounds in another zone", store.TimeRange{Since: base.Add(10 * time.Second).In(time.FixedZone("UTC-8", -8*3600))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inRange []audit.Event
			for _, e := range events {
				if tt.r.Contains(e.Time) {
					inRange = append(inRange, e)
				}
			}
			want := inScanOrder(inRange)

			got := scanIDs(t, s, tt.r)

			if !slices.Equal(got, want) {
				t.Errorf("Scan(%s): %s", describeRange(tt.r), firstDiff(got, want))
			}
		})
	}
}

func testScanEmpty(t *testing.T, s store.Store) {
	if got := scanIDs(t, s, store.TimeRange{}); len(got) != 0 {
		t.Errorf("Scan(empty store) = %v, want no event", got)
	}
	mustAppend(t, s, minimalEvent("only", base, "tok-only"))
	if got := scanIDs(t, s, store.TimeRange{Since: base.Add(time.Second)}); len(got) != 0 {
		t.Errorf("Scan(range after the only event) = %v, want no event", got)
	}
}

func testScanRoundTrip(t *testing.T, s store.Store) {
	want := fullEvent()
	mustAppend(t, s, want)
	var got []audit.Event
	for e, err := range s.Scan(context.Background(), store.TimeRange{}) {
		if err != nil {
			t.Fatalf("Scan error = %v", err)
		}
		got = append(got, e)
	}
	if len(got) != 1 {
		t.Fatalf("Scan returned %d events, want 1", len(got))
	}
	for _, diff := range diffEvent(got[0], want) {
		t.Error(diff)
	}
}

// testScanCancel cancels a scan of more events than a page of any backend
// is expected to hold: before it starts, and after its first event.
func testScanCancel(t *testing.T, s store.Store) {
	events := Generate(19, 500, 20)
	for batch := range slices.Chunk(events, 2500) {
		mustAppend(t, s, batch...)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := countScan(ctx, s)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Scan(canceled context) error = %v, want one wrapping context.Canceled", err)
	}
	if n != 0 {
		t.Errorf("Scan(canceled context) yielded %d events before its error, want 0", n)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	n = 0
	var scanErr error
	errorCount := 0
	for e, err := range s.Scan(ctx, store.TimeRange{}) {
		if err != nil {
			scanErr = err
			errorCount++
			continue
		}
		if e.ID == "" {
			t.Fatalf("Scan yielded an event without ID and without error after %d events", n)
		}
		n++
		if n == 1 {
			cancel()
		}
	}
	if !errors.Is(scanErr, context.Canceled) {
		t.Errorf("Scan canceled after its first event: error = %v, want one wrapping context.Canceled", scanErr)
	}
	if errorCount != 1 {
		t.Errorf("Scan canceled after its first event yielded %d errors, want 1 and then the end", errorCount)
	}
	if n >= len(events) {
		t.Errorf("Scan canceled after its first event yielded all %d events, want it to stop", n)
	}
}

// testScanStopAndWrite stops a scan early, and writes and reads the store
// from the loop body, which must neither deadlock nor lose the scan's place.
func testScanStopAndWrite(t *testing.T, s store.Store) {
	events := Generate(23, 200, 20)
	mustAppend(t, s, events...)
	last := events[len(events)-1].Time

	n := 0
	for _, err := range s.Scan(context.Background(), store.TimeRange{}) {
		if err != nil {
			t.Fatalf("Scan error = %v", err)
		}
		n++
		if n == 10 {
			break
		}
	}
	if c := mustCount(t, s); c != int64(len(events)) {
		t.Errorf("Count() after a scan stopped early = %d, want %d", c, len(events))
	}

	late := minimalEvent("appended-during-scan", last.Add(time.Hour), "tok-late")
	early := minimalEvent("appended-before-the-position", events[0].Time.Add(-time.Hour), "tok-early")
	seen := map[string]bool{}
	n = 0
	for e, err := range s.Scan(context.Background(), store.TimeRange{}) {
		if err != nil {
			t.Fatalf("Scan error = %v", err)
		}
		seen[e.ID] = true
		n++
		if n == 1 {
			mustAppend(t, s, late, early)
			if found := mustEvents(t, s, store.Query{TokenID: "tok-late"}); len(found) != 1 {
				t.Errorf("Events(event appended during the scan) returned %d events, want 1", len(found))
			}
		}
	}
	if !seen[late.ID] {
		t.Errorf("Scan did not yield an event appended during the scan after its position")
	}
	if seen[early.ID] {
		t.Errorf("Scan yielded an event appended during the scan before its position")
	}
	if n != len(events)+1 {
		t.Errorf("Scan during an append yielded %d events, want %d", n, len(events)+1)
	}
}

func testScanClosed(t *testing.T, s store.Store) {
	mustAppend(t, s, minimalEvent("before-close", base, "tok-closed"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	_, err := countScan(context.Background(), s)
	if !errors.Is(err, store.ErrClosed) {
		t.Errorf("Scan after Close error = %v, want one wrapping store.ErrClosed", err)
	}
}

// countScan counts the events that a scan yields before its error, and
// returns that error.
func countScan(ctx context.Context, s store.Store) (int, error) {
	n := 0
	for _, err := range s.Scan(ctx, store.TimeRange{}) {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
