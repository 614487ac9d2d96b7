package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/report"
	"github.com/tokentrail/tokentrail/store"
)

type anomaliesFlags struct {
	since    string
	until    string
	severity string
	rules    []string
	subject  string
	token    string
	network  string
	asn      uint32
	limit    int
	json     bool
}

func newAnomaliesCommand(g *globalFlags) *cobra.Command {
	var f anomaliesFlags
	cmd := &cobra.Command{
		Use:   "anomalies [flags]",
		Short: "List what detection found",
		Long: `Anomalies lists the findings that detection stored, during imports and
tokentrail detect, oldest first: time, severity, rule, token, subject, the
client's address, and the sentence that says what to do. Filters narrow the
list; --json prints one JSON array of audit.Anomaly objects. The rules are
described in docs/detection.md.`,
		Example: `  tokentrail anomalies --severity high
  tokentrail anomalies --since 2026-11-20T00:00:00Z --rule rapid_ip_change --json
  tokentrail anomalies --subject alice@example.com
  tokentrail anomalies --network 203.0.113.0/24`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("asn") && f.asn == 0 {
				return errors.New("invalid --asn 0: AS 0 is reserved and no address belongs to it; give an AS number such as 64500, or leave out --asn")
			}
			q, err := anomalyQuery(f)
			if err != nil {
				return err
			}
			if err := requireStore(g.db); err != nil {
				return err
			}
			db, err := openStoreReadOnly(cmd.Context(), g.db)
			if err != nil {
				return err
			}
			defer db.Close()

			if err := checkRuleNames(cmd.Context(), db, f.rules); err != nil {
				return err
			}
			list, err := db.Anomalies(cmd.Context(), q)
			if err != nil {
				return err
			}
			if list == nil {
				list = []audit.Anomaly{}
			}
			if f.json {
				return report.WriteJSON(cmd.OutOrStdout(), list)
			}
			empty := ""
			if len(list) == 0 {
				if empty, err = emptyListHint(cmd.Context(), db); err != nil {
					return err
				}
			}
			return writeAnomalies(cmd.OutOrStdout(), list, empty)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.since, "since", "", "only anomalies at or after this RFC 3339 time")
	fl.StringVar(&f.until, "until", "", "only anomalies before this RFC 3339 time")
	fl.StringVar(&f.severity, "severity", "", "only anomalies of at least this severity: low, medium, high or critical")
	fl.StringSliceVar(&f.rules, "rule", nil, "only anomalies of these rules (repeat the flag or separate with commas)")
	fl.StringVar(&f.subject, "subject", "", "only anomalies of this subject")
	fl.StringVar(&f.token, "token", "", "only anomalies of this jti")
	fl.StringVar(&f.network, "network", "", "only anomalies whose client address lies in this CIDR prefix or is this address")
	fl.Uint32Var(&f.asn, "asn", 0, "only anomalies whose client address is in this autonomous system (as --enrich or the log gave it)")
	fl.IntVar(&f.limit, "limit", 0, "at most this many, the oldest first (0: no limit)")
	fl.BoolVar(&f.json, "json", false, "print a JSON array")
	return cmd
}

// anomalyQuery turns the flags into a query, naming the flag of a bad value.
func anomalyQuery(f anomaliesFlags) (store.AnomalyQuery, error) {
	q := store.AnomalyQuery{Subject: f.subject, TokenID: f.token, Rules: f.rules, Limit: f.limit, ASN: f.asn}
	if f.limit < 0 {
		return q, fmt.Errorf("invalid --limit %d: want 0 for no limit, or more", f.limit)
	}
	r, err := parseTimeRange(f.since, f.until)
	if err != nil {
		return q, err
	}
	q.Since, q.Until = r.Since, r.Until
	if q.MinSeverity, err = parseSeverity(f.severity); err != nil {
		return q, err
	}
	if f.network != "" {
		if q.Network, err = parsePrefix(f.network); err != nil {
			return q, err
		}
	}
	return q, nil
}

// anomalyReader is the part of the store that the checks of the rule
// names and the empty-list hint read.
type anomalyReader interface {
	Anomalies(ctx context.Context, q store.AnomalyQuery) ([]audit.Anomaly, error)
	Count(ctx context.Context) (int64, error)
}

// checkRuleNames returns an error naming each value of --rule that is
// neither a built-in rule nor the rule of a stored anomaly, with the names
// that would match. A custom rule that has not raised yet has no stored
// anomaly, and is reported unknown too.
func checkRuleNames(ctx context.Context, db anomalyReader, rules []string) error {
	builtIn := detect.BuiltInRules()
	unknown, err := detect.UnknownRules(rules, nil, func(rule string) (bool, error) {
		stored, err := db.Anomalies(ctx, store.AnomalyQuery{Rules: []string{rule}, Limit: 1})
		return len(stored) > 0, err
	})
	if err != nil || len(unknown) == 0 {
		return err
	}

	// Only on this error path: reading every stored anomaly to name the
	// custom rules among them.
	all, err := db.Anomalies(ctx, store.AnomalyQuery{})
	if err != nil {
		return err
	}
	var custom []string
	for _, a := range all {
		if !slices.Contains(builtIn, a.Rule) && !slices.Contains(custom, a.Rule) {
			custom = append(custom, a.Rule)
		}
	}
	slices.Sort(custom)
	stored := "none is stored"
	if len(custom) > 0 {
		stored = strings.Join(custom, ", ")
	}
	quoted := make([]string, len(unknown))
	for i, r := range unknown {
		quoted[i] = strconv.Quote(r)
	}
	return fmt.Errorf("unknown --rule %s: want a built-in rule (%s) or a custom rule with stored anomalies (%s)",
		strings.Join(quoted, ", "), strings.Join(builtIn, ", "), stored)
}

