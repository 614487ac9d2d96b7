package revocation_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/revocation"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func revokedToken(id string) audit.Event {
	return audit.Event{ID: "ev-" + id, Time: t0, Kind: audit.KindRevoked, TokenID: id}
}

func TestSetCheck(t *testing.T) {
	var set revocation.Set
	fp := audit.Fingerprint("opaque-token-without-jti")
	err := set.Add(
		revokedToken("jti-revoked"),
		audit.Event{ID: "ev-fp", Time: t0, Kind: audit.KindRevoked, Fingerprint: fp},
		revocation.FamilyEvent("refresh-root-1", t0),
		revocation.SessionEvent("sid-9", t0),
		revocation.SubjectEvent("mallory", t0, t0.Add(time.Minute)),
		// Not a revocation: skipped.
		audit.Event{ID: "ev-used", Time: t0, Kind: audit.KindUsed, TokenID: "jti-used"},
	)
	if err != nil {
		t.Fatalf("Add() = %v, want nil", err)
	}

	tests := []struct {
		name    string
		token   revocation.Token
		revoked bool
		reason  revocation.Reason
	}{
		{"unknown token", revocation.Token{TokenID: "jti-fine", Subject: "alice", IssuedAt: t0}, false, revocation.NotRevoked},
		{"empty token", revocation.Token{}, false, revocation.NotRevoked},
		{"revoked jti", revocation.Token{TokenID: "jti-revoked"}, true, revocation.ByToken},
		{"revoked fingerprint", revocation.Token{Fingerprint: fp}, true, revocation.ByToken},
		{"token of revoked family", revocation.Token{TokenID: "access-7", Family: "refresh-root-1"}, true, revocation.ByFamily},
		{"family root presented", revocation.Token{TokenID: "refresh-root-1"}, true, revocation.ByFamily},
		{"other family", revocation.Token{TokenID: "access-8", Family: "refresh-root-2"}, false, revocation.NotRevoked},
		{"token of revoked session", revocation.Token{TokenID: "access-9", SessionID: "sid-9"}, true, revocation.BySession},
		{"subject issued before", revocation.Token{TokenID: "a", Subject: "mallory", IssuedAt: t0.Add(-time.Second)}, true, revocation.BySubject},
		{"subject issued at not-before", revocation.Token{TokenID: "b", Subject: "mallory", IssuedAt: t0}, false, revocation.NotRevoked},
		{"subject issued after", revocation.Token{TokenID: "c", Subject: "mallory", IssuedAt: t0.Add(time.Hour)}, false, revocation.NotRevoked},
		{"subject without iat", revocation.Token{TokenID: "d", Subject: "mallory"}, true, revocation.BySubject},
		{"used event not revoked", revocation.Token{TokenID: "jti-used"}, false, revocation.NotRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			revoked, reason := set.Check(tt.token)
			if revoked != tt.revoked || reason != tt.reason {
				t.Errorf("Check(%+v) = %v, %v, want %v, %v", tt.token, revoked, reason, tt.revoked, tt.reason)
			}
		})
	}
}

func TestSetZeroValue(t *testing.T) {
	var set revocation.Set
	if revoked, reason := set.Check(revocation.Token{TokenID: "x", Subject: "s"}); revoked || reason != revocation.NotRevoked {
		t.Errorf("zero Set Check() = %v, %v, want false, not_revoked", revoked, reason)
	}
	if n := set.Len(); n != 0 {
		t.Errorf("zero Set Len() = %d, want 0", n)
	}
	if !set.Refreshed().IsZero() {
		t.Errorf("zero Set Refreshed() = %v, want the zero time", set.Refreshed())
	}
	if !set.Stale(t0, time.Hour) {
		t.Error("zero Set Stale() = false, want true because it was never refreshed")
	}
}

func TestSetSubjectLaterNotBeforeWins(t *testing.T) {
	var set revocation.Set
	must(t, set.Add(revocation.SubjectEvent("bob", t0.Add(time.Hour), t0.Add(time.Hour))))
	// An older revocation arriving later must not shorten the newer one.
	must(t, set.Add(revocation.SubjectEvent("bob", t0, t0)))

	token := revocation.Token{TokenID: "x", Subject: "bob", IssuedAt: t0.Add(30 * time.Minute)}
	if revoked, _ := set.Check(token); !revoked {
		t.Errorf("Check(issued between the two not-befores) = false, want true")
	}
}

func TestSetAddReportsUnusableEvents(t *testing.T) {
	var set revocation.Set
	err := set.Add(
		audit.Event{ID: "no-token", Time: t0, Kind: audit.KindRevoked},
		audit.Event{ID: "no-family", Time: t0, Kind: audit.KindRevoked, RevocationScope: audit.RevokeFamily},
		audit.Event{ID: "no-session", Time: t0, Kind: audit.KindRevoked, RevocationScope: audit.RevokeSession, TokenID: "t"},
		audit.Event{ID: "no-subject", Time: t0, Kind: audit.KindRevoked, RevocationScope: audit.RevokeSubject, TokenID: "t"},
		audit.Event{ID: "bad-scope", Time: t0, Kind: audit.KindRevoked, RevocationScope: "tenant", TokenID: "t"},
		revokedToken("good"),
	)
	if err == nil {
		t.Fatal("Add() = nil, want an error naming the unusable events")
	}
	for _, id := range []string{"no-token", "no-family", "no-session", "no-subject", "bad-scope"} {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("Add() error = %q, want it to name event %q", err, id)
		}
	}
	if revoked, _ := set.Check(revocation.Token{TokenID: "good"}); !revoked {
		t.Error("Check(good) = false, want true: usable events are applied despite the others")
	}
}

