package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"reflect"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/internal/yamlcheck"
)

// Config sets the state bounds of an Engine and the thresholds of its rules.
// The zero Config is valid: every zero field takes the default named in its
// comment when New applies it. Durations are in event time. In YAML, field
// names are the snake_case names in the tags, durations read as "90s" or
// "10m", and severities as "low", "medium", "high" or "critical".
type Config struct {
	// ReorderWindow is the span of event time for which the engine holds an
	// event before it checks it, so that events arriving out of order within
	// the window are checked in time order. Default 10s. A negative value turns
	// holding off: each event is checked as it arrives.
	ReorderWindow time.Duration `yaml:"reorder_window"`

	// MaxPending bounds the events held for reordering. When it is reached,
	// the oldest held event is checked early and Stats.ForcedReleases
	// counts it. Default 100,000.
	MaxPending int `yaml:"max_pending"`

	// MaxTokens bounds the tokens whose state the engine keeps. When a new
	// token would pass it, the least recently seen token is dropped and
	// Stats.EvictedByCount counts it. Default 500,000.
	MaxTokens int `yaml:"max_tokens"`

	// TokenTTL is the span of event time after a token's latest event for
	// which its state is kept. Stats.EvictedByAge counts the drops. Default 24h.
	TokenTTL time.Duration `yaml:"token_ttl"`

	// ClockSkew is the clock difference between sources that is tolerated
	// when an event's time is compared with exp, nbf, iat or a revocation
	// made by another source. Default 60s.
	ClockSkew time.Duration `yaml:"clock_skew"`

	// TrustedNetworks are address ranges, such as corporate VPN or SASE
	// egress points, whose addresses never count as a network change or a
	// location for travel. Default none.
	TrustedNetworks []netip.Prefix `yaml:"trusted_networks"`

	// NetworkState bounds the state that rejected_burst and
	// shared_ip_many_subjects keep per network.
	NetworkState NetworkState `yaml:"network_state"`

	// SubjectState bounds the state that unfamiliar_client and custom rules
	// keep per subject.
	SubjectState SubjectState `yaml:"subject_state"`

	Rules Rules `yaml:"rules"`

	// CustomRules are rules written as CEL expressions (see CustomRule).
	// Default none.
	CustomRules []CustomRule `yaml:"custom_rules"`

	// CustomRuleCostLimit bounds the work of one evaluation of a custom rule,
	// in CEL cost units: about one for each variable, field or operator read,
	// and more for string functions and list iterations. New rejects a rule
	// whose worst case, as far as CEL can estimate it, passes the limit. An
	// evaluation that passes it at run time stops, counts as a failure of
	// the rule, and raises nothing. Default 100,000.
	CustomRuleCostLimit uint64 `yaml:"custom_rule_cost_limit"`

	// Logger receives a warning when a custom rule fails to evaluate: on
	// the 1st, 10th, 100th and each further power of 10 of that rule's
	// failures, so that a rule that fails on every event logs a few lines.
	// Nil logs nothing. It is set in code, not in YAML.
	Logger *slog.Logger `yaml:"-"`

	// UserAgents finds the family of a user agent for user_agent_change.
	// Nil turns that rule off. It is set in code, not in YAML.
	UserAgents UserAgentFamilies `yaml:"-"`

	// IPLists finds the threat-intel lists that hold an address, for
	// threat_intel_ip. Nil turns that rule off. It is set in code, not in
	// YAML.
	IPLists IPLists `yaml:"-"`
}

// UserAgentFamilies finds the family and major version of the client that
// sent a user agent, such as ("Chrome", "131") or ("curl", "8"). family is
// "" when ua names no client. The engine calls it under its lock, once per
// use that carries a user agent, so it should be fast and must be safe for
// concurrent use when the caller shares it with other code.
type UserAgentFamilies interface {
	UserAgent(ua string) (family, major string)
}

// IPLists finds the names of the loaded threat-intel lists that contain an
// address, or nil. The engine calls it under its lock, once per observed
// use that carries a public address, so it should be fast and must be safe
// for concurrent use when the caller shares it with other code.
type IPLists interface {
	Lists(ip netip.Addr) []string
}

