package detect

import (
	"slices"

	"github.com/tokentrail/tokentrail/audit"
)

// Run checks a finite set of events, such as the trail of one token that a
// report reads from the store, with a new Engine of cfg, and returns every
// anomaly, oldest first. The events may come in any order.
func Run(cfg Config, events []audit.Event) ([]audit.Anomaly, error) {
	engine, err := New(cfg)
	if err != nil {
		return nil, err
	}
	sorted := slices.Clone(events)
	slices.SortStableFunc(sorted, func(a, b audit.Event) int { return compareEvents(&a, &b) })

	var found []audit.Anomaly
	for _, e := range sorted {
		found = append(found, engine.Observe(e)...)
	}
	found = append(found, engine.Flush()...)
	slices.SortStableFunc(found, func(a, b audit.Anomaly) int { return a.Time.Compare(b.Time) })
	return found, nil
}
