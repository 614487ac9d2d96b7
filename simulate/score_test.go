package simulate

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
)

// TestScoreShortRun is the short version of the full-size score in
// docs/detection.md: every injected attack of a rule the detect package
// has must be found, and false anomalies must stay within AllowedFalse.
//
// About 100,000 benign events at the target of 1 false anomaly per 100,000
// allow one false anomaly. The run is deterministic, so the test cannot
// flake, but it cannot resolve the target either: a rule that misfires at
// the target rate would raise about one false anomaly here, which passes.
// What it catches is a regression to about ten times the target or worse,
// which would raise about ten (the chance of at most one is then about
// 0.05%, by the Poisson distribution). The full-size run of 1 million
// benign events and more is the measurement.
func TestScoreShortRun(t *testing.T) {
	events, res := shortRun()
	sc := newTestScorer(t)
	for _, e := range events {
		sc.Observe(e)
	}
	s := sc.Score(res)

	var table bytes.Buffer
	if err := s.WriteTable(&table, 20); err != nil {
		t.Fatal(err)
	}
	t.Logf("score:\n%s", table.String())

	for _, r := range s.Rules {
		if r.Injected != shortConfig.AttacksPerRule {
			t.Errorf("%s: injected %d, want %d", r.Rule, r.Injected, shortConfig.AttacksPerRule)
		}
		switch {
		case r.Detector && r.Found != r.Injected:
			t.Errorf("%s found %d of %d injected attacks", r.Rule, r.Found, r.Injected)
		case !r.Detector && (r.Found != 0 || r.Anomalies != 0):
			t.Errorf("%s has no detector but found %d attacks with %d anomalies", r.Rule, r.Found, r.Anomalies)
		}
	}
	if s.AllowedFalse != 1 {
		t.Errorf("AllowedFalse = %d for %d benign events, want the floor of 1", s.AllowedFalse, s.BenignEvents)
	}
	if s.FalseAnomalies > s.AllowedFalse {
		t.Errorf("%d false anomalies in %d benign events, want at most %d", s.FalseAnomalies, s.BenignEvents, s.AllowedFalse)
	}
	if s.BenignEvents != res.BenignEvents() || s.Events != res.Events {
		t.Errorf("score counts %d events, %d benign; the run emitted %d, %d benign", s.Events, s.BenignEvents, res.Events, res.BenignEvents())
	}
}