func TestSetMergeKeepsEverything(t *testing.T) {
	var set revocation.Set
	// Enough single additions to force several merges of the delta into
	// the base.
	const n = 5000
	for i := range n {
		must(t, set.Add(revokedToken(fmt.Sprintf("jti-%d", i))))
	}
	for i := range n {
		id := fmt.Sprintf("jti-%d", i)
		if revoked, reason := set.Check(revocation.Token{TokenID: id}); !revoked || reason != revocation.ByToken {
			t.Fatalf("Check(%s) = %v, %v after %d additions, want true, token", id, revoked, reason, n)
		}
	}
	if got := set.Len(); got != n {
		t.Errorf("Len() = %d, want %d", got, n)
	}
}

func TestSetPrunesExpiredOnMerge(t *testing.T) {
	var set revocation.Set
	expired := revokedToken("expired")
	expired.ExpiresAt = t0.Add(time.Hour)
	live := revokedToken("live")
	live.ExpiresAt = t0.Add(48 * time.Hour)
	forever := revokedToken("forever")
	must(t, set.AddAt(t0, expired, live, forever))

	// A day later, a batch large enough to force a merge.
	var batch []audit.Event
	for i := range 2000 {
		batch = append(batch, revokedToken(fmt.Sprintf("later-%d", i)))
	}
	must(t, set.AddAt(t0.Add(24*time.Hour), batch...))

	if revoked, _ := set.Check(revocation.Token{TokenID: "expired"}); revoked {
		t.Error("Check(expired) = true, want false: its tokens expired a day before the merge")
	}
	for _, id := range []string{"live", "forever", "later-0"} {
		if revoked, _ := set.Check(revocation.Token{TokenID: id}); !revoked {
			t.Errorf("Check(%s) = false, want true", id)
		}
	}
}

func TestSetPruneKeepsGraceAfterExpiry(t *testing.T) {
	var set revocation.Set
	e := revokedToken("just-expired")
	e.ExpiresAt = t0
	must(t, set.AddAt(t0, e))

	var batch []audit.Event
	for i := range 2000 {
		batch = append(batch, revokedToken(fmt.Sprintf("b-%d", i)))
	}
	must(t, set.AddAt(t0.Add(revocation.PruneGrace/2), batch...))

	if revoked, _ := set.Check(revocation.Token{TokenID: "just-expired"}); !revoked {
		t.Error("Check(just-expired) = false within PruneGrace of its expiry, want true")
	}
}

// TestSetConcurrentCheckAndAdd runs readers against a writer; run it with
// -race to check that Check needs no lock.
func TestSetConcurrentCheckAndAdd(t *testing.T) {
	var set revocation.Set
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					set.Check(revocation.Token{TokenID: "jti-1", Subject: "s", IssuedAt: t0})
				}
			}
		})
	}
	for i := range 3000 {
		must(t, set.Add(revokedToken(fmt.Sprintf("jti-%d", i))))
	}
	close(stop)
	wg.Wait()

	if revoked, _ := set.Check(revocation.Token{TokenID: "jti-2999"}); !revoked {
		t.Error("Check(jti-2999) = false after its Add returned, want true")
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	var set revocation.Set
	must(t, set.Add(revokedToken("jti-1"), revocation.SubjectEvent("s", t0, t0)))
	token := revocation.Token{TokenID: "jti-2", Family: "f", SessionID: "sid", Subject: "s", IssuedAt: t0.Add(time.Hour)}
	allocs := testing.AllocsPerRun(1000, func() { set.Check(token) })
	if allocs != 0 {
		t.Errorf("Check allocations = %v, want 0", allocs)
	}
}

func TestReasonString(t *testing.T) {
	want := map[revocation.Reason]string{
		revocation.NotRevoked: "not_revoked", revocation.ByToken: "token", revocation.ByFamily: "family",
		revocation.BySession: "session", revocation.BySubject: "subject", revocation.Reason(99): "reason(99)",
	}
	for r, name := range want {
		if got := r.String(); got != name {
			t.Errorf("Reason(%d).String() = %q, want %q", uint8(r), got, name)
		}
	}
}

func TestEventsAreValid(t *testing.T) {
	for _, e := range []audit.Event{
		revocation.TokenEvent("jti-1", "", t0),
		revocation.TokenEvent("", audit.Fingerprint("opaque"), t0),
		revocation.FamilyEvent("root", t0),
		revocation.SessionEvent("sid", t0),
		revocation.SubjectEvent("alice", t0, t0),
	} {
		if err := e.Validate(); err != nil {
			t.Errorf("%s event Validate() = %v, want nil so that stores accept it", e.RevocationScope, err)
		}
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("unexpected error: %v", err)
	}
}

func TestSetAddCountsManyUnusableEvents(t *testing.T) {
	var set revocation.Set
	var events []audit.Event
	for i := range 25 {
		events = append(events, audit.Event{ID: fmt.Sprintf("bad-%d", i), Time: t0, Kind: audit.KindRevoked})
	}
	err := set.Add(events...)
	if err == nil || !strings.Contains(err.Error(), "and 15 more") || strings.Contains(err.Error(), "bad-24") {
		t.Errorf("Add(25 unusable events) = %v, want the first 10 named and 15 more counted", err)
	}
}
