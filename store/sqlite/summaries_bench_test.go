package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// BenchmarkTokenSummaries sums up a subject of 100,000 events over 100
// tokens, beside reading 10,000 of its events, which is what the server's
// search and token list did before summaries.
func BenchmarkTokenSummaries(b *testing.B) {
	s := openTemp(b)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	events := make([]audit.Event, 0, 100_000)
	for i := range cap(events) {
		events = append(events, audit.Event{ID: fmt.Sprint("e", i), Time: start.Add(time.Duration(i) * time.Second), Kind: audit.KindUsed,
			TokenID: fmt.Sprint("tok-", i/1000), Subject: "alice", Path: "/orders", Status: 200})
	}
	if _, err := s.Append(context.Background(), events); err != nil {
		b.Fatal(err)
	}

	b.Run("summaries", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			list, err := s.TokenSummaries(context.Background(), store.Query{Subject: "alice"})
			if err != nil || len(list) != 100 {
				b.Fatalf("TokenSummaries = %d summaries, %v; want 100", len(list), err)
			}
		}
	})
	b.Run("events-10000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Events(context.Background(), store.Query{Subject: "alice", Limit: 10_000}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
