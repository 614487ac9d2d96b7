package detect

import (
	"hash/maphash"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// Engine checks events against the built-in rules, in event time. It is safe
// for concurrent use; calls are serialised by one mutex.
type Engine struct {
	cfg     Config
	trusted []netip.Prefix
	seed    maphash.Seed  // for the hashes of clients and subjects
	custom  []*customRule // compiled from cfg.CustomRules

	mu struct {
		sync.Mutex

		// pending holds the events waiting for the reorder window, sorted
		// by time and then ID, from index head on.
		pending []audit.Event
		head    int
		latest  time.Time // the latest event time seen
		checked time.Time // the latest time of an event checked
		first   time.Time // the time of the first event checked

		// droppedThrough is the latest time of an event of a token whose
		// state was dropped: a token issued later still has its state.
		droppedThrough int64

		// waiting holds the uses that wait for their unknown_token
		// verdict, in order of due time.
		waiting []waitingUse

		// families interns user-agent family names.
		families map[string]string

		tokens map[string]*tokenState
		// newest and oldest are the ends of the list of tokens in the
		// order they were last seen, which eviction walks from oldest.
		newest, oldest *tokenState

		networks map[uint64]*networkState
		// newestNetwork and oldestNetwork are the ends of the list of
		// networks in the order they were last seen.
		newestNetwork, oldestNetwork *networkState
		// firstUses is the table of first users of networks without state,
		// allocated on first need, and firstUsesFilled counts its slots in
		// use.
		firstUses       []firstUse
		firstUsesFilled int

		subjects map[uint64]*subjectState
		// newestSubject and oldestSubject are the ends of the list of
		// subjects in the order they were linked (see subjectLocked).
		newestSubject, oldestSubject *subjectState
		// countryNames and familyNames number the countries and user-agent
		// families that subjects keep.
		countryNames, familyNames nameTable

		// celVars holds the variables of the custom rules during a check,
		// so that passing them to CEL does not move them to the heap.
		celVars celVars

		// revokedIDs and revokedFingerprints hold the earliest
		// revocation of each revoked jti and fingerprint, allocated on
		// first need. They are apart from the token states, which TokenTTL
		// and MaxTokens drop, so that a token stays revoked.
		revokedIDs, revokedFingerprints map[string]tokenRevocation

		// revokedSessions, revokedSubjects and revokedFamilies hold the
		// revocations of whole sessions, subjects and refresh families
		// (by lineageKey of the root token id), allocated on first need.
		revokedSessions, revokedSubjects map[string][]scopedRevocation
		revokedFamilies                  map[uint64][]scopedRevocation

		// incoming holds the event being observed, so that passing it by
		// pointer does not move it to the heap.
		incoming audit.Event

		stats Stats

		// customFailures holds, by custom rule index, how often each rule
		// failed and its first error, allocated on the first failure.
		customFailures []CustomRuleFailure
	}
}

// Stats counts what an Engine did since New.
type Stats struct {
	Events         uint64 // events given to Observe
	Checked        uint64 // events checked against the rules
	Duplicates     uint64 // events dropped because one with the same time and ID was pending
	Late           uint64 // events older than an event already checked for the same token
	ForcedReleases uint64 // events checked before their reorder window passed, because MaxPending was reached
	Pending        int    // events held for reordering now
	Tokens         int    // tokens whose state is kept now
	EvictedByCount uint64 // token states dropped to stay within MaxTokens
	EvictedByAge   uint64 // token states dropped because they were unseen for TokenTTL
	Anomalies      uint64 // anomalies returned

	Waiting        int    // uses waiting for their unknown_token verdict now
	UnknownDropped uint64 // uses that got no unknown_token verdict because MaxWaiting was reached

	Networks               int    // networks whose own state is kept now
	NetworksEvictedByCount uint64 // network states dropped to stay within NetworkState.MaxNetworks
	NetworksEvictedByAge   uint64 // network states dropped because they were unseen for NetworkState.TTL
	FirstUsesReplaced      uint64 // first users of a network replaced by another network's in the same slot

	Subjects               int    // subjects whose state is kept now
	SubjectsEvictedByCount uint64 // subject states dropped to stay within SubjectState.MaxSubjects
	SubjectsEvictedByAge   uint64 // subject states dropped because they were unseen for SubjectState.TTL

	TokenRevocations        int    // revoked jtis and fingerprints kept now
	TokenRevocationsDropped uint64 // revocations of a jti or fingerprint not kept, because MaxTokens of them were kept

	ScopedRevocationsDropped uint64 // revocations of a session, subject or refresh family not kept, because MaxTokens of that scope, or 4 revocations of one, were kept

	CustomRuleErrors uint64 // evaluations of a custom rule that failed, such as on an index out of range, each skipping the rule for its event (CustomRuleFailures gives them by rule)
}

// CustomRuleFailure counts the events on which one custom rule failed to
// evaluate, such as on an index out of range or a division by zero, and
// keeps the first failure.
type CustomRuleFailure struct {
	Rule       string    // the custom rule's name
	Events     uint64    // events the rule failed on, and raised nothing for
	FirstError error     // the CEL error of the first failure
	FirstEvent string    // the ID of the event of the first failure
	FirstTime  time.Time // the time of that event
}

// New returns an Engine for cfg, with defaults applied to its zero fields.
// It returns the *ConfigError or *CustomRuleError that cfg.Validate does,
// compiling the custom rules once.
func New(cfg Config) (*Engine, error) {
	if err := cfg.validateBuiltIn(nil); err != nil {
		return nil, err
	}
	custom, err := compileCustomRules(cfg.CustomRules, cfg.customRuleCostLimit())
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()

	e := &Engine{cfg: cfg, seed: maphash.MakeSeed(), custom: custom}
	for _, p := range cfg.TrustedNetworks {
		e.trusted = append(e.trusted, p.Masked())
	}
	e.mu.tokens = make(map[string]*tokenState)
	e.mu.networks = make(map[uint64]*networkState)
	e.mu.families = make(map[string]string)
	e.mu.subjects = make(map[uint64]*subjectState)
	return e, nil
}

// Observe takes one event and returns the anomalies that the events checked
// during this call raised, or nil. Events are checked in the order of their
// time, then ID, once ReorderWindow of event time has passed them (see the
// package documentation), so the anomalies may come from earlier events.
// Observe never reads the wall clock. It does not modify the event.
func (e *Engine) Observe(ev audit.Event) []audit.Anomaly {
	e.mu.Lock()
	defer e.mu.Unlock()

	e.mu.stats.Events++
	e.mu.incoming = ev
	defer func() { e.mu.incoming = audit.Event{} }()
	if e.cfg.ReorderWindow < 0 {
		return e.checkLocked(&e.mu.incoming, nil)
	}

	if !e.holdLocked(&e.mu.incoming) {
		e.mu.stats.Duplicates++
		return nil
	}
	if ev.Time.After(e.mu.latest) {
		e.mu.latest = ev.Time
	}

	return e.releaseDueLocked()
}

// ObserveBatch takes events, in any order, and returns the anomalies that
// the events checked during this call raised, or nil. It holds the events
// for reordering as Observe does, but it sorts them and merges them into
// the held events in one pass. Observe moves every later held event for
// each event that arrives before one it holds, which costs most of its
// time when batches from concurrent senders overlap in time.
//
// It raises what calling Observe on each event in order of time and ID
// would raise, with one exception. An event that is more than
// ReorderWindow older than the latest event seen before it, which Observe
// would check after later events (Stats.Late), is checked in order here
// when a later event of this call has not been checked yet.
func (e *Engine) ObserveBatch(events []audit.Event) []audit.Anomaly {
	if len(events) == 0 {
		return nil
	}
	if e.cfg.ReorderWindow < 0 {
		var out []audit.Anomaly
		for _, ev := range events {
			out = append(out, e.Observe(ev)...)
		}
		return out
	}
	run := slices.Clone(events)
	slices.SortStableFunc(run, func(a, b audit.Event) int { return compareEvents(&a, &b) })

	e.mu.Lock()
	defer e.mu.Unlock()
	e.mu.stats.Events += uint64(len(run))
	e.holdAllLocked(run)
	if last := run[len(run)-1].Time; last.After(e.mu.latest) {
		e.mu.latest = last
	}

	return e.releaseDueLocked()
}

// holdAllLocked merges run, sorted by time and ID, into the pending
// events. It drops, as duplicates, the events of run whose time and ID
// are pending or repeated in run. Only the pending events from the first
// one not before run[0] are moved.
func (e *Engine) holdAllLocked(run []audit.Event) {
	p := e.mu.pending
	lo, hi := e.mu.head, len(p)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if eventBefore(&p[mid], &run[0]) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}

	tail := p[lo:]
	merged := make([]audit.Event, 0, len(tail)+len(run))
	i, j := 0, 0
	for i < len(tail) || j < len(run) {
		var c int
		switch {
		case j == len(run):
			c = -1
		case i == len(tail):
			c = 1
		default:
			c = compareEvents(&tail[i], &run[j])
		}
		switch {
		case c < 0:
			merged = append(merged, tail[i])
			i++
		case c == 0, len(merged) > 0 && compareEvents(&merged[len(merged)-1], &run[j]) == 0:
			e.mu.stats.Duplicates++
			j++
		default:
			merged = append(merged, run[j])
			j++
		}
	}
	clear(p[lo:]) // drop the references that merged now holds
	e.mu.pending = append(p[:lo], merged...)
}

