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
