package detect

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

func TestParseConfigClassicRules(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
clock_skew: 2m
trusted_networks: [198.51.100.0/24, "2001:db8:5::/48"]
rules:
  rapid_ip_change:
    max_networks: 1
    window: 5m
    severity: high
  high_frequency:
    max_uses: 100
    window: 1h
    severity: medium
  impossible_travel:
    disabled: true
`))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	ip := cfg.Rules.RapidIPChange
	if ip.MaxNetworks != 1 || ip.Window != 5*time.Minute || ip.Severity != audit.SeverityHigh {
		t.Errorf("rapid_ip_change = %+v, want 1 network, 5m, high", ip)
	}
	hf := cfg.Rules.HighFrequency
	if hf.MaxUses != 100 || hf.Window != time.Hour || hf.Severity != audit.SeverityMedium {
		t.Errorf("high_frequency = %+v, want 100 uses, 1h, medium", hf)
	}
	if !cfg.Rules.ImpossibleTravel.Disabled {
		t.Error("impossible_travel.disabled = false, want true")
	}
	if cfg.ClockSkew != 2*time.Minute {
		t.Errorf("clock_skew = %s, want 2m", cfg.ClockSkew)
	}
	want := []netip.Prefix{mustPrefix("198.51.100.0/24"), mustPrefix("2001:db8:5::/48")}
	if len(cfg.TrustedNetworks) != 2 || cfg.TrustedNetworks[0] != want[0] || cfg.TrustedNetworks[1] != want[1] {
		t.Errorf("trusted_networks = %v, want %v", cfg.TrustedNetworks, want)
	}
	if _, err := New(cfg); err != nil {
		t.Errorf("New: %v", err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "rules:\n  rapid_ip_change:\n    max_network: 1\n",
			"line 3: rules.rapid_ip_change.max_network: unknown key (did you mean max_networks?); the keys here are disabled, ipv4_prefix, ipv6_prefix, max_networks, severity, window"},
		{"misspelt rule", "rules:\n  rapid_ip_chnage: {}\n", "line 2: rules.rapid_ip_chnage: unknown key (did you mean rapid_ip_change?)"},
		{"bad duration", "token_ttl: soon\n", `line 1: token_ttl: "soon" is not a duration; write a duration with a unit`},
		{"number as duration", "clock_skew: 60\n", "line 1: clock_skew: 60 has no unit; write 60s for seconds"},
		{"bad severity", "rules:\n  high_frequency:\n    severity: urgent\n", `line 3: rules.high_frequency.severity: "urgent" is not valid; write low, medium, high or critical`},
		{"custom rule severity", "custom_rules:\n  - name: a\n    severity: urgent\n", `line 3: custom_rules[0].severity: "urgent" is not valid`},
		{"bad network", "trusted_networks: [192.0.2.0/33]\n", `line 1: trusted_networks[0]: "192.0.2.0/33" is not an address range`},
		{"address as network", "trusted_networks:\n  - 81.2.69.10\n", "line 2: trusted_networks[0]: 81.2.69.10 is one address, not an address range; write 81.2.69.10/32 for that address alone"},
		{"IPv6 address as network", "trusted_networks: [\"2001:db8::1\"]\n", "write 2001:db8::1/128 for that address alone"},
		{"mapping as list", "trusted_networks:\n  a: b\n", "line 2: trusted_networks: want a list"},
		{"list as mapping", "rules: [a]\n", "line 1: rules: want a mapping of keys (concurrent_use,"},
		{"bad bool", "rules:\n  concurrent_use:\n    disabled: maybe\n", `line 3: rules.concurrent_use.disabled: "maybe" is not true or false; write true or false`},
		{"bad time", "rules:\n  unknown_token:\n    since: yesterday\n", `line 3: rules.unknown_token.since: "yesterday" is not a time; write an RFC 3339 time`},
		{"bad number", "max_tokens: many\n", `line 1: max_tokens: "many" is not a whole number in range; write a whole number`},
		{"invalid YAML", "rules: [\n", "line 1: invalid YAML: did not find expected node content"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseConfig error = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

// An invalid value of a built-in setting is reported at its line.
func TestParseConfigInvalidValueGivesLine(t *testing.T) {
	_, err := ParseConfig([]byte("max_tokens: 5\nnetwork_state:\n  ipv4_prefix: 33\n"))
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "network_state.ipv4_prefix" || ce.Line != 3 {
		t.Fatalf("ParseConfig() = %v, want network_state.ipv4_prefix at line 3", err)
	}
	if want := "detect: invalid config: line 3: network_state.ipv4_prefix is 33 but must be 0 to 32"; err.Error() != want {
		t.Errorf("ParseConfig() = %q, want %q", err, want)
	}

	_, err = ParseConfig([]byte("rules:\n  rejected_burst:\n    reasons: [expired, bogus]\n"))
	if !errors.As(err, &ce) || ce.Field != "rules.rejected_burst.reasons[1]" || ce.Line != 3 {
		t.Errorf("ParseConfig() = %v, want rules.rejected_burst.reasons[1] at line 3", err)
	}

	var inCode Config
	inCode.NetworkState.IPv4Prefix = 33
	if err := inCode.Validate(); !errors.As(err, &ce) || ce.Line != 0 {
		t.Errorf("Validate() of a Config made in code = %v, want no line", err)
	}
}

func TestParseConfigEmpty(t *testing.T) {
	cfg, err := ParseConfig(nil)
	if err != nil {
		t.Fatalf("ParseConfig(nil): %v", err)
	}
	if _, err := New(cfg); err != nil {
		t.Errorf("New(empty config): %v", err)
	}
}

func TestValidateNamesField(t *testing.T) {
	tests := []struct {
		field  string
		modify func(*Config)
	}{
		{"max_pending", func(c *Config) { c.MaxPending = -1 }},
		{"max_tokens", func(c *Config) { c.MaxTokens = -1 }},
		{"token_ttl", func(c *Config) { c.TokenTTL = -time.Second }},
		{"clock_skew", func(c *Config) { c.ClockSkew = -time.Second }},
		{"trusted_networks[1]", func(c *Config) { c.TrustedNetworks = []netip.Prefix{mustPrefix("192.0.2.0/24"), {}} }},
		{"rules.refresh_token_reuse.grace", func(c *Config) { c.Rules.RefreshTokenReuse.Grace = -1 }},
		{"rules.rapid_ip_change.max_networks", func(c *Config) { c.Rules.RapidIPChange.MaxNetworks = -1 }},
		{"rules.rapid_ip_change.window", func(c *Config) { c.Rules.RapidIPChange.Window = -1 }},
		{"rules.rapid_ip_change.ipv4_prefix", func(c *Config) { c.Rules.RapidIPChange.IPv4Prefix = 33 }},
		{"rules.rapid_ip_change.ipv6_prefix", func(c *Config) { c.Rules.RapidIPChange.IPv6Prefix = 65 }},
		{"rules.high_frequency.max_uses", func(c *Config) { c.Rules.HighFrequency.MaxUses = -5 }},
		{"rules.high_frequency.window", func(c *Config) { c.Rules.HighFrequency.Window = -1 }},
		{"rules.high_frequency.severity", func(c *Config) { c.Rules.HighFrequency.Severity = 9 }},
		{"rules.impossible_travel.max_speed_kmh", func(c *Config) { c.Rules.ImpossibleTravel.MaxSpeedKMH = math.NaN() }},
		{"rules.impossible_travel.default_accuracy_km", func(c *Config) { c.Rules.ImpossibleTravel.DefaultAccuracyKM = -1 }},
		{"rules.impossible_travel.carrier_window", func(c *Config) { c.Rules.ImpossibleTravel.CarrierWindow = -1 }},
		{"rules.impossible_travel.carrier_max_km", func(c *Config) { c.Rules.ImpossibleTravel.CarrierMaxKM = math.Inf(1) }},
		{"rules.concurrent_use.window", func(c *Config) { c.Rules.ConcurrentUse.Window = -1 }},
		{"rules.concurrent_use.severity", func(c *Config) { c.Rules.ConcurrentUse.Severity = 9 }},
		{"rules.user_agent_change.severity", func(c *Config) { c.Rules.UserAgentChange.Severity = 9 }},
		{"rules.unknown_token.max_waiting", func(c *Config) { c.Rules.UnknownToken.MaxWaiting = -1 }},
		{"rules.unknown_token.issuers[1]", func(c *Config) { c.Rules.UnknownToken.Issuers = []string{"https://login.example.com", ""} }},
		{"rules.threat_intel_ip.severity", func(c *Config) { c.Rules.ThreatIntelIP.Severity = 9 }},
		{"rules.rejected_burst.max_rejections", func(c *Config) { c.Rules.RejectedBurst.MaxRejections = -1 }},
		{"rules.rejected_burst.window", func(c *Config) { c.Rules.RejectedBurst.Window = -1 }},
		{"rules.rejected_burst.reasons[0]", func(c *Config) { c.Rules.RejectedBurst.Reasons = []audit.RejectReason{"forged"} }},
		{"rules.shared_ip_many_subjects.max_subjects", func(c *Config) { c.Rules.SharedIPManySubjects.MaxSubjects = 1001 }},
		{"rules.shared_ip_many_subjects.window", func(c *Config) { c.Rules.SharedIPManySubjects.Window = -1 }},
		{"network_state.max_networks", func(c *Config) { c.NetworkState.MaxNetworks = -1 }},
		{"network_state.ttl", func(c *Config) { c.NetworkState.TTL = -1 }},
		{"network_state.first_use_slots", func(c *Config) { c.NetworkState.FirstUseSlots = 1<<24 + 1 }},
		{"network_state.ipv4_prefix", func(c *Config) { c.NetworkState.IPv4Prefix = 33 }},
		{"network_state.ipv6_prefix", func(c *Config) { c.NetworkState.IPv6Prefix = 65 }},
		{"rules.unfamiliar_client.learning_period", func(c *Config) { c.Rules.UnfamiliarClient.LearningPeriod = -1 }},
		{"rules.unfamiliar_client.min_events", func(c *Config) { c.Rules.UnfamiliarClient.MinEvents = -1 }},
		{"rules.unfamiliar_client.severity", func(c *Config) { c.Rules.UnfamiliarClient.Severity = 9 }},
		{"subject_state.max_subjects", func(c *Config) { c.SubjectState.MaxSubjects = -1 }},
		{"subject_state.ttl", func(c *Config) { c.SubjectState.TTL = -1 }},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			var cfg Config
			tc.modify(&cfg)
			_, err := New(cfg)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("New error = %v, want a *ConfigError", err)
			}
			if ce.Field != tc.field {
				t.Errorf("ConfigError.Field = %q, want %q (error: %v)", ce.Field, tc.field, err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	r := c.Rules
	checks := []struct {
		name      string
		got, want any
	}{
		{"ReorderWindow", c.ReorderWindow, 10 * time.Second},
		{"ClockSkew", c.ClockSkew, 60 * time.Second},
		{"RefreshTokenReuse.Grace", r.RefreshTokenReuse.Grace, 2 * time.Second},
		{"RapidIPChange.MaxNetworks", r.RapidIPChange.MaxNetworks, 2},
		{"RapidIPChange.Window", r.RapidIPChange.Window, 10 * time.Minute},
		{"RapidIPChange.IPv4Prefix", r.RapidIPChange.IPv4Prefix, 24},
		{"RapidIPChange.IPv6Prefix", r.RapidIPChange.IPv6Prefix, 64},
		{"HighFrequency.MaxUses", r.HighFrequency.MaxUses, 600},
		{"HighFrequency.Window", r.HighFrequency.Window, time.Minute},
		{"ImpossibleTravel.MaxSpeedKMH", r.ImpossibleTravel.MaxSpeedKMH, 900.0},
		{"RevokedTokenUse.Severity", r.RevokedTokenUse.Severity, audit.SeverityCritical},
		{"ConcurrentUse.Window", r.ConcurrentUse.Window, time.Minute},
		{"ConcurrentUse.Severity", r.ConcurrentUse.Severity, audit.SeverityHigh},
		{"UserAgentChange.Severity", r.UserAgentChange.Severity, audit.SeverityMedium},
		{"UnknownToken.Severity", r.UnknownToken.Severity, audit.SeverityHigh},
		{"UnknownToken.MaxWaiting", r.UnknownToken.MaxWaiting, 10_000},
		{"ThreatIntelIP.Severity", r.ThreatIntelIP.Severity, audit.SeverityHigh},
		{"RejectedBurst.MaxRejections", r.RejectedBurst.MaxRejections, 20},
		{"RejectedBurst.Window", r.RejectedBurst.Window, time.Minute},
		{"RejectedBurst.Reasons", len(r.RejectedBurst.Reasons), 4},
		{"SharedIPManySubjects.MaxSubjects", r.SharedIPManySubjects.MaxSubjects, 20},
		{"SharedIPManySubjects.Window", r.SharedIPManySubjects.Window, 10 * time.Minute},
		{"SharedIPManySubjects.Severity", r.SharedIPManySubjects.Severity, audit.SeverityHigh},
		{"NetworkState.MaxNetworks", c.NetworkState.MaxNetworks, 20_000},
		{"NetworkState.TTL", c.NetworkState.TTL, time.Hour},
		{"NetworkState.FirstUseSlots", c.NetworkState.FirstUseSlots, 1 << 16},
		{"NetworkState.IPv4Prefix", c.NetworkState.IPv4Prefix, 32},
		{"NetworkState.IPv6Prefix", c.NetworkState.IPv6Prefix, 64},
		{"UnfamiliarClient.Severity", r.UnfamiliarClient.Severity, audit.SeverityMedium},
		{"UnfamiliarClient.LearningPeriod", r.UnfamiliarClient.LearningPeriod, 7 * 24 * time.Hour},
		{"UnfamiliarClient.MinEvents", r.UnfamiliarClient.MinEvents, 20},
		{"SubjectState.MaxSubjects", c.SubjectState.MaxSubjects, 200_000},
		{"SubjectState.TTL", c.SubjectState.TTL, 30 * 24 * time.Hour},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("default %s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestParseConfigNewRules(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
network_state:
  max_networks: 5000
  ttl: 30m
  first_use_slots: 1024
  ipv4_prefix: 24
rules:
  concurrent_use:
    window: 2m
  user_agent_change:
    severity: low
  unknown_token:
    issuers: [https://login.example.com]
    since: 2025-01-01T00:00:00Z
  threat_intel_ip:
    severity: critical
  rejected_burst:
    max_rejections: 50
    window: 5m
    reasons: [bad_signature, alg_none]
  shared_ip_many_subjects:
    max_subjects: 40
    window: 15m
  unfamiliar_client:
    learning_period: 336h
    min_events: 50
    severity: low
subject_state:
  max_subjects: 1000
  ttl: 2160h
`))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	r := cfg.Rules
	checks := []struct {
		name      string
		got, want any
	}{
		{"network_state.max_networks", cfg.NetworkState.MaxNetworks, 5000},
		{"network_state.ttl", cfg.NetworkState.TTL, 30 * time.Minute},
		{"network_state.first_use_slots", cfg.NetworkState.FirstUseSlots, 1024},
		{"network_state.ipv4_prefix", cfg.NetworkState.IPv4Prefix, 24},
		{"concurrent_use.window", r.ConcurrentUse.Window, 2 * time.Minute},
		{"user_agent_change.severity", r.UserAgentChange.Severity, audit.SeverityLow},
		{"unknown_token.issuers", strings.Join(r.UnknownToken.Issuers, ","), "https://login.example.com"},
		{"unknown_token.since", r.UnknownToken.Since, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"threat_intel_ip.severity", r.ThreatIntelIP.Severity, audit.SeverityCritical},
		{"rejected_burst.max_rejections", r.RejectedBurst.MaxRejections, 50},
		{"rejected_burst.window", r.RejectedBurst.Window, 5 * time.Minute},
		{"rejected_burst.reasons", fmt.Sprint(r.RejectedBurst.Reasons), "[bad_signature alg_none]"},
		{"shared_ip_many_subjects.max_subjects", r.SharedIPManySubjects.MaxSubjects, 40},
		{"shared_ip_many_subjects.window", r.SharedIPManySubjects.Window, 15 * time.Minute},
		{"unfamiliar_client.learning_period", r.UnfamiliarClient.LearningPeriod, 14 * 24 * time.Hour},
		{"unfamiliar_client.min_events", r.UnfamiliarClient.MinEvents, 50},
		{"unfamiliar_client.severity", r.UnfamiliarClient.Severity, audit.SeverityLow},
		{"subject_state.max_subjects", cfg.SubjectState.MaxSubjects, 1000},
		{"subject_state.ttl", cfg.SubjectState.TTL, 90 * 24 * time.Hour},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if _, err := New(cfg); err != nil {
		t.Errorf("New: %v", err)
	}
}
