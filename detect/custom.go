package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/tokentrail/tokentrail/audit"
)

// CustomRule is a rule written as a CEL expression over the event being
// checked and the state of its token and subject. The rule raises an
// anomaly when the expression gives true, at most once per token, proven
// by that event. docs/detection.md lists the variables and their fields.
//
// Custom rules see every checked event of a token (issued, used, refreshed,
// revoked, rejected) once the built-in rules have. Session events that
// name no token are not checked.
type CustomRule struct {
	// Name is the rule's name in anomalies: lowercase letters, digits and
	// underscores, starting with a letter, at most 64 bytes, unlike every
	// other rule's.
	Name string `yaml:"name"`

	// Expression is the CEL expression, which must give a bool, such as
	// `"admin" in event.scopes && token.distinct_networks > 1`.
	Expression string `yaml:"expression"`

	// Severity is the severity of the rule's anomalies. Default medium.
	Severity audit.Severity `yaml:"severity"`

	// Description is the meaning of a match and the step to take, for the
	// summary of its anomalies, such as "An admin-scoped token moved to a
	// second network: revoke it."
	Description string `yaml:"description"`

	// source maps the expression to the YAML file that ParseConfig read it
	// from, for the positions of compile errors. It is nil for a rule made
	// in code.
	source *exprSource
}

// maxCustomRules bounds Config.CustomRules, since each token keeps one bit
// per custom rule for the rules it raised.
const maxCustomRules = 64

// customRule is a compiled CustomRule.
type customRule struct {
	name        string
	description string
	severity    audit.Severity
	program     cel.Program
	bit         uint64 // this rule's bit in tokenCustom.fired
}

// tokenCustom is the state of a token that only custom rules read, kept
// only when custom rules are configured. Times are Unix nanoseconds of
// event time.
type tokenCustom struct {
	first    int64 // the earliest event
	last     int64 // the latest event
	previous int64 // the latest event before the one being checked
	uses     uint32

	// networkTotal counts the networks (at RapidIPChange's prefixes) the
	// token was issued, used or redeemed from. It is exact while the token
	// has at most knownNetworksMax networks. Past that, a network dropped
	// from the set counts again when it comes back.
	networkTotal uint32
	networkCount uint8
	countryCount uint8
	// networks holds 32-bit hashes of the networks, since only their
	// number is read: two of one token's 16 networks share a hash with a
	// chance of about 3 in 100 million.
	networks  [knownNetworksMax]uint32
	countries [knownValues]uint16

	scopes []string // the scopes of the first event that stated them
	fired  uint64   // the custom rules that raised on the token, by bit
}

// maxTokenScopes bounds the scopes a token keeps for custom rules.
const maxTokenScopes = 32

// builtInRules are the names of the built-in rules, which custom rules may
// not take.
var builtInRules = []string{
	RuleRevokedTokenUse, RuleExpiredTokenUse, RuleRefreshTokenReuse, RuleRapidIPChange,
	RuleHighFrequency, RuleImpossibleTravel, RuleConcurrentUse, RuleUserAgentChange,
	RuleUnknownToken, RuleThreatIntelIP, RuleRejectedBurst, RuleSharedIPManySubjects,
	RuleUnfamiliarClient,
}

// BuiltInRules returns the names of the built-in rules, in the order the
// documentation lists them.
func BuiltInRules() []string {
	return slices.Clone(builtInRules)
}

// UnknownRules returns the names in rules that name no rule: neither a
// built-in rule, nor one of custom, nor a rule for which hasAnomalies
// reports stored anomalies, such as a custom rule of an earlier
// configuration. hasAnomalies may be nil, and its first error is returned.
// The server's rule filter and the CLI's --rule share this check.
func UnknownRules(rules, custom []string, hasAnomalies func(rule string) (bool, error)) ([]string, error) {
	var unknown []string
	for _, r := range rules {
		if slices.Contains(builtInRules, r) || slices.Contains(custom, r) {
			continue
		}
		if hasAnomalies != nil {
			stored, err := hasAnomalies(r)
			if err != nil {
				return nil, err
			}
			if stored {
				continue
			}
		}
		unknown = append(unknown, r)
	}
	return unknown, nil
}