// Flush checks every event still held for reordering, gives the verdict on
// every use waiting for one, and returns the anomalies they raise. Call it
// at the end of an input, such as an import. The engine stays usable:
// the events observed after Flush are checked as usual, and one older than
// an event already checked for its token counts in Stats.Late.
func (e *Engine) Flush() []audit.Anomaly {
	e.mu.Lock()
	defer e.mu.Unlock()

	out := e.releaseHeldLocked()
	return e.settleWaitingLocked(out, 0, true)
}

// ReleaseHeld checks every event held for reordering now, as if the
// reorder window had passed them, and returns the anomalies they raise.
// Unlike Flush, it leaves waiting the uses whose unknown_token verdict
// needs an event later than their iat plus ClockSkew, because their
// issued event may still come. A live source calls it when no event
// arrived for a while, so that a quiet input does not hold an anomaly
// until the next event. The engine stays usable, as after Flush.
func (e *Engine) ReleaseHeld() []audit.Anomaly {
	e.mu.Lock()
	defer e.mu.Unlock()

	return e.releaseHeldLocked()
}

func (e *Engine) releaseHeldLocked() []audit.Anomaly {
	var out []audit.Anomaly
	for e.mu.head < len(e.mu.pending) {
		out = e.releaseLocked(out)
	}
	return out
}

