package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokentrail/tokentrail/audit"
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
			q, err := anomalyQuery(f)
			if err != nil {
				return err
			}
			if _, err := os.Stat(g.db); errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("no store at %s: import logs first (tokentrail --db %s import FILE), or name the store with --db or TOKENTRAIL_DB", g.db, g.db)
			}
			db, err := openStoreReadOnly(cmd.Context(), g.db)
			if err != nil {
				return err
			}
			defer db.Close()

			list, err := db.Anomalies(cmd.Context(), q)
			if err != nil {
				return err
			}
			if list == nil {
				list = []audit.Anomaly{}
			}
			if f.json {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			return writeAnomalies(cmd.OutOrStdout(), list)
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
		parsed, err := time.Parse(time.RFC3339, t.value)
		if err != nil {
			return r, fmt.Errorf("invalid %s %q: want an RFC 3339 time such as 2026-11-20T10:00:00Z", t.flag, t.value)
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
// below it.
func writeAnomalies(w io.Writer, list []audit.Anomaly) error {
	p := &printer{w: w}
	if len(list) == 0 {
		p.line("no anomaly matches: import logs to run detection, or widen the filters")
		return p.err
	}
	for _, a := range list {
		p.line("%s  %-8s  %-23s  token %s, subject %s%s", stamp(a.Time), a.Severity, a.Rule,
			orNone(a.TokenID, "-"), orNone(a.Subject, "-"), anomalyClient(a))
		p.line("    %s", a.Summary)
	}
	return p.err
}

// anomalyClient returns ", from ADDRESS (ASN ORG, COUNTRY)" for an anomaly
// that names its client's address, and "" otherwise.
func anomalyClient(a audit.Anomaly) string {
	if !a.IP.IsValid() {
		return ""
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
		return ", from " + a.IP.String()
	}
	return fmt.Sprintf(", from %s (%s)", a.IP, where)
}