var customRuleName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// compileCustomRules checks and compiles rules, returning the first fault
// as a *CustomRuleError. costLimit bounds each evaluation (see
// Config.CustomRuleCostLimit).
func compileCustomRules(rules []CustomRule, costLimit uint64) ([]*customRule, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	if len(rules) > maxCustomRules {
		return nil, &ConfigError{Field: "custom_rules", Value: fmt.Sprintf("%d rules", len(rules)), Reason: fmt.Sprintf("must hold at most %d rules, so join conditions with || in one rule", maxCustomRules)}
	}
	env, err := newCELEnv()
	if err != nil {
		return nil, fmt.Errorf("detect: set up CEL: %w", err)
	}

	compiled := make([]*customRule, 0, len(rules))
	for i, r := range rules {
		fault := func(field, reason string) *CustomRuleError {
			return &CustomRuleError{Index: i, Name: r.Name, Field: field, Reason: reason}
		}
		switch {
		case !customRuleName.MatchString(r.Name):
			return nil, fault("name", fmt.Sprintf("%q is not a valid name: use 1 to 64 lowercase letters, digits and underscores, starting with a letter", r.Name))
		case slices.Contains(builtInRules, r.Name):
			return nil, fault("name", fmt.Sprintf("%q is the name of a built-in rule: choose another, or set rules.%s instead", r.Name, r.Name))
		case slices.ContainsFunc(rules[:i], func(o CustomRule) bool { return o.Name == r.Name }):
			return nil, fault("name", fmt.Sprintf("%q names an earlier custom rule too: give each rule its own name", r.Name))
		case r.Severity > audit.SeverityCritical:
			return nil, fault("severity", r.Severity.String()+" is not one of low, medium, high or critical")
		case strings.TrimSpace(r.Expression) == "":
			return nil, fault("expression", "is missing: give a CEL expression that is true when the rule should raise")
		}

		ast, issues := env.Compile(r.Expression)
		if issues != nil && issues.Err() != nil {
			return nil, celCompileError(fault("expression", ""), &r, issues.Errors(), nil)
		}
		if out := ast.OutputType(); !out.IsExactType(types.BoolType) {
			e := fault("expression", fmt.Sprintf("gives a %s, but a rule needs a bool: true raises an anomaly", out))
			e.locate(&r, 1, 0)
			return nil, e
		}
		estimate, err := env.EstimateCost(ast, celSizes{})
		if err != nil {
			return nil, celCompileError(fault("expression", ""), &r, nil, err)
		}
		// A Max of math.MaxUint64 means CEL could not bound the cost, as
		// for an iteration over event.scopes, whose length has no bound.
		// The limit then applies at run time only.
		if estimate.Max != math.MaxUint64 && estimate.Max > costLimit {
			e := fault("expression", fmt.Sprintf("has an estimated worst-case cost of %d, over custom_rule_cost_limit %d: "+
				"iterate over fewer lists (nested comprehensions multiply their costs) or raise custom_rule_cost_limit", estimate.Max, costLimit))
			e.locate(&r, 1, 0)
			return nil, e
		}
		program, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(costLimit))
		if err != nil {
			return nil, celCompileError(fault("expression", ""), &r, nil, err)
		}

		severity := r.Severity
		if severity == 0 {
			severity = audit.SeverityMedium
		}
		compiled = append(compiled, &customRule{
			name:        r.Name,
			description: strings.TrimSpace(r.Description),
			severity:    severity,
			program:     program,
			bit:         1 << i,
		})
	}
	return compiled, nil
}

// newCELEnv returns the CEL environment of custom rules: the variables
// event, token and subject, the standard functions, and the string and set
// extensions.
func newCELEnv() (*cel.Env, error) {
	provider, err := newCELProvider()
	if err != nil {
		return nil, err
	}
	return cel.NewEnv(
		cel.CustomTypeProvider(provider),
		cel.Variable("event", cel.ObjectType(celEventType)),
		cel.Variable("token", cel.ObjectType(celTokenType)),
		cel.Variable("subject", cel.ObjectType(celSubjectType)),
		ext.Strings(),
		ext.Sets(),
	)
}