// NetworkState sets how networks are grouped and bounds the state kept per
// network. A network's first user is kept in a fixed table of
// FirstUseSlots entries, indexed by a hash of the network: most networks
// never see a second subject or a rejection, and so cost no more than
// their slot. A network gets its own state once it has a second subject
// within the shared_ip_many_subjects window, or a counted rejection.
type NetworkState struct {
	// MaxNetworks bounds the networks with their own state. When a new
	// network would pass it, the least recently seen is dropped and
	// Stats.NetworksEvictedByCount counts it. Default 20,000.
	MaxNetworks int `yaml:"max_networks"`

	// TTL is the span of event time after a network's latest event for
	// which its state is kept. Stats.NetworksEvictedByAge counts the drops.
	// Default 1h.
	TTL time.Duration `yaml:"ttl"`

	// FirstUseSlots is the maximum size of the table of first users, 1 to
	// 16,777,216, rounded up to a power of two of at least 4. The table
	// starts at 1,024 slots or fewer and doubles when a quarter full. Each
	// slot takes 40 bytes. A network's hash picks a set of 4 slots. When a
	// new network finds its set full, it takes the slot used longest ago,
	// whose network then needs one more subject to get its own state, and
	// Stats.FirstUsesReplaced counts it if that slot was within the
	// shared_ip_many_subjects window. Default 65,536.
	FirstUseSlots int `yaml:"first_use_slots"`

	IPv4Prefix int `yaml:"ipv4_prefix"` // bits of an IPv4 network, 1 to 32; default 32
	IPv6Prefix int `yaml:"ipv6_prefix"` // bits of an IPv6 network, 1 to 64; default 64
}

// SubjectState bounds the state kept per subject: the countries, ASNs,
// user-agent families and, for custom rules, networks that the subject's
// tokens were used from. A subject is an issuer's sub, and placeholder
// subjects (see SharedIPManySubjects) get no state. A subject whose state
// is dropped learns its clients again from scratch, through a new learning
// period, so a drop can hide an unfamiliar client for that long.
type SubjectState struct {
	// MaxSubjects bounds the subjects whose state the engine keeps. When a
	// new subject would pass it, the least recently seen is dropped and
	// Stats.SubjectsEvictedByCount counts it. Default 200,000.
	MaxSubjects int `yaml:"max_subjects"`

	// TTL is the span of event time after a subject's latest use for which
	// its state is kept. Stats.SubjectsEvictedByAge counts the drops.
	// Default 720h (30 days).
	TTL time.Duration `yaml:"ttl"`
}

// Rules holds the settings of each built-in rule.
type Rules struct {
	RevokedTokenUse   RevokedTokenUse   `yaml:"revoked_token_use"`
	ExpiredTokenUse   ExpiredTokenUse   `yaml:"expired_token_use"`
	RefreshTokenReuse RefreshTokenReuse `yaml:"refresh_token_reuse"`
	RapidIPChange     RapidIPChange     `yaml:"rapid_ip_change"`
	HighFrequency     HighFrequency     `yaml:"high_frequency"`
	ImpossibleTravel  ImpossibleTravel  `yaml:"impossible_travel"`

	ConcurrentUse        ConcurrentUse        `yaml:"concurrent_use"`
	UserAgentChange      UserAgentChange      `yaml:"user_agent_change"`
	UnknownToken         UnknownToken         `yaml:"unknown_token"`
	ThreatIntelIP        ThreatIntelIP        `yaml:"threat_intel_ip"`
	RejectedBurst        RejectedBurst        `yaml:"rejected_burst"`
	SharedIPManySubjects SharedIPManySubjects `yaml:"shared_ip_many_subjects"`
	UnfamiliarClient     UnfamiliarClient     `yaml:"unfamiliar_client"`
}

// RuleBase holds the settings every rule has.
type RuleBase struct {
	Disabled bool           `yaml:"disabled"` // default false: the rule runs
	Severity audit.Severity `yaml:"severity"` // zero: the rule's default severity
}

// RevokedTokenUse configures revoked_token_use: a token is used or redeemed
// later than ClockSkew after it was revoked. Default severity critical.
type RevokedTokenUse struct {
	RuleBase `yaml:",inline"`
}

