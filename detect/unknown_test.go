package detect

import (
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

const idp = "https://login.example.com"

func TestUnknownToken(t *testing.T) {
	recorded := Config{Rules: Rules{UnknownToken: UnknownToken{Issuers: []string{idp}}}}
	// start is an event of another token, which starts the recorded span.
	start := event("s0", 0, audit.KindUsed, withToken("other"))
	runRuleCases(t, []ruleCase{
		{
			name: "used, never issued",
			cfg:  recorded,
			events: []audit.Event{
				start,
				event("u1", 10*time.Minute, audit.KindUsed, withIssued(idp, 5*time.Minute)),
				event("u2", 11*time.Minute, audit.KindUsed, withIssued(idp, 5*time.Minute)),
			},
			want: []found{{RuleUnknownToken, high, []string{"u1"}}},
		},
		{
			name: "issued, then used",
			cfg:  recorded,
			events: []audit.Event{
				start,
				event("i1", 5*time.Minute, audit.KindIssued, withIssued(idp, 5*time.Minute)),
				event("u1", 10*time.Minute, audit.KindUsed, withIssued(idp, 5*time.Minute)),
			},
		},
		{
			name: "issuer not recorded",
			cfg:  recorded,
			events: []audit.Event{
				start,
				event("u1", 10*time.Minute, audit.KindUsed, withIssued("https://partner.example.org", 5*time.Minute)),
			},
		},
		{
			name: "no issuer recorded by default",
			events: []audit.Event{
				start,
				event("u1", 10*time.Minute, audit.KindUsed, withIssued(idp, 5*time.Minute)),
			},
		},
		{
			name: "issued before the record starts",
			cfg:  recorded,
			events: []audit.Event{
				start,
				event("u1", 10*time.Minute, audit.KindUsed, withIssued(idp, -time.Hour)),
			},
		},
		{
			name: "issued within clock skew before the record starts",
			cfg:  recorded,
			events: []audit.Event{
				start,
				event("u1", 10*time.Minute, audit.KindUsed, withIssued(idp, 30*time.Second)),
			},
		},
		{
			name: "recorded since a configured time",
			cfg:  Config{Rules: Rules{UnknownToken: UnknownToken{Issuers: []string{idp}, Since: t0.Add(-24 * time.Hour)}}},
			events: []audit.Event{
				event("u1", 10*time.Minute, audit.KindUsed, withIssued(idp, -time.Hour)),
			},
			want: []found{{RuleUnknownToken, high, []string{"u1"}}},
		},
		{
			name: "use without iat",
			cfg:  recorded,
			events: []audit.Event{
				start,
				event("u1", 10*time.Minute, audit.KindUsed, func(e *audit.Event) { e.Issuer = idp }),
			},
		},
		{
			name: "use known by fingerprint only",
			cfg:  recorded,
			events: []audit.Event{
				start,
				event("u1", 10*time.Minute, audit.KindUsed, withIssued(idp, 5*time.Minute), withToken(""),
					func(e *audit.Event) { e.Fingerprint = "sha256:3f1c" }),
			},
		},
		{
			name: "issued event arrives late within the reorder window",
			cfg:  recorded,
			events: []audit.Event{
				start,
				event("u1", 10*time.Minute, audit.KindUsed, withIssued(idp, 5*time.Minute)),
				event("i1", 10*time.Minute-5*time.Second, audit.KindIssued, withIssued(idp, 5*time.Minute)),
			},
		},
		{
			name: "issuer clock ahead within skew",
			cfg:  recorded,
			events: []audit.Event{
				start,
				event("u1", 10*time.Minute, audit.KindUsed, withIssued(idp, 10*time.Minute+20*time.Second)),
				event("s1", 10*time.Minute+15*time.Second, audit.KindUsed, withToken("other")),
				event("i1", 10*time.Minute+20*time.Second, audit.KindIssued, withIssued(idp, 10*time.Minute+20*time.Second)),
				event("s2", 15*time.Minute, audit.KindUsed, withToken("other")),
			},
		},
		{
			name: "used at once, never issued",
			cfg:  recorded,
			events: []audit.Event{
				start,
				event("u1", 10*time.Minute, audit.KindUsed, withIssued(idp, 10*time.Minute)),
				event("s1", 10*time.Minute+30*time.Second, audit.KindUsed, withToken("other")),
				event("s2", 15*time.Minute, audit.KindUsed, withToken("other")),
			},
			want: []found{{RuleUnknownToken, high, []string{"u1"}}},
		},
		{
			name: "waiting use settled by flush",
			cfg:  recorded,
			events: []audit.Event{
				start,
				event("u1", 10*time.Minute, audit.KindUsed, withIssued(idp, 10*time.Minute)),
			},
			want: []found{{RuleUnknownToken, high, []string{"u1"}}},
		},
		{
			name: "redeemed refresh token never issued",
			cfg:  recorded,
			events: []audit.Event{
				start,
				event("f1", 10*time.Minute, audit.KindRefreshed, withIssued(idp, 5*time.Minute)),
			},
			want: []found{{RuleUnknownToken, high, []string{"f1"}}},
		},
		{
			name: "rule disabled",
			cfg:  Config{Rules: Rules{UnknownToken: UnknownToken{RuleBase: RuleBase{Disabled: true}, Issuers: []string{idp}}}},
			events: []audit.Event{
				start,
				event("u1", 10*time.Minute, audit.KindUsed, withIssued(idp, 5*time.Minute)),
			},
		},
	})
}

// An issuance whose token state was dropped cannot be distinguished from
// no issuance, so a later use gets no verdict.
func TestUnknownTokenAfterEviction(t *testing.T) {
	cfg := Config{MaxTokens: 2, Rules: Rules{UnknownToken: UnknownToken{Issuers: []string{idp}}}}
	events := []audit.Event{
		event("s0", 0, audit.KindUsed, withToken("other")),
		event("i1", 5*time.Minute, audit.KindIssued, withIssued(idp, 5*time.Minute)),
		event("x1", 6*time.Minute, audit.KindUsed, withToken("x")),
		event("y1", 7*time.Minute, audit.KindUsed, withToken("y")), // drops tok-1
		event("u1", 10*time.Minute, audit.KindUsed, withIssued(idp, 5*time.Minute)),
	}
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := observeAll(eng, events); len(got) != 0 {
		t.Errorf("use after its issuance was dropped raised %+v, want nothing", summarize(got))
	}
	if s := eng.Stats(); s.EvictedByCount == 0 {
		t.Errorf("Stats().EvictedByCount = 0, want the issued token dropped")
	}
}

func TestUnknownTokenMaxWaiting(t *testing.T) {
	cfg := Config{ReorderWindow: -1, Rules: Rules{UnknownToken: UnknownToken{Issuers: []string{idp}, MaxWaiting: 2}}}
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eng.Observe(event("s0", 0, audit.KindUsed, withToken("other")))
	for i, tok := range []string{"a", "b", "c"} {
		at := time.Minute + time.Duration(i)*time.Second
		eng.Observe(event("u-"+tok, at, audit.KindUsed, withToken(tok), withIssued(idp, at)))
	}
	if s := eng.Stats(); s.UnknownDropped != 1 || s.Waiting != 2 {
		t.Errorf("Stats() = %+v, want UnknownDropped 1 and Waiting 2", s)
	}
	got := eng.Flush()
	if want := []found{
		{RuleUnknownToken, high, []string{"u-b"}},
		{RuleUnknownToken, high, []string{"u-c"}},
	}; !equalFound(summarize(got), want) {
		t.Errorf("Flush = %+v, want %+v", summarize(got), want)
	}
}
