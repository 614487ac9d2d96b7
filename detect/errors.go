package detect

import "fmt"

// ConfigError is an invalid value in a Config.
type ConfigError struct {
	Field  string // the YAML path, such as "rules.rapid_ip_change.window"
	Value  string // the value as given
	Reason string // the rule the value breaks, such as "must be zero or more"
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("detect: invalid config: %s is %s but %s", e.Field, e.Value, e.Reason)
}
