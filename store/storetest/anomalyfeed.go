package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// anomalyFeed returns s as the two interfaces the feed tests need, or skips
// t when s does not implement them.
func anomalyFeed(t *testing.T, s store.Store) (store.AnomalyStore, store.AnomalyFeed) {
	t.Helper()
	as, ok := s.(store.AnomalyStore)
	if !ok {
		t.Skip("the store keeps no anomalies (it does not implement store.AnomalyStore)")
	}
	feed, ok := s.(store.AnomalyFeed)
	if !ok {
		t.Skip("the store lists no anomalies in the order of storage (it does not implement store.AnomalyFeed)")
	}
	return as, feed
}

// feedAnomaly returns a valid anomaly of subject at base plus minutes, with
// no proving events, so that PruneAnomalies over its time deletes it.
func feedAnomaly(id, subject string, minutes int) audit.Anomaly {
	return audit.Anomaly{
		ID: id, Rule: "rapid_ip_change", Severity: audit.SeverityMedium, Time: base.Add(time.Duration(minutes) * time.Minute),
		TokenID: "tok-" + subject, Subject: subject, EventIDs: []string{}, Summary: "used from 3 networks",
	}
}

func anomalyIDs(list []audit.Anomaly) []string {
	out := []string{}
	for _, a := range list {
		out = append(out, a.ID)
	}
	return out
}

// testAnomalyFeed checks AnomaliesAfter and LastAnomalySeq: the order of
// storage whatever the anomalies' times, pages, filters, duplicates, and
// positions that pruning does not make a reader go back over.
func testAnomalyFeed(t *testing.T, s store.Store) {
	as, feed := anomalyFeed(t, s)
	ctx := context.Background()
	after := func(seq int64, q store.AnomalyQuery) ([]string, int64) {
		t.Helper()
		list, next, err := feed.AnomaliesAfter(ctx, seq, q)
		if err != nil {
			t.Fatalf("AnomaliesAfter(%d, %+v): %v", seq, q, err)
		}
		if next < seq {
			t.Errorf("AnomaliesAfter(%d, %+v) next = %d, want it at or after %d", seq, q, next, seq)
		}
		return anomalyIDs(list), next
	}
	appendAnomalies := func(list ...audit.Anomaly) {
		t.Helper()
		if _, err := as.AppendAnomalies(ctx, list); err != nil {
			t.Fatalf("AppendAnomalies(%v): %v", anomalyIDs(list), err)
		}
	}

	if last, err := feed.LastAnomalySeq(ctx); err != nil || last != 0 {
		t.Errorf("LastAnomalySeq(empty store) = %d, %v; want 0, nil", last, err)
	}
	if got, next := after(0, store.AnomalyQuery{}); len(got) != 0 || next != 0 {
		t.Errorf("AnomaliesAfter(0) on an empty store = %v, next %d; want none, next 0", got, next)
	}

	// Stored in this order, with times that run the other way.
	appendAnomalies(feedAnomaly("late", "alice", 30))
	appendAnomalies(feedAnomaly("early", "bob", 10), feedAnomaly("middle", "alice", 20))
	got, end := after(0, store.AnomalyQuery{})
	if want := ids("late", "early", "middle"); !slices.Equal(got, want) {
		t.Errorf("AnomaliesAfter(0) = %v, want %v in the order of storage", got, want)
	}
	if last, err := feed.LastAnomalySeq(ctx); err != nil || last != end {
		t.Errorf("LastAnomalySeq = %d, %v; want %d, the next of a full read", last, err, end)
	}

	// Pages of one: each next position resumes after the anomaly it ends on.
	var paged []string
	var positions []int64
	for seq := int64(0); ; {
		page, next := after(seq, store.AnomalyQuery{Limit: 1})
		if len(page) == 0 {
			if next != seq {
				t.Errorf("AnomaliesAfter(%d, limit 1) at the end = next %d, want %d", seq, next, seq)
			}
			break
		}
		if next <= seq {
			t.Fatalf("AnomaliesAfter(%d, limit 1) = %v, next %d; want a next position after %d", seq, page, next, seq)
		}
		paged = append(paged, page...)
		positions = append(positions, next)
		seq = next
	}
	if want := ids("late", "early", "middle"); !slices.Equal(paged, want) {
		t.Errorf("AnomaliesAfter in pages of 1 = %v, want %v", paged, want)
	}

	// An anomaly stored later with an older time than every other one is
	// still after the end. A duplicate is not stored again, even one that
	// fills in a client.
	older := feedAnomaly("older", "alice", -60)
	dup := feedAnomaly("early", "bob", 10)
	dup.Country = "FR"
	appendAnomalies(older, dup)
	if got, _ := after(end, store.AnomalyQuery{}); !slices.Equal(got, ids("older")) {
		t.Errorf("AnomaliesAfter(end) after storing an older anomaly and a duplicate = %v, want [older]", got)
	}

	// Filters apply, and a page that is not full moves past what they
	// skipped.
	got, next := after(0, store.AnomalyQuery{Subject: "alice"})
	if want := ids("late", "middle", "older"); !slices.Equal(got, want) {
		t.Errorf("AnomaliesAfter(0, subject alice) = %v, want %v", got, want)
	}
	if last, _ := feed.LastAnomalySeq(ctx); next != last {
		t.Errorf("AnomaliesAfter(0, subject alice) next = %d, want %d, the last stored, because the page is not full", next, last)
	}
	if got, _ := after(0, store.AnomalyQuery{Since: base.Add(15 * time.Minute), Until: base.Add(25 * time.Minute)}); !slices.Equal(got, ids("middle")) {
		t.Errorf("AnomaliesAfter(0, 15m to 25m) = %v, want [middle]", got)
	}
	if got, _ := after(positions[0], store.AnomalyQuery{Subject: "bob"}); !slices.Equal(got, ids("early")) {
		t.Errorf("AnomaliesAfter(after late, subject bob) = %v, want [early]", got)
	}

	// Pruning the newest anomaly does not free its position: the next one
	// stored comes after it.
	_, beforeOlder := after(0, store.AnomalyQuery{Limit: 3})
	_, atOlder := after(beforeOlder, store.AnomalyQuery{Limit: 1})
	n, err := as.PruneAnomalies(ctx, store.TimeRange{Since: base.Add(-61 * time.Minute), Until: base.Add(-59 * time.Minute)}, nil)
	if err != nil || n != 1 {
		t.Fatalf("PruneAnomalies(around older) = %d, %v; want 1, nil", n, err)
	}
	if last, err := feed.LastAnomalySeq(ctx); err != nil || last < atOlder {
		t.Errorf("LastAnomalySeq after pruning the newest anomaly = %d, %v; want %d or more, the position the feed returned for it", last, err, atOlder)
	}
	appendAnomalies(feedAnomaly("after-prune", "bob", 5))
	if got, _ := after(atOlder, store.AnomalyQuery{}); !slices.Equal(got, ids("after-prune")) {
		t.Errorf("AnomaliesAfter(the pruned anomaly's position) = %v, want [after-prune]", got)
	}

	invalid := []struct {
		name  string
		after int64
		query store.AnomalyQuery
	}{
		{"negative position", -1, store.AnomalyQuery{}},
		{"negative limit", 0, store.AnomalyQuery{Limit: -1}},
		{"newest first", 0, store.AnomalyQuery{Newest: true}},
	}
	for _, tt := range invalid {
		if _, _, err := feed.AnomaliesAfter(ctx, tt.after, tt.query); !errors.Is(err, audit.ErrInvalidValue) {
			t.Errorf("AnomaliesAfter(%s) error = %v, want one wrapping audit.ErrInvalidValue", tt.name, err)
		}
	}
}

