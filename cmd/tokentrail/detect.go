package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/store"
)

// detectProgressMinEvents is the store size from which detect shows a
// progress bar on a terminal. The scan reads about 100,000 events/s
// (BenchmarkScan), so smaller stores finish within about 10 seconds.
const detectProgressMinEvents = 1_000_000

type detectFlags struct {
	rules    string
	enrich   string
	since    string
	until    string
	prune    bool
	progress string
	verbose  bool
}

func newDetectCommand(g *globalFlags) *cobra.Command {
	var f detectFlags
	cmd := &cobra.Command{
		Use:   "detect [flags]",
		Short: "Run detection again over the stored events, in time order",
		Long: `Detect runs the detection rules over every stored event (or those in
--since and --until) in time order, and stores the anomalies found. Run it
after changing --rules, after loading new GeoIP data or lists with --enrich,
and after importing files whose times overlap by more than the reorder
window (10 s by default), which import checks in the order the files give.

An anomaly's ID comes from its rule and evidence, so running detect again
stores nothing twice. It prints how many anomalies were found and how many
are new, rule by rule.

Anomalies that the rules no longer raise, after a change of thresholds, stay
stored unless --prune is given. --prune deletes a stored anomaly in the range
that this run did not raise, when every event that proves it lies in the
range: one that needs events outside --since and --until is kept.`,
		Example: `  tokentrail detect
  tokentrail detect --rules rules.yaml --prune
  tokentrail detect --since 2026-11-20T00:00:00Z --until 2026-11-21T00:00:00Z --enrich enrich.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDetect(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), g.db, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.rules, "rules", "", "YAML file of detection thresholds, kept in the store for later runs (default: the kept one, else the built-in defaults; none for the defaults; see docs/detection.md)")
	fl.StringVar(&f.enrich, "enrich", "", "YAML file naming GeoIP/ASN .mmdb files and threat-intel lists for detection, kept in the store for later runs (none for no files)")
	fl.StringVar(&f.since, "since", "", "only events at or after this RFC 3339 time")
	fl.StringVar(&f.until, "until", "", "only events before this RFC 3339 time")
	fl.BoolVar(&f.prune, "prune", false, "delete stored anomalies in the range that this run did not find again")
	fl.StringVar(&f.progress, "progress", "auto", "progress bar: auto (on a terminal, for stores of a million events or more), always or never")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "also print what the engine counted: events checked, late, dropped state")
	return cmd
}

func runDetect(ctx context.Context, stdout, stderr io.Writer, dbPath string, f detectFlags) error {
	r, err := parseTimeRange(f.since, f.until)
	if err != nil {
		return err
	}
	switch f.progress {
	case "auto", "always", "never":
	default:
		return fmt.Errorf("invalid --progress %q: want auto, always or never", f.progress)
	}
	if err := requireStore(dbPath); err != nil {
		return err
	}
	db, err := openStore(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	found, err := newDetection(ctx, stderr, db, f.rules, f.enrich)
	if err != nil {
		return err
	}
	defer found.close()

	scanned, err := scanStore(ctx, stderr, db, r, found, f.progress)
	if err != nil {
		return err
	}
	anomalies := found.finish()
	fmt.Fprintln(stdout, describeScan(scanned))

	counts, err := storeByRule(ctx, db, anomalies)
	if err != nil {
		return err
	}
	writeCustomRuleFailures(stdout, found.rulesPath, found.engine.CustomRuleFailures())
	writeRuleCounts(stdout, counts)

	if f.prune {
		ids := make([]string, len(anomalies))
		for i, a := range anomalies {
			ids[i] = a.ID
		}
		pruned, err := db.PruneAnomalies(ctx, r, ids)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pruned: %s that the rules no longer raise\n", counted(pruned, "stored anomaly", "stored anomalies"))
	}
	if f.verbose {
		writeEngineStats(stdout, found.engine.Stats())
	}
	return nil
}

// scanSummary describes the events one detect run read.
type scanSummary struct {
	events      int
	first, last time.Time
}

// scanStore feeds every event of r to detection, in time order. It stores
// nothing: an interrupted run leaves the store as it was.
func scanStore(ctx context.Context, stderr io.Writer, db store.Store, r store.TimeRange, found *detection, progress string) (scanSummary, error) {
	var sum scanSummary
	bar, err := detectProgressBar(ctx, stderr, db, r, progress)
	if err != nil {
		return sum, err
	}
	for e, err := range db.Scan(ctx, r) {
		if err != nil {
			if bar != nil {
				_ = bar.Exit() // only clears the bar; the scan's error is the one to report
			}
			return sum, fmt.Errorf("detect stopped after %d events, and stored nothing: %w", sum.events, err)
		}
		if sum.events == 0 {
			sum.first = e.Time
		}
		sum.last = e.Time
		sum.events++
		found.observe(e)
		if bar != nil {
			_ = bar.Add(1) // only redraws the bar; nothing to report
		}
	}
	if bar != nil {
		_ = bar.Finish() // only redraws the bar; nothing to report
	}
	return sum, nil
}

// detectProgressBar returns a bar of the events to scan, or nil when none
// should be shown. The count is exact only for the whole store, so a bar
// over a range counts events without a total.
func detectProgressBar(ctx context.Context, stderr io.Writer, db store.Store, r store.TimeRange, progress string) (*progressbar.ProgressBar, error) {
	if progress == "never" {
		return nil, nil
	}
	if progress == "auto" {
		file, ok := stderr.(*os.File)
		if !ok || !term.IsTerminal(int(file.Fd())) {
			return nil, nil
		}
	}
	total, err := db.Count(ctx)
	if err != nil {
		return nil, err
	}
	if progress == "auto" && total < detectProgressMinEvents {
		return nil, nil
	}
	if r != (store.TimeRange{}) {
		total = -1
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription("detect"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("events"),
		progressbar.OptionShowIts(),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	), nil
}

func describeScan(s scanSummary) string {
	if s.events == 0 {
		return "scanned 0 events: the store holds no event in the range"
	}
	return fmt.Sprintf("scanned %d events from %s to %s", s.events, s.first.UTC().Format(reportStamp), s.last.UTC().Format(reportStamp))
}

// ruleCount counts what one rule raised in a detect run.
type ruleCount struct {
	rule         string
	found, added int
}

// storeByRule stores the anomalies one rule at a time, so that each rule's
// count of new anomalies is known, and returns the counts by rule name.
func storeByRule(ctx context.Context, db store.AnomalyStore, anomalies []audit.Anomaly) ([]ruleCount, error) {
	byRule := map[string][]audit.Anomaly{}
	for _, a := range anomalies {
		byRule[a.Rule] = append(byRule[a.Rule], a)
	}
	counts := make([]ruleCount, 0, len(byRule))
	for rule, list := range byRule {
		got, err := db.AppendAnomalies(ctx, list)
		if err != nil {
			return nil, fmt.Errorf("store anomalies of %s: %w", rule, err)
		}
		counts = append(counts, ruleCount{rule: rule, found: len(list), added: got.Inserted})
	}
	slices.SortFunc(counts, func(a, b ruleCount) int { return cmp.Compare(a.rule, b.rule) })
	return counts, nil
}

// writeRuleCounts prints the total and one line per rule, with the rule
// column at least 24 characters wide and wider for longer custom rule
// names, so that the counts stay aligned.
func writeRuleCounts(w io.Writer, counts []ruleCount) {
	var total ruleCount
	width := 24
	for _, c := range counts {
		total.found += c.found
		total.added += c.added
		width = max(width, len(c.rule))
	}
	fmt.Fprintf(w, "anomalies: %d found, %d new (tokentrail anomalies lists them)\n", total.found, total.added)
	for _, c := range counts {
		fmt.Fprintf(w, "  %-*s %d found, %d new\n", width, c.rule, c.found, c.added)
	}
}

// writeEngineStats prints the engine's counters that tell whether it saw
// every event in order and kept every state it needed.
func writeEngineStats(w io.Writer, s detect.Stats) {
	fmt.Fprintf(w, "engine: %d events checked, %d duplicates dropped, %d late for their token, %d checked early to bound memory\n",
		s.Checked, s.Duplicates, s.Late, s.ForcedReleases)
	fmt.Fprintf(w, "engine: token states dropped: %d for the count bound, %d for age; network states dropped: %d for the count bound, %d for age\n",
		s.EvictedByCount, s.EvictedByAge, s.NetworksEvictedByCount, s.NetworksEvictedByAge)
	if s.UnknownDropped > 0 || s.FirstUsesReplaced > 0 {
		fmt.Fprintf(w, "engine: %d uses got no unknown_token verdict for the waiting bound, %d first users of a network replaced\n",
			s.UnknownDropped, s.FirstUsesReplaced)
	}
	if s.TokenRevocationsDropped > 0 || s.ScopedRevocationsDropped > 0 {
		fmt.Fprintf(w, "engine: revocations not kept for the max_tokens bound: %d of tokens, %d of sessions, subjects or families; raise max_tokens to keep them\n",
			s.TokenRevocationsDropped, s.ScopedRevocationsDropped)
	}
}
