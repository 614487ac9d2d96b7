package detect

import (
	"fmt"
)

// RuleHighFrequency is the name of the rule in this file.
const RuleHighFrequency = "high_frequency"

// frequencyBuckets is the number of buckets that split a counted window.
const frequencyBuckets = 8

// frequencyEvidence is the most events a high_frequency anomaly cites:
// the use that passed MaxUses and the uses counted just before it.
const frequencyEvidence = 8

// windowCounter counts events in frequencyBuckets buckets of a window, the
// last one being bucket. Buckets are aligned on multiples of
// window/frequencyBuckets from the Unix epoch, so the counted span is between
// 7/8 of the window and the window long. A count thus never passes a
// threshold on that many events or fewer within the window, but may miss a
// burst spread over more than 7/8 of it.
type windowCounter struct {
	counts [frequencyBuckets]uint32
	bucket int64
}

// add counts one event at now, in buckets of width nanoseconds, and returns
// the count over the window.
func (w *windowCounter) add(now, width int64) (total uint64) {
	bucket := floorDiv(now, width)

	// Empty the buckets that the window has moved past.
	if gap := bucket - w.bucket; gap >= frequencyBuckets || w.counts == [frequencyBuckets]uint32{} {
		w.counts = [frequencyBuckets]uint32{}
	} else {
		for b := w.bucket + 1; b <= bucket; b++ {
			w.counts[floorMod(b, frequencyBuckets)] = 0
		}
	}
	w.bucket = bucket
	slot := &w.counts[floorMod(bucket, frequencyBuckets)]
	if *slot < ^uint32(0) {
		*slot++
	}

	for _, n := range w.counts {
		total += uint64(n)
	}
	return total
}

// highFrequency raises high_frequency when the token's uses counted over
// Window (see windowCounter) pass MaxUses. After an anomaly the rule stays
// quiet on the token for one Window.
//
// The anomaly cites the use that passed MaxUses and up to
// frequencyEvidence-1 uses before it that are still counted, the latest
// ones, so that a timeline marks the end of the burst. Its ID derives from
// the use that passed MaxUses alone, as it did when the anomaly cited
// only that use, so that detection run again over a store finds the
// anomalies stored before as the same ones.
//
// NOTE: the burst's earlier uses are not cited, because keeping the IDs
// of hundreds of uses per token would break the memory bound. The store
// lists them by token and time.
func (c *check) highFrequency() {
	cfg := c.engine.cfg.Rules.HighFrequency
	if cfg.Disabled || !c.isUse() {
		return
	}
	st := c.st
	now := c.ev.Time.UnixNano()
	width := max(int64(cfg.Window)/frequencyBuckets, 1)
	total := st.uses.add(now, width)
	if total <= uint64(cfg.MaxUses) || (st.rare != nil && now < st.rare.frequencyQuiet) {
		if total+frequencyEvidence > uint64(cfg.MaxUses)+1 {
			// One of the next frequencyEvidence-1 uses may pass MaxUses.
			st.rareState().keepFrequencyUse(timedID{at: now, id: c.ev.ID})
		}
		return
	}

	rare := st.rareState()
	rare.frequencyQuiet = now + int64(cfg.Window)
	counted := (floorDiv(now, width) - frequencyBuckets + 1) * width // start of the first counted bucket
	var ids []string
	for _, use := range rare.frequencyUses {
		if use.at >= counted {
			ids = append(ids, use.id)
		}
	}
	ids = append(ids, c.ev.ID)
	rare.frequencyUses = nil

	c.out = c.engine.raiseCitingLocked(c.out, st, completionOf(c.ev), RuleHighFrequency, cfg.Severity,
		// The buckets bound the span of the counted uses by the window,
		// not by when the first of them came, so the window is named.
		fmt.Sprintf("Token %s was used %d times within at most %s, more than %d: check whether a script or an attacker replays it, and rate-limit or revoke it.",
			st.key, total, FormatDuration(cfg.Window), cfg.MaxUses),
		[]string{c.ev.ID}, ids)
}

// keepFrequencyUse adds use to the uses high_frequency may cite, dropping
// the oldest past frequencyEvidence-1.
func (r *tokenRare) keepFrequencyUse(use timedID) {
	if len(r.frequencyUses) == frequencyEvidence-1 {
		copy(r.frequencyUses, r.frequencyUses[1:])
		r.frequencyUses = r.frequencyUses[:len(r.frequencyUses)-1]
	}
	r.frequencyUses = append(r.frequencyUses, use)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
