package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	limit    int
	json     bool
}

func newAnomaliesCommand(g *globalFlags) *cobra.Command {
	var f anomaliesFlags
	cmd := &cobra.Command{
		Use:   "anomalies [flags]",
		Short: "List what detection found during imports",
		Long: `Anomalies lists the findings that detection stored while logs were imported,
oldest first: time, severity, rule, token, subject and the sentence that says
what to do. Filters narrow the list; --json prints one JSON array of
audit.Anomaly objects. The rules are described in docs/detection.md.`,
		Example: `  tokentrail anomalies --severity high
  tokentrail anomalies --since 2026-11-20T00:00:00Z --rule rapid_ip_change --json
  tokentrail anomalies --subject alice@example.com`,
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
	fl.IntVar(&f.limit, "limit", 0, "at most this many, the oldest first (0: no limit)")
	fl.BoolVar(&f.json, "json", false, "print a JSON array")
	return cmd
}

// anomalyQuery turns the flags into a query, naming the flag of a bad value.
func anomalyQuery(f anomaliesFlags) (store.AnomalyQuery, error) {
	q := store.AnomalyQuery{Subject: f.subject, TokenID: f.token, Rules: f.rules, Limit: f.limit}
	if f.limit < 0 {
		return q, fmt.Errorf("invalid --limit %d: want 0 for no limit, or more", f.limit)
	}
	for _, t := range []struct {
		flag, value string
		dst         *time.Time
	}{{"--since", f.since, &q.Since}, {"--until", f.until, &q.Until}} {
		if t.value == "" {
			continue
		}
		parsed, err := time.Parse(time.RFC3339, t.value)
		if err != nil {
			return q, fmt.Errorf("invalid %s %q: want an RFC 3339 time such as 2026-11-20T10:00:00Z", t.flag, t.value)
		}
		*t.dst = parsed
	}
	if f.severity != "" {
		if err := q.MinSeverity.UnmarshalText([]byte(strings.ToLower(f.severity))); err != nil {
			return q, fmt.Errorf("invalid --severity %q: want low, medium, high or critical", f.severity)
		}
	}
	return q, nil
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
		p.line("%s  %-8s  %-23s  token %s, subject %s", stamp(a.Time), a.Severity, a.Rule,
			orNone(a.TokenID, "-"), orNone(a.Subject, "-"))
		p.line("    %s", a.Summary)
	}
	return p.err
}
