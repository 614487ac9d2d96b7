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

// importDetection runs one detection engine over every file of an import,
// so that a token seen in two files is checked as one.
type importDetection struct {
	engine   *detect.Engine
	enricher *enrich.Enricher
	found    []audit.Anomaly
}

func newImportDetection(ctx context.Context, f importFlags) (*importDetection, error) {
	cfg, err := loadDetectConfig(f.rules)
	if err != nil {
		return nil, err
	}
	en, err := openEnricher(ctx, f.enrich)
	if err != nil {
		return nil, err
	}
	cfg.UserAgents, cfg.IPLists = en, en
	engine, err := detect.New(cfg)
	if err != nil {
		en.Close()
		return nil, fmt.Errorf("invalid --rules %s: %w", f.rules, err)
	}
	return &importDetection{engine: engine, enricher: en}, nil
}

// observe checks one imported event. The enrichment feeds the rules only:
// the stored event stays as the log wrote it.
func (d *importDetection) observe(e audit.Event) {
	d.enricher.Enrich(&e)
	d.found = append(d.found, d.engine.Observe(e)...)
}

// store checks the events the engine still holds and stores every anomaly
// found, then prints how many are new.
func (d *importDetection) store(ctx context.Context, db store.AnomalyStore, stdout io.Writer) error {
	d.found = append(d.found, d.engine.Flush()...)
	if len(d.found) == 0 {
		return nil
	}
	slices.SortStableFunc(d.found, func(a, b audit.Anomaly) int { return a.Time.Compare(b.Time) })
	got, err := db.AppendAnomalies(ctx, d.found)
	if err != nil {
		return fmt.Errorf("store anomalies: %w", err)
	}
	fmt.Fprintf(stdout, "anomalies: %d found, %d new (tokentrail anomalies lists them)\n", len(d.found), got.Inserted)
	return nil
}

func (d *importDetection) close() { d.enricher.Close() }
