package detect

import (
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

func newEngine(tb testing.TB, cfg Config) *Engine {
	tb.Helper()
	eng, err := New(cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return eng
}

func withFingerprint(fp string) func(*audit.Event) {
	return func(e *audit.Event) { e.Fingerprint = fp }
}

func TestLoadRevocations(t *testing.T) {
	fp := audit.Fingerprint("a.b.c")
	tests := []struct {
		name   string
		loaded []audit.Event
		events []audit.Event
		want   []found
	}{
		{
			name:   "use after loaded revocation",
			loaded: []audit.Event{event("r1", 0, audit.KindRevoked)},
			events: []audit.Event{event("u1", 5*time.Minute, audit.KindUsed)},
			want:   []found{{RuleRevokedTokenUse, critical, []string{"r1", "u1"}}},
		},
		{
			name:   "use before loaded revocation",
			loaded: []audit.Event{event("r1", time.Hour, audit.KindRevoked)},
			events: []audit.Event{event("u1", 5*time.Minute, audit.KindUsed)},
		},
		{
			name:   "use within clock skew of loaded revocation",
			loaded: []audit.Event{event("r1", 0, audit.KindRevoked)},
			events: []audit.Event{event("u1", 30*time.Second, audit.KindUsed)},
		},
		{
			name:   "other kinds skipped",
			loaded: []audit.Event{event("i1", 0, audit.KindIssued), event("u0", time.Second, audit.KindUsed)},
			events: []audit.Event{event("u1", 5*time.Minute, audit.KindUsed)},
		},
		{
			name:   "loaded and observed revocation",
			loaded: []audit.Event{event("r1", 0, audit.KindRevoked)},
			events: []audit.Event{
				event("r1", 0, audit.KindRevoked),
				event("u1", 5*time.Minute, audit.KindUsed),
				event("u2", 6*time.Minute, audit.KindUsed),
			},
			want: []found{{RuleRevokedTokenUse, critical, []string{"r1", "u1"}}},
		},
		{
			name:   "earliest of two revocations",
			loaded: []audit.Event{event("r2", 2*time.Minute, audit.KindRevoked), event("r1", time.Minute, audit.KindRevoked)},
			events: []audit.Event{event("u1", 5*time.Minute, audit.KindUsed)},
			want:   []found{{RuleRevokedTokenUse, critical, []string{"r1", "u1"}}},
		},
		{
			name:   "revoked by fingerprint, used with jti and fingerprint",
			loaded: []audit.Event{event("r1", 0, audit.KindRevoked, withToken(""), withFingerprint(fp))},
			events: []audit.Event{event("u1", 5*time.Minute, audit.KindUsed, withFingerprint(fp))},
			want:   []found{{RuleRevokedTokenUse, critical, []string{"r1", "u1"}}},
		},
		{
			name:   "loaded session revocation",
			loaded: []audit.Event{revokeSession("r1", 0, "sid-1")},
			events: []audit.Event{event("u1", 5*time.Minute, audit.KindUsed, withSession("sid-1"))},
			want:   []found{{RuleRevokedTokenUse, critical, []string{"r1", "u1"}}},
		},
		{
			name:   "loaded family revocation revokes its root",
			loaded: []audit.Event{revokeFamily("r1", 0, "tok-1")},
			events: []audit.Event{event("f1", 5*time.Minute, audit.KindRefreshed)},
			want:   []found{{RuleRevokedTokenUse, critical, []string{"r1", "f1"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng := newEngine(t, Config{})
			eng.LoadRevocations(tc.loaded)
			if s := eng.Stats(); s.Events != 0 || s.Checked != 0 {
				t.Errorf("Stats() after LoadRevocations = %+v, want Events 0 and Checked 0", s)
			}

			got := observeAll(eng, tc.events)
			checkAnomalies(t, got)
			if !equalFound(summarize(got), tc.want) {
				t.Errorf("anomalies = %+v, want %+v", summarize(got), tc.want)
			}
		})
	}
}

func TestLoadRevocationsCount(t *testing.T) {
	eng := newEngine(t, Config{})
	events := []audit.Event{
		event("r1", 0, audit.KindRevoked),
		event("u1", time.Second, audit.KindUsed),
		revokeSubject("r2", time.Minute, "alice@example.com", time.Minute),
	}
	if got := eng.LoadRevocations(events); got != 2 {
		t.Errorf("LoadRevocations(r1, u1, r2) = %d, want 2", got)
	}
}

func TestLoadRevocationsTwiceKeepsOne(t *testing.T) {
	eng := newEngine(t, Config{})
	session := revokeSession("r1", 0, "sid-1")
	for range maxScopedPerKey + 1 {
		eng.LoadRevocations([]audit.Event{session})
	}
	if s := eng.Stats(); s.ScopedRevocationsDropped != 0 {
		t.Errorf("ScopedRevocationsDropped = %d after loading one revocation %d times, want 0", s.ScopedRevocationsDropped, maxScopedPerKey+1)
	}
}

// A revocation older than TokenTTL, whose token's state was dropped for
// age, still raises on a later use.
func TestRevocationOutlivesTokenTTL(t *testing.T) {
	eng := newEngine(t, Config{ReorderWindow: -1, TokenTTL: time.Hour})
	eng.Observe(event("r1", 0, audit.KindRevoked))
	eng.Observe(event("u1", 3*time.Hour, audit.KindUsed, withToken("other")))
	if s := eng.Stats(); s.EvictedByAge != 1 {
		t.Fatalf("EvictedByAge = %d, want 1: the revoked token's state was not dropped", s.EvictedByAge)
	}

	got := eng.Observe(event("u2", 48*time.Hour, audit.KindUsed))
	want := []found{{RuleRevokedTokenUse, critical, []string{"r1", "u2"}}}
	if !equalFound(summarize(got), want) {
		t.Errorf("use 48h after revocation raised %+v, want %+v", summarize(got), want)
	}
}

func TestTokenRevocationsBound(t *testing.T) {
	eng := newEngine(t, Config{MaxTokens: 1})
	eng.LoadRevocations([]audit.Event{
		event("r1", 0, audit.KindRevoked, withToken("a")),
		event("r2", 0, audit.KindRevoked, withToken("b")),
		event("r3", time.Second, audit.KindRevoked, withToken("a")),
	})
	s := eng.Stats()
	if s.TokenRevocations != 1 || s.TokenRevocationsDropped != 1 {
		t.Errorf("Stats() = TokenRevocations %d, TokenRevocationsDropped %d, want 1 and 1", s.TokenRevocations, s.TokenRevocationsDropped)
	}
}

func TestReleaseHeld(t *testing.T) {
	eng := newEngine(t, Config{Rules: Rules{UnknownToken: UnknownToken{Issuers: []string{"https://idp"}}}})
	eng.Observe(event("r1", 0, audit.KindRevoked))
	if got := eng.Observe(event("u1", 5*time.Minute, audit.KindUsed)); len(got) != 0 {
		t.Fatalf("Observe(u1) = %+v, want nothing before the reorder window passed", summarize(got))
	}
	// A use within ClockSkew of its iat waits for its issued event.
	eng.Observe(event("u2", 5*time.Minute+time.Second, audit.KindUsed, withToken("tok-2"), withIssued("https://idp", 5*time.Minute)))

	got := eng.ReleaseHeld()
	want := []found{{RuleRevokedTokenUse, critical, []string{"r1", "u1"}}}
	if !equalFound(summarize(got), want) {
		t.Errorf("ReleaseHeld() = %+v, want %+v", summarize(got), want)
	}
	if s := eng.Stats(); s.Pending != 0 || s.Waiting != 1 {
		t.Errorf("Stats() after ReleaseHeld = Pending %d, Waiting %d, want 0 and 1", s.Pending, s.Waiting)
	}

	// The engine stays usable: the issued event still prevents the
	// unknown_token verdict, and later uses are checked.
	eng.Observe(event("i2", 5*time.Minute+2*time.Second, audit.KindIssued, withToken("tok-2"), withIssued("https://idp", 5*time.Minute)))
	eng.Observe(event("r3", 10*time.Minute, audit.KindRevoked, withToken("tok-3")))
	got = append(eng.Observe(event("u3", 20*time.Minute, audit.KindUsed, withToken("tok-3"))), eng.Flush()...)
	want = []found{{RuleRevokedTokenUse, critical, []string{"r3", "u3"}}}
	if !equalFound(summarize(got), want) {
		t.Errorf("anomalies after ReleaseHeld = %+v, want %+v", summarize(got), want)
	}
}

func TestFlushKeepsEngineUsable(t *testing.T) {
	eng := newEngine(t, Config{})
	eng.Observe(event("r1", 0, audit.KindRevoked))
	if got := eng.Flush(); len(got) != 0 {
		t.Fatalf("Flush() = %+v, want nothing", summarize(got))
	}
	got := append(eng.Observe(event("u1", 5*time.Minute, audit.KindUsed)), eng.Flush()...)
	want := []found{{RuleRevokedTokenUse, critical, []string{"r1", "u1"}}}
	if !equalFound(summarize(got), want) {
		t.Errorf("anomalies after Flush = %+v, want %+v", summarize(got), want)
	}
}