// Config returns the engine's configuration, with the defaults applied to
// its zero fields. Its slices are the engine's, so the caller must not
// modify them.
func (e *Engine) Config() Config { return e.cfg }

// Stats returns the counters of e.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()

	s := e.mu.stats
	s.Pending = len(e.mu.pending) - e.mu.head
	s.Tokens = len(e.mu.tokens)
	s.Waiting = len(e.mu.waiting)
	s.Networks = len(e.mu.networks)
	s.Subjects = len(e.mu.subjects)
	s.TokenRevocations = len(e.mu.revokedIDs) + len(e.mu.revokedFingerprints)
	return s
}

// CustomRuleNames returns the names of the engine's custom rules, in the
// order of Config.CustomRules, or nil when it has none.
func (e *Engine) CustomRuleNames() []string {
	var names []string
	for _, r := range e.custom {
		names = append(names, r.name)
	}
	return names
}

// CustomRuleFailures returns, for each custom rule that failed to evaluate
// on some event since New, how often and its first error, in the order of
// Config.CustomRules. It returns nil when no rule failed.
func (e *Engine) CustomRuleFailures() []CustomRuleFailure {
	e.mu.Lock()
	defer e.mu.Unlock()

	var out []CustomRuleFailure
	for _, f := range e.mu.customFailures {
		if f.Events > 0 {
			out = append(out, f)
		}
	}
	return out
}

// holdLocked inserts ev into the pending events in order of time and ID. It
// returns false, holding nothing, when an event with the same time and ID
// is already pending.
func (e *Engine) holdLocked(ev *audit.Event) bool {
	p := e.mu.pending
	n := len(p)
	if n == e.mu.head || eventBefore(&p[n-1], ev) {
		e.mu.pending = append(p, *ev) // the usual case: in order
		return true
	}

	// Binary search for the first pending event not before ev.
	lo, hi := e.mu.head, n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if eventBefore(&p[mid], ev) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < n && compareEvents(&p[lo], ev) == 0 {
		return false
	}
	e.mu.pending = slices.Insert(p, lo, *ev)
	return true
}

// releaseLocked checks the oldest pending event and removes it.
func (e *Engine) releaseLocked(out []audit.Anomaly) []audit.Anomaly {
	ev := &e.mu.pending[e.mu.head]
	out = e.checkLocked(ev, out)
	*ev = audit.Event{} // drop the references for the garbage collector
	e.mu.head++

	switch {
	case e.mu.head == len(e.mu.pending):
		e.mu.pending = e.mu.pending[:0]
		e.mu.head = 0
	case e.mu.head >= 4096 && e.mu.head*2 >= len(e.mu.pending):
		n := copy(e.mu.pending, e.mu.pending[e.mu.head:])
		clear(e.mu.pending[n:])
		e.mu.pending = e.mu.pending[:n]
		e.mu.head = 0
	}
	return out
}

func eventBefore(a, b *audit.Event) bool { return compareEvents(a, b) < 0 }

