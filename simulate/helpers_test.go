package simulate

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
)

// run generates the events of cfg into memory.
func run(tb testing.TB, cfg Config) ([]audit.Event, *Result) {
	tb.Helper()
	var events []audit.Event
	res, err := Run(context.Background(), cfg, func(e audit.Event) error {
		events = append(events, e)
		return nil
	})
	if err != nil {
		tb.Fatalf("Run(%+v) = %v", cfg, err)
	}
	return events, res
}

// shortConfig is the short run of the test suite: 200 subjects, 14 days,
// about 100,000 benign events and three attacks of each rule.
var shortConfig = Config{Seed: 7, Subjects: 200, Days: 14, Events: 100_000, AttacksPerRule: 3}

// shortRun returns the events and result of shortConfig, generated once
// for all the tests that read them.
var shortRun = sync.OnceValues(func() ([]audit.Event, *Result) {
	var events []audit.Event
	res, err := Run(context.Background(), shortConfig, func(e audit.Event) error {
		events = append(events, e)
		return nil
	})
	if err != nil {
		panic(err)
	}
	return events, res
})

// detectAll runs an engine of cfg over the events, in their order, with the
// deployment's threat list and user-agent families, and returns every
// anomaly.
func detectAll(tb testing.TB, cfg detect.Config, events []audit.Event) []audit.Anomaly {
	tb.Helper()
	sc := newTestScorer(tb)
	cfg.UserAgents, cfg.IPLists = sc.enricher, sc.enricher
	engine, err := detect.New(cfg)
	if err != nil {
		tb.Fatalf("detect.New = %v", err)
	}
	var found []audit.Anomaly
	for _, e := range events {
		found = append(found, engine.Observe(e)...)
	}
	return append(found, engine.Flush()...)
}

// newTestScorer returns a Scorer of the deployment, with its threat list
// written to a temporary folder.
func newTestScorer(tb testing.TB) *Scorer {
	tb.Helper()
	dir := tb.TempDir()
	dep := NewDeployment()
	if err := dep.WriteFiles(dir); err != nil {
		tb.Fatal(err)
	}
	sc, err := NewScorer(context.Background(), dep, filepath.Join(dir, ThreatListFile))
	if err != nil {
		tb.Fatalf("NewScorer = %v", err)
	}
	tb.Cleanup(func() { sc.Close() })
	return sc
}
