package detect

import (
	"slices"
	"strings"

	"github.com/tokentrail/tokentrail/audit"
)

// knownValues is the number of countries, of ASNs and of user-agent
// families that a subject's state keeps. Past it, the value seen longest
// ago makes room, and that kind of value stops raising unfamiliar_client
// for the subject: a subject that uses more than this many is too varied
// for a new one to stand out.
const knownValues = 8

// knownNetworksMax is the number of networks a subject's state keeps for
// custom rules, the value seen longest ago making room past it.
const knownNetworksMax = 16

// subjectState is the engine's record of the clients of one subject's
// tokens, for unfamiliar_client and custom rules. Times are Unix
// nanoseconds of event time. Each set holds its values most recently seen
// first. Countries and families are numbers from the engine's name tables,
// so that the state of a subject stays within two cache lines.
type subjectState struct {
	key          uint64 // see subjectOf
	newer, older *subjectState
	linked       int64  // when the state last moved to the newest end of the list
	first, last  int64  // the first and latest counted use
	uses         uint32 // counted uses, up to math.MaxUint32

	countryCount, asnCount, familyCount uint8
	varied                              valueKinds // kinds that passed knownValues

	countries [knownValues]uint16
	families  [knownValues]uint16
	asns      [knownValues]uint32

	networks *knownNetworks // only with custom rules
}

// knownNetworks is the set of networks (see networkOf, at RapidIPChange's
// prefixes) a subject's tokens were used from, most recent first.
type knownNetworks struct {
	count    uint8
	networks [knownNetworksMax]uint64
}

// valueKinds marks kinds of client values.
type valueKinds uint8

const (
	kindCountry valueKinds = 1 << iota
	kindASN
	kindFamily
)

// remember moves v to the front of the set values[:*n], adding it when it
// is new, and reports whether it was added. When the set is full, the value
// seen longest ago is dropped to make room, and dropped is true.
func remember[T comparable](values []T, n *uint8, v T) (added, dropped bool) {
	k := int(*n)
	i := slices.Index(values[:k], v)
	switch {
	case i == 0:
		return false, false
	case i > 0:
		copy(values[1:i+1], values[:i])
		values[0] = v
		return false, false
	}

	if k < len(values) {
		k++
		*n = uint8(k)
	} else {
		dropped = true
	}
	copy(values[1:k], values[:k-1])
	values[0] = v
	return true, dropped
}

// keepsSubjects reports whether the engine keeps state per subject: for
// unfamiliar_client, or for custom rules, which can read it.
func (e *Engine) keepsSubjects() bool {
	return !e.cfg.Rules.UnfamiliarClient.Disabled || len(e.custom) > 0
}

// subjectLocked returns the state of the subject of ev, or nil when the
// engine keeps none for it. A use creates the state if needed and keeps it
// from the TTL; other events only look it up, since only uses teach a
// subject's clients.
//
// The list of subjects is kept in the order they were linked, not last
// seen: a use moves its subject to the newest end only when it was linked
// more than a sixteenth of the TTL ago, which spares most uses two writes
// to other subjects' states. Eviction by age moves a subject that was seen
// within the TTL to the newest end instead of dropping it. So no state is
// dropped sooner than the TTL after its latest use. The count bound drops
// a subject seen at most a sixteenth of the TTL later than the least
// recently seen one.
func (e *Engine) subjectLocked(ev *audit.Event, isUse bool) *subjectState {
	if !e.keepsSubjects() || isPlaceholderSubject(ev.Subject) {
		return nil
	}
	key := e.subjectOf(ev)
	if !isUse {
		return e.mu.subjects[key]
	}

	now := ev.Time.UnixNano()
	e.evictOldSubjectsLocked(now)
	sub, ok := e.mu.subjects[key]
	if ok {
		if now-sub.linked > int64(e.cfg.SubjectState.TTL)/16 {
			e.unlinkSubjectLocked(sub)
			e.pushSubjectLocked(sub, now)
		}
		return sub
	}

	if len(e.mu.subjects) >= e.cfg.SubjectState.MaxSubjects {
		e.dropSubjectLocked(e.mu.oldestSubject)
		e.mu.stats.SubjectsEvictedByCount++
	}
	sub = &subjectState{key: key, first: now, last: now}
	if len(e.custom) > 0 {
		sub.networks = &knownNetworks{}
	}
	e.mu.subjects[key] = sub
	e.pushSubjectLocked(sub, now)
	return sub
}