// ExpiredTokenUse configures expired_token_use: a token is used or redeemed
// more than ClockSkew after its exp, or more than ClockSkew before its nbf or
// iat. Default severity medium.
type ExpiredTokenUse struct {
	RuleBase `yaml:",inline"`
}

// RefreshTokenReuse configures refresh_token_reuse: a refresh token is
// redeemed again later than Grace after its first redemption, or the
// identity provider rejects it as reused. Default severity high.
type RefreshTokenReuse struct {
	RuleBase `yaml:",inline"`

	// Grace is the time after the first redemption within which another
	// redemption counts as a client's retry or a parallel request, not
	// reuse. Default 2s.
	Grace time.Duration `yaml:"grace"`
}

// RapidIPChange configures rapid_ip_change: a token is used from more than
// MaxNetworks networks within Window. Default severity medium.
// "Any IP change within 5 minutes is high" reads max_networks: 1,
// window: 5m, severity: high.
type RapidIPChange struct {
	RuleBase `yaml:",inline"`

	MaxNetworks int           `yaml:"max_networks"` // default 2
	Window      time.Duration `yaml:"window"`       // default 10m
	IPv4Prefix  int           `yaml:"ipv4_prefix"`  // bits of an IPv4 network, 1 to 32; default 24
	IPv6Prefix  int           `yaml:"ipv6_prefix"`  // bits of an IPv6 network, 1 to 64; default 64
}

// HighFrequency configures high_frequency: a token is used more than MaxUses
// times within Window. Default severity medium. "More than 100 uses within
// one hour is medium" reads max_uses: 100, window: 1h.
type HighFrequency struct {
	RuleBase `yaml:",inline"`

	MaxUses int           `yaml:"max_uses"` // default 600
	Window  time.Duration `yaml:"window"`   // default 1m
}

// ImpossibleTravel configures impossible_travel: between two geolocated
// uses of a token, the distance beyond both locations' accuracy radius is
// covered faster than MaxSpeedKMH. Default severity high.
type ImpossibleTravel struct {
	RuleBase `yaml:",inline"`

	MaxSpeedKMH float64 `yaml:"max_speed_kmh"` // default 900

	// DefaultAccuracyKM is the accuracy radius assumed for a location that
	// states none. Default 50.
	DefaultAccuracyKM float64 `yaml:"default_accuracy_km"`

	// CarrierWindow and CarrierMaxKM describe a mobile carrier that moves
	// its subscribers between egress points: two uses within CarrierWindow,
	// at most CarrierMaxKM apart, from the same ASN with the same session
	// and user agent are not travel. Defaults 30m and 1000.
	CarrierWindow time.Duration `yaml:"carrier_window"`
	CarrierMaxKM  float64       `yaml:"carrier_max_km"`
}

// ConcurrentUse configures concurrent_use: two clients take turns with one
// token, A then B then A again, within Window from A's use before the
// switch to its use after it. A client is the user agent with the ASN of
// the address, or with its network (RapidIPChange's prefixes) when the ASN
// is not known. Default severity high.
type ConcurrentUse struct {
	RuleBase `yaml:",inline"`

	Window time.Duration `yaml:"window"` // default 1m
}

// UserAgentChange configures user_agent_change: the user-agent family of a
// token's uses changes, such as from Chrome to curl. A new major version of
// the same family is no change. The rule needs Config.UserAgents and gives
// no verdict without it. Default severity medium.
type UserAgentChange struct {
	RuleBase `yaml:",inline"`
}

// UnknownToken configures unknown_token: a token of a recorded issuer is
// used or redeemed, but its issuance was never seen. Tokens of other
// issuers never raise it. Default severity high.
type UnknownToken struct {
	RuleBase `yaml:",inline"`

	// Issuers lists the iss values, compared exactly, whose every issuance
	// reaches the engine as an issued event that names the token's jti.
	// Default none, which leaves the rule silent.
	Issuers []string `yaml:"issuers"`

	// Since is the time from which issuances of Issuers are recorded. A
	// token whose iat is earlier gets no verdict. Zero means the time of
	// the first event the engine checks, as when recording starts with the
	// engine.
	Since time.Time `yaml:"since"`

	// MaxWaiting bounds the uses that wait for their verdict (see the
	// package documentation). When it is reached, the use that waited
	// longest gets no verdict and Stats.UnknownDropped counts it.
	// Default 10,000.
	MaxWaiting int `yaml:"max_waiting"`
}

