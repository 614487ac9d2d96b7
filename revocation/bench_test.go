package revocation_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/revocation"
)

// BenchmarkCheck measures Check with 1,000 and 1,000,000 revoked token ids
// (plus a revoked subject, session and family for every 100 tokens), for a
// token that is not revoked (every field is looked up) and one that is. The
// time per Check should not grow with the set, beyond the cache misses of a
// larger table:
//
//	go test -run '^$' -bench BenchmarkCheck -benchmem ./revocation
func BenchmarkCheck(b *testing.B) {
	for _, n := range []int{1_000, 1_000_000} {
		set := filledSet(b, n)
		b.Run(fmt.Sprintf("ids=%d/not_revoked", n), func(b *testing.B) {
			// Different tokens each time, so the lookups do not all hit one
			// cached bucket.
			tokens := make([]revocation.Token, 1024)
			for i := range tokens {
				tokens[i] = revocation.Token{
					TokenID:   fmt.Sprintf("live-%08d-7b3d-4e8a-9c1f-2d5e6a7b8c9d", i),
					Family:    fmt.Sprintf("family-live-%d", i),
					SessionID: fmt.Sprintf("sid-live-%d", i),
					Subject:   fmt.Sprintf("user-%d", i),
					IssuedAt:  t0.Add(time.Hour),
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if revoked, _ := set.Check(tokens[i&1023]); revoked {
					b.Fatal("live token reported revoked")
				}
			}
		})
		b.Run(fmt.Sprintf("ids=%d/revoked", n), func(b *testing.B) {
			tokens := make([]revocation.Token, 1024)
			for i := range tokens {
				tokens[i] = revocation.Token{TokenID: revokedID((i * 7919) % n), Subject: "someone"}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if revoked, _ := set.Check(tokens[i&1023]); !revoked {
					b.Fatal("revoked token reported live")
				}
			}
		})
	}
}

func revokedID(i int) string {
	return fmt.Sprintf("%08d-7b3d-4e8a-9c1f-2d5e6a7b8c9d", i)
}

// filledSet returns a Set of n revoked tokens, with one family, session and
// subject revocation for every 100 of them, added by pages of 10,000 as a
// Refresher adds them at start-up.
func filledSet(tb testing.TB, n int) *revocation.Set {
	tb.Helper()
	set := &revocation.Set{}
	const page = 10_000
	events := make([]audit.Event, 0, page)
	for i := range n {
		events = append(events, audit.Event{ID: fmt.Sprint(i), Time: t0, Kind: audit.KindRevoked, TokenID: revokedID(i)})
		if i%100 == 0 {
			events = append(events,
				revocation.FamilyEvent(fmt.Sprintf("family-%d", i), t0),
				revocation.SessionEvent(fmt.Sprintf("sid-%d", i), t0),
				revocation.SubjectEvent(fmt.Sprintf("user-%d", i), t0, t0))
		}
		if len(events) >= page || i == n-1 {
			if err := set.Add(events...); err != nil {
				tb.Fatal(err)
			}
			events = events[:0]
		}
	}
	return set
}
