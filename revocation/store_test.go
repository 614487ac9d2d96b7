package revocation_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

func openStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "tokentrail.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("sqlite.Open(%s) = %v", path, err)
	}
	tb.Cleanup(func() { _ = st.Close() }) // a failure to close a temporary file changes no result
	return st
}

func appendEvents(tb testing.TB, st *sqlite.Store, events ...audit.Event) {
	tb.Helper()
	if _, err := st.Append(context.Background(), events); err != nil {
		tb.Fatalf("Append: %v", err)
	}
}

// TestStoreSourceFeedsSet runs a Refresher over a SQLite store and checks
// that each poll adds what was stored since the last one: every scope, an
// old revocation stored late, and nothing from other kinds of events.
func TestStoreSourceFeedsSet(t *testing.T) {
	st := openStore(t)
	clock := &fakeClock{now: t0}
	appendEvents(t, st,
		audit.Event{ID: "use-1", Time: t0, Kind: audit.KindUsed, TokenID: "jti-live", Subject: "alice"},
		revocation.TokenEvent("jti-stolen", "", t0),
		revocation.SessionEvent("sid-9", t0),
		revocation.SubjectEvent("mallory", t0, t0),
	)
	var set revocation.Set
	// Pages of 2 make a poll read several pages.
	r := startRefresher(t, &set, revocation.NewStoreSource(st, 2), revocation.RefresherOptions{Clock: clock.Now, Logger: quietLogger()})
	if err := <-r.polled; err != nil {
		t.Fatalf("first poll = %v, want nil", err)
	}
	checks := []struct {
		token  revocation.Token
		reason revocation.Reason
	}{
		{revocation.Token{TokenID: "jti-stolen"}, revocation.ByToken},
		{revocation.Token{TokenID: "a1", SessionID: "sid-9"}, revocation.BySession},
		{revocation.Token{TokenID: "a2", Subject: "mallory", IssuedAt: t0.Add(-time.Minute)}, revocation.BySubject},
		{revocation.Token{TokenID: "jti-live", Subject: "alice", IssuedAt: t0}, revocation.NotRevoked},
	}
	for _, c := range checks {
		if _, reason := set.Check(c.token); reason != c.reason {
			t.Errorf("Check(%+v) after the first poll = %v, want %v", c.token, reason, c.reason)
		}
	}

	// A revocation from a year ago, imported now, is read by the next
	// poll although its time is before every other event.
	old := revocation.FamilyEvent("refresh-root-old", t0.AddDate(-1, 0, 0))
	appendEvents(t, st, old)
	if revoked, _ := set.Check(revocation.Token{TokenID: "access-1", Family: "refresh-root-old"}); revoked {
		t.Fatal("Check() = true before the poll that follows the Append, want false (the test would prove nothing)")
	}
	clock.Set(t0.Add(revocation.DefaultInterval))
	if err := r.poll(t); err != nil {
		t.Fatalf("second poll = %v, want nil", err)
	}
	if _, reason := set.Check(revocation.Token{TokenID: "access-1", Family: "refresh-root-old"}); reason != revocation.ByFamily {
		t.Errorf("Check(token of the late family revocation) = %v, want family", reason)
	}
	if got := set.Refreshed(); !got.Equal(t0.Add(revocation.DefaultInterval)) {
		t.Errorf("Refreshed() = %v, want the second poll's start %v", got, t0.Add(revocation.DefaultInterval))
	}
}

func TestStoreSourceCursor(t *testing.T) {
	st := openStore(t)
	src := revocation.NewStoreSource(st, 0)
	ctx := context.Background()

	events, cursor, err := src.Revocations(ctx, "")
	if err != nil || len(events) != 0 || cursor != "" {
		t.Fatalf("Revocations(\"\") on an empty store = %d events, %q, %v; want none, \"\", nil", len(events), cursor, err)
	}

	appendEvents(t, st, revocation.TokenEvent("jti-1", "", t0))
	events, cursor, err = src.Revocations(ctx, "")
	if err != nil || len(events) != 1 || cursor == "" {
		t.Fatalf("Revocations(\"\") = %d events, %q, %v; want 1 event and a cursor", len(events), cursor, err)
	}
	again, same, err := src.Revocations(ctx, cursor)
	if err != nil || len(again) != 0 || same != cursor {
		t.Errorf("Revocations(%q) with nothing new = %d events, %q, %v; want none and the same cursor", cursor, len(again), same, err)
	}

	for _, c := range []revocation.Cursor{"abc", "-1", "1.5"} {
		if _, _, err := src.Revocations(ctx, c); err == nil {
			t.Errorf("Revocations(cursor %q) = nil error, want an error naming the cursor", c)
		}
	}
}