func TestScoreAttributesAnomalies(t *testing.T) {
	t0 := time.Date(2025, 3, 5, 10, 0, 0, 0, time.UTC)
	labels := []Label{
		{ID: "concurrent_use-0", Rule: detect.RuleConcurrentUse, Token: "victim", Start: t0, End: t0.Add(time.Minute), EventIDs: []string{"a1", "a2"}},
		{ID: "rejected_burst-0", Rule: detect.RuleRejectedBurst, Network: netip.MustParsePrefix("45.140.1.1/32"), Start: t0, End: t0.Add(time.Minute), EventIDs: []string{"b1"}},
		{ID: "threat_intel_ip-0", Rule: detect.RuleThreatIntelIP, Token: "tor", Start: t0, End: t0, EventIDs: []string{"c1"}},
	}
	anomalies := []audit.Anomaly{
		// Proven by an attack event of its own rule.
		{Rule: detect.RuleConcurrentUse, TokenID: "victim", Time: t0, EventIDs: []string{"x", "a1", "y"}},
		// The same attack seen by another rule.
		{Rule: detect.RuleUserAgentChange, TokenID: "victim", Time: t0, EventIDs: []string{"x", "a2"}},
		// No attack event, but the attack's token soon after it.
		{Rule: detect.RuleRapidIPChange, TokenID: "victim", Time: t0.Add(10 * time.Minute), EventIDs: []string{"x"}},
		// The attack's token, too long after it.
		{Rule: detect.RuleRapidIPChange, TokenID: "victim", Time: t0.Add(20 * time.Minute), EventIDs: []string{"z"}},
		// A network rule, proven by an attack event of its own.
		{Rule: detect.RuleRejectedBurst, Time: t0, EventIDs: []string{"b1"}},
		// Benign, including a rule the table does not list in advance.
		{Rule: detect.RuleHighFrequency, TokenID: "bot", Time: t0, EventIDs: []string{"q"}},
		{Rule: "custom_rule", TokenID: "other", Time: t0, EventIDs: []string{"r"}},
	}
	s := score(anomalies, labels, 1_000_000, 50_000)

	want := map[string]RuleScore{
		detect.RuleConcurrentUse:    {Rule: detect.RuleConcurrentUse, Detector: true, Injected: 1, Found: 1, Anomalies: 1, True: 1},
		detect.RuleUserAgentChange:  {Rule: detect.RuleUserAgentChange, Detector: true, Anomalies: 1, Also: 1},
		detect.RuleRapidIPChange:    {Rule: detect.RuleRapidIPChange, Detector: true, Anomalies: 2, Also: 1, False: 1},
		detect.RuleHighFrequency:    {Rule: detect.RuleHighFrequency, Detector: true, Anomalies: 1, False: 1},
		detect.RuleRejectedBurst:    {Rule: detect.RuleRejectedBurst, Detector: true, Injected: 1, Found: 1, Anomalies: 1, True: 1},
		detect.RuleThreatIntelIP:    {Rule: detect.RuleThreatIntelIP, Detector: true, Injected: 1},
		detect.RuleUnfamiliarClient: {Rule: detect.RuleUnfamiliarClient, Detector: true},
		"custom_rule":               {Rule: "custom_rule", Anomalies: 1, False: 1},
	}
	got := make(map[string]RuleScore)
	for _, r := range s.Rules {
		got[r.Rule] = r
	}
	for rule, w := range want {
		if got[rule] != w {
			t.Errorf("score of %s = %+v, want %+v", rule, got[rule], w)
		}
	}
	if n := len(s.Rules); n != len(attackRules)+1 || s.Rules[n-1].Rule != "custom_rule" {
		t.Errorf("rows = %d, last %q; want every rule of attackRules, then custom_rule", n, s.Rules[n-1].Rule)
	}
	if s.FalseAnomalies != 3 || len(s.False) != 3 {
		t.Errorf("FalseAnomalies = %d with %d listed, want 3", s.FalseAnomalies, len(s.False))
	}
	if len(s.Missed) != 1 || s.Missed[0].ID != "threat_intel_ip-0" {
		t.Errorf("Missed = %v, want threat_intel_ip-0", s.Missed)
	}
	if s.BenignEvents != 950_000 || s.AllowedFalse != 9 {
		t.Errorf("BenignEvents, AllowedFalse = %d, %d; want 950000, 9", s.BenignEvents, s.AllowedFalse)
	}
	if met, reasons := s.Met(); met || len(reasons) != 1 || !strings.Contains(reasons[0], "threat_intel_ip found 0 of 1") {
		t.Errorf("Met() = %v, %q; want false for the missed threat_intel_ip attack", met, reasons)
	}
}

func TestAllowedFalse(t *testing.T) {
	tests := []struct{ benign, want int }{
		{0, 1}, {50_000, 1}, {199_999, 1}, {200_000, 2}, {1_059_565, 10}, {5_307_331, 53},
	}
	for _, tt := range tests {
		if got := AllowedFalse(tt.benign); got != tt.want {
			t.Errorf("AllowedFalse(%d) = %d, want %d", tt.benign, got, tt.want)
		}
	}
}

func TestMetCountsFalseAnomalies(t *testing.T) {
	s := &Score{FalseAnomalies: 2, AllowedFalse: 1, BenignEvents: 100}
	if met, reasons := s.Met(); met || len(reasons) != 1 || !strings.Contains(reasons[0], "2 false anomalies") {
		t.Errorf("Met() = %v, %q; want false for 2 false anomalies", met, reasons)
	}
	s.FalseAnomalies = 1
	if met, reasons := s.Met(); !met {
		t.Errorf("Met() = false, %q; want true", reasons)
	}
}

func TestWriteTableMarksRulesWithoutDetector(t *testing.T) {
	s := score(nil, []Label{{ID: "x-0", Rule: "not_built_yet", EventIDs: []string{"e"}}}, 10, 1)
	var b bytes.Buffer
	if err := s.WriteTable(&b, 5); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"| `not_built_yet` (no detector) | 1 | 0 | 0.0% | 0 | 0 | 0 | 0 | - |", "missed attacks (1):", "| `revoked_token_use` | 0 | 0 | - |"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestRatioRoundsDown(t *testing.T) {
	tests := []struct {
		x    float64
		want string
	}{{1, "100.0%"}, {0.99996, "99.9%"}, {0.5, "50.0%"}, {0, "0.0%"}, {-1, "-"}}
	for _, tt := range tests {
		if got := ratio(tt.x); got != tt.want {
			t.Errorf("ratio(%v) = %q, want %q", tt.x, got, tt.want)
		}
	}
}