// celCompileError fills e from the first CEL error, locating it in the
// YAML file when the rule came from one, or from err when CEL gave no
// located error.
func celCompileError(e *CustomRuleError, r *CustomRule, errs []*cel.Error, err error) *CustomRuleError {
	if len(errs) == 0 {
		e.Reason = fmt.Sprintf("does not compile: %v", err)
		return e
	}
	first := errs[0]
	msg := strings.TrimSuffix(first.Message, " (in container '')")
	e.Reason = msg
	if strings.HasPrefix(msg, "undeclared reference") || strings.HasPrefix(msg, "undefined field") {
		e.Reason += "; the variables are event, token and subject, with the fields listed under Custom rules in docs/detection.md"
	}
	if len(errs) > 1 {
		e.Reason += fmt.Sprintf(" (and %d more %s)", len(errs)-1, plural("error", "errors", len(errs)-1))
	}
	e.locate(r, first.Location.Line(), first.Location.Column())
	return e
}

// locate sets the position of e from a line (from 1) and a column (from 0,
// in characters) of r's expression: in the YAML file when its source is
// known, else within the expression.
func (e *CustomRuleError) locate(r *CustomRule, line, column int) {
	if line < 1 {
		return
	}
	offset, ok := exprOffset(r.Expression, line, column)
	if !ok {
		return
	}
	if r.source != nil {
		if p, ok := r.source.position(offset); ok {
			e.Line, e.Column, e.InFile = p.line, p.column, true
			return
		}
	}
	e.Line, e.Column = line, column+1
}

// recordCustom updates the state of the token that only custom rules read.
func (c *check) recordCustom() {
	e, st, ev := c.engine, c.st, c.ev
	now := ev.Time.UnixNano()
	tc := st.custom
	if tc == nil {
		tc = &tokenCustom{first: now, last: now}
		st.custom = tc
	}
	tc.previous = tc.last
	tc.first = min(tc.first, now)
	tc.last = max(tc.last, now)
	if c.isUse() && tc.uses < math.MaxUint32 {
		tc.uses++
	}
	if tc.scopes == nil && len(ev.Scopes) > 0 {
		n := min(len(ev.Scopes), maxTokenScopes)
		tc.scopes = make([]string, n)
		for i, s := range ev.Scopes[:n] {
			tc.scopes[i] = strings.Clone(s)
		}
	}

	// Networks and countries, counted like rapid_ip_change counts networks.
	if !c.isObservation() {
		return
	}
	ip := ev.IP.Unmap()
	if ip.IsValid() && (isInternal(ip) || e.isTrusted(ip)) {
		return
	}
	if ip.IsValid() {
		rc := e.cfg.Rules.RapidIPChange
		network := uint32(mix64(networkOf(ip, rc.IPv4Prefix, rc.IPv6Prefix)))
		if added, _ := remember(tc.networks[:], &tc.networkCount, network); added && tc.networkTotal < math.MaxUint32 {
			tc.networkTotal++
		}
	}
	if country := normalCountry(ev.Geo.Country); country != "" {
		remember(tc.countries[:], &tc.countryCount, e.mu.countryNames.id(country))
	}
}

// customRules evaluates each custom rule that has not raised on the token
// over the event, and raises those that give true. sub is the state of the
// event's subject before the event, or nil. An evaluation that fails, such
// as on an index out of range, counts in Stats.CustomRuleErrors and in
// CustomRuleFailures, and raises nothing.
func (c *check) customRules(sub *subjectState) {
	e, ev := c.engine, c.ev
	tc := c.st.custom
	vars := &e.mu.celVars
	*vars = celVars{c: *c, sub: sub}
	defer func() { *vars = celVars{} }()

	for i, r := range e.custom {
		if tc.fired&r.bit != 0 {
			continue
		}
		val, _, err := r.program.Eval(vars)
		if err != nil {
			e.customFailedLocked(i, ev, err)
			continue
		}
		if val != types.True {
			continue
		}
		tc.fired |= r.bit
		c.raise(r.name, r.severity, customSummary(r, c.st.key, ev), ev.ID)
	}
}

