package detect

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// tripleScopes is a rule that iterates over the token's scopes three times over. CEL
// estimates its worst case, 32 scopes of 8 KiB, at tens of millions.
const tripleScopes = `token.scopes.all(a, token.scopes.all(b, token.scopes.all(c, a + b != c)))`

func TestCustomRuleCostRejectedAtLoad(t *testing.T) {
	ce := compileError(t, `
custom_rules:
  - name: cheap
    expression: 'event.kind == "used"'
  - name: scopes_cubed
    expression: '`+tripleScopes+`'
`)
	if ce.Name != "scopes_cubed" || ce.Index != 1 || ce.Field != "expression" {
		t.Errorf("CustomRuleError = %+v, want custom_rules[1].expression of scopes_cubed", ce)
	}
	for _, want := range []string{"estimated worst-case cost of ", "over custom_rule_cost_limit 100000", "raise custom_rule_cost_limit"} {
		if !strings.Contains(ce.Error(), want) {
			t.Errorf("error = %q, want it to contain %q", ce.Error(), want)
		}
	}
}

func TestCustomRuleCostLimitConfigurable(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
custom_rule_cost_limit: 1000000000
custom_rules:
  - name: scopes_cubed
    expression: '` + tripleScopes + `'
`))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	if cfg.CustomRuleCostLimit != 1_000_000_000 {
		t.Errorf("CustomRuleCostLimit = %d, want 1000000000", cfg.CustomRuleCostLimit)
	}
	if _, err := New(cfg); err != nil {
		t.Errorf("New with a limit over the estimate: %v", err)
	}

	cfg.CustomRuleCostLimit = 1000
	if _, err := New(cfg); err == nil {
		t.Errorf("New with custom_rule_cost_limit 1000 accepted a rule estimated far over it")
	}
}

func TestCustomRuleUnboundedCostLoads(t *testing.T) {
	// event.scopes has no bound, so CEL cannot estimate the worst case and
	// only the run-time limit applies.
	rule := CustomRule{Name: "event_scopes_squared", Expression: `event.scopes.all(a, event.scopes.all(b, a != b || a == b))`}
	if _, err := New(Config{CustomRules: []CustomRule{rule}}); err != nil {
		t.Errorf("New: %v, want the rule loaded", err)
	}
}

func TestCustomRuleCostLimitAtRunTime(t *testing.T) {
	var logs bytes.Buffer
	cfg := Config{
		CustomRules: []CustomRule{
			{Name: "event_scopes_squared", Expression: `event.scopes.all(a, event.scopes.all(b, a != b || a == b))`},
			{Name: "any_use", Expression: `event.kind == "used"`},
		},
		CustomRuleCostLimit: 10_000,
		Logger:              slog.New(slog.NewTextHandler(&logs, nil)),
	}
	cfg.Rules.RapidIPChange.Disabled = true
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}

	// 200 scopes make 40,000 comparisons, over the limit.
	scopes := make([]string, 200)
	for i := range scopes {
		scopes[i] = fmt.Sprintf("scope-%d", i)
	}
	const tokens = 120
	var events []audit.Event
	for i := range tokens {
		events = append(events, event(fmt.Sprintf("e%d", i), time.Duration(i)*time.Second, audit.KindUsed,
			withToken(fmt.Sprintf("tok-%d", i)), func(e *audit.Event) { e.Scopes = scopes }))
	}
	got := observeAll(eng, events)

	// The other rule still raises on every token.
	raised := 0
	for _, a := range got {
		switch a.Rule {
		case "any_use":
			raised++
		case "event_scopes_squared":
			t.Errorf("anomaly of the rule over its cost limit: %+v", a)
		}
	}
	if raised != tokens {
		t.Errorf("any_use raised %d anomalies, want %d", raised, tokens)
	}

	if n := eng.Stats().CustomRuleErrors; n != tokens {
		t.Errorf("Stats.CustomRuleErrors = %d, want %d", n, tokens)
	}
	failures := eng.CustomRuleFailures()
	if len(failures) != 1 {
		t.Fatalf("CustomRuleFailures() = %+v, want the one rule over its limit", failures)
	}
	if f := failures[0]; f.Rule != "event_scopes_squared" || f.Events != tokens || !IsCostLimitError(f.FirstError) {
		t.Errorf("failure = %s on %d events: %v; want event_scopes_squared on %d events, stopped by the cost limit", f.Rule, f.Events, f.FirstError, tokens)
	}

	// Failures 1, 10 and 100 are logged, not each of the 120.
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("logged %d lines, want 3:\n%s", len(lines), logs.String())
	}
	for i, want := range []string{"failures=1 ", "failures=10 ", "failures=100 "} {
		if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], "rule=event_scopes_squared") || !strings.Contains(lines[i], "cost limit exceeded") {
			t.Errorf("log line %d = %q, want the rule, %q and the cost error", i, lines[i], strings.TrimSpace(want))
		}
	}
}

func TestIsPowerOf10(t *testing.T) {
	for _, tt := range []struct {
		n    uint64
		want bool
	}{{0, false}, {1, true}, {2, false}, {10, true}, {11, false}, {20, false}, {100, true}, {1000000, true}, {1000001, false}} {
		if got := isPowerOf10(tt.n); got != tt.want {
			t.Errorf("isPowerOf10(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}
