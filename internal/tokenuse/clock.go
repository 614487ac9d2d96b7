package tokenuse

import (
	"sync/atomic"
	"time"
)

// resyncEvery is how often a systemClock measures the offset between the
// wall clock and the monotonic clock again. A step of the wall clock shows
// in the times it returns within this time.
const resyncEvery = time.Second

// systemClock is the default clock of a Tracker. It reads the monotonic
// clock once per call and adds the offset of the wall clock, measured with
// time.Now at most resyncEvery ago. time.Now reads both clocks, which takes
// longer: 44 against 27 ns per call in BenchmarkClock on the 2-core AMD EPYC
// VM of docs/benchmarks.md. Linux slews both clocks alike, so there the
// offset changes only when the wall clock is stepped.
//
// NOTE: where the monotonic clock is not slewed with the wall clock, the
// times drift from it by the clock's frequency error over at most
// resyncEvery. That is an estimated 100 microseconds at 100 ppm.
type systemClock struct {
	start  time.Time    // the monotonic clock counts from here
	offset atomic.Int64 // wall clock in Unix nanoseconds minus monotonic nanoseconds since start
	synced atomic.Int64 // monotonic nanoseconds since start when offset was measured
}

func newSystemClock() *systemClock {
	c := &systemClock{start: time.Now()}
	c.resync()
	return c
}

// Now returns the current wall time. Unlike the Time that time.Now
// returns, it has no monotonic reading.
func (c *systemClock) Now() time.Time {
	mono := int64(time.Since(c.start))
	if mono-c.synced.Load() > int64(resyncEvery) {
		return c.resync()
	}
	return time.Unix(0, c.offset.Load()+mono)
}

// maxResyncWindow is the longest time between the reads of the two
// clocks that resync accepts at the first tries. time.Now reads the wall
// clock just before the monotonic one, and a thread that the kernel
// suspends in between would give an offset off by the suspension.
const maxResyncWindow = 50 * time.Microsecond

// resync measures the offset again and returns the current time. Calls
// that race store offsets measured at about the same time, each valid.
func (c *systemClock) resync() time.Time {
	var now time.Time
	var mono int64
	for range 3 {
		before := int64(time.Since(c.start))
		now = time.Now()
		mono = int64(now.Sub(c.start))
		if mono-before <= int64(maxResyncWindow) {
			break
		}
	}
	c.offset.Store(now.UnixNano() - mono)
	c.synced.Store(mono)
	return now.Round(0)
}