// customFailedLocked counts a failed evaluation of the custom rule of index
// i on ev, keeping the first error of each rule only, so that a rule that
// fails on every event costs no memory per event. It logs the rule's 1st,
// 10th, 100th and each further power of 10 of failures.
func (e *Engine) customFailedLocked(i int, ev *audit.Event, err error) {
	e.mu.stats.CustomRuleErrors++
	if e.mu.customFailures == nil {
		e.mu.customFailures = make([]CustomRuleFailure, len(e.custom))
	}
	f := &e.mu.customFailures[i]
	if f.Events == 0 {
		f.Rule = e.custom[i].name
		f.FirstError = err
		f.FirstEvent = strings.Clone(ev.ID)
		f.FirstTime = ev.Time
	}
	f.Events++

	if e.cfg.Logger != nil && isPowerOf10(f.Events) {
		e.cfg.Logger.LogAttrs(context.Background(), slog.LevelWarn, "custom rule failed to evaluate, so it raised nothing for the event",
			slog.String(logRule, f.Rule), slog.String(logEventID, ev.ID), slog.Uint64(logFailures, f.Events), slog.String(logError, err.Error()))
	}
}

// isPowerOf10 reports whether n is 1, 10, 100 and so on.
func isPowerOf10(n uint64) bool {
	for n >= 10 && n%10 == 0 {
		n /= 10
	}
	return n == 1
}

// IsCostLimitError reports whether err, such as CustomRuleFailure.FirstError,
// is an evaluation of a custom rule stopped by Config.CustomRuleCostLimit.
func IsCostLimitError(err error) bool {
	var cancelled interpreter.EvalCancelledError
	return errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded
}

// celSizes gives CEL's cost estimate the bounds of the variables' lists and
// strings that the engine keeps bounded. The lists of the event itself,
// event.scopes and event.audience, have no bound, so a rule that iterates
// over them has no estimated maximum and is bounded at run time only.
type celSizes struct{}

// maxCELStringBytes is the size that the estimate assumes for a string
// field: audit.Event.Prepare cuts every free-text field to 8 KiB.
//
// NOTE: an event given to Engine.Observe without Prepare may hold longer
// strings. The estimate is then too low, and the run-time limit still
// applies.
const maxCELStringBytes = 8 << 10

// EstimateSize returns the bound of the list or string at node's path, or
// nil where the engine sets none.
func (celSizes) EstimateSize(node cost.AstNode) *cost.SizeEstimate {
	path := node.Path()
	if len(path) < 2 {
		return nil
	}

	var bound uint64
	field := path[0] + "." + path[1]
	switch {
	case len(path) == 2 && field == "token.scopes":
		bound = maxTokenScopes
	case len(path) == 2 && slices.Contains([]string{"token.countries", "subject.known_countries", "subject.known_asns", "subject.known_ua_families"}, field):
		bound = knownValues
	case len(path) == 2 && field == "subject.known_networks":
		bound = knownNetworksMax
	case node.Type().IsExactType(types.StringType): // a string field, or a string in a list
		bound = maxCELStringBytes
	default:
		return nil
	}
	size := cost.RangedSizeEstimate(0, bound)
	return &size
}

// EstimateCallCost returns nil: custom rules call only cel-go's own functions,
// whose costs cel-go models itself.
func (celSizes) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}

// customSummary describes a match of r on the event ev of token key: the
// rule's description, followed by the rule, the event and the token.
func customSummary(r *customRule, key string, ev *audit.Event) string {
	match := fmt.Sprintf("custom rule %s, %s event of token %s", r.name, ev.Kind, key)
	if ev.IP.IsValid() {
		match += " from " + ev.IP.Unmap().String()
	}
	if r.description == "" {
		return "The " + match + " matched."
	}
	return fmt.Sprintf("%s (%s).", strings.TrimRight(r.description, ". "), match)
}
