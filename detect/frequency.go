package detect

import (
	"fmt"
	"time"
)

// RuleHighFrequency is the name of the rule in this file.
const RuleHighFrequency = "high_frequency"

// frequencyBuckets is the number of buckets that split HighFrequency.Window.
const frequencyBuckets = 8

// highFrequency raises high_frequency when the token's uses in the current
// bucket and the frequencyBuckets-1 before it pass MaxUses. Buckets are
// aligned on multiples of Window/frequencyBuckets from the Unix epoch, so
// the counted span is between 7/8 of Window and Window long. The rule thus
// never fires on MaxUses or fewer uses within Window, but may miss a burst
// spread over more than 7/8 of Window. After an anomaly the rule stays
// quiet on the token for one Window.
//
// NOTE: the anomaly names only the use that passed the threshold, because
// keeping the IDs of hundreds of uses per token would break the memory
// bound. The store lists the other uses by token and time.
func (c *check) highFrequency() {
	cfg := c.engine.cfg.Rules.HighFrequency
	if cfg.Disabled || !c.isUse() {
		return
	}
	st := c.st
	now := c.ev.Time.UnixNano()
	width := max(int64(cfg.Window)/frequencyBuckets, 1)
	bucket := floorDiv(now, width)

	// Empty the buckets that the window has moved past.
	if gap := bucket - st.bucket; gap >= frequencyBuckets || st.uses == [frequencyBuckets]uint32{} {
		st.uses = [frequencyBuckets]uint32{}
	} else {
		for b := st.bucket + 1; b <= bucket; b++ {
			st.uses[floorMod(b, frequencyBuckets)] = 0
		}
	}
	st.bucket = bucket
	slot := &st.uses[floorMod(bucket, frequencyBuckets)]
	if *slot < ^uint32(0) {
		*slot++
	}

	var total uint64
	for _, n := range st.uses {
		total += uint64(n)
	}
	if total <= uint64(cfg.MaxUses) || now < st.frequencyQuiet {
		return
	}
	st.frequencyQuiet = now + int64(cfg.Window)
	span := time.Duration(now - (bucket-frequencyBuckets+1)*width)
	c.raise(RuleHighFrequency, cfg.Severity,
		fmt.Sprintf("Token %s was used %d times within %s, more than %d: check whether a script or an attacker replays it, and rate-limit or revoke it.",
			st.key, total, roundDuration(span), cfg.MaxUses),
		c.ev.ID)
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
