package main

import (
	"context"
	"fmt"
	"io"
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
	engine   *detect.Engine
	enricher *enrich.Enricher
	found    []audit.Anomaly
}

// newDetection loads the thresholds of the --rules file and the databases
// and lists of the --enrich file; an empty path keeps the defaults.
func newDetection(ctx context.Context, rulesPath, enrichPath string) (*detection, error) {
	cfg, err := loadDetectConfig(rulesPath)
	if err != nil {
		return nil, err
	}
	en, err := openEnricher(ctx, enrichPath)
	if err != nil {
		return nil, err
	}
	cfg.UserAgents, cfg.IPLists = en, en
	engine, err := detect.New(cfg)
	if err != nil {
		en.Close()
		return nil, fmt.Errorf("invalid --rules %s: %w", rulesPath, err)
	}
	return &detection{engine: engine, enricher: en}, nil
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
// many are new. When some events reached the engine later than its reorder
// window allows, it also prints the command that checks the store in order.
func (d *detection) storeImported(ctx context.Context, db store.AnomalyStore, stdout io.Writer) error {
	found := d.finish()
	if late := d.engine.Stats().Late; late > 0 {
		fmt.Fprintf(stdout, "detection: %s came after later events of their token, by more than the reorder window; "+
			"tokentrail detect --prune checks the store in time order\n", counted(int(late), "event", "events"))
	}
	if len(found) == 0 {
		return nil
	}
	got, err := db.AppendAnomalies(ctx, found)
	if err != nil {
		return fmt.Errorf("store anomalies: %w", err)
	}
	fmt.Fprintf(stdout, "anomalies: %d found, %d new (tokentrail anomalies lists them)\n", len(found), got.Inserted)
	return nil
}

func (d *detection) close() { d.enricher.Close() }
