package detect

import (
	"errors"
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
		{"unknown key", "rules:\n  rapid_ip_change:\n    max_network: 1\n", "max_network"},
		{"bad duration", "token_ttl: soon\n", "soon"},
		{"bad severity", "rules:\n  high_frequency:\n    severity: urgent\n", "urgent"},
		{"bad network", "trusted_networks: [192.0.2.0/33]\n", "192.0.2.0/33"},
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
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("default %s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}