// ThreatIntelIP configures threat_intel_ip: a token is issued, used or
// redeemed from an address in a list that Config.IPLists loads. The rule
// gives no verdict without Config.IPLists. Default severity high.
type ThreatIntelIP struct {
	RuleBase `yaml:",inline"`
}

// RejectedBurst configures rejected_burst: more than MaxRejections
// presentations rejected for one of Reasons come from one network within
// Window. Default severity medium.
type RejectedBurst struct {
	RuleBase `yaml:",inline"`

	MaxRejections int           `yaml:"max_rejections"` // default 20
	Window        time.Duration `yaml:"window"`         // default 1m

	// Reasons are the reject reasons counted. Default bad_signature,
	// alg_none, malformed and unknown_key: the reasons of a forged or
	// mangled token, not of an honest client's stale one.
	Reasons []audit.RejectReason `yaml:"reasons"`
}

// SharedIPManySubjects configures shared_ip_many_subjects: one network uses
// tokens of more than MaxSubjects distinct subjects within Window, as when
// stolen tokens are replayed from one host. Subjects are distinguished by
// issuer and subject. Placeholder subjects (empty, "-", "null", "nil",
// "none", "unknown", "undefined", "n/a", in any case) are not people and
// never count. Default severity high.
//
// NOTE: offices and VPNs put many people behind one address. List their
// egress ranges in Config.TrustedNetworks, which this rule skips.
type SharedIPManySubjects struct {
	RuleBase `yaml:",inline"`

	MaxSubjects int           `yaml:"max_subjects"` // default 20
	Window      time.Duration `yaml:"window"`       // default 10m
}

// UnfamiliarClient configures unfamiliar_client: a token of a subject is
// used or redeemed from a country, an ASN or a user-agent family that the
// subject's tokens were never used from, once the subject has been seen
// for LearningPeriod and MinEvents uses. Default severity medium: a new
// client is often the subject's own (travel, a new phone, a new provider),
// but after weeks of a stable pattern it is worth a look within the day.
//
// Uses from internal addresses teach and raise nothing. Uses from
// Config.TrustedNetworks count towards learning and teach the user-agent
// family, but not their country or ASN. A missing country, ASN 0 and an
// unknown family are never new. The user-agent family needs
// Config.UserAgents; without it only countries and ASNs are compared.
type UnfamiliarClient struct {
	RuleBase `yaml:",inline"`

	// LearningPeriod is the span of event time from a subject's first use
	// before which it raises nothing. Default 168h (7 days).
	LearningPeriod time.Duration `yaml:"learning_period"`

	// MinEvents is the number of uses of a subject's tokens before which it
	// raises nothing. Default 20.
	MinEvents int `yaml:"min_events"`
}

// The defaults that withDefaults applies to zero fields.
const (
	defaultReorderWindow = 10 * time.Second
	defaultMaxPending    = 100_000
	defaultMaxTokens     = 500_000
	defaultTokenTTL      = 24 * time.Hour
	defaultClockSkew     = 60 * time.Second

	defaultRefreshGrace = 2 * time.Second

	defaultMaxNetworks = 2
	defaultIPWindow    = 10 * time.Minute
	defaultIPv4Prefix  = 24
	defaultIPv6Prefix  = 64

	defaultMaxUses         = 600
	defaultFrequencyWindow = time.Minute

	defaultMaxSpeedKMH   = 900
	defaultAccuracyKM    = 50
	defaultCarrierWindow = 30 * time.Minute
	defaultCarrierMaxKM  = 1000

	defaultConcurrentWindow = time.Minute

	defaultMaxWaiting = 10_000

	defaultMaxRejections = 20
	defaultBurstWindow   = time.Minute

	defaultMaxSubjects  = 20
	defaultSharedWindow = 10 * time.Minute

	defaultLearningPeriod = 7 * 24 * time.Hour
	defaultMinEvents      = 20

	defaultMaxSubjectStates = 200_000
	defaultSubjectTTL       = 30 * 24 * time.Hour

	// defaultCustomRuleCostLimit admits the rules of docs/detection.md and
	// a few regular expressions over 8 KiB fields. An evaluation stopped at
	// it took about 6 ms in one run of nested comprehensions on a shared
	// 2-core VM (an estimate, not a bound).
	defaultCustomRuleCostLimit = 100_000

	defaultMaxNetworkStates = 20_000
	defaultNetworkTTL       = time.Hour
	defaultFirstUseSlots    = 1 << 16
	maxFirstUseSlots        = 1 << 24
	defaultNetworkIPv4      = 32
	defaultNetworkIPv6      = 64
)

