package detect

import (
	"context"
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
	return engine.Run(events), nil
}

// Run checks a finite set of events, in any order, then flushes the
// engine, and returns every anomaly it raised, oldest first. It does not
// modify the events.
func (e *Engine) Run(events []audit.Event) []audit.Anomaly {
	sorted := slices.Clone(events)
	slices.SortStableFunc(sorted, func(a, b audit.Event) int { return compareEvents(&a, &b) })

	var found []audit.Anomaly
	for _, ev := range sorted {
		found = append(found, e.Observe(ev)...)
	}
	found = append(found, e.Flush()...)
	slices.SortStableFunc(found, func(a, b audit.Anomaly) int { return a.Time.Compare(b.Time) })
	return found
}

// NewWithStoredRevocations returns an Engine for cfg, as New does, that
// starts with every revocation src stored (see LoadStoredRevocations),
// and the position of the last one, for later calls of
// LoadStoredRevocations. An engine that checks only some of the stored
// events, such as one token's trail, needs them, because a revocation of
// the token's subject, session or refresh family is not among the token's
// events. The uses after it must still raise revoked_token_use.
func NewWithStoredRevocations(ctx context.Context, cfg Config, src RevocationReader) (*Engine, int64, error) {
	engine, err := New(cfg)
	if err != nil {
		return nil, 0, err
	}
	read, err := engine.LoadStoredRevocations(ctx, src, 0)
	if err != nil {
		return nil, 0, err
	}
	return engine, read, nil
}
