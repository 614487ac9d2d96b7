package recorder_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

var _ recorder.Writer = (*sqlite.Store)(nil)

func openStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "events.db"))
	if err != nil {
		tb.Fatalf("sqlite.Open() = %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() }) // a test may have closed it already
	return st
}

func TestRecorderWritesToSQLite(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	r := recorder.New(st, recorder.Options{BatchSize: 16})
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	token := audit.Event{
		TokenID: "jti-sqlite-1",
		Subject: "user-42",
		IP:      netip.MustParseAddr("198.51.100.20"),
	}

	issued := token
	issued.Time = start
	issued.ExpiresAt = start.Add(time.Hour)
	r.RecordIssued(issued)
	for i := range 40 {
		used := token
		used.Time = start.Add(time.Duration(i+1) * time.Second)
		used.Method, used.Path, used.Status = "GET", fmt.Sprintf("/api/orders/%d", i), 200
		r.RecordUsed(used)
	}
	revoked := token
	revoked.Time = start.Add(time.Minute)
	revoked.ID = audit.NewID("test", "revocation-1")
	revoked.Actor, revoked.RevocationMethod = "admin@example.com", audit.RevokedByAdmin
	r.RecordRevoked(revoked)
	r.RecordRevoked(revoked) // same ID: the store keeps one
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}

	got, err := st.Events(ctx, store.Query{TokenID: "jti-sqlite-1"})
	if err != nil {
		t.Fatalf("Events() = %v", err)
	}
	if len(got) != 42 {
		t.Fatalf("stored events = %d, want 42", len(got))
	}
	if got[0].Kind != audit.KindIssued {
		t.Errorf("first event Kind = %v, want issued", got[0].Kind)
	}
	if got[41].Kind != audit.KindRevoked {
		t.Errorf("last event Kind = %v, want revoked", got[41].Kind)
	}
	if got[41].ID != revoked.ID {
		t.Errorf("revocation ID = %q, want %q", got[41].ID, revoked.ID)
	}
	if got[5].Path != "/api/orders/4" {
		t.Errorf("sixth event Path = %q, want /api/orders/4", got[5].Path)
	}
	want := recorder.Stats{Accepted: 43, Written: 42, Duplicates: 1}
	if s := r.Stats(); s != want {
		t.Errorf("Stats() = %+v, want %+v", s, want)
	}
}

func TestRecorderClosedSQLiteLosesBatch(t *testing.T) {
	st := openStore(t)
	var lost []error
	r := recorder.New(st, recorder.Options{
		RetryBackoff: time.Nanosecond,
		OnError:      func(err error) { lost = append(lost, err) },
	})
	if err := st.Close(); err != nil {
		t.Fatalf("store Close() = %v", err)
	}

	r.RecordUsed(audit.Event{TokenID: "jti-sqlite-2"})
	err := r.Close(context.Background())

	if !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Close() = %v, want an error wrapping store.ErrClosed", err)
	}
	s := r.Stats()
	if s.Lost != 1 {
		t.Errorf("Stats().Lost = %d, want 1", s.Lost)
	}
	if s.WriteErrors != 1 {
		t.Errorf("Stats().WriteErrors = %d, want 1 because a closed store is not retried", s.WriteErrors)
	}
	if len(lost) != 1 {
		t.Errorf("OnError calls = %d, want 1", len(lost))
	}
}