// evictOldSubjectsLocked drops the subjects unseen for SubjectState.TTL
// before now, and moves those linked before it but seen since to the newest
// end.
func (e *Engine) evictOldSubjectsLocked(now int64) {
	cutoff := now - int64(e.cfg.SubjectState.TTL)
	for e.mu.oldestSubject != nil && e.mu.oldestSubject.linked < cutoff {
		sub := e.mu.oldestSubject
		e.unlinkSubjectLocked(sub)
		if sub.last >= cutoff {
			e.pushSubjectLocked(sub, now)
			continue
		}
		delete(e.mu.subjects, sub.key)
		e.mu.stats.SubjectsEvictedByAge++
	}
}

func (e *Engine) dropSubjectLocked(sub *subjectState) {
	e.unlinkSubjectLocked(sub)
	delete(e.mu.subjects, sub.key)
}

// pushSubjectLocked links sub at the newest end of the list, at now or
// the time of the newest, whichever is later, so that the list stays in
// order of linked.
func (e *Engine) pushSubjectLocked(sub *subjectState, now int64) {
	sub.linked = now
	if e.mu.newestSubject != nil {
		sub.linked = max(now, e.mu.newestSubject.linked)
	}
	sub.older = e.mu.newestSubject
	sub.newer = nil
	if e.mu.newestSubject != nil {
		e.mu.newestSubject.newer = sub
	}
	e.mu.newestSubject = sub
	if e.mu.oldestSubject == nil {
		e.mu.oldestSubject = sub
	}
}

func (e *Engine) unlinkSubjectLocked(sub *subjectState) {
	if sub.newer != nil {
		sub.newer.older = sub.older
	} else {
		e.mu.newestSubject = sub.older
	}
	if sub.older != nil {
		sub.older.newer = sub.newer
	} else {
		e.mu.oldestSubject = sub.newer
	}
	sub.newer, sub.older = nil, nil
}

// maxNames bounds each name table. Names met after a table is full all
// share the number otherName, so they look like one value to the rules.
const (
	maxNames  = 4096
	otherName = 0xffff
)

// nameTable numbers names, such as countries or user-agent families, from
// 1, so that subjects keep each in two bytes.
type nameTable struct {
	ids   map[string]uint16
	names []string // names[id-1] is the name numbered id
}

// id returns the number of name, numbering it if it is new.
func (t *nameTable) id(name string) uint16 {
	if id, ok := t.ids[name]; ok {
		return id
	}
	if len(t.names) >= maxNames {
		return otherName
	}
	if t.ids == nil {
		t.ids = make(map[string]uint16)
	}
	name = strings.Clone(name)
	t.names = append(t.names, name)
	id := uint16(len(t.names))
	t.ids[name] = id
	return id
}

// name returns the name numbered id.
func (t *nameTable) name(id uint16) string {
	if id == 0 || int(id) > len(t.names) {
		return "another"
	}
	return t.names[id-1]
}

// unknownCountries are country values that name no country: placeholders,
// and the codes that GeoIP databases and CDNs use for an unknown one.
var unknownCountries = []string{"", "-", "--", "XX", "ZZ", "N/A", "NONE", "NULL", "UNKNOWN"}

// normalCountry returns the country c in upper case without surrounding
// spaces, or "" when c names no country.
func normalCountry(c string) string {
	if len(c) == 2 && 'A' <= c[0] && c[0] <= 'Z' && 'A' <= c[1] && c[1] <= 'Z' && c != "XX" && c != "ZZ" {
		return c // the usual case: an ISO 3166-1 alpha-2 code
	}
	c = strings.TrimSpace(c)
	for i := 0; i < len(c); i++ {
		if 'a' <= c[i] && c[i] <= 'z' {
			c = strings.ToUpper(c)
			break
		}
	}
	if slices.Contains(unknownCountries, c) {
		return ""
	}
	return c
}