// testAnomalyFeedDuringAppends follows the feed while other goroutines
// append anomalies whose times jump back and forth, and checks that it
// reads each one exactly once.
func testAnomalyFeedDuringAppends(t *testing.T, s store.Store) {
	as, feed := anomalyFeed(t, s)
	ctx := context.Background()
	const writers, batches, perBatch = 4, 25, 3

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				var list []audit.Anomaly
				for i := range perBatch {
					n := (w*batches+b)*perBatch + i
					// Times jump back and forth, as when late logs are imported.
					list = append(list, feedAnomaly(fmt.Sprintf("w%d-%d", w, n), "alice", (n*7919)%1000))
				}
				if _, err := as.AppendAnomalies(ctx, list); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()

	seen := map[string]int{}
	var seq int64
	read := func() {
		list, next, err := feed.AnomaliesAfter(ctx, seq, store.AnomalyQuery{Limit: 7})
		if err != nil {
			t.Fatalf("AnomaliesAfter(%d): %v", seq, err)
		}
		for _, a := range list {
			seen[a.ID]++
		}
		seq = next
	}
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		read()
	}
	// Every writer has returned, so what is left is read without a race.
	for {
		before := len(seen)
		read()
		if len(seen) == before {
			break
		}
	}
	close(errs)
	for err := range errs {
		t.Fatalf("AppendAnomalies: %v", err)
	}

	if want := writers * batches * perBatch; len(seen) != want {
		t.Errorf("the feed read %d distinct anomalies, want %d", len(seen), want)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("the feed read anomaly %s %d times, want once", id, n)
		}
	}
}
