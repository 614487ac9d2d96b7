package detect

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

func TestParseConfigCustomRules(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
custom_rules:
  - name: admin_scope_from_new_network
    expression: '"admin" in event.scopes && token.distinct_networks > 1'
    severity: high
    description: An admin-scoped token moved to a second network.
`))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	if len(cfg.CustomRules) != 1 {
		t.Fatalf("custom_rules = %+v, want one rule", cfg.CustomRules)
	}
	r := cfg.CustomRules[0]
	if r.Name != "admin_scope_from_new_network" || r.Severity != audit.SeverityHigh ||
		r.Expression != `"admin" in event.scopes && token.distinct_networks > 1` ||
		r.Description != "An admin-scoped token moved to a second network." {
		t.Errorf("custom rule = %+v", r)
	}
	if _, err := New(cfg); err != nil {
		t.Errorf("New: %v", err)
	}
}

// compileError parses yaml, creates an engine and returns its
// *CustomRuleError.
func compileError(t *testing.T, yaml string) *CustomRuleError {
	t.Helper()
	cfg, err := ParseConfig([]byte(yaml))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	_, err = New(cfg)
	var ce *CustomRuleError
	if !errors.As(err, &ce) {
		t.Fatalf("New error = %v, want a *CustomRuleError", err)
	}
	if verr := cfg.Validate(); verr == nil || verr.Error() != err.Error() {
		t.Errorf("Validate error = %v, want the error of New: %v", verr, err)
	}
	return ce
}

func TestCustomRuleCompileErrorsInFile(t *testing.T) {
	tests := []struct {
		name         string
		yaml         string
		line, column int
		reason       string
	}{
		{
			name: "bad syntax",
			yaml: `
custom_rules:
  - name: broken
    expression: 'event.kind == "used" &&'
`,
			line: 4, column: 41, reason: "Syntax error",
		},
		{
			name: "unknown variable",
			yaml: `
custom_rules:
  - name: typo
    severity: low
    expression: evnt.kind == "used"
`,
			line: 5, column: 17, reason: "undeclared reference to 'evnt'",
		},
		{
			name: "unknown field",
			yaml: `
custom_rules:
  - name: ok
    expression: event.kind == "used"
  - name: field_typo
    expression: "event.kind == \"used\" && event.contry == \"DE\""
`,
			line: 6, column: 49, reason: "undefined field 'contry'",
		},
		{
			name: "not a bool",
			yaml: `
custom_rules:
  - name: path
    expression: event.path
`,
			line: 4, column: 17, reason: "gives a string, but a rule needs a bool",
		},
		{
			name: "literal block",
			yaml: `
custom_rules:
  - name: block
    expression: |
      event.kind == "used" &&
        token.usse > 3
`,
			line: 6, column: 14, reason: "undefined field 'usse'",
		},
		{
			name: "folded block",
			yaml: `
custom_rules:
  - name: folded
    expression: >-
      event.kind == "used"
      && subject.events > 20
      && subjet.known_countries.size() > 0
`,
			line: 7, column: 10, reason: "undeclared reference to 'subjet'",
		},
		{
			name: "plain over two lines",
			yaml: `
custom_rules:
  - name: plain
    expression: event.kind ==
      "used" && event.status == "200"
`,
			line: 5, column: 30, reason: "no matching overload for '_==_'",
		},
		{
			name: "escapes and a joined line",
			yaml: `
custom_rules:
  - name: escaped
    expression: "event.city == \"Montr\u00e9al\" \
      && token.bad"
`,
			line: 5, column: 15, reason: "undefined field 'bad'",
		},
		{
			name: "single quotes doubled",
			yaml: `
custom_rules:
  - name: quoted
    expression: 'event.path == ''/admin'' && token.nope'
`,
			line: 4, column: 51, reason: "undefined field 'nope'",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ce := compileError(t, tc.yaml)
			if !ce.InFile || ce.Line != tc.line || ce.Column != tc.column {
				t.Errorf("error at line %d, column %d (in file %t), want line %d, column %d in the file: %v",
					ce.Line, ce.Column, ce.InFile, tc.line, tc.column, ce)
			}
			if ce.Field != "expression" || !strings.Contains(ce.Reason, tc.reason) {
				t.Errorf("error = %v, want one on the expression saying %q", ce, tc.reason)
			}
			msg := ce.Error()
			if !strings.Contains(msg, fmt.Sprintf("custom rule %q", ce.Name)) || !strings.Contains(msg, fmt.Sprintf("line %d, column %d:", tc.line, tc.column)) {
				t.Errorf("message %q does not name the rule and its line and column", msg)
			}
		})
	}
}

func TestCustomRuleCompileErrorInCode(t *testing.T) {
	_, err := New(Config{CustomRules: []CustomRule{
		{Name: "in_code", Expression: "event.kind == \"used\" &&\n  tokn.uses > 3"},
	}})
	var ce *CustomRuleError
	if !errors.As(err, &ce) {
		t.Fatalf("New error = %v, want a *CustomRuleError", err)
	}
	if ce.InFile || ce.Line != 2 || ce.Column != 3 {
		t.Errorf("error at line %d, column %d (in file %t), want line 2, column 3 of the expression", ce.Line, ce.Column, ce.InFile)
	}
	want := `detect: invalid config: custom rule "in_code" (custom_rules[0].expression) at line 2, column 3 of the expression: undeclared reference to 'tokn'`
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %q, want it to start with %q", err, want)
	}
}

func TestCustomRuleInvalidFields(t *testing.T) {
	ok := CustomRule{Name: "fine", Expression: "true"}
	tests := []struct {
		name   string
		rules  []CustomRule
		index  int
		field  string
		reason string
	}{
		{"empty name", []CustomRule{{Expression: "true"}}, 0, "name", "not a valid name"},
		{"upper case", []CustomRule{{Name: "Admin", Expression: "true"}}, 0, "name", "not a valid name"},
		{"dash", []CustomRule{ok, {Name: "admin-scope", Expression: "true"}}, 1, "name", "not a valid name"},
		{"built-in name", []CustomRule{{Name: RuleUnfamiliarClient, Expression: "true"}}, 0, "name", "built-in rule"},
		{"duplicate", []CustomRule{ok, {Name: "fine", Expression: "false"}}, 1, "name", "earlier custom rule"},
		{"bad severity", []CustomRule{{Name: "sev", Expression: "true", Severity: 7}}, 0, "severity", "not one of low"},
		{"no expression", []CustomRule{{Name: "empty", Expression: "  "}}, 0, "expression", "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{CustomRules: tc.rules})
			var ce *CustomRuleError
			if !errors.As(err, &ce) {
				t.Fatalf("New error = %v, want a *CustomRuleError", err)
			}
			if ce.Index != tc.index || ce.Field != tc.field || !strings.Contains(ce.Reason, tc.reason) {
				t.Errorf("error = %+v, want custom_rules[%d].%s saying %q", ce, tc.index, tc.field, tc.reason)
			}
		})
	}

	many := make([]CustomRule, maxCustomRules+1)
	for i := range many {
		many[i] = CustomRule{Name: fmt.Sprintf("rule_%d", i), Expression: "false"}
	}
	var ce *ConfigError
	if _, err := New(Config{CustomRules: many}); !errors.As(err, &ce) || ce.Field != "custom_rules" {
		t.Errorf("New with %d rules: error = %v, want a *ConfigError on custom_rules", len(many), err)
	}
}

// customClient sets the client of an event for the custom rule tests.
func customClient(ip, country string, asn uint32, ua string) func(*audit.Event) {
	return func(e *audit.Event) {
		e.IP, e.Geo.Country, e.Geo.City, e.Geo.ASN, e.Geo.Org, e.UserAgent = mustAddr(ip), country, "City of "+country, asn, fmt.Sprintf("Org %d", asn), ua
	}
}

// variableEvents are a subject's history and a token with three events,
// the last of which, with path /final, each variable test matches.
func variableEvents() []audit.Event {
	events := history("alice", 3, 3*time.Hour, homeClient, func(e *audit.Event) { e.Issuer = "https://idp.example" })
	withAll := func(e *audit.Event) {
		e.TokenID, e.Issuer, e.Audience = "tok-x", "https://idp.example", []string{"api"}
		e.ClientID, e.SessionID, e.Scopes = "web", "sess-1", []string{"read", "admin"}
		e.IssuedAt = t0.Add(4 * time.Hour)
		e.Method, e.Status = "POST", 201
	}
	events = append(events,
		event("x1", 4*time.Hour, audit.KindIssued, withSubject("alice"), withAll, customClient("81.56.10.20", "FR", 3215, "Firefox/128.0")),
		event("x2", 5*time.Hour, audit.KindUsed, withSubject("alice"), withAll, customClient("81.56.10.21", "FR", 3215, "Firefox/128.0")),
		event("x3", 6*time.Hour, audit.KindUsed, withSubject("alice"), withAll, customClient("2001:db8:1:2::9", "DE", 14061, "curl/8.5"),
			func(e *audit.Event) { e.Path, e.Scopes = "/final", []string{"write"} }),
	)
	return events
}

func TestCustomRuleVariables(t *testing.T) {
	at := func(h int) string { return t0.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
	tests := []string{
		`event.kind == "used"`,
		`event.token_id == "tok-x"`,
		`event.fingerprint == ""`,
		`event.subject == "alice"`,
		`event.issuer == "https://idp.example"`,
		`event.audience == ["api"]`,
		`event.client_id == "web"`,
		`event.session_id == "sess-1"`,
		`event.ip == "2001:db8:1:2::9"`,
		`event.network == "2001:db8:1:2::/64"`,
		`event.country == "DE"`,
		`event.city == "City of DE"`,
		`event.asn == 14061`,
		`event.org == "Org 14061"`,
		`event.user_agent == "curl/8.5"`,
		`event.ua_family == "curl"`,
		`event.method == "POST"`,
		`event.status == 201`,
		`event.scopes == ["write"]`,
		`event.reject_reason == ""`,
		`event.time == timestamp("` + at(6) + `")`,
		`has(event.country) && !has(event.reject_reason)`,
		`token.uses == 2`,
		`token.distinct_networks == 2`,
		`token.countries == ["DE", "FR"]`,
		`token.scopes == ["read", "admin"]`,
		`token.age == duration("2h")`,
		`token.first_seen == timestamp("` + at(4) + `")`,
		`token.last_seen == timestamp("` + at(5) + `")`,
		`subject.events == 4`,
		`subject.first_seen == timestamp("` + at(0) + `")`,
		`subject.known_countries == ["FR"]`,
		`subject.known_asns == [3215]`,
		`subject.known_ua_families == ["Firefox"]`,
		`subject.known_networks == ["81.56.10.0/24"]`,
		`!(event.network in subject.known_networks) && event.path.startsWith("/fin")`,
		`sets.intersects(token.scopes, ["admin"])`,
	}
	for _, expr := range tests {
		t.Run(expr, func(t *testing.T) {
			cfg := unfamiliarConfig()
			cfg.CustomRules = []CustomRule{{Name: "check", Expression: `event.path == "/final" && (` + expr + `)`}}
			eng, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := observeAll(eng, variableEvents())
			want := []found{{"check", audit.SeverityMedium, []string{"x3"}}}
			if !equalFound(summarize(got), want) {
				t.Errorf("anomalies = %+v, want %+v", summarize(got), want)
			}
			if n := eng.Stats().CustomRuleErrors; n != 0 {
				t.Errorf("Stats.CustomRuleErrors = %d, want 0", n)
			}
		})
	}
}

func TestCustomRulePlaceholderSubject(t *testing.T) {
	cfg := Config{CustomRules: []CustomRule{{Name: "nobody", Expression: `subject.events == 0 && size(subject.known_countries) == 0 && token.uses == 3`}}}
	events := history("null", 3, time.Hour, homeClient, withToken("tok-null"))
	got := run(t, cfg, events)
	want := []found{{"nobody", audit.SeverityMedium, []string{"null-002"}}}
	if !equalFound(summarize(got), want) {
		t.Errorf("anomalies = %+v, want %+v", summarize(got), want)
	}
}

func TestCustomRuleFiresOncePerToken(t *testing.T) {
	cfg := Config{CustomRules: []CustomRule{{
		Name:        "admin_scope_from_new_network",
		Expression:  `"admin" in event.scopes && token.distinct_networks > 1`,
		Severity:    audit.SeverityHigh,
		Description: "An admin-scoped token moved to a second network: revoke it.",
	}}}
	admin := func(e *audit.Event) { e.Scopes = []string{"read", "admin"} }
	events := []audit.Event{
		event("a1", 0, audit.KindUsed, withIP("81.56.10.20"), admin),
		event("a2", time.Minute, audit.KindUsed, withIP("81.56.10.99"), admin),  // same /24
		event("a3", 2*time.Minute, audit.KindUsed, withIP("164.90.1.2"), admin), // second network
		event("a4", 3*time.Minute, audit.KindUsed, withIP("5.6.7.8"), admin),    // third: no second anomaly
		event("b1", 4*time.Minute, audit.KindUsed, withIP("81.56.10.20"), withToken("tok-2")),
		event("b2", 5*time.Minute, audit.KindUsed, withIP("5.6.7.8"), withToken("tok-2")), // no admin scope
		event("c1", 6*time.Minute, audit.KindUsed, withIP("81.56.10.20"), withToken("tok-3"), admin),
		event("c2", 7*time.Minute, audit.KindUsed, withIP("10.0.0.5"), withToken("tok-3"), admin), // internal
		event("c3", 8*time.Minute, audit.KindUsed, withIP("9.9.9.9"), withToken("tok-3"), admin),
	}
	cfg.Rules.RapidIPChange.Disabled = true
	got := run(t, cfg, events)
	checkAnomalies(t, got)
	want := []found{
		{"admin_scope_from_new_network", audit.SeverityHigh, []string{"a3"}},
		{"admin_scope_from_new_network", audit.SeverityHigh, []string{"c3"}},
	}
	if !equalFound(summarize(got), want) {
		t.Fatalf("anomalies = %+v, want %+v", summarize(got), want)
	}
	wantSummary := "An admin-scoped token moved to a second network: revoke it (custom rule admin_scope_from_new_network, used event of token tok-1 from 164.90.1.2)."
	if got[0].Summary != wantSummary {
		t.Errorf("summary = %q, want %q", got[0].Summary, wantSummary)
	}
	if got[0].IP != mustAddr("164.90.1.2") || got[0].Subject != "alice@example.com" {
		t.Errorf("anomaly = %+v, want the client and subject of a3", got[0])
	}

	// Replaying the events gives the same IDs.
	again := run(t, cfg, events)
	if len(again) != len(got) || again[0].ID != got[0].ID || again[1].ID != got[1].ID {
		t.Errorf("replay IDs = %v, want %v", again, got)
	}
}

func TestCustomRuleRuntimeErrorCounted(t *testing.T) {
	cfg := Config{CustomRules: []CustomRule{
		{Name: "out_of_range", Expression: `event.scopes[3] == "admin"`},
		{Name: "works", Expression: `event.kind == "revoked"`},
	}}
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := observeAll(eng, []audit.Event{
		event("e1", 0, audit.KindUsed),
		event("e2", time.Minute, audit.KindUsed, func(e *audit.Event) { e.Scopes = []string{"a", "b", "c", "admin"} }),
		event("e3", 2*time.Minute, audit.KindRevoked),
	})
	want := []found{
		{"out_of_range", audit.SeverityMedium, []string{"e2"}},
		{"works", audit.SeverityMedium, []string{"e3"}},
	}
	if !equalFound(summarize(got), want) {
		t.Errorf("anomalies = %+v, want %+v", summarize(got), want)
	}
	if n := eng.Stats().CustomRuleErrors; n != 1 {
		t.Errorf("Stats.CustomRuleErrors = %d, want 1: e1 has no fourth scope (e3 is not checked after the rule raised)", n)
	}
}

func TestCustomRuleFailuresByRule(t *testing.T) {
	cfg := Config{CustomRules: []CustomRule{
		{Name: "works", Expression: `event.kind == "revoked"`},
		{Name: "out_of_range", Expression: `event.scopes[3] == "x"`},
		{Name: "divide_by_zero", Expression: `10 / (token.uses - token.uses) > 1`},
	}}
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	observeAll(eng, []audit.Event{
		event("e1", 0, audit.KindUsed),
		event("e2", time.Minute, audit.KindUsed),
		event("e3", 2*time.Minute, audit.KindUsed),
	})

	got := eng.CustomRuleFailures()
	if len(got) != 2 {
		t.Fatalf("CustomRuleFailures() = %+v, want the two failing rules", got)
	}
	for i, want := range []string{"out_of_range", "divide_by_zero"} {
		f := got[i]
		if f.Rule != want {
			t.Errorf("CustomRuleFailures()[%d].Rule = %q, want %q", i, f.Rule, want)
		}
		if f.Events != 3 {
			t.Errorf("%s: Events = %d, want 3", want, f.Events)
		}
		if f.FirstEvent != "e1" || f.FirstError == nil {
			t.Errorf("%s: first failure = %q, %v, want e1 with its error", want, f.FirstEvent, f.FirstError)
		}
	}
	if !strings.Contains(got[1].FirstError.Error(), "division by zero") {
		t.Errorf("divide_by_zero: FirstError = %q, want the CEL error", got[1].FirstError)
	}
	if n := eng.Stats().CustomRuleErrors; n != 6 {
		t.Errorf("Stats.CustomRuleErrors = %d, want 6", n)
	}
}

func TestCustomRuleFailuresNoneWhenAllEvaluate(t *testing.T) {
	eng, err := New(Config{CustomRules: []CustomRule{{Name: "works", Expression: `event.kind == "revoked"`}}})
	if err != nil {
		t.Fatal(err)
	}
	observeAll(eng, []audit.Event{event("e1", 0, audit.KindUsed)})
	if got := eng.CustomRuleFailures(); got != nil {
		t.Errorf("CustomRuleFailures() = %+v, want nil", got)
	}
}

func TestCustomStateOnlyWithCustomRules(t *testing.T) {
	events := variableEvents()
	for _, custom := range []bool{false, true} {
		cfg := Config{}
		if custom {
			cfg.CustomRules = []CustomRule{{Name: "never", Expression: "false"}}
		}
		eng, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		observeAll(eng, events)
		st := eng.mu.tokens["tok-x"]
		sub := eng.mu.subjects[eng.subjectOf(&events[len(events)-1])]
		if st == nil || sub == nil {
			t.Fatalf("custom %t: no state for tok-x or alice", custom)
		}
		if (st.custom != nil) != custom || (sub.networks != nil) != custom {
			t.Errorf("custom rules %t: token custom state %v, subject networks %v, want both kept only with custom rules", custom, st.custom != nil, sub.networks != nil)
		}
	}
}

// TestDocsCustomRulesCompile compiles every custom rule that the YAML
// examples of docs/detection.md give, so that the documented rules work.
func TestDocsCustomRulesCompile(t *testing.T) {
	data, err := os.ReadFile("../docs/detection.md")
	if err != nil {
		t.Fatalf("read the detection docs: %v", err)
	}
	blocks := 0
	for _, block := range strings.Split(string(data), "```yaml\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if !strings.Contains(block, "custom_rules:") {
			continue
		}
		blocks++
		cfg, err := ParseConfig([]byte(block))
		if err != nil {
			t.Errorf("ParseConfig of the example:\n%s\n%v", block, err)
			continue
		}
		if _, err := New(cfg); err != nil {
			t.Errorf("New with the example:\n%s\n%v", block, err)
		}
		if len(cfg.CustomRules) < 4 {
			t.Errorf("example has %d custom rules, want the 4 or more the docs show", len(cfg.CustomRules))
		}
	}
	if blocks == 0 {
		t.Error("docs/detection.md has no YAML example of custom_rules")
	}
}

