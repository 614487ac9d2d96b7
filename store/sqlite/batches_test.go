package sqlite

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

func batchEvent(id, token string) audit.Event {
	return audit.Event{ID: id, Time: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC), Kind: audit.KindUsed, TokenID: token, Subject: "alice"}
}

func TestAppendBatchesCountsEachBatch(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	if _, err := s.Append(ctx, []audit.Event{batchEvent("e1", "t1")}); err != nil {
		t.Fatal(err)
	}

	got, err := s.AppendBatches(ctx, [][]audit.Event{
		{batchEvent("e1", "t1"), batchEvent("e2", "t1")}, // e1 is stored already
		{batchEvent("e3", "t2"), batchEvent("e2", "t1")}, // e2 came in the batch before
		{},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Appended{{Inserted: 1, Duplicates: 1}, {Inserted: 1, Duplicates: 1}, {}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("AppendBatches = %v, want %v", got, want)
	}
	if n, err := s.Count(ctx); err != nil || n != 3 {
		t.Errorf("Count = %d, %v, want 3", n, err)
	}
}

func TestAppendBatchesInvalidStoresNone(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	bad := batchEvent("e9", "")
	_, err := s.AppendBatches(ctx, [][]audit.Event{{batchEvent("e1", "t1")}, {bad}})
	if !errors.Is(err, audit.ErrInvalidValue) {
		t.Fatalf("AppendBatches with an invalid event = %v, want an error wrapping audit.ErrInvalidValue", err)
	}
	if n, err := s.Count(ctx); err != nil || n != 0 {
		t.Errorf("Count = %d, %v, want 0: one invalid event stores no batch", n, err)
	}
}

func TestTokenKeysOutliveTransaction(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	if _, err := s.Append(ctx, []audit.Event{batchEvent("e1", "t1")}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.tokenKeys.keys); n != 1 {
		t.Fatalf("cached token keys after one append = %d, want 1", n)
	}
	if _, err := s.Append(ctx, []audit.Event{batchEvent("e2", "t1")}); err != nil {
		t.Fatal(err)
	}

	var rows int
	if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM tokens").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Errorf("tokens rows = %d, want 1: the second append must reuse the cached key", rows)
	}
	events, err := s.Events(ctx, store.Query{TokenID: "t1"})
	if err != nil || len(events) != 2 {
		t.Errorf("events of t1 = %d, %v, want 2", len(events), err)
	}
}
