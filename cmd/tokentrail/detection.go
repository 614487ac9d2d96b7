package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/enrich"
	"github.com/tokentrail/tokentrail/store"
)

// detection runs one detection engine over a stream of events: every file
// of an import, so that a token seen in two files is checked as one, or the
// whole store in time order.
type detection struct {
	engine    *detect.Engine
	enricher  *enrich.Enricher
	found     []audit.Anomaly
	rulesPath string // the --rules file, for messages
}

// detectionStore is the part of the store that newDetection reads.
type detectionStore interface {
	store.SettingStore
	store.RevocationStore
}

// newDetection loads the thresholds of the --rules file and the databases
// and lists of the --enrich file of the run (see resolveDetection), and
// makes db keep them for later runs. The engine starts with every
// revocation that db holds, so that a use of a token revoked before the
// run, by tokentrail revoke, the API or an earlier import, raises
// revoked_token_use. A run that also reads a revocation as an event, as
// tokentrail detect does, raises the same anomalies, because the engine
// keeps each revocation once. The enricher's warnings, such as list lines
// skipped, go to stderr.
func newDetection(ctx context.Context, stderr io.Writer, db detectionStore, rulesFlag, enrichFlag string) (*detection, error) {
	cfg, en, settings, err := detectionConfig(ctx, db, rulesFlag, enrichFlag, stderr)
	if err != nil {
		return nil, err
	}
	if err := saveDetection(ctx, db, settings); err != nil {
		en.Close()
		return nil, err
	}
	engine, _, err := detect.NewWithStoredRevocations(ctx, cfg, db)
	if err != nil {
		en.Close()
		return nil, fmt.Errorf("start detection: %w", err) // detectionConfig checked the --rules values already
	}
	return &detection{engine: engine, enricher: en, rulesPath: settings.RulesFile}, nil
}

// observe checks one event. The enrichment feeds the rules only: the
// stored event stays as the log wrote it.
func (d *detection) observe(e audit.Event) {
	d.enricher.Enrich(&e)
	d.found = append(d.found, d.engine.Observe(e)...)
}

// finish checks the events the engine still holds and returns every
// anomaly found, oldest first.
func (d *detection) finish() []audit.Anomaly {
	d.found = append(d.found, d.engine.Flush()...)
	slices.SortStableFunc(d.found, func(a, b audit.Anomaly) int { return a.Time.Compare(b.Time) })
	return d.found
}

// storeImported stores what detection found in an import, and prints how
// many are new, followed by listCommand, the command that lists them, unless
// it is empty. When some events reached the engine later than its reorder
// window allows, it also prints the command that checks the store in order.
func (d *detection) storeImported(ctx context.Context, db store.AnomalyStore, stdout io.Writer, listCommand string) error {
	found := d.finish()
	if late := d.engine.Stats().Late; late > 0 {
		fmt.Fprintf(stdout, "detection: %s came after later events of their token, by more than the reorder window; "+
			"tokentrail detect --prune checks the store in time order\n", counted(int(late), "event", "events"))
	}
	writeCustomRuleFailures(stdout, d.rulesPath, d.engine.CustomRuleFailures())
	if len(found) == 0 {
		fmt.Fprintln(stdout, "anomalies: 0 found")
		return nil
	}
	got, err := db.AppendAnomalies(ctx, found)
	if err != nil {
		return fmt.Errorf("store anomalies: %w", err)
	}
	fmt.Fprintf(stdout, "anomalies: %d found, %d new", len(found), got.Inserted)
	if listCommand != "" {
		fmt.Fprintf(stdout, " (%s lists them)", listCommand)
	}
	fmt.Fprintln(stdout)
	return nil
}

// writeCustomRuleFailures prints one line for each custom rule that failed
// to evaluate on some events, which it could not raise on, with its first
// error: a rule that fails on every event would otherwise look like one
// that never matches.
func writeCustomRuleFailures(w io.Writer, rulesPath string, failures []detect.CustomRuleFailure) {
	for _, f := range failures {
		fix := "guard an index with size() and a field with has()"
		if detect.IsCostLimitError(f.FirstError) {
			fix = "iterate over fewer or shorter lists, or raise custom_rule_cost_limit"
		}
		fmt.Fprintf(w, "custom rule %s failed on %s, which it skipped: first on event %s at %s: %v; "+
			"fix its expression in %s (%s)\n",
			f.Rule, counted(int(min(f.Events, math.MaxInt)), "event", "events"), f.FirstEvent, stamp(f.FirstTime), f.FirstError, rulesPath, fix)
	}
}

func (d *detection) close() { d.enricher.Close() }
