package detect

import (
	"hash/maphash"
	"math/bits"
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/tokentrail/tokentrail/audit"
)

// networkState is the engine's record of one network that had a second
// subject or a counted rejection. Times are Unix nanoseconds of event time.
type networkState struct {
	key          uint64 // see networkOf
	newer, older *networkState
	last         int64 // time of the latest event checked in order

	rejections       windowCounter
	firstRejection   string // the first rejection counted since the count was last empty
	firstRejectionAt int64
	burstQuiet       int64 // rejected_burst stays quiet until this time

	subjects []subjectUse // for shared_ip_many_subjects, at most MaxSubjects+1
}

// subjectUse is the latest use of a network by one subject.
type subjectUse struct {
	subject uint64 // see subjectOf
	at      int64
	id      string
	token   string // the token used, for the anomaly's summary; empty for a first user taken from its slot
}

// firstUse is a slot of the table of first users: the latest use of a
// network that has no state of its own, by its only subject so far. The
// table trades exactness for a fixed size: a network whose slot is taken
// by another needs one more subject to get its own state.
type firstUse struct {
	network uint64
	subject uint64
	at      int64
	id      string // the event; empty when the slot is free
}

// networkEvent reports whether the network rules look at ev, and if so
// returns the network key of its address. Events without an address, or
// from a reserved or trusted one, are skipped: reserved addresses are
// those of proxies, internal services and examples, where many clients
// share one address.
func (e *Engine) networkEvent(ev *audit.Event) (key uint64, ip netip.Addr, ok bool) {
	ip = ev.IP.Unmap()
	if !ip.IsValid() || isReserved(ip) || e.isTrusted(ip) {
		return 0, ip, false
	}
	ns := e.cfg.NetworkState
	return networkOf(ip, ns.IPv4Prefix, ns.IPv6Prefix), ip, true
}

// checkNetworkLocked runs the network rules over ev and appends what they
// raise to out.
func (e *Engine) checkNetworkLocked(ev *audit.Event, out []audit.Anomaly) []audit.Anomaly {
	burst := e.countsAsRejection(ev)
	shared := e.countsAsSubjectUse(ev)
	if !burst && !shared {
		return out
	}
	key, ip, ok := e.networkEvent(ev)
	if !ok {
		return out
	}
	now := ev.Time.UnixNano()
	e.evictOldNetworksLocked(now)

	ns := e.mu.networks[key]
	if ns != nil {
		if now < ns.last {
			return out // late: the network's windows only move forward
		}
		ns.last = now
		e.unlinkNetworkLocked(ns)
		e.pushNetworkLocked(ns)
	}
	if burst {
		if ns == nil {
			ns = e.newNetworkLocked(key, now)
		}
		out = e.rejectedBurstLocked(ns, ev, ip, out)
	}
	if shared {
		out = e.sharedIPLocked(ns, key, ev, ip, out)
	}
	return out
}

// minFirstUseSlots is the size the table of first users starts at. The
// table doubles each time a quarter of its slots are filled, up to
// NetworkState.FirstUseSlots, so that an engine that checks the events of
// few networks, such as the one of Run, stays small. At a quarter full, about 0.4% of the
// sets of 4 slots overflow (a Poisson estimate for evenly spread hashes).
const minFirstUseSlots = 1024

// firstUseWays is the number of slots a network may take in the table of
// first users: the table is split into sets of this many slots, and a
// network's hash picks its set.
const firstUseWays = 4

// firstUseSetLocked returns the set of slots of the table of first users
// for the network key, allocating or growing the table as needed.
func (e *Engine) firstUseSetLocked(key uint64) []firstUse {
	limit := max(1<<bits.Len(uint(e.cfg.NetworkState.FirstUseSlots-1)), firstUseWays)
	switch {
	case e.mu.firstUses == nil:
		e.mu.firstUses = make([]firstUse, min(limit, minFirstUseSlots))
	case 4*e.mu.firstUsesFilled >= len(e.mu.firstUses) && len(e.mu.firstUses) < limit:
		e.growFirstUsesLocked()
	}
	return firstUseSet(e.mu.firstUses, key)
}

func firstUseSet(table []firstUse, key uint64) []firstUse {
	sets := uint64(len(table) / firstUseWays)
	i := int(mix64(key)&(sets-1)) * firstUseWays
	return table[i : i+firstUseWays : i+firstUseWays]
}

// growFirstUsesLocked doubles the table of first users. The slots of one set
// move to the two sets its index becomes, so every slot finds room.
func (e *Engine) growFirstUsesLocked() {
	old := e.mu.firstUses
	e.mu.firstUses = make([]firstUse, 2*len(old))
	for _, u := range old {
		if u.id == "" {
			continue
		}
		set := firstUseSet(e.mu.firstUses, u.network)
		for i := range set {
			if set[i].id == "" {
				set[i] = u
				break
			}
		}
	}
}

