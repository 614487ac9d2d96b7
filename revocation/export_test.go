package revocation

import (
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// NewTestRefresher returns a Refresher whose polls follow tick instead of a
// ticker, and which calls afterPoll at the end of every poll that Run makes.
func NewTestRefresher(set *Set, src Source, opts RefresherOptions, tick <-chan time.Time, afterPoll func(error)) *Refresher {
	r := NewRefresher(set, src, opts)
	r.newTick = func(time.Duration) (<-chan time.Time, func()) { return tick, func() {} }
	r.afterPoll = afterPoll
	return r
}

// AddAt is Add with the time that decides which entries have expired.
func (s *Set) AddAt(now time.Time, events ...audit.Event) error { return s.add(now, events) }
