package detect

import (
	"fmt"
	"slices"

	"github.com/tokentrail/tokentrail/audit"
)

// RuleUnknownToken is the name of the rule in this file.
const RuleUnknownToken = "unknown_token"

// waitingUse is a use of a token of a recorded issuer, never seen issued,
// whose issued event may still come.
type waitingUse struct {
	due      int64 // the verdict is given once an event later than this is checked
	key      string
	issuer   string
	issuedAt int64
	use      completion
	id       string
}

// unknownToken raises unknown_token on the first use or redemption of a jti
// of one of UnknownToken.Issuers when no issued event of it was checked.
//
// A verdict needs the token's iat, which shows whether the engine could
// have seen the issuance. The iat, less ClockSkew, must fall at or after
// UnknownToken.Since (by default the first event checked), and after the
// latest event of any token whose state was dropped. Otherwise the
// issuance may predate the record, or its state may have been dropped to
// stay within MaxTokens or TokenTTL, and the use gets no verdict.
//
// The issued event may carry a time up to ClockSkew after iat, and so come
// after the use when the token is used at once. A use within ClockSkew of
// its iat therefore waits until an event later than iat plus ClockSkew has
// been checked, or until Flush. The reorder window puts issued events that
// arrive out of order back in order. An issued event that arrives after its
// token's verdict was given comes too late to prevent the anomaly.
func (c *check) unknownToken() {
	e := c.engine
	cfg := e.cfg.Rules.UnknownToken
	st, ev := c.st, c.ev
	if cfg.Disabled || st.flags&(seenIssued|firedUnknown|unknownQueued) != 0 || !c.isUse() ||
		ev.TokenID == "" || ev.IssuedAt.IsZero() || !slices.Contains(cfg.Issuers, ev.Issuer) {
		return
	}
	issuedAt := ev.IssuedAt.UnixNano()
	if !e.mayHaveSeenIssuanceLocked(issuedAt) {
		return
	}

	due := issuedAt + int64(e.cfg.ClockSkew)
	w := waitingUse{due: due, key: st.key, issuer: ev.Issuer, issuedAt: issuedAt, use: completionOf(ev), id: ev.ID}
	if due < e.mu.checked.UnixNano() {
		st.flags |= firedUnknown
		c.out = e.raiseUnknownLocked(c.out, st, &w)
		return
	}
	st.flags |= unknownQueued
	e.waitLocked(w)
}

// mayHaveSeenIssuanceLocked reports whether an issued event of a token
// issued at issuedAt would still be in the engine's state: issued within
// the recorded span, and after every token whose state was dropped.
func (e *Engine) mayHaveSeenIssuanceLocked(issuedAt int64) bool {
	since := e.cfg.Rules.UnknownToken.Since
	if since.IsZero() {
		since = e.mu.first
	}
	earliest := issuedAt - int64(e.cfg.ClockSkew)
	return earliest >= since.UnixNano() && earliest > e.mu.droppedThrough
}

// waitLocked queues w in order of due time, dropping the use that waited
// longest when the queue is full.
func (e *Engine) waitLocked(w waitingUse) {
	if len(e.mu.waiting) >= e.cfg.Rules.UnknownToken.MaxWaiting {
		oldest := e.mu.waiting[0]
		if st, ok := e.mu.tokens[oldest.key]; ok {
			st.flags &^= unknownQueued
		}
		e.mu.waiting[0] = waitingUse{}
		e.mu.waiting = e.mu.waiting[1:]
		e.mu.stats.UnknownDropped++
	}
	i, _ := slices.BinarySearchFunc(e.mu.waiting, w.due, func(a waitingUse, due int64) int {
		switch {
		case a.due <= due:
			return -1
		default:
			return 1
		}
	})
	e.mu.waiting = slices.Insert(e.mu.waiting, i, w)
}

// settleWaitingLocked gives the verdict on every waiting use due before
// now, or on all of them when all is true, and appends what they raise.
func (e *Engine) settleWaitingLocked(out []audit.Anomaly, now int64, all bool) []audit.Anomaly {
	n := 0
	for n < len(e.mu.waiting) && (all || e.mu.waiting[n].due < now) {
		w := &e.mu.waiting[n]
		n++
		st, ok := e.mu.tokens[w.key]
		if !ok {
			continue // its state was dropped, so its issuance may have been too
		}
		st.flags &^= unknownQueued
		if st.flags&(seenIssued|firedUnknown) != 0 || !e.mayHaveSeenIssuanceLocked(w.issuedAt) {
			continue
		}
		st.flags |= firedUnknown
		out = e.raiseUnknownLocked(out, st, w)
	}
	if n > 0 {
		clear(e.mu.waiting[:n])
		e.mu.waiting = e.mu.waiting[n:]
	}
	return out
}

func (e *Engine) raiseUnknownLocked(out []audit.Anomaly, st *tokenState, w *waitingUse) []audit.Anomaly {
	cfg := e.cfg.Rules.UnknownToken
	return e.raiseLocked(out, st, w.use, RuleUnknownToken, cfg.Severity,
		fmt.Sprintf("Token %s was used, but no issuance of it by %s was recorded: check whether the issuer's signing key leaked, and block the token at the services that accept it.", st.key, w.issuer),
		w.id)
}
