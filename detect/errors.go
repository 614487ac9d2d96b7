package detect

import "fmt"

// ConfigError is an invalid value in a Config.
type ConfigError struct {
	Field  string // the YAML path, such as "rules.rapid_ip_change.window"
	Value  string // the value as given
	Reason string // the rule the value breaks, such as "must be zero or more"
	Line   int    // the field's line in the file ParseConfig read, from 1; 0 when unknown
}

func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("detect: invalid config: line %d: %s is %s but %s", e.Line, e.Field, e.Value, e.Reason)
	}
	return fmt.Sprintf("detect: invalid config: %s is %s but %s", e.Field, e.Value, e.Reason)
}

// CustomRuleError is an invalid rule in Config.CustomRules.
type CustomRuleError struct {
	Index int    // the rule's index in Config.CustomRules
	Name  string // the rule's name as given, maybe empty
	Field string // the field at fault: "name", "expression" or "severity"

	// Line and Column locate a fault in the expression, from 1, with the
	// column in characters: in the YAML file when InFile is true, which
	// needs a Config from ParseConfig, else within the expression. Both
	// are zero when the fault has no position.
	Line, Column int
	InFile       bool

	Reason string // what is wrong, and what to do
}

func (e *CustomRuleError) Error() string {
	rule := fmt.Sprintf("custom rule %q (custom_rules[%d].%s)", e.Name, e.Index, e.Field)
	if e.Name == "" {
		rule = fmt.Sprintf("custom rule custom_rules[%d].%s", e.Index, e.Field)
	}
	switch {
	case e.Line == 0:
		return fmt.Sprintf("detect: invalid config: %s: %s", rule, e.Reason)
	case e.InFile:
		return fmt.Sprintf("detect: invalid config: %s at line %d, column %d: %s", rule, e.Line, e.Column, e.Reason)
	}
	return fmt.Sprintf("detect: invalid config: %s at line %d, column %d of the expression: %s", rule, e.Line, e.Column, e.Reason)
}