// emptyListHint returns the line that an empty list of anomalies prints:
// why the store may hold none, and what to run.
func emptyListHint(ctx context.Context, db anomalyReader) (string, error) {
	events, err := db.Count(ctx)
	if err != nil {
		return "", err
	}
	if events == 0 {
		return "no anomaly: the store holds no event, so import logs first (tokentrail import FILE)", nil
	}
	stored, err := db.Anomalies(ctx, store.AnomalyQuery{Limit: 1})
	if err != nil {
		return "", err
	}
	if len(stored) == 0 {
		return fmt.Sprintf("no anomaly is stored for the %d events in the store: "+
			"if they were imported with --no-detect, run tokentrail detect to check them", events), nil
	}
	return "no anomaly matches the filters: widen them", nil
}

// parseTimeRange reads --since and --until, either of which may be empty.
func parseTimeRange(since, until string) (store.TimeRange, error) {
	var r store.TimeRange
	for _, t := range []struct {
		flag, value string
		dst         *time.Time
	}{{"--since", since, &r.Since}, {"--until", until, &r.Until}} {
		if t.value == "" {
			continue
		}
		parsed, err := parseReportTime(t.flag, t.value)
		if err != nil {
			return r, err
		}
		*t.dst = parsed
	}
	if !r.Since.IsZero() && !r.Until.IsZero() && !r.Since.Before(r.Until) {
		return r, fmt.Errorf("invalid --until %s: it is not after --since %s, so nothing lies between them", until, since)
	}
	return r, nil
}

// parseSeverity reads --severity; empty means any.
func parseSeverity(value string) (audit.Severity, error) {
	var s audit.Severity
	if value == "" {
		return s, nil
	}
	if err := s.UnmarshalText([]byte(strings.ToLower(value))); err != nil {
		return s, fmt.Errorf("invalid --severity %q: want low, medium, high or critical", value)
	}
	return s, nil
}

// parsePrefix reads --network: a CIDR prefix, or one address.
func parsePrefix(value string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(value); err == nil {
		return p.Masked(), nil
	}
	if addr, err := netip.ParseAddr(value); err == nil {
		addr = addr.WithZone("")
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("invalid --network %q: want a CIDR prefix such as 203.0.113.0/24 or 2001:db8:1:2::/64, or one address", value)
}

// writeAnomalies prints one line per anomaly, and the sentence to act on
// below it. The severity and rule columns are as wide as their longest
// value, so that custom rules with long names keep the columns aligned.
func writeAnomalies(w io.Writer, list []audit.Anomaly, empty string) error {
	p := &printer{w: w}
	if len(list) == 0 {
		p.line("%s", empty)
		return p.err
	}
	severityWidth, ruleWidth := 0, 0
	for _, a := range list {
		severityWidth = max(severityWidth, len(a.Severity.String()))
		ruleWidth = max(ruleWidth, len(a.Rule))
	}
	for _, a := range list {
		p.line("%s  %-*s  %-*s  %s%s", stamp(a.Time), severityWidth, a.Severity, ruleWidth, a.Rule,
			anomalyIdentity(a), anomalyClient(a))
		p.line("    %s", a.Summary)
	}
	return p.err
}

// anomalyIdentity returns "token T, subject S" for an anomaly. The rules
// that watch a network across tokens name the token of the event that
// completed the evidence, which the text calls the last token. An empty
// value is written in words, because "-" and the like are themselves
// subjects that logs write.
func anomalyIdentity(a audit.Anomaly) string {
	token, subject := "token "+orNone(a.TokenID, "(none recorded)"), orNone(a.Subject, "(none recorded)")
	switch a.Rule {
	case detect.RuleSharedIPManySubjects:
		token = "last token " + orNone(a.TokenID, "(none recorded)")
		subject = orNone(a.Subject, "(several)")
	case detect.RuleRejectedBurst:
		token = "last token " + orNone(a.TokenID, "(none recorded)")
	}
	return fmt.Sprintf("%s, subject %s", token, subject)
}

// betweenClients are the rules whose evidence comes from two or more
// clients. The anomaly's address is that of the last use, which may be the
// owner's, so it must not read as the attacker's.
var betweenClients = []string{detect.RuleConcurrentUse, detect.RuleRapidIPChange, detect.RuleImpossibleTravel, detect.RuleUserAgentChange}

// anomalyClient returns ", from ADDRESS (ASN ORG, COUNTRY)" for an anomaly
// that names its client's address, ", last use from ..." for one whose
// evidence spans clients, and "" otherwise.
func anomalyClient(a audit.Anomaly) string {
	if !a.IP.IsValid() {
		return ""
	}
	from := ", from "
	if slices.Contains(betweenClients, a.Rule) {
		from = ", last use from "
	}
	var network []string
	if a.ASN != 0 {
		network = append(network, fmt.Sprintf("AS%d", a.ASN))
	}
	if a.Org != "" {
		network = append(network, a.Org)
	}
	where := strings.Join(network, " ")
	if a.Country != "" {
		where = strings.TrimPrefix(where+", "+a.Country, ", ")
	}
	if where == "" {
		return from + a.IP.String()
	}
	return fmt.Sprintf("%s%s (%s)", from, a.IP, where)
}
