package simulate

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"zero", Config{}, ""},
		{"smallest", Config{Subjects: 60, Days: 2, Events: 1000, AttacksPerRule: NoAttacks}, ""},
		{"few subjects", Config{Subjects: 59}, "Subjects is 59, want 60 to 1000000"},
		{"one day", Config{Days: 1}, "Days is 1, want 2 to 366"},
		{"few events", Config{Events: 999}, "Events is 999, want 1000 to"},
		{"negative attacks", Config{AttacksPerRule: -2}, "AttacksPerRule is -2"},
		{"many attacks", Config{AttacksPerRule: 1001}, "AttacksPerRule is 1001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRunRejectsInvalidConfig(t *testing.T) {
	_, err := Run(context.Background(), Config{Days: 1}, func(audit.Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "Days") {
		t.Errorf("Run(Days: 1) = %v, want an error naming Days", err)
	}
}

// digest returns a hash of the events and labels of a run.
func digest(tb testing.TB, events []audit.Event, res *Result) [32]byte {
	tb.Helper()
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			tb.Fatal(err)
		}
	}
	if err := enc.Encode(res.Labels); err != nil {
		tb.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

func TestRunIsDeterministic(t *testing.T) {
	cfg := Config{Seed: 3, Subjects: 80, Days: 3, Events: 8000, AttacksPerRule: 1}
	events, res := run(t, cfg)
	first := digest(t, events, res)
	events, res = run(t, cfg)
	second := digest(t, events, res)
	if first != second {
		t.Errorf("two runs of %+v differ", cfg)
	}
	cfg.Seed = 4
	events, res = run(t, cfg)
	if other := digest(t, events, res); other == first {
		t.Errorf("seeds 3 and 4 gave the same run")
	}
}

func TestRunStopsOnEmitError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	_, err := Run(context.Background(), Config{Subjects: 60, Days: 2, Events: 5000}, func(audit.Event) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Errorf("Run = %v after %d events, want the emit error after 10", err, n)
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Config{Subjects: 60, Days: 2, Events: 5000}, func(audit.Event) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run with an ended context = %v, want context.Canceled", err)
	}
}

func TestRunEmitsValidEventsInOrder(t *testing.T) {
	events, res := shortRun()
	if len(events) != res.Events {
		t.Errorf("Result.Events = %d, want %d emitted", res.Events, len(events))
	}
	seen := make(map[string]bool, len(events))
	for i := range events {
		e := &events[i]
		if err := e.Validate(); err != nil {
			t.Fatalf("event %d (%s) is invalid: %v", i, e.ID, err)
		}
		if seen[e.ID] {
			t.Fatalf("event ID %s appears twice", e.ID)
		}
		seen[e.ID] = true
		if i > 0 {
			p := &events[i-1]
			if e.Time.Before(p.Time) || (e.Time.Equal(p.Time) && e.ID < p.ID) {
				t.Fatalf("event %d (%s at %s) comes before event %d (%s at %s)", i, e.ID, e.Time, i-1, p.ID, p.Time)
			}
		}
	}
}

func TestRunReachesEventTarget(t *testing.T) {
	_, res := shortRun()
	got, want := float64(res.BenignEvents()), float64(shortConfig.Events)
	if math.Abs(got-want)/want > 0.15 {
		t.Errorf("benign events = %.0f, want %.0f within 15%%", got, want)
	}
}

func TestLabelsDescribeTheirAttacks(t *testing.T) {
	events, res := shortRun()
	if len(res.NotInjected) > 0 {
		t.Errorf("NotInjected = %q, want none", res.NotInjected)
	}
	byID := make(map[string]*audit.Event, len(events))
	for i := range events {
		byID[events[i].ID] = &events[i]
	}

	perRule := make(map[string]int)
	attackEvents := 0
	for _, l := range res.Labels {
		perRule[l.Rule]++
		attackEvents += len(l.EventIDs)
		if l.Description == "" || len(l.EventIDs) == 0 {
			t.Errorf("label %s has no description or no events", l.ID)
			continue
		}
		namesToken, fromNetwork := false, true
		for _, id := range l.EventIDs {
			e, ok := byID[id]
			if !ok {
				t.Fatalf("label %s names event %s, which the run did not emit", l.ID, id)
			}
			if e.Time.Before(l.Start) || e.Time.After(l.End) {
				t.Errorf("label %s: event %s at %s lies outside %s to %s", l.ID, id, e.Time, l.Start, l.End)
			}
			namesToken = namesToken || e.TokenID == l.Token
			fromNetwork = fromNetwork && l.Network.Contains(e.IP)
		}
		switch {
		case l.Rule == detect.RuleRejectedBurst || l.Rule == detect.RuleSharedIPManySubjects:
			if !l.Network.IsValid() || !fromNetwork {
				t.Errorf("label %s: network %s, want the address of every event", l.ID, l.Network)
			}
		case l.Token == "" || !namesToken || l.Subject == "":
			t.Errorf("label %s: token %q, subject %q, want the token and subject of an event", l.ID, l.Token, l.Subject)
		}
	}
	for _, rule := range attackRules {
		if perRule[rule] != shortConfig.AttacksPerRule {
			t.Errorf("%d attacks of %s, want %d", perRule[rule], rule, shortConfig.AttacksPerRule)
		}
	}
	if attackEvents != res.AttackEvents {
		t.Errorf("labels name %d events, Result.AttackEvents = %d", attackEvents, res.AttackEvents)
	}
}

