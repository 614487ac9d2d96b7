package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// testRevocations checks a store that implements store.RevocationStore; a
// store that does not is skipped.
func testRevocations(t *testing.T, s store.Store) {
	rs, ok := s.(store.RevocationStore)
	if !ok {
		t.Skip("the store does not implement store.RevocationStore")
	}
	ctx := context.Background()
	at := func(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }

	start, next, err := rs.Revocations(ctx, 0, 10)
	if err != nil || len(start) != 0 || next != 0 {
		t.Fatalf("Revocations(0, 10) on an empty store = %d events, %d, %v; want none, 0, nil", len(start), next, err)
	}

	revoked := func(id string, minutes int) audit.Event {
		e := minimalEvent(id, at(minutes), "tok-"+id)
		e.Kind = audit.KindRevoked
		return e
	}
	session := audit.Event{ID: "r-session", Time: at(3), Kind: audit.KindRevoked, RevocationScope: audit.RevokeSession, SessionID: "sid-1", Actor: "oncall"}
	subject := audit.Event{ID: "r-subject", Time: at(4), Kind: audit.KindRevoked, RevocationScope: audit.RevokeSubject, Subject: "mallory", NotBefore: at(4)}
	mustAppend(t, s, minimalEvent("u1", at(1), "tok-u1"), revoked("r1", 2), session)
	mustAppend(t, s, minimalEvent("u2", at(5), "tok-u2"), subject)
	// An old revocation that an import stores late: it sorts first by
	// time, but it is read last.
	mustAppend(t, s, revoked("r-old", -60))

	var got []string
	var pages int
	pos := int64(0)
	for {
		page, last, err := rs.Revocations(ctx, pos, 2)
		if err != nil {
			t.Fatalf("Revocations(%d, 2) = %v", pos, err)
		}
		if len(page) == 0 {
			if last != pos {
				t.Errorf("Revocations(%d, 2) with nothing new = position %d, want %d", pos, last, pos)
			}
			break
		}
		if last <= pos {
			t.Fatalf("Revocations(%d, 2) = position %d, want one after %d", pos, last, pos)
		}
		for _, e := range page {
			if e.Kind != audit.KindRevoked {
				t.Errorf("Revocations returned event %s of kind %v, want only revoked events", e.ID, e.Kind)
			}
			got = append(got, e.ID)
		}
		pos = last
		if pages++; pages > 10 {
			t.Fatal("Revocations did not reach the end in 10 pages of 2 for 4 revocations")
		}
	}
	want := []string{"r1", "r-session", "r-subject", "r-old"}
	if !slices.Equal(got, want) {
		t.Errorf("Revocations in pages of 2 = %v, want %v (the order of the Appends)", got, want)
	}

	// The session and subject revocations name no token and keep their
	// scope.
	all, _, err := rs.Revocations(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		want := map[string]audit.Event{"r-session": session, "r-subject": subject}[e.ID]
		if want.ID == "" {
			continue
		}
		if diff := diffEvent(e, want); len(diff) > 0 {
			t.Errorf("Revocations returned %s with %v", e.ID, diff)
		}
	}

	// A revocation appended after the end is read from the last position.
	mustAppend(t, s, revoked("r-new", 6))
	page, _, err := rs.Revocations(ctx, pos, 2)
	if err != nil || len(page) != 1 || page[0].ID != "r-new" {
		t.Errorf("Revocations(%d, 2) after one more Append = %v, %v; want r-new", pos, eventIDs(page), err)
	}
}

func testRevocationsInvalidLimit(t *testing.T, s store.Store) {
	rs, ok := s.(store.RevocationStore)
	if !ok {
		t.Skip("the store does not implement store.RevocationStore")
	}
	for _, limit := range []int{0, -1} {
		if _, _, err := rs.Revocations(context.Background(), 0, limit); !errors.Is(err, audit.ErrInvalidValue) {
			t.Errorf("Revocations(0, %d) = %v, want an error wrapping audit.ErrInvalidValue", limit, err)
		}
	}
}

// testLastRevocationSeq checks that the last revocation position is that of
// the newest revoked event, which the server compares a feed reader's
// position with. A reader that has read every revocation is at it, never
// past it, and events of other kinds do not move it.
func testLastRevocationSeq(t *testing.T, s store.Store) {
	rs, ok := s.(interface {
		store.RevocationStore
		store.RevocationEnd
	})
	if !ok {
		t.Skip("the store does not implement store.RevocationStore and store.RevocationEnd")
	}
	ctx := context.Background()
	lastSeq := func() int64 {
		t.Helper()
		last, err := rs.LastRevocationSeq(ctx)
		if err != nil {
			t.Fatalf("LastRevocationSeq() = %v", err)
		}
		return last
	}
	readAll := func() int64 {
		t.Helper()
		_, next, err := rs.Revocations(ctx, 0, 100)
		if err != nil {
			t.Fatalf("Revocations(0, 100) = %v", err)
		}
		return next
	}

	if got := lastSeq(); got != 0 {
		t.Errorf("LastRevocationSeq() on an empty store = %d, want 0", got)
	}
	mustAppend(t, s, minimalEvent("u1", base, "tok-u1"))
	if got := lastSeq(); got != 0 {
		t.Errorf("LastRevocationSeq() with only a used event = %d, want 0", got)
	}

	revoked := minimalEvent("r1", base.Add(time.Minute), "tok-u1")
	revoked.Kind = audit.KindRevoked
	mustAppend(t, s, revoked)
	if got, want := lastSeq(), readAll(); got != want || got == 0 {
		t.Errorf("LastRevocationSeq() after one revocation = %d, want %d, the position Revocations returned", got, want)
	}

	// Events of other kinds stored later do not move it.
	before := lastSeq()
	mustAppend(t, s, minimalEvent("u2", base.Add(2*time.Minute), "tok-u2"), minimalEvent("u3", base.Add(3*time.Minute), "tok-u3"))
	if got := lastSeq(); got != before {
		t.Errorf("LastRevocationSeq() after two used events = %d, want %d as before", got, before)
	}

	second := minimalEvent("r2", base.Add(4*time.Minute), "tok-u2")
	second.Kind = audit.KindRevoked
	mustAppend(t, s, second)
	if got, want := lastSeq(), readAll(); got != want || got <= before {
		t.Errorf("LastRevocationSeq() after a second revocation = %d, want %d, the position Revocations returned, above %d", got, want, before)
	}
}