// defaultRejectReasons are the reasons rejected_burst counts by default.
var defaultRejectReasons = []audit.RejectReason{
	audit.RejectBadSignature, audit.RejectAlgNone, audit.RejectMalformed, audit.RejectUnknownKey,
}

// ParseConfig decodes a YAML config. Unknown keys are errors, so that a
// misspelt threshold does not silently keep its default. A fault of the
// YAML, such as an unknown key or a value of the wrong type, is returned as
// a *yamlcheck.Error with its line, field and the form to write. An
// invalid value of a built-in setting, such as a negative window, is
// returned as a *ConfigError with its line. It does not apply defaults or
// compile the custom rules: New does both, and gives a custom rule's
// compile error at its line and column in data.
func ParseConfig(data []byte) (Config, error) {
	lines, err := yamlcheck.Check(data, reflect.TypeFor[Config](), yamlcheck.Hints{
		reflect.TypeFor[audit.Severity](): "write low, medium, high or critical",
	})
	if err != nil {
		return Config{}, fmt.Errorf("detect: parse config: %w", err)
	}

	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("detect: parse config: %w", err)
	}
	if err := cfg.validateBuiltIn(lines); err != nil {
		return Config{}, err
	}

	// Keep where each custom rule's expression sits in data, so that a
	// compile error can give its line and column in the file.
	for i, node := range expressionNodes(data, len(cfg.CustomRules)) {
		if node == nil || node.Value != cfg.CustomRules[i].Expression {
			continue
		}
		if positions := mapScalar(data, node); positions != nil {
			cfg.CustomRules[i].source = &exprSource{positions: positions}
		}
	}
	return cfg, nil
}

// Validate reports the first field of c that holds an invalid value, as a
// *ConfigError naming the field by its YAML path, or nil. Zero fields are
// valid: they take their defaults. It compiles the custom rules, and
// reports the first that does not compile, or breaks a rule of CustomRule,
// as a *CustomRuleError.
func (c *Config) Validate() error {
	if err := c.validateBuiltIn(nil); err != nil {
		return err
	}
	_, err := compileCustomRules(c.CustomRules, c.customRuleCostLimit())
	return err
}

