package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/report"
)

// reportStamp is the layout in which the text reports print times. Flags
// accept it besides RFC 3339, so that a time can be pasted from a report.
const reportStamp = forensics.TimeLayout

type incidentFlags struct {
	subject     string
	at          string
	window      string
	format      string
	out         string
	rules       string
	enrich      string
	maxTimeline int
	actor       string
	json        bool // --json, as investigate and related take it: --format json
}

// incidentFormats are the values of --format, the first the default.
var incidentFormats = []string{"text", "json", "markdown", "html"}

func newIncidentCommand(g *globalFlags) *cobra.Command {
	var f incidentFlags
	cmd := &cobra.Command{
		Use:   "incident --subject S --at TIME [--window 24h] [--format text|json|markdown|html]",
		Short: "Analyze an incident around one subject and plan its remediation",
		Long: `Incident reconstructs what happened around one subject (the sub of a user or
service account) within --window before and after --at: which tokens and
networks are suspicious, what those networks reached, how long they held
working tokens, and a ranked remediation plan whose commands can be pasted
into a shell.

A suspicious network is the /24 (IPv4) or /64 (IPv6) of an address that an
anomaly of the subject's tokens names. The anomalies are those stored by
imports and tokentrail detect, plus what detection finds in the subject's
events now, with the thresholds of --rules and the data of --enrich.

Formats:
  text      a one-screen summary, the plan, then the timeline (default)
  markdown  the same, for a ticket
  json      the forensics.IncidentReport (docs/report-json.md)
  html      one self-contained file with a timeline chart, which prints
            well; it fetches nothing from the network

The report never holds a raw token, only jti values and fingerprints.`,
		Example: `  tokentrail incident --subject alice --at 2026-11-20T09:30:00Z
  tokentrail incident --subject alice --at "2026-11-20 09:30:00Z" --window 2h --format html --out incident.html
  tokentrail incident --subject alice --at 2026-11-20T09:30:00Z --format json | jq '.plan[].command'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db := ""
			if fl := cmd.Flag("db"); fl != nil && fl.Changed {
				db = g.db
			}
			return runIncident(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), g.db, db, f, time.Now())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.subject, "subject", "", "the subject (sub) whose tokens the incident concerns (required)")
	fl.StringVar(&f.at, "at", "", "the time of the incident, RFC 3339 or as reports print it (2026-11-20 09:30:00Z) (required)")
	fl.StringVar(&f.window, "window", detect.FormatDuration(forensics.DefaultIncidentWindow), "how far before and after --at to read events, in hours, minutes or seconds, such as 2h, 36h or 90m")
	fl.StringVar(&f.format, "format", "text", "output format: "+strings.Join(incidentFormats, ", "))
	fl.BoolVar(&f.json, "json", false, "the same as --format json, as in investigate and related")
	fl.StringVar(&f.out, "out", "", "write the report to this file instead of standard output; an existing file is replaced, with a line on standard error")
	fl.StringVar(&f.rules, "rules", "", "YAML file of detection thresholds (default: the one the store's last import or detect used, else the built-in defaults; none for the defaults; see docs/detection.md)")
	fl.StringVar(&f.enrich, "enrich", "", "YAML file naming GeoIP/ASN .mmdb files and threat-intel lists for detection (default: the one the store's last import or detect used; none for no files; see docs/detection.md)")
	fl.IntVar(&f.maxTimeline, "max-timeline", 0, "at most this many timeline events, and events read by each query (0: 5000)")
	fl.StringVar(&f.actor, "actor", "", "the --actor of the plan's revoke commands, such as your e-mail address (default: incident-response)")
	return cmd
}

// runIncident analyzes the incident in the store at dbPath and writes the
// report. planDB is the --db value that the plan's commands carry, empty
// when the store is the default one.
func runIncident(ctx context.Context, stdout, stderr io.Writer, dbPath, planDB string, f incidentFlags, now time.Time) error {
	if strings.TrimSpace(f.subject) == "" {
		return errors.New("missing --subject: name the subject (sub claim) of the user or service account, such as --subject alice")
	}
	if f.at == "" {
		return errors.New("missing --at: give the time of the incident, such as --at 2026-11-20T09:30:00Z")
	}
	at, err := parseReportTime("--at", f.at)
	if err != nil {
		return err
	}
	window, err := parseWindow(f.window)
	if err != nil {
		return err
	}
	if f.maxTimeline < 0 {
		return fmt.Errorf("invalid --max-timeline %d: want 0 for the default of 5000, or more", f.maxTimeline)
	}
	if f.json {
		if f.format != "text" && !strings.EqualFold(f.format, "json") {
			return fmt.Errorf("--json and --format %s ask for two formats: give one", f.format)
		}
		f.format = "json"
	}
	write, err := incidentWriter(f.format)
	if err != nil {
		return err
	}
	if err := checkOutFolder(f.out); err != nil {
		return err
	}

	// An analysis must not create an empty store where the user mistyped
	// the path.
	if err := requireStore(dbPath); err != nil {
		return err
	}
	db, err := openStoreReadOnly(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()

	detection, enricher, settings, err := detectionConfig(ctx, db, f.rules, f.enrich, stderr)
	if err != nil {
		return err
	}
	defer enricher.Close()

	var failures []detect.CustomRuleFailure
	report, err := forensics.AnalyzeIncident(ctx, db, forensics.IncidentQuery{Subject: f.subject, At: at, Window: window},
		forensics.IncidentOptions{
			Now: now, MaxTimeline: f.maxTimeline, Actor: f.actor, DB: planDB,
			Detect: enrichedDetector(ctx, detection, enricher, db, &failures),
		})
	if errors.Is(err, forensics.ErrSubjectNotFound) {
		return fmt.Errorf("no event of subject %q in %s between %s and %s: %s, or widen --window or move --at",
			f.subject, dbPath, stamp(at.Add(-window)), stamp(at.Add(window)), subjectAdvice(f.subject))
	}
	if err != nil {
		return fmt.Errorf("analyze the incident of %q: %w", f.subject, err)
	}
	writeCustomRuleFailures(stderr, settings.RulesFile, failures)

	// Values copied from logs, such as a path with an access_token
	// parameter, could carry a raw token that the import did not catch, so
	// the whole output passes through the redaction once more.
	var buf bytes.Buffer
	if err := write(&buf, report); err != nil {
		return fmt.Errorf("render the %s report: %w", f.format, err)
	}
	out := audit.RedactTokens(buf.String())

	if f.out == "" {
		_, err := io.WriteString(stdout, out)
		return err
	}
	// --out replaces a file as -o does in most tools, and prints a line
	// about it, since the file may be an earlier report worth keeping.
	_, statErr := os.Stat(f.out)
	existed := statErr == nil
	if err := os.WriteFile(f.out, []byte(out), 0o600); err != nil {
		return fmt.Errorf("write --out: %w", err)
	}
	if existed {
		fmt.Fprintf(stderr, "replaced %s, which existed\n", plainOrQuoted(f.out))
	}
	fmt.Fprintf(stdout, "wrote the %s report of %q to %s (%d plan steps, %d timeline events)\n",
		f.format, f.subject, f.out, len(report.Plan), len(report.Timeline))
	return nil
}

// incidentWriter returns the renderer of a --format value.
func incidentWriter(format string) (func(io.Writer, *forensics.IncidentReport) error, error) {
	switch strings.ToLower(format) {
	case "text":
		return writeIncidentText, nil
	case "markdown", "md":
		return writeIncidentMarkdown, nil
	case "html":
		return writeIncidentHTML, nil
	case "json":
		return func(w io.Writer, r *forensics.IncidentReport) error {
			return report.WriteJSON(w, r)
		}, nil
	}
	return nil, fmt.Errorf("invalid --format %q: want one of %s", format, strings.Join(incidentFormats, ", "))
}

// parseWindow reads --window, a positive Go duration. Days are rejected
// by time.ParseDuration, so the error spells out the accepted units.
func parseWindow(value string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(value))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("invalid --window %q: want a duration in hours, minutes or seconds, such as 24h, 36h or 90m "+
			"(a day is 24h, so write 1d as 24h and 2d12h as 60h)", value)
	}
	return d, nil
}

// checkOutFolder returns an error when the folder of the --out file does
// not exist, before the analysis runs rather than after.
func checkOutFolder(out string) error {
	if out == "" {
		return nil
	}
	folder := filepath.Dir(out)
	info, err := os.Stat(folder)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("invalid --out %s: the folder %s does not exist, so create it first (mkdir -p %s) or name a file in an existing folder", out, folder, folder)
	case err != nil:
		return fmt.Errorf("check the folder of --out %s: %w", out, err)
	case !info.IsDir():
		return fmt.Errorf("invalid --out %s: %s is a file, not a folder, so name a file in an existing folder", out, folder)
	}
	return nil
}

// parseReportTime reads a time flag given in RFC 3339 or in the layout the
// text reports print.
func parseReportTime(flag, value string) (time.Time, error) {
	value = strings.TrimSpace(value)
	for _, layout := range []string{time.RFC3339, reportStamp} {
		if t, err := time.Parse(layout, value); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid %s %q: want an RFC 3339 time such as 2026-11-20T10:00:00Z, or 2026-11-20 10:00:00Z as reports print it", flag, value)
}