func compareEvents(a, b *audit.Event) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// checkLocked runs the rules over ev and appends what they raise to out.
func (e *Engine) checkLocked(ev *audit.Event, out []audit.Anomaly) []audit.Anomaly {
	e.mu.stats.Checked++
	if e.mu.stats.Checked == 1 {
		e.mu.first = ev.Time
	}
	if ev.Time.After(e.mu.checked) {
		e.mu.checked = ev.Time
	}
	now := ev.Time.UnixNano()
	if len(e.mu.waiting) > 0 {
		out = e.settleWaitingLocked(out, e.mu.checked.UnixNano(), false)
	}
	out = e.checkNetworkLocked(ev, out)
	if ev.Kind == audit.KindRevoked {
		e.recordRevocationLocked(ev)
	}

	key := ev.Token()
	if key == "" {
		// NOTE: session events that name no token feed no token rule yet.
		return out
	}
	e.evictOldLocked(now)
	st := e.tokenLocked(key, now)

	// A token's windows only move forward: an event older than the
	// token's latest checked event feeds only the rules that compare
	// one event with the token's lifetime.
	inOrder := now >= st.last
	if inOrder {
		st.last = now
	} else {
		e.mu.stats.Late++
	}

	c := check{engine: e, st: st, ev: ev, out: out}
	c.recordLifetime()
	c.revokedTokenUse()
	c.scopedRevokedUse()
	c.expiredTokenUse()
	c.refreshTokenReuse()
	c.unknownToken()
	c.threatIntelIP()
	if inOrder {
		c.rapidIPChange()
		c.highFrequency()
		c.impossibleTravel()
		c.concurrentUse()
		c.userAgentChange()
	}

	// Custom rules read the subject as it was before this use, so that
	// they can tell a new client from a known one.
	sub := e.subjectLocked(ev, c.isUse())
	if len(e.custom) > 0 {
		c.recordCustom()
		c.customRules(sub)
	}
	if sub != nil && c.isUse() {
		c.learnClient(sub)
	}
	return c.out
}

// tokenLocked returns the state of the token key, created if needed, and
// makes it the most recently seen.
func (e *Engine) tokenLocked(key string, now int64) *tokenState {
	if st, ok := e.mu.tokens[key]; ok {
		e.unlinkLocked(st)
		e.pushLocked(st)
		return st
	}

	if len(e.mu.tokens) >= e.cfg.MaxTokens {
		e.dropLocked(e.mu.oldest)
		e.mu.stats.EvictedByCount++
	}
	// The key is cloned so that the state does not pin the buffer of the
	// record it was read from.
	st := &tokenState{key: strings.Clone(key), last: now}
	e.mu.tokens[st.key] = st
	e.pushLocked(st)
	return st
}

// evictOldLocked drops the tokens unseen for TokenTTL before now.
func (e *Engine) evictOldLocked(now int64) {
	cutoff := now - int64(e.cfg.TokenTTL)
	for e.mu.oldest != nil && e.mu.oldest.last < cutoff {
		e.dropLocked(e.mu.oldest)
		e.mu.stats.EvictedByAge++
	}
}

func (e *Engine) dropLocked(st *tokenState) {
	e.mu.droppedThrough = max(e.mu.droppedThrough, st.last)
	e.unlinkLocked(st)
	delete(e.mu.tokens, st.key)
}

func (e *Engine) pushLocked(st *tokenState) {
	st.older = e.mu.newest
	st.newer = nil
	if e.mu.newest != nil {
		e.mu.newest.newer = st
	}
	e.mu.newest = st
	if e.mu.oldest == nil {
		e.mu.oldest = st
	}
}

func (e *Engine) unlinkLocked(st *tokenState) {
	if st.newer != nil {
		st.newer.older = st.older
	} else {
		e.mu.newest = st.older
	}
	if st.older != nil {
		st.older.newer = st.newer
	} else {
		e.mu.oldest = st.newer
	}
	st.newer, st.older = nil, nil
}

// isTrusted reports whether a lies in one of the configured trusted networks.
func (e *Engine) isTrusted(a netip.Addr) bool {
	for _, p := range e.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// releaseDueLocked checks the held events that the reorder window has
// passed, and the oldest ones past MaxPending, in time order. The caller
// holds mu.
func (e *Engine) releaseDueLocked() []audit.Anomaly {
	var out []audit.Anomaly
	for e.mu.head < len(e.mu.pending) {
		next := &e.mu.pending[e.mu.head]
		switch {
		case !next.Time.Add(e.cfg.ReorderWindow).After(e.mu.latest):
		case len(e.mu.pending)-e.mu.head > e.cfg.MaxPending:
			e.mu.stats.ForcedReleases++
		default:
			return out
		}
		out = e.releaseLocked(out)
	}
	return out
}
