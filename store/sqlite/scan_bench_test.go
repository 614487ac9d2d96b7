package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/storetest"
)

// The scan benchmarks read every event of one store in (time, ID) order,
// four ways, in one run:
//
//   - ours: Store.Scan, pages of scanPageSize seeking in events_time;
//   - one-query: a single SELECT with the same ORDER BY, streamed row by
//     row, which holds one read transaction, and so the WAL, for the whole
//     scan;
//   - offset: pages with LIMIT and OFFSET, the pagination most code starts
//     with, which steps again over every row before its page;
//   - all-in-memory: every event read in storage order and sorted with
//     slices.SortFunc, which holds the whole store in memory.
//
// Each reports events/s, allocations per event and, for all-in-memory, the
// heap that the sorted slice holds. The store is filled with
// storetest.GenerateSeq (20 events a token) before the timer starts. The
// default size runs in seconds; the full comparison:
//
//	TOKENTRAIL_BENCH_EVENTS=1000000 go test ./store/sqlite -run '^$' -bench BenchmarkScan -benchtime 1x -count 2 -timeout 60m

// scanFunc reads every event of s in order and calls fn with each.
type scanFunc func(ctx context.Context, s *Store, fn func(audit.Event)) error

var scanners = []struct {
	name string
	run  scanFunc
}{
	{"ours", scanOurs},
	{"one-query", scanOneQuery},
	{"offset", scanOffset},
	{"all-in-memory", scanAllInMemory},
}

func BenchmarkScan(b *testing.B) {
	events, batch := benchSize(b)
	s := filledStore(b, events, batch)
	for _, sc := range scanners {
		b.Run(fmt.Sprintf("%s/events=%d", sc.name, events), func(b *testing.B) {
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range b.N {
				n := 0
				if err := sc.run(context.Background(), s, func(audit.Event) { n++ }); err != nil {
					b.Fatal(err)
				}
				if n != events {
					b.Fatalf("%s read %d events, want %d", sc.name, n, events)
				}
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(b.N*events)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*events), "allocs/event")
			if sc.name == "all-in-memory" {
				b.ReportMetric(float64(retainedBytes)/(1<<20), "MiB-held")
			}
		})
	}
}

// filledStore returns a store in a new file with the given number of
// generated events, appended in batches of batch.
func filledStore(b *testing.B, events, batch int) *Store {
	b.Helper()
	s := openPath(b, filepath.Join(b.TempDir(), "scan.db"))
	page := make([]audit.Event, 0, batch)
	flush := func() {
		if _, err := s.Append(context.Background(), page); err != nil {
			b.Fatal(err)
		}
		page = page[:0]
	}
	for e := range storetest.GenerateSeq(benchSeed, events/eventsPerToken, eventsPerToken) {
		page = append(page, e)
		if len(page) == batch {
			flush()
		}
	}
	flush()
	return s
}

func scanOurs(ctx context.Context, s *Store, fn func(audit.Event)) error {
	for e, err := range s.Scan(ctx, store.TimeRange{}) {
		if err != nil {
			return err
		}
		fn(e)
	}
	return nil
}

func scanOneQuery(ctx context.Context, s *Store, fn func(audit.Event)) error {
	query := "SELECT " + strings.Join(selectColumns, ", ") +
		" FROM events e JOIN tokens t ON t.token_key = e.token_key ORDER BY e.time_ns, " + idSortKey
	return eachRow(ctx, s, query, nil, fn)
}

func scanOffset(ctx context.Context, s *Store, fn func(audit.Event)) error {
	query := "SELECT " + strings.Join(selectColumns, ", ") +
		" FROM events e JOIN tokens t ON t.token_key = e.token_key ORDER BY e.time_ns, " + idSortKey + " LIMIT ? OFFSET ?"
	for offset := 0; ; offset += scanPageSize {
		n := 0
		err := eachRow(ctx, s, query, []any{scanPageSize, offset}, func(e audit.Event) { n++; fn(e) })
		if err != nil || n < scanPageSize {
			return err
		}
	}
}

// retainedBytes is the heap that the last all-in-memory scan held at its
// end, with the sorted events.
var retainedBytes uint64

func scanAllInMemory(ctx context.Context, s *Store, fn func(audit.Event)) error {
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	query := "SELECT " + strings.Join(selectColumns, ", ") + " FROM events e JOIN tokens t ON t.token_key = e.token_key"
	var all []audit.Event
	if err := eachRow(ctx, s, query, nil, func(e audit.Event) { all = append(all, e) }); err != nil {
		return err
	}
	slices.SortFunc(all, func(a, b audit.Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})

	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	retainedBytes = after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
	for _, e := range all {
		fn(e)
	}
	return nil
}

// eachRow runs query on a reader connection and calls fn with each event.
func eachRow(ctx context.Context, s *Store, query string, args []any, fn func(audit.Event)) error {
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	values := make([]any, len(selectColumns))
	dest := make([]any, len(selectColumns))
	for i := range values {
		dest[i] = &values[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		e, err := decodeEvent(values)
		if err != nil {
			return err
		}
		fn(e)
	}
	return rows.Err()
}

// TestScanners checks that every variant of the scan benchmark reads the
// same events in the same order, so that the benchmark compares equal work.
func TestScanners(t *testing.T) {
	s := openTemp(t)
	events := storetest.Generate(benchSeed, 150, eventsPerToken) // about three pages
	mustAppend(t, s, events)
	want := make([]string, len(events))
	for i, e := range events {
		want[i] = e.ID
	}
	for _, sc := range scanners {
		t.Run(sc.name, func(t *testing.T) {
			var got []string
			if err := sc.run(context.Background(), s, func(e audit.Event) { got = append(got, e.ID) }); err != nil {
				t.Fatalf("%s: %v", sc.name, err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s read %d events, want the %d generated ones in their order", sc.name, len(got), len(want))
			}
		})
	}
}