// BenchmarkStoreSourcePoll measures one poll of a Refresher over a SQLite
// store of 100,000 events, 1% of them revocations: with nothing new, and
// with 1,000 new revocations. The alternative that a user of the Store
// interface alone would write, a Scan of the whole store keeping the revoked
// events, runs beside it:
//
//	go test -run '^$' -bench BenchmarkStoreSourcePoll -benchmem ./revocation
func BenchmarkStoreSourcePoll(b *testing.B) {
	ctx := context.Background()
	st := openStore(b)
	const total, every = 100_000, 100
	batch := make([]audit.Event, 0, 10_000)
	for i := range total {
		at := t0.Add(time.Duration(i) * time.Second)
		if i%every == 0 {
			batch = append(batch, revocation.TokenEvent(fmt.Sprintf("revoked-%d", i), "", at))
		} else {
			batch = append(batch, audit.Event{ID: fmt.Sprintf("use-%d", i), Time: at, Kind: audit.KindUsed, TokenID: fmt.Sprintf("jti-%d", i%5000), Subject: "alice"})
		}
		if len(batch) == cap(batch) {
			appendEvents(b, st, batch...)
			batch = batch[:0]
		}
	}

	b.Run("store_source/nothing_new", func(b *testing.B) {
		var set revocation.Set
		ref := revocation.NewRefresher(&set, revocation.NewStoreSource(st, 0), revocation.RefresherOptions{Logger: quietLogger()})
		if err := ref.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := ref.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})

	// A poll that finds 1,000 new revocations reads them from the cursor
	// where the last poll ended and adds them to the Set, as
	// Refresher.Refresh does. Each iteration starts from the same cursor
	// with an empty Set, so the store does not grow during the benchmark.
	// -count runs each sub-benchmark again on the same store, so every
	// run appends revocations of its own.
	runs := 0
	b.Run("store_source/1000_new", func(b *testing.B) {
		runs++
		src := revocation.NewStoreSource(st, 0)
		cursor := drain(b, src, "")
		fresh := make([]audit.Event, 1000)
		for i := range fresh {
			fresh[i] = revocation.TokenEvent(fmt.Sprintf("new-%d-%d", runs, i), "", t0)
		}
		appendEvents(b, st, fresh...)
		b.ReportAllocs()
		for b.Loop() {
			var set revocation.Set
			if n := addAll(b, &set, src, cursor); n != len(fresh) {
				b.Fatalf("poll read %d revocations, want %d", n, len(fresh))
			}
		}
	})

	b.Run("full_scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var set revocation.Set
			var revoked []audit.Event
			for e, err := range st.Scan(ctx, store.TimeRange{}) {
				if err != nil {
					b.Fatal(err)
				}
				if e.Kind == audit.KindRevoked {
					revoked = append(revoked, e)
				}
			}
			if err := set.Add(revoked...); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// drain reads src from cursor to its end and returns the last cursor.
func drain(tb testing.TB, src revocation.Source, cursor revocation.Cursor) revocation.Cursor {
	tb.Helper()
	for {
		page, next, err := src.Revocations(context.Background(), cursor)
		if err != nil {
			tb.Fatal(err)
		}
		if len(page) == 0 {
			return cursor
		}
		cursor = next
	}
}

// addAll adds every revocation of src after cursor to set, and returns how
// many it read.
func addAll(tb testing.TB, set *revocation.Set, src revocation.Source, cursor revocation.Cursor) int {
	tb.Helper()
	n := 0
	for {
		page, next, err := src.Revocations(context.Background(), cursor)
		if err != nil {
			tb.Fatal(err)
		}
		if len(page) == 0 {
			return n
		}
		if err := set.Add(page...); err != nil {
			tb.Fatal(err)
		}
		n += len(page)
		cursor = next
	}
}