func TestShortRunCannotPlaceUnfamiliarClient(t *testing.T) {
	_, res := run(t, Config{Subjects: 80, Days: 5, Events: 10_000, AttacksPerRule: 1})
	if len(res.NotInjected) != 1 || !strings.HasPrefix(res.NotInjected[0], detect.RuleUnfamiliarClient) {
		t.Errorf("NotInjected = %q, want the one unfamiliar_client attack", res.NotInjected)
	}
}

func TestAttacksAvoidBenignAddresses(t *testing.T) {
	events, res := shortRun()
	attack := make(map[string]bool)
	for _, l := range res.Labels {
		for _, id := range l.EventIDs {
			attack[id] = true
		}
	}
	benign := make(map[netip.Addr]bool)
	for _, e := range events {
		if !attack[e.ID] {
			benign[e.IP] = true
		}
	}
	dep := NewDeployment()
	for _, e := range events {
		if !attack[e.ID] {
			if dep.listed(e.IP) && !dep.trusted(e.IP) {
				t.Errorf("benign event %s comes from %s, which the threat list names", e.ID, e.IP)
			}
			continue
		}
		if benign[e.IP] {
			t.Errorf("attack event %s comes from %s, which benign traffic uses too", e.ID, e.IP)
		}
	}
}

// TestBenignTrafficHasTheTraps counts, in the benign events, the patterns
// that a careless rule would take for misuse, so that a score without
// false anomalies means the rules passed them, not that they were absent.
func TestBenignTrafficHasTheTraps(t *testing.T) {
	events, res := shortRun()
	attack := make(map[string]bool)
	for _, l := range res.Labels {
		for _, id := range l.EventIDs {
			attack[id] = true
		}
	}
	dep := NewDeployment()

	type tokenSeen struct {
		issued, revoked, firstRefresh time.Time
		firstUse                      time.Time
		uses                          []time.Time
		exp                           time.Time
		carrierCities                 []string
	}
	tokens := make(map[string]*tokenSeen)
	seen := func(id string) *tokenSeen {
		if tokens[id] == nil {
			tokens[id] = &tokenSeen{}
		}
		return tokens[id]
	}
	placeholderTokens := make(map[netip.Addr]map[string]bool)
	counts := make(map[string]int)
	for _, e := range events {
		if attack[e.ID] {
			continue
		}
		ts := seen(e.Token())
		switch e.Kind {
		case audit.KindIssued:
			ts.issued = e.Time
			if !ts.firstUse.IsZero() {
				counts["use recorded before its issuance"]++
			}
		case audit.KindRevoked:
			ts.revoked = e.Time
		case audit.KindRefreshed:
			switch {
			case ts.firstRefresh.IsZero():
				ts.firstRefresh = e.Time
				if ts.issued.IsZero() {
					counts["refresh token issued before recording started"]++
				}
			case e.Time.Sub(ts.firstRefresh) <= 2*time.Second:
				counts["parallel refresh within the grace"]++
			}
		case audit.KindRejected:
			counts["rejected as "+string(e.RejectReason)]++
		case audit.KindUsed:
			if ts.firstUse.IsZero() {
				ts.firstUse = e.Time
			}
			ts.uses = append(ts.uses, e.Time)
			if e.Time.After(e.ExpiresAt) {
				counts["use recorded after exp, within the skew"]++
			}
			if !ts.revoked.IsZero() {
				counts["use recorded after its revocation, within the skew"]++
			}
			if e.Geo.AccuracyKM == carrierAccuracyKM && !slices.Contains(ts.carrierCities, e.Geo.City) {
				ts.carrierCities = append(ts.carrierCities, e.Geo.City)
				if len(ts.carrierCities) == 2 {
					counts["token moved between carrier gateways"]++
				}
			}
			if e.IP.Is6() {
				counts["IPv6 carrier address"]++
			}
			if dep.trusted(e.IP) {
				counts["use from a trusted network"]++
			}
			if isPlaceholder(e.Subject) {
				if placeholderTokens[e.IP] == nil {
					placeholderTokens[e.IP] = make(map[string]bool)
				}
				placeholderTokens[e.IP][e.TokenID] = true
			}
		}
	}
	for _, ts := range tokens {
		// The maximum number of uses within any 60 s, by a sliding window.
		most := 0
		for i, j := 0, 0; j < len(ts.uses); j++ {
			for ts.uses[j].Sub(ts.uses[i]) >= time.Minute {
				i++
			}
			most = max(most, j-i+1)
		}
		if most > 300 {
			counts["more than 300 uses of one token within a minute"]++
		}
	}
	for _, set := range placeholderTokens {
		if len(set) > 20 {
			counts["more than 20 placeholder tokens from one address"]++
		}
	}

	for _, trap := range []string{
		"refresh token issued before recording started",
		"parallel refresh within the grace",
		"rejected as expired",
		"rejected as unknown_key",
		"use recorded before its issuance",
		"use recorded after exp, within the skew",
		"use recorded after its revocation, within the skew",
		"token moved between carrier gateways",
		"IPv6 carrier address",
		"use from a trusted network",
		"more than 300 uses of one token within a minute",
		"more than 20 placeholder tokens from one address",
	} {
		if counts[trap] == 0 {
			t.Errorf("no benign event shows the trap %q", trap)
		}
	}
	t.Logf("traps: %v", counts)
}

