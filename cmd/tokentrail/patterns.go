package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/enrich"
	"github.com/tokentrail/tokentrail/store"
)

// The kinds of pattern group, the values of --by other than "all", in the
// order that "all" lists them.
const (
	byNetwork   = "network"
	byASN       = "asn"
	byUserAgent = "user_agent"
)

var patternKinds = []string{byNetwork, byASN, byUserAgent}

// The network of an address in the network groups.
const (
	patternIPv4Bits = 24
	patternIPv6Bits = 64
)

type patternsFlags struct {
	since     string
	until     string
	severity  string
	rules     []string
	by        string
	minTokens int
	json      bool
}

func newPatternsCommand(g *globalFlags) *cobra.Command {
	f := patternsFlags{by: "all", minTokens: 2}
	cmd := &cobra.Command{
		Use:   "patterns [flags]",
		Short: "Group stored anomalies by network, ASN and user agent across tokens",
		Long: `Patterns groups the stored anomalies by the client of the event that
completed each one, across tokens and subjects: by network (IPv4 /24, IPv6
/64), by autonomous system (ASN, with its organization), and by user-agent
family (Chrome, curl, python-requests...). A group that spans many subjects
and tokens points at one actor behind many accounts, such as a token-theft
campaign or a credential-stuffing run.

Each group lists its anomalies, distinct tokens, distinct subjects, rules
with counts, and first and last time, sorted by distinct subjects and then
tokens. Groups of fewer than --min-tokens tokens (default 2) are hidden.
The address, ASN and user agent are those detection recorded with each
anomaly; ASNs need GeoIP data (--enrich of import or detect) unless the log
carried them. --json prints one object, described in docs/detection.md.`,
		Example: `  tokentrail patterns
  tokentrail patterns --by network --since 2026-11-20T00:00:00Z
  tokentrail patterns --by asn --severity high --json
  tokentrail patterns --by user_agent --min-tokens 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q, kinds, err := patternQuery(f)
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

			parser, err := enrich.New(cmd.Context(), enrich.Config{ReloadInterval: -1})
			if err != nil {
				return fmt.Errorf("start the user-agent parser: %w", err)
			}
			defer parser.Close()
			family := func(ua string) string {
				name, _ := parser.UserAgent(ua)
				return name
			}

			report := buildPatternReport(list, kinds, f.minTokens, family)
			report.Since, report.Until = q.Since, q.Until
			if f.json {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(report)
			}
			return writePatterns(cmd.OutOrStdout(), report, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.since, "since", "", "only anomalies at or after this RFC 3339 time")
	fl.StringVar(&f.until, "until", "", "only anomalies before this RFC 3339 time")
	fl.StringVar(&f.severity, "severity", "", "only anomalies of at least this severity: low, medium, high or critical")
	fl.StringSliceVar(&f.rules, "rule", nil, "only anomalies of these rules (repeat the flag or separate with commas)")
	fl.StringVar(&f.by, "by", f.by, "group by network, asn, user_agent, or all three")
	fl.IntVar(&f.minTokens, "min-tokens", f.minTokens, "hide groups with fewer distinct tokens than this")
	fl.BoolVar(&f.json, "json", false, "print one JSON object")
	return cmd
}

// patternQuery turns the flags into the query of the anomalies to group and
// the kinds of group, naming the flag of a bad value.
func patternQuery(f patternsFlags) (store.AnomalyQuery, []string, error) {
	q := store.AnomalyQuery{Rules: f.rules}
	r, err := parseTimeRange(f.since, f.until)
	if err != nil {
		return q, nil, err
	}
	q.Since, q.Until = r.Since, r.Until
	if q.MinSeverity, err = parseSeverity(f.severity); err != nil {
		return q, nil, err
	}
	if f.minTokens < 0 {
		return q, nil, fmt.Errorf("invalid --min-tokens %d: want 0 or more", f.minTokens)
	}
	switch by := strings.ToLower(f.by); {
	case by == "all":
		return q, patternKinds, nil
	case slices.Contains(patternKinds, by):
		return q, []string{by}, nil
	}
	return q, nil, fmt.Errorf("invalid --by %q: want network, asn, user_agent or all", f.by)
}

// patternReport is the output of tokentrail patterns, and its JSON form.
type patternReport struct {
	Since     time.Time      `json:"since,omitzero"` // the --since filter, when given
	Until     time.Time      `json:"until,omitzero"` // the --until filter, when given
	Anomalies int            `json:"anomalies"`      // anomalies read, before grouping
	MinTokens int            `json:"min_tokens"`
	Hidden    int            `json:"hidden_groups"` // groups with fewer than MinTokens tokens
	Groups    []patternGroup `json:"groups"`
}

// patternGroup is the anomalies whose client shares a network, an ASN or a
// user-agent family.
type patternGroup struct {
	By          string         `json:"by"`            // network, asn or user_agent
	Key         string         `json:"key"`           // 203.0.113.0/24, AS64500, python-requests
	ASN         uint32         `json:"asn,omitempty"` // network and asn groups: the most frequent ASN
	Org         string         `json:"org,omitempty"` // network and asn groups: the most frequent organization
	Anomalies   int            `json:"anomalies"`
	Tokens      int            `json:"tokens"`   // distinct token IDs
	Subjects    int            `json:"subjects"` // distinct subjects
	MaxSeverity audit.Severity `json:"max_severity"`
	Rules       []ruleTally    `json:"rules"` // most frequent first
	First       time.Time      `json:"first"`
	Last        time.Time      `json:"last"`
}

// ruleTally counts the anomalies of one rule in a group.
type ruleTally struct {
	Rule  string `json:"rule"`
	Count int    `json:"count"`
}

// groupTally accumulates one group.
type groupTally struct {
	group    patternGroup
	tokens   map[string]bool
	subjects map[string]bool
	rules    map[string]int
	asns     map[uint32]int
	orgs     map[string]int
}

// buildPatternReport groups list by each of kinds, hides the groups with
// fewer than minTokens distinct tokens, and sorts the rest by kind, then
// distinct subjects, tokens and anomalies, the most first. family returns
// the user-agent family of a user agent, or "" for none.
func buildPatternReport(list []audit.Anomaly, kinds []string, minTokens int, family func(string) string) patternReport {
	report := patternReport{Anomalies: len(list), MinTokens: minTokens, Groups: []patternGroup{}}
	for _, kind := range kinds {
		tallies := map[string]*groupTally{}
		for _, a := range list {
			key, ok := patternKey(kind, a, family)
			if !ok {
				continue
			}
			t := tallies[key]
			if t == nil {
				t = &groupTally{
					group:    patternGroup{By: kind, Key: key, First: a.Time, Last: a.Time},
					tokens:   map[string]bool{},
					subjects: map[string]bool{},
					rules:    map[string]int{},
					asns:     map[uint32]int{},
					orgs:     map[string]int{},
				}
				tallies[key] = t
			}
			t.add(a)
		}

		var groups []patternGroup
		for _, t := range tallies {
			g := t.finish(kind)
			if g.Tokens < minTokens {
				report.Hidden++
				continue
			}
			groups = append(groups, g)
		}
		slices.SortFunc(groups, comparePatternGroups)
		report.Groups = append(report.Groups, groups...)
	}
	return report
}

// patternKey returns the group of kind that a belongs to, or false when a
// lacks what kind groups by.
func patternKey(kind string, a audit.Anomaly, family func(string) string) (string, bool) {
	switch kind {
	case byNetwork:
		if !a.IP.IsValid() {
			return "", false
		}
		return networkOf(a.IP).String(), true
	case byASN:
		if a.ASN == 0 {
			return "", false
		}
		return fmt.Sprintf("AS%d", a.ASN), true
	case byUserAgent:
		if strings.TrimSpace(a.UserAgent) == "" {
			return "", false
		}
		name := family(a.UserAgent)
		return name, name != ""
	}
	return "", false
}

func (t *groupTally) add(a audit.Anomaly) {
	g := &t.group
	g.Anomalies++
	if a.TokenID != "" {
		t.tokens[a.TokenID] = true
	}
	// NOTE: placeholder subjects such as "unknown" count as one subject
	// here, while shared_ip_many_subjects ignores them.
	if a.Subject != "" {
		t.subjects[a.Subject] = true
	}
	t.rules[a.Rule]++
	if a.ASN != 0 {
		t.asns[a.ASN]++
	}
	if a.Org != "" {
		t.orgs[a.Org]++
	}
	g.MaxSeverity = max(g.MaxSeverity, a.Severity)
	if a.Time.Before(g.First) {
		g.First = a.Time
	}
	if a.Time.After(g.Last) {
		g.Last = a.Time
	}
}

func (t *groupTally) finish(kind string) patternGroup {
	g := t.group
	g.Tokens, g.Subjects = len(t.tokens), len(t.subjects)
	for rule, n := range t.rules {
		g.Rules = append(g.Rules, ruleTally{Rule: rule, Count: n})
	}
	slices.SortFunc(g.Rules, func(a, b ruleTally) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Rule, b.Rule))
	})
	if kind != byUserAgent {
		g.ASN = mostFrequent(t.asns)
		g.Org = mostFrequent(t.orgs)
	}
	return g
}

// mostFrequent returns the key with the highest count, the least key among
// equals, or the zero value for an empty map.
func mostFrequent[K cmp.Ordered](counts map[K]int) K {
	var best K
	bestCount := 0
	for k, n := range counts {
		if n > bestCount || n == bestCount && k < best {
			best, bestCount = k, n
		}
	}
	return best
}

func comparePatternGroups(a, b patternGroup) int {
	return cmp.Or(
		cmp.Compare(b.Subjects, a.Subjects),
		cmp.Compare(b.Tokens, a.Tokens),
		cmp.Compare(b.Anomalies, a.Anomalies),
		cmp.Compare(a.Key, b.Key),
	)
}

// writePatterns prints the groups of each kind under a heading, with the
// command that lists a group's anomalies.
func writePatterns(w io.Writer, r patternReport, f patternsFlags) error {
	p := &printer{w: w}
	p.line("%s", describePatternReport(r))
	headings := map[string]string{
		byNetwork:   "By network (IPv4 /24, IPv6 /64)",
		byASN:       "By autonomous system",
		byUserAgent: "By user-agent family",
	}
	kind := ""
	for _, g := range r.Groups {
		if g.By != kind {
			kind = g.By
			p.section(headings[kind])
		}
		name := g.Key
		if g.Org != "" {
			name += "  " + g.Org
		}
		if g.By == byNetwork && g.ASN != 0 {
			name = fmt.Sprintf("%s  AS%d %s", g.Key, g.ASN, g.Org)
		}
		p.line("  %s", strings.TrimSpace(name))
		p.line("      %s, %s, %s (highest severity %s), %s to %s",
			counted(g.Subjects, "subject", "subjects"), counted(g.Tokens, "token", "tokens"), counted(g.Anomalies, "anomaly", "anomalies"),
			g.MaxSeverity, g.First.UTC().Format(reportStamp), g.Last.UTC().Format(reportStamp))
		rules := make([]string, len(g.Rules))
		for i, t := range g.Rules {
			rules[i] = fmt.Sprintf("%s %d", t.Rule, t.Count)
		}
		p.line("      rules: %s", strings.Join(rules, ", "))
		if list := listCommand(g, f); list != "" {
			p.line("      list: %s", list)
		}
	}
	return p.err
}

func describePatternReport(r patternReport) string {
	var b strings.Builder
	b.WriteString(counted(r.Anomalies, "anomaly", "anomalies"))
	switch {
	case !r.Since.IsZero() && !r.Until.IsZero():
		fmt.Fprintf(&b, " from %s to %s", r.Since.UTC().Format(reportStamp), r.Until.UTC().Format(reportStamp))
	case !r.Since.IsZero():
		fmt.Fprintf(&b, " since %s", r.Since.UTC().Format(reportStamp))
	case !r.Until.IsZero():
		fmt.Fprintf(&b, " before %s", r.Until.UTC().Format(reportStamp))
	}
	fmt.Fprintf(&b, ": %s of %d or more tokens", counted(len(r.Groups), "group", "groups"), r.MinTokens)
	if r.Hidden > 0 {
		all := 1
		if r.MinTokens <= 1 {
			all = 0 // the hidden groups have anomalies without a token ID
		}
		fmt.Fprintf(&b, ", %s of fewer hidden (--min-tokens %d shows them)", counted(r.Hidden, "group", "groups"), all)
	}
	if r.Anomalies == 0 {
		b.WriteString("; import logs or run tokentrail detect to find anomalies, or widen the filters")
	}
	return b.String()
}

// listCommand returns the tokentrail anomalies command that lists the
// anomalies of g with the filters of f, or "" for a kind that anomalies
// cannot select.
func listCommand(g patternGroup, f patternsFlags) string {
	var args []string
	switch g.By {
	case byNetwork:
		args = append(args, "--network", g.Key)
	case byASN:
		args = append(args, "--asn", strings.TrimPrefix(g.Key, "AS"))
	default:
		return ""
	}
	for _, flag := range []struct{ name, value string }{
		{"--since", f.since}, {"--until", f.until}, {"--severity", f.severity}, {"--rule", strings.Join(f.rules, ",")},
	} {
		if flag.value != "" {
			args = append(args, flag.name, flag.value)
		}
	}
	return "tokentrail anomalies " + strings.Join(args, " ")
}

// counted returns "1 token" or "3 tokens".
func counted(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// networkOf returns the network that pattern groups put ip in: its /24 for
// IPv4, IPv4-mapped IPv6 included, and its /64 for IPv6, without a zone.
func networkOf(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap().WithZone("")
	bits := patternIPv6Bits
	if ip.Is4() {
		bits = patternIPv4Bits
	}
	prefix, _ := ip.Prefix(bits)
	return prefix
}