// findFirstUse returns the slot of the network key in set, or nil.
func findFirstUse(set []firstUse, key uint64) *firstUse {
	for i := range set {
		if set[i].id != "" && set[i].network == key {
			return &set[i]
		}
	}
	return nil
}

// freeFirstUse returns the slot of set to take for a new network: a free
// one, else the one used longest ago.
func freeFirstUse(set []firstUse) *firstUse {
	oldest := &set[0]
	for i := range set {
		if set[i].id == "" {
			return &set[i]
		}
		if set[i].at < oldest.at {
			oldest = &set[i]
		}
	}
	return oldest
}

// newNetworkLocked creates the state of the network key, seen at now,
// dropping the least recently seen network when MaxNetworks is reached. A
// recent first user of the network moves from its slot into the state.
func (e *Engine) newNetworkLocked(key uint64, now int64) *networkState {
	if len(e.mu.networks) >= e.cfg.NetworkState.MaxNetworks {
		e.dropNetworkLocked(e.mu.oldestNetwork)
		e.mu.stats.NetworksEvictedByCount++
	}
	ns := &networkState{key: key, last: now}
	e.mu.networks[key] = ns
	e.pushNetworkLocked(ns)

	if slot := findFirstUse(e.firstUseSetLocked(key), key); slot != nil {
		if now-slot.at <= int64(e.cfg.Rules.SharedIPManySubjects.Window) {
			ns.subjects = append(ns.subjects, subjectUse{subject: slot.subject, at: slot.at, id: slot.id})
		}
		*slot = firstUse{}
		e.mu.firstUsesFilled--
	}
	return ns
}

// evictOldNetworksLocked drops the networks unseen for NetworkState.TTL
// before now.
func (e *Engine) evictOldNetworksLocked(now int64) {
	cutoff := now - int64(e.cfg.NetworkState.TTL)
	for e.mu.oldestNetwork != nil && e.mu.oldestNetwork.last < cutoff {
		e.dropNetworkLocked(e.mu.oldestNetwork)
		e.mu.stats.NetworksEvictedByAge++
	}
}

func (e *Engine) dropNetworkLocked(ns *networkState) {
	e.unlinkNetworkLocked(ns)
	delete(e.mu.networks, ns.key)
}

func (e *Engine) pushNetworkLocked(ns *networkState) {
	ns.older = e.mu.newestNetwork
	ns.newer = nil
	if e.mu.newestNetwork != nil {
		e.mu.newestNetwork.newer = ns
	}
	e.mu.newestNetwork = ns
	if e.mu.oldestNetwork == nil {
		e.mu.oldestNetwork = ns
	}
}

func (e *Engine) unlinkNetworkLocked(ns *networkState) {
	if ns.newer != nil {
		ns.newer.older = ns.older
	} else {
		e.mu.newestNetwork = ns.older
	}
	if ns.older != nil {
		ns.older.newer = ns.newer
	} else {
		e.mu.oldestNetwork = ns.newer
	}
	ns.newer, ns.older = nil, nil
}

// raiseNetworkLocked appends an anomaly of a network rule, raised by ev and
// proven by the events ids. The anomaly names the token and client of ev,
// if any; the network is in the summary and the anomaly's IP.
func (e *Engine) raiseNetworkLocked(out []audit.Anomaly, ev *audit.Event, subject, rule string, severity audit.Severity, summary string, ids ...string) []audit.Anomaly {
	e.mu.stats.Anomalies++
	done := completionOf(ev)
	done.subject = subject
	return append(out, done.anomaly(rule, severity, ev.Token(), summary, ids, ids))
}

// networkName returns the network of ip at the configured prefix, as an
// address when the prefix is the whole address.
func (e *Engine) networkName(ip netip.Addr) string {
	bits := e.cfg.NetworkState.IPv6Prefix
	if ip.Is4() {
		bits = e.cfg.NetworkState.IPv4Prefix
	}
	if bits == ip.BitLen() {
		return ip.String()
	}
	p, _ := ip.Prefix(bits) // bits is within 0 to BitLen, as Validate checks
	return p.String()
}

// placeholderSubjects are subject values that name no one. A subject equal
// to one of them, ignoring case and surrounding spaces, is not a person.
var placeholderSubjects = []string{"", "-", "null", "nil", "none", "unknown", "undefined", "n/a"}

// isPlaceholderSubject reports whether s names no one.
func isPlaceholderSubject(s string) bool {
	if n := len(s); n > len("undefined") && s[0] > ' ' && s[0] < utf8.RuneSelf && s[n-1] > ' ' && s[n-1] < utf8.RuneSelf {
		return false // the usual case: longer than any placeholder, with nothing to trim
	}
	s = strings.TrimSpace(s)
	for _, p := range placeholderSubjects {
		if strings.EqualFold(s, p) {
			return true
		}
	}
	return false
}

// subjectOf returns the hash that distinguishes subjects: the subject
// within its issuer.
func (e *Engine) subjectOf(ev *audit.Event) uint64 {
	return mix64(maphash.String(e.seed, ev.Issuer)) ^ maphash.String(e.seed, ev.Subject)
}
