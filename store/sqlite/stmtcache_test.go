package sqlite

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

func TestQueryCacheBound(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()

	for i := range maxCachedQueries + 10 {
		text := fmt.Sprintf("SELECT %d + ?", i)
		rows, err := s.reads.query(ctx, s.reader, text, 1)
		if err != nil {
			t.Fatalf("query %q: %v", text, err)
		}
		var got int
		if !rows.Next() || rows.Scan(&got) != nil || got != i+1 {
			t.Errorf("query %q = %d, want %d", text, got, i+1)
		}
		rows.Close()
	}
	if n := len(s.reads.stmts); n != maxCachedQueries {
		t.Errorf("cached statements = %d, want the bound %d", n, maxCachedQueries)
	}
}

func TestQueryCacheReuse(t *testing.T) {
	s := openTemp(t)
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	mustAppend(t, s, []audit.Event{
		{ID: "e1", Time: at, Kind: audit.KindUsed, TokenID: "t1", IP: netip.MustParseAddr("198.51.100.1")},
		{ID: "e2", Time: at, Kind: audit.KindUsed, TokenID: "t2", IP: netip.MustParseAddr("198.51.100.2")},
	})

	// The same shape with other arguments runs on the cached statement.
	for _, jti := range []string{"t1", "t2", "t1"} {
		got, err := s.Events(context.Background(), store.Query{TokenID: jti})
		if err != nil {
			t.Fatalf("Events(%s): %v", jti, err)
		}
		if len(got) != 1 || got[0].TokenID != jti {
			t.Errorf("Events(%s) = %v, want the one event of %s", jti, got, jti)
		}
	}
	if n := len(s.reads.stmts); n != 1 {
		t.Errorf("cached statements = %d, want 1 for one query shape", n)
	}

	mustClose(t, s)
	if s.reads.stmts != nil {
		t.Errorf("after Close, %d statements stay cached", len(s.reads.stmts))
	}
}
