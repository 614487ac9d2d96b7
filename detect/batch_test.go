package detect_test

import (
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/simulate"
)

// simulatedEvents returns a few days of simulated traffic with attacks of
// every rule's kind, sorted by time and ID.
func simulatedEvents(tb testing.TB) []audit.Event {
	tb.Helper()
	var events []audit.Event
	cfg := simulate.Config{Seed: 7, Subjects: 100, Days: 3, Events: 20_000, AttacksPerRule: 3}
	if _, err := simulate.Run(context.Background(), cfg, func(e audit.Event) error {
		events = append(events, e)
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	slices.SortStableFunc(events, func(a, b audit.Event) int {
		return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.ID, b.ID))
	})
	return events
}

// anomalyIDs returns the IDs of what an engine raised, sorted.
func anomalyIDs(found []audit.Anomaly) []string {
	ids := make([]string, len(found))
	for i, a := range found {
		ids[i] = a.ID
	}
	slices.Sort(ids)
	return ids
}

func newBatchEngine(t *testing.T) *detect.Engine {
	t.Helper()
	// A window of a day holds two adjacent chunks of the test's traffic,
	// so no event arrives later than the window allows.
	engine, err := detect.New(detect.Config{ReorderWindow: 24 * time.Hour, MaxPending: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	return engine
}

func TestObserveBatchMatchesObserve(t *testing.T) {
	events := simulatedEvents(t)

	sequential := newBatchEngine(t)
	var want []audit.Anomaly
	for _, e := range events {
		want = append(want, sequential.Observe(e)...)
	}
	want = append(want, sequential.Flush()...)
	if len(want) == 0 {
		t.Fatal("the simulated traffic raised no anomaly, so the comparison proves nothing")
	}

	// Chunks of 500 events, shuffled inside, each pair sent in reverse
	// order, with some events sent twice.
	rng := rand.New(rand.NewPCG(1, 2))
	var chunks [][]audit.Event
	for start := 0; start < len(events); start += 500 {
		chunk := slices.Clone(events[start:min(start+500, len(events))])
		chunk = append(chunk, chunk[rng.IntN(len(chunk))])
		rng.Shuffle(len(chunk), func(i, j int) { chunk[i], chunk[j] = chunk[j], chunk[i] })
		chunks = append(chunks, chunk)
	}
	for i := 0; i+1 < len(chunks); i += 2 {
		chunks[i], chunks[i+1] = chunks[i+1], chunks[i]
	}
	batch := newBatchEngine(t)
	var got []audit.Anomaly
	for _, c := range chunks {
		got = append(got, batch.ObserveBatch(c)...)
	}
	got = append(got, batch.Flush()...)

	if g, w := anomalyIDs(got), anomalyIDs(want); !slices.Equal(g, w) {
		t.Errorf("ObserveBatch raised %d anomalies, Observe %d; they differ", len(g), len(w))
	}
	gs, ws := batch.Stats(), sequential.Stats()
	if gs.Checked != ws.Checked || gs.Late != 0 || gs.Duplicates != uint64(len(chunks)) {
		t.Errorf("ObserveBatch stats: checked %d, late %d, duplicates %d; want checked %d as Observe, late 0, duplicates %d",
			gs.Checked, gs.Late, gs.Duplicates, ws.Checked, len(chunks))
	}
}