func isPlaceholder(s string) bool { return slices.Contains(placeholders, s) }

// TestTrapsNeedTheRulesSafeguards runs detection over benign traffic with
// one safeguard of a rule taken away, and expects that rule to misfire:
// the traffic holds the pattern the safeguard is for.
func TestTrapsNeedTheRulesSafeguards(t *testing.T) {
	cfg := Config{Seed: 11, Subjects: 2000, Days: 2, Events: 80_000, AttacksPerRule: NoAttacks}
	events, _ := run(t, cfg)
	dep := NewDeployment()

	tests := []struct {
		name   string
		change func(*detect.Config)
		strip  func(*audit.Event) // changes each event before detection
		want   []string           // rules that must raise anomalies; none may when empty
	}{
		{name: "deployment as is"},
		{name: "no trusted networks", change: func(c *detect.Config) { c.TrustedNetworks = nil },
			want: []string{detect.RuleSharedIPManySubjects, detect.RuleThreatIntelIP}},
		{name: "clock skew 1s", change: func(c *detect.Config) { c.ClockSkew = time.Second },
			want: []string{detect.RuleExpiredTokenUse, detect.RuleRevokedTokenUse}},
		{name: "refresh grace 1ms", change: func(c *detect.Config) { c.Rules.RefreshTokenReuse.Grace = time.Millisecond },
			want: []string{detect.RuleRefreshTokenReuse}},
		{name: "recorded since a month earlier", change: func(c *detect.Config) { c.Rules.UnknownToken.Since = defaultStart.AddDate(0, -1, 0) },
			want: []string{detect.RuleUnknownToken}},
		{name: "one network allowed", change: func(c *detect.Config) { c.Rules.RapidIPChange.MaxNetworks = 1 },
			want: []string{detect.RuleRapidIPChange}},
		{name: "100 uses a minute", change: func(c *detect.Config) { c.Rules.HighFrequency.MaxUses = 100 },
			want: []string{detect.RuleHighFrequency}},
		{name: "no accuracy radius", strip: func(e *audit.Event) { e.Geo.AccuracyKM = 0 },
			want: []string{detect.RuleImpossibleTravel}},
		{name: "learning for an hour", change: func(c *detect.Config) {
			c.Rules.UnfamiliarClient.LearningPeriod = time.Hour
			c.Rules.UnfamiliarClient.MinEvents = 1
		}, want: []string{detect.RuleUnfamiliarClient}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dc := dep.DetectConfig()
			if tt.change != nil {
				tt.change(&dc)
			}
			input := events
			if tt.strip != nil {
				input = slices.Clone(events)
				for i := range input {
					tt.strip(&input[i])
				}
			}
			got := make(map[string]int)
			for _, a := range detectAll(t, dc, input) {
				got[a.Rule]++
			}
			for _, rule := range tt.want {
				if got[rule] == 0 {
					t.Errorf("%s raised nothing, want anomalies on benign traffic", rule)
				}
			}
			if len(tt.want) == 0 && len(got) > 0 {
				t.Errorf("anomalies on benign traffic: %v, want none", got)
			}
			t.Logf("anomalies: %v", got)
		})
	}
}
