package detect

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// The names of the rules in this file, which watch networks across tokens.
const (
	RuleRejectedBurst        = "rejected_burst"
	RuleSharedIPManySubjects = "shared_ip_many_subjects"
)

// maxSubjectsLimit bounds SharedIPManySubjects.MaxSubjects, since a network
// keeps one entry of 48 bytes per subject up to it.
const maxSubjectsLimit = 1000

// countsAsRejection reports whether rejected_burst counts ev.
func (e *Engine) countsAsRejection(ev *audit.Event) bool {
	cfg := e.cfg.Rules.RejectedBurst
	return !cfg.Disabled && ev.Kind == audit.KindRejected && slices.Contains(cfg.Reasons, ev.RejectReason)
}

// countsAsSubjectUse reports whether shared_ip_many_subjects counts ev: a
// use or redemption of a token of a subject that names someone.
func (e *Engine) countsAsSubjectUse(ev *audit.Event) bool {
	cfg := e.cfg.Rules.SharedIPManySubjects
	return !cfg.Disabled && (ev.Kind == audit.KindUsed || ev.Kind == audit.KindRefreshed) && !isPlaceholderSubject(ev.Subject)
}

// rejectedBurstLocked raises rejected_burst when the rejections that ns
// counted over RejectedBurst.Window (see windowCounter) pass MaxRejections,
// proven by the first rejection of the run and the one that passed the
// threshold. After an anomaly the rule stays quiet on the network for one
// Window.
//
// NOTE: the anomaly names two of the rejections, because keeping every ID
// would make a burst cost memory in proportion to its size. The store
// lists the others by address and time.
func (e *Engine) rejectedBurstLocked(ns *networkState, ev *audit.Event, ip netip.Addr, out []audit.Anomaly) []audit.Anomaly {
	cfg := e.cfg.Rules.RejectedBurst
	now := ev.Time.UnixNano()
	width := max(int64(cfg.Window)/frequencyBuckets, 1)
	total := ns.rejections.add(now, width)
	if total == 1 || ns.firstRejection == "" {
		ns.firstRejection, ns.firstRejectionAt = ev.ID, now
	}
	if total <= uint64(cfg.MaxRejections) || now < ns.burstQuiet {
		return out
	}
	ns.burstQuiet = now + int64(cfg.Window)

	ids := []string{ns.firstRejection, ev.ID}
	if ns.firstRejection == ev.ID {
		ids = ids[1:]
	}
	network := e.networkName(ip)
	return e.raiseNetworkLocked(out, ev, ev.Subject, RuleRejectedBurst, cfg.Severity,
		fmt.Sprintf("%d presented tokens from %s were rejected within %s, the last as %s: block the address if it keeps sending forged tokens, "+
			"and check that no token from it was accepted (tokentrail anomalies --network %s lists the anomalies of its accepted tokens).",
			total, network, FormatDuration(min(time.Duration(now-ns.firstRejectionAt), cfg.Window)), ev.RejectReason, network),
		ids...)
}

// maxListedTokens bounds the tokens that a network anomaly's summary names.
const maxListedTokens = 10

// listTokens returns "tokens a, b and c" for the tokens of total uses,
// naming at most maxListedTokens and counting the others. The use that a
// network's first user made is counted but has no token to name, since the
// table of first users keeps none to stay small.
func listTokens(tokens []string, total int) string {
	shown := tokens[:min(len(tokens), maxListedTokens)]
	more := max(total-len(shown), 0)
	switch {
	case len(shown) == 0:
		return fmt.Sprintf("%d tokens, none named", total)
	case more > 0:
		return fmt.Sprintf("tokens %s and %d more", strings.Join(shown, ", "), more)
	case len(shown) == 1:
		return "token " + shown[0]
	}
	return "tokens " + strings.Join(shown[:len(shown)-1], ", ") + " and " + shown[len(shown)-1]
}

// sharedIPLocked raises shared_ip_many_subjects when the network of ev has
// used tokens of more than MaxSubjects subjects within Window, proven by
// the latest use of each. It then drops every subject but the current
// one, so that the next anomaly needs MaxSubjects new subjects.
//
// ns is nil while the network has no state: its only subject so far is
// then kept in the table of first users (see firstUse), and a second
// subject within Window gives the network its state.
func (e *Engine) sharedIPLocked(ns *networkState, key uint64, ev *audit.Event, ip netip.Addr, out []audit.Anomaly) []audit.Anomaly {
	cfg := e.cfg.Rules.SharedIPManySubjects
	now := ev.Time.UnixNano()
	window := int64(cfg.Window)
	subject := e.subjectOf(ev)

	if ns == nil {
		set := e.firstUseSetLocked(key)
		slot := findFirstUse(set, key)
		switch {
		case slot == nil:
			slot = freeFirstUse(set)
			switch {
			case slot.id == "":
				e.mu.firstUsesFilled++
			case now-slot.at <= window:
				e.mu.stats.FirstUsesReplaced++
			}
			*slot = firstUse{network: key, subject: subject, at: now, id: ev.ID}
			return out
		case now < slot.at:
			return out // late
		case now-slot.at > window || slot.subject == subject:
			*slot = firstUse{network: key, subject: subject, at: now, id: ev.ID}
			return out
		}
		ns = e.newNetworkLocked(key, now) // takes the slot's subject
	}

	// Drop the subjects last seen before the window, and refresh or add
	// the current one.
	cutoff := now - window
	kept := ns.subjects[:0]
	found := false
	for _, u := range ns.subjects {
		if u.at < cutoff {
			continue
		}
		if u.subject == subject {
			u.at, u.id, u.token = now, ev.ID, ev.Token()
			found = true
		}
		kept = append(kept, u)
	}
	clear(ns.subjects[len(kept):])
	ns.subjects = kept
	if !found {
		ns.subjects = append(ns.subjects, subjectUse{subject: subject, at: now, id: ev.ID, token: ev.Token()})
	}
	if len(ns.subjects) <= cfg.MaxSubjects {
		return out
	}

	ids := make([]string, len(ns.subjects))
	tokens := make([]string, 0, len(ns.subjects))
	var span time.Duration
	for i, u := range ns.subjects {
		ids[i] = u.id
		if u.token != "" && !slices.Contains(tokens, u.token) {
			tokens = append(tokens, u.token)
		}
		span = max(span, time.Duration(now-u.at))
	}
	network := e.networkName(ip)
	out = e.raiseNetworkLocked(out, ev, "", RuleSharedIPManySubjects, cfg.Severity,
		fmt.Sprintf("%s used tokens of %d subjects within %s (%s): if it is not a known office, proxy or VPN egress, the tokens were likely stolen, "+
			"so revoke them and block the address; tokentrail anomalies --network %s lists what else came from it.",
			network, len(ids), FormatDuration(span), listTokens(tokens, len(ids)), network),
		ids...)

	clear(ns.subjects)
	ns.subjects = append(ns.subjects[:0], subjectUse{subject: subject, at: now, id: ev.ID, token: ev.Token()})
	return out
}