// validateBuiltIn is Validate without the custom rules. lines gives the
// line of each field in the file that ParseConfig read, or is nil.
func (c *Config) validateBuiltIn(lines yamlcheck.Lines) error {
	checks := []struct {
		field string
		bad   bool
		value any
		want  string
	}{
		{"max_pending", c.MaxPending < 0, c.MaxPending, "zero or more"},
		{"max_tokens", c.MaxTokens < 0, c.MaxTokens, "zero or more"},
		{"token_ttl", c.TokenTTL < 0, c.TokenTTL, "zero or more"},
		{"clock_skew", c.ClockSkew < 0, c.ClockSkew, "zero or more"},
		{"rules.refresh_token_reuse.grace", c.Rules.RefreshTokenReuse.Grace < 0, c.Rules.RefreshTokenReuse.Grace, "zero or more"},
		{"rules.rapid_ip_change.max_networks", c.Rules.RapidIPChange.MaxNetworks < 0, c.Rules.RapidIPChange.MaxNetworks, "zero or more"},
		{"rules.rapid_ip_change.window", c.Rules.RapidIPChange.Window < 0, c.Rules.RapidIPChange.Window, "zero or more"},
		{"rules.rapid_ip_change.ipv4_prefix", c.Rules.RapidIPChange.IPv4Prefix < 0 || c.Rules.RapidIPChange.IPv4Prefix > 32, c.Rules.RapidIPChange.IPv4Prefix, "0 to 32"},
		{"rules.rapid_ip_change.ipv6_prefix", c.Rules.RapidIPChange.IPv6Prefix < 0 || c.Rules.RapidIPChange.IPv6Prefix > 64, c.Rules.RapidIPChange.IPv6Prefix, "0 to 64"},
		{"rules.high_frequency.max_uses", c.Rules.HighFrequency.MaxUses < 0 || c.Rules.HighFrequency.MaxUses > math.MaxUint32, c.Rules.HighFrequency.MaxUses, "0 to 4294967295"},
		{"rules.high_frequency.window", c.Rules.HighFrequency.Window < 0, c.Rules.HighFrequency.Window, "zero or more"},
		{"rules.impossible_travel.max_speed_kmh", !(c.Rules.ImpossibleTravel.MaxSpeedKMH >= 0) || math.IsInf(c.Rules.ImpossibleTravel.MaxSpeedKMH, 0), c.Rules.ImpossibleTravel.MaxSpeedKMH, "a finite number, zero or more"},
		{"rules.impossible_travel.default_accuracy_km", !(c.Rules.ImpossibleTravel.DefaultAccuracyKM >= 0) || math.IsInf(c.Rules.ImpossibleTravel.DefaultAccuracyKM, 0), c.Rules.ImpossibleTravel.DefaultAccuracyKM, "a finite number, zero or more"},
		{"rules.impossible_travel.carrier_window", c.Rules.ImpossibleTravel.CarrierWindow < 0, c.Rules.ImpossibleTravel.CarrierWindow, "zero or more"},
		{"rules.impossible_travel.carrier_max_km", !(c.Rules.ImpossibleTravel.CarrierMaxKM >= 0) || math.IsInf(c.Rules.ImpossibleTravel.CarrierMaxKM, 0), c.Rules.ImpossibleTravel.CarrierMaxKM, "a finite number, zero or more"},
		{"rules.concurrent_use.window", c.Rules.ConcurrentUse.Window < 0, c.Rules.ConcurrentUse.Window, "zero or more"},
		{"rules.unknown_token.max_waiting", c.Rules.UnknownToken.MaxWaiting < 0, c.Rules.UnknownToken.MaxWaiting, "zero or more"},
		{"rules.rejected_burst.max_rejections", c.Rules.RejectedBurst.MaxRejections < 0 || c.Rules.RejectedBurst.MaxRejections > math.MaxUint32, c.Rules.RejectedBurst.MaxRejections, "0 to 4294967295"},
		{"rules.rejected_burst.window", c.Rules.RejectedBurst.Window < 0, c.Rules.RejectedBurst.Window, "zero or more"},
		{"rules.shared_ip_many_subjects.max_subjects", c.Rules.SharedIPManySubjects.MaxSubjects < 0 || c.Rules.SharedIPManySubjects.MaxSubjects > maxSubjectsLimit, c.Rules.SharedIPManySubjects.MaxSubjects, "0 to 1000"},
		{"rules.shared_ip_many_subjects.window", c.Rules.SharedIPManySubjects.Window < 0, c.Rules.SharedIPManySubjects.Window, "zero or more"},
		{"rules.unfamiliar_client.learning_period", c.Rules.UnfamiliarClient.LearningPeriod < 0, c.Rules.UnfamiliarClient.LearningPeriod, "zero or more"},
		{"rules.unfamiliar_client.min_events", c.Rules.UnfamiliarClient.MinEvents < 0 || c.Rules.UnfamiliarClient.MinEvents > math.MaxUint32, c.Rules.UnfamiliarClient.MinEvents, "0 to 4294967295"},
		{"subject_state.max_subjects", c.SubjectState.MaxSubjects < 0, c.SubjectState.MaxSubjects, "zero or more"},
		{"subject_state.ttl", c.SubjectState.TTL < 0, c.SubjectState.TTL, "zero or more"},
		{"network_state.max_networks", c.NetworkState.MaxNetworks < 0, c.NetworkState.MaxNetworks, "zero or more"},
		{"network_state.ttl", c.NetworkState.TTL < 0, c.NetworkState.TTL, "zero or more"},
		{"network_state.first_use_slots", c.NetworkState.FirstUseSlots < 0 || c.NetworkState.FirstUseSlots > maxFirstUseSlots, c.NetworkState.FirstUseSlots, "0 to 16777216"},
		{"network_state.ipv4_prefix", c.NetworkState.IPv4Prefix < 0 || c.NetworkState.IPv4Prefix > 32, c.NetworkState.IPv4Prefix, "0 to 32"},
		{"network_state.ipv6_prefix", c.NetworkState.IPv6Prefix < 0 || c.NetworkState.IPv6Prefix > 64, c.NetworkState.IPv6Prefix, "0 to 64"},
	}
	for _, ch := range checks {
		if ch.bad {
			return configError(lines, ch.field, fmt.Sprint(ch.value), "must be "+ch.want)
		}
	}

	severities := []struct {
		field string
		value audit.Severity
	}{
		{"rules.revoked_token_use.severity", c.Rules.RevokedTokenUse.Severity},
		{"rules.expired_token_use.severity", c.Rules.ExpiredTokenUse.Severity},
		{"rules.refresh_token_reuse.severity", c.Rules.RefreshTokenReuse.Severity},
		{"rules.rapid_ip_change.severity", c.Rules.RapidIPChange.Severity},
		{"rules.high_frequency.severity", c.Rules.HighFrequency.Severity},
		{"rules.impossible_travel.severity", c.Rules.ImpossibleTravel.Severity},
		{"rules.concurrent_use.severity", c.Rules.ConcurrentUse.Severity},
		{"rules.user_agent_change.severity", c.Rules.UserAgentChange.Severity},
		{"rules.unknown_token.severity", c.Rules.UnknownToken.Severity},
		{"rules.threat_intel_ip.severity", c.Rules.ThreatIntelIP.Severity},
		{"rules.rejected_burst.severity", c.Rules.RejectedBurst.Severity},
		{"rules.shared_ip_many_subjects.severity", c.Rules.SharedIPManySubjects.Severity},
		{"rules.unfamiliar_client.severity", c.Rules.UnfamiliarClient.Severity},
	}
	for _, s := range severities {
		if s.value > audit.SeverityCritical {
			return configError(lines, s.field, s.value.String(), "must be low, medium, high or critical")
		}
	}

	for i, r := range c.Rules.RejectedBurst.Reasons {
		if r == "" || !r.Valid() {
			return configError(lines, fmt.Sprintf("rules.rejected_burst.reasons[%d]", i), fmt.Sprintf("%q", string(r)), "must be a reject reason such as bad_signature, alg_none, malformed or unknown_key")
		}
	}
	for i, iss := range c.Rules.UnknownToken.Issuers {
		if iss == "" {
			return configError(lines, fmt.Sprintf("rules.unknown_token.issuers[%d]", i), `""`, "must be an iss value such as https://login.example.com")
		}
	}

	for i, p := range c.TrustedNetworks {
		if !p.IsValid() {
			return configError(lines, fmt.Sprintf("trusted_networks[%d]", i), p.String(), "must be an address range such as 198.51.100.0/24")
		}
	}
	return nil
}