// docsCustomRules returns the custom rules of the first YAML example of
// docs/detection.md, with the example's token_ttl.
func docsCustomRules(tb testing.TB) Config {
	tb.Helper()
	data, err := os.ReadFile("../docs/detection.md")
	if err != nil {
		tb.Fatalf("read the detection docs: %v", err)
	}
	for _, block := range strings.Split(string(data), "```yaml\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if strings.Contains(block, "custom_rules:") {
			cfg, err := ParseConfig([]byte(block))
			if err != nil {
				tb.Fatal(err)
			}
			return cfg
		}
	}
	tb.Fatal("docs/detection.md has no YAML example of custom_rules")
	return Config{}
}

// TestDocsCustomRulesFire checks that the documented examples raise on the
// events they describe: an admin scope stated at issuance only, and a use
// after three idle days, which needs the example's token_ttl.
func TestDocsCustomRulesFire(t *testing.T) {
	cfg := docsCustomRules(t)
	if cfg.TokenTTL <= 72*time.Hour {
		t.Fatalf("example token_ttl = %v, want more than the 72h of dormant_token_used", cfg.TokenTTL)
	}
	events := []audit.Event{
		event("i1", 0, audit.KindIssued, withIP("164.90.1.2"), func(e *audit.Event) { e.Scopes = []string{"openid", "admin"} }),
		event("u1", time.Minute, audit.KindUsed, withIP("164.90.1.2")),
		event("u2", 2*time.Minute, audit.KindUsed, withIP("81.2.69.10")),
		event("u3", 80*time.Hour, audit.KindUsed, withIP("81.2.69.10")),
	}
	rules := map[string]string{}
	for _, a := range run(t, cfg, events) {
		rules[a.Rule] = a.EventIDs[len(a.EventIDs)-1]
	}
	if rules["admin_scope_from_new_network"] != "u2" {
		t.Errorf("admin_scope_from_new_network raised on %q, want u2, the use from a second network", rules["admin_scope_from_new_network"])
	}
	if rules["dormant_token_used"] != "u3" {
		t.Errorf("dormant_token_used raised on %q, want u3, the use after 80 idle hours", rules["dormant_token_used"])
	}

	// With the default token_ttl the state is gone before the gap ends.
	cfg.TokenTTL = 0
	for _, a := range run(t, cfg, events) {
		if a.Rule == "dormant_token_used" {
			t.Errorf("dormant_token_used raised with the default token_ttl: %+v", a)
		}
	}
}

func TestUnknownRules(t *testing.T) {
	stored := func(rule string) (bool, error) { return rule == "old_custom", nil }
	tests := []struct {
		name         string
		rules        []string
		hasAnomalies func(string) (bool, error)
		want         []string
	}{
		{"built-in", []string{RuleImpossibleTravel}, stored, nil},
		{"configured custom", []string{"every_use"}, stored, nil},
		{"stored custom", []string{"old_custom"}, stored, nil},
		{"unknown", []string{"nosuch", RuleConcurrentUse, "other"}, stored, []string{"nosuch", "other"}},
		{"stored custom without lookup", []string{"old_custom"}, nil, []string{"old_custom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UnknownRules(tt.rules, []string{"every_use"}, tt.hasAnomalies)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("UnknownRules(%v) = %v, want %v", tt.rules, got, tt.want)
			}
		})
	}

	failed := errors.New("store closed")
	if _, err := UnknownRules([]string{"nosuch"}, nil, func(string) (bool, error) { return false, failed }); !errors.Is(err, failed) {
		t.Errorf("UnknownRules with a failing lookup = %v, want %v", err, failed)
	}
}
