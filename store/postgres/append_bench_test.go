package postgres_test

import (
	"context"
	"fmt"
	"iter"
	"path/filepath"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/postgres"
	"github.com/tokentrail/tokentrail/store/postgres/pgtest"
	"github.com/tokentrail/tokentrail/store/sqlite"
	"github.com/tokentrail/tokentrail/store/storetest"
)

// BenchmarkAppend compares, in one run, the Append throughput of the two
// backends: each iteration appends one batch of new generated events
// (storetest.GenerateSeq, 20 events a token) to a store that keeps what the
// earlier iterations appended. The timer stops while the next batch is
// generated. sqlite writes a file in the test's temporary folder;
// postgres writes a schema of its own on the server of TOKENTRAIL_PG_DSN,
// and is skipped without it.
//
//	TOKENTRAIL_PG_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./store/postgres -run '^$' -bench BenchmarkAppend -benchtime 20x -count 5
func BenchmarkAppend(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"sqlite", func(b *testing.B) store.Store {
			s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"postgres", func(b *testing.B) store.Store {
			s, err := postgres.Open(context.Background(), pgtest.DSN(b))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, batch := range []int{100, 5000} {
		for _, backend := range backends {
			b.Run(fmt.Sprintf("%s/batch=%d", backend.name, batch), func(b *testing.B) {
				s := backend.open(b)
				defer s.Close()
				next, stop := iter.Pull(storetest.GenerateSeq(1, b.N*batch/20+1, 20))
				defer stop()
				events := make([]audit.Event, batch)
				b.ReportAllocs()
				b.ResetTimer()

				for range b.N {
					b.StopTimer()
					for i := range events {
						events[i], _ = next()
					}
					b.StartTimer()

					got, err := s.Append(context.Background(), events)
					if err != nil {
						b.Fatal(err)
					}
					if got.Inserted != batch {
						b.Fatalf("Append(%d new events) = %+v, want all inserted", batch, got)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}