// customRuleCostLimit returns CustomRuleCostLimit, or its default when zero.
func (c *Config) customRuleCostLimit() uint64 {
	if c.CustomRuleCostLimit == 0 {
		return defaultCustomRuleCostLimit
	}
	return c.CustomRuleCostLimit
}

// configError returns the *ConfigError of field, with its line in lines
// (nil for a Config made in code).
func configError(lines yamlcheck.Lines, field, value, reason string) *ConfigError {
	return &ConfigError{Field: field, Value: value, Reason: reason, Line: lines[field]}
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	setDuration(&c.ReorderWindow, defaultReorderWindow)
	setInt(&c.MaxPending, defaultMaxPending)
	setInt(&c.MaxTokens, defaultMaxTokens)
	setDuration(&c.TokenTTL, defaultTokenTTL)
	setDuration(&c.ClockSkew, defaultClockSkew)

	r := &c.Rules
	setSeverity(&r.RevokedTokenUse.Severity, audit.SeverityCritical)
	setSeverity(&r.ExpiredTokenUse.Severity, audit.SeverityMedium)
	setSeverity(&r.RefreshTokenReuse.Severity, audit.SeverityHigh)
	setDuration(&r.RefreshTokenReuse.Grace, defaultRefreshGrace)

	setSeverity(&r.RapidIPChange.Severity, audit.SeverityMedium)
	setInt(&r.RapidIPChange.MaxNetworks, defaultMaxNetworks)
	setDuration(&r.RapidIPChange.Window, defaultIPWindow)
	setInt(&r.RapidIPChange.IPv4Prefix, defaultIPv4Prefix)
	setInt(&r.RapidIPChange.IPv6Prefix, defaultIPv6Prefix)

	setSeverity(&r.HighFrequency.Severity, audit.SeverityMedium)
	setInt(&r.HighFrequency.MaxUses, defaultMaxUses)
	setDuration(&r.HighFrequency.Window, defaultFrequencyWindow)

	setSeverity(&r.ImpossibleTravel.Severity, audit.SeverityHigh)
	setFloat(&r.ImpossibleTravel.MaxSpeedKMH, defaultMaxSpeedKMH)
	setFloat(&r.ImpossibleTravel.DefaultAccuracyKM, defaultAccuracyKM)
	setDuration(&r.ImpossibleTravel.CarrierWindow, defaultCarrierWindow)
	setFloat(&r.ImpossibleTravel.CarrierMaxKM, defaultCarrierMaxKM)

	setSeverity(&r.ConcurrentUse.Severity, audit.SeverityHigh)
	setDuration(&r.ConcurrentUse.Window, defaultConcurrentWindow)

	setSeverity(&r.UserAgentChange.Severity, audit.SeverityMedium)

	setSeverity(&r.UnknownToken.Severity, audit.SeverityHigh)
	setInt(&r.UnknownToken.MaxWaiting, defaultMaxWaiting)

	setSeverity(&r.ThreatIntelIP.Severity, audit.SeverityHigh)

	setSeverity(&r.RejectedBurst.Severity, audit.SeverityMedium)
	setInt(&r.RejectedBurst.MaxRejections, defaultMaxRejections)
	setDuration(&r.RejectedBurst.Window, defaultBurstWindow)
	if len(r.RejectedBurst.Reasons) == 0 {
		r.RejectedBurst.Reasons = defaultRejectReasons
	}

	setSeverity(&r.SharedIPManySubjects.Severity, audit.SeverityHigh)
	setInt(&r.SharedIPManySubjects.MaxSubjects, defaultMaxSubjects)
	setDuration(&r.SharedIPManySubjects.Window, defaultSharedWindow)

	setSeverity(&r.UnfamiliarClient.Severity, audit.SeverityMedium)
	setDuration(&r.UnfamiliarClient.LearningPeriod, defaultLearningPeriod)
	setInt(&r.UnfamiliarClient.MinEvents, defaultMinEvents)

	c.CustomRuleCostLimit = c.customRuleCostLimit()

	setInt(&c.SubjectState.MaxSubjects, defaultMaxSubjectStates)
	setDuration(&c.SubjectState.TTL, defaultSubjectTTL)

	n := &c.NetworkState
	setInt(&n.MaxNetworks, defaultMaxNetworkStates)
	setDuration(&n.TTL, defaultNetworkTTL)
	setInt(&n.FirstUseSlots, defaultFirstUseSlots)
	setInt(&n.IPv4Prefix, defaultNetworkIPv4)
	setInt(&n.IPv6Prefix, defaultNetworkIPv6)
	return c
}

func setDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

func setInt(n *int, def int) {
	if *n == 0 {
		*n = def
	}
}

func setFloat(f *float64, def float64) {
	if *f == 0 {
		*f = def
	}
}

func setSeverity(s *audit.Severity, def audit.Severity) {
	if *s == 0 {
		*s = def
	}
}
